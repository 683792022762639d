"""`skeletonllm build-model` and the MLLM loading code: the tiny InternVL is seeded (byte-identical files), round-trips
through save_pretrained / load_mllm / load_processor with identical logits, starts from MiniLM's vocabulary and word
embeddings (or a BPE that round-trips every class name), has an InternVL3-hf style chat template; the processor
also reads a real InternVL3-hf folder layout; the InternVL3 presets have the published parameter counts; an
uncached hub id fails offline with a one-line message saying where to put the checkpoint."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from skeletonllm.cli import main
from skeletonllm.data.classes import NTU120_CLASSES, NWUCLA_CLASSES, PKU51_CLASSES
from skeletonllm.data.synth.actions import SYNTH_CLASSES
from skeletonllm.errors import CommandError
from skeletonllm.model.build import build_tiny, load_mllm, load_processor, tiny_mllm
from skeletonllm.model.presets import internvl3_config, mllm_from_config
from skeletonllm.model.tokenizer import CHAT_END, SPECIAL_TOKENS, minilm_tokenizer_file

INITS = ("minilm", "random")
MESSAGES = [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "image"},
                                         {"type": "text", "text": "Which action? put on a hat/cap"}]}]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """text_init -> folder of the tiny model built with seed 0 (one build per session)."""
    root = tmp_path_factory.mktemp("tiny")
    return {init: build_tiny(root / init, seed=0, text_init=init) for init in INITS}


def files(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("init", INITS)
def test_the_same_seed_gives_byte_identical_files_and_another_seed_other_weights(built, tmp_path, init):
    first = files(built[init])
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
            "processor_config.json", "generation_config.json", "build.json"} <= set(first)
    assert files(build_tiny(tmp_path / "again", seed=0, text_init=init)) == first
    other = files(build_tiny(tmp_path / "other", seed=1, text_init=init))
    assert other["model.safetensors"] != first["model.safetensors"]
    assert other["tokenizer.json"] == first["tokenizer.json"]  # the vocabulary does not depend on the seed
    info = json.loads(first["build.json"])
    assert (info["seed"], info["text_init"], info["image_tokens"]) == (0, init, 16)


def frames_and_prompt(processor, count: int):
    """`count` fixed random 112x112 RGB frames and the chat prompt asking about them."""
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(count)]
    messages = [{"role": "user", "content": [*({"type": "image"} for _ in range(count)),
                                             {"type": "text", "text": "Which action? wave right hand"}]}]
    return frames, processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def test_a_saved_model_loads_back_with_identical_logits(built):
    model, processor = tiny_mllm(seed=0, text_init="minilm")  # the model saved in built["minilm"]
    loaded, loaded_processor = load_mllm(built["minilm"]), load_processor(built["minilm"])
    frames, prompt = frames_and_prompt(loaded_processor, 3)
    batch = loaded_processor(images=frames, text=[prompt], return_tensors="pt")
    assert batch["pixel_values"].shape == (3, 3, 112, 112)  # one tile per frame
    assert int((batch["input_ids"] == loaded_processor.image_token_id).sum()) == 3 * 16
    assert torch.equal(batch["input_ids"], processor(images=frames, text=[prompt], return_tensors="pt")["input_ids"])
    with torch.no_grad():
        assert torch.equal(loaded(**batch).logits, model(**batch).logits)


def test_the_processor_exposes_internvl_attributes(built):
    processor = load_processor(built["minilm"])
    image = processor.image_processor
    assert (image.size["height"], image.size["width"]) == (112, 112)
    assert tuple(image.image_mean) == (0.485, 0.456, 0.406) and tuple(image.image_std) == (0.229, 0.224, 0.225)
    assert (processor.image_seq_length, processor.start_image_token, processor.end_image_token,
            processor.image_token) == (16, "<img>", "</img>", "<IMG_CONTEXT>")
    assert processor.image_token_id == processor.tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>")
    assert load_mllm(built["minilm"]).config.image_token_id == processor.image_token_id
    frame = np.zeros((224, 448, 3), dtype=np.uint8)  # any frame is one tile, never cropped into patches
    _, prompt = frames_and_prompt(processor, 1)
    assert processor(images=[frame], text=[prompt], return_tensors="pt")["pixel_values"].shape == (1, 3, 112, 112)


def cosine(embeddings: torch.Tensor, tokenizer, a: str, b: str) -> float:
    i, j = tokenizer.convert_tokens_to_ids([a, b])
    return torch.nn.functional.cosine_similarity(embeddings[i], embeddings[j], dim=0).item()


def test_minilm_init_carries_word_similarity_into_embeddings_and_lm_head(built):
    model, tokenizer = load_mllm(built["minilm"]), load_processor(built["minilm"]).tokenizer
    for weights in (model.get_input_embeddings().weight, model.lm_head.weight):
        for (word, related), unrelated in zip([("kick", "kicking"), ("jump", "jumping"), ("sit", "sitting")],
                                              ["phone", "glasses", "keyboard"]):
            near, far = cosine(weights, tokenizer, word, related), cosine(weights, tokenizer, word, unrelated)
            assert near > 0.5 and near > far + 0.3, (word, related, unrelated, near, far)
    assert model.lm_head.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr()  # untied


@pytest.mark.parametrize("init", INITS)
def test_special_tokens_are_single_ids_never_lower_cased(built, init):
    tokenizer = load_processor(built[init]).tokenizer
    for token in SPECIAL_TOKENS:
        ids = tokenizer(f"x {token} y", add_special_tokens=True)["input_ids"]
        assert tokenizer.convert_tokens_to_ids(token) in ids
        assert [tokenizer.convert_ids_to_tokens(i) for i in ids].count(token) == 1
    assert tokenizer.eos_token == CHAT_END == "<|im_end|>"
    assert tokenizer(MESSAGES[0]["content"])["input_ids"] == tokenizer.encode(MESSAGES[0]["content"],
                                                                          add_special_tokens=False)  # no [CLS]/BOS
    assert (tokenizer.start_image_token, tokenizer.end_image_token, tokenizer.context_image_token,
            tokenizer.video_token) == ("<img>", "</img>", "<IMG_CONTEXT>", "<video>")


def test_the_minilm_vocabulary_is_minilms_plus_the_special_tokens(built):
    tokenizer = load_processor(built["minilm"]).tokenizer
    minilm = json.loads(minilm_tokenizer_file().read_text())["model"]["vocab"]
    vocab = tokenizer.get_vocab()
    assert len(minilm) == 30522 and all(vocab[token] == index for token, index in minilm.items())
    assert len(tokenizer) == 30522 + len(SPECIAL_TOKENS)
    assert tokenizer.pad_token == "[PAD]" and tokenizer.pad_token_id == minilm["[PAD]"]
    assert tokenizer.tokenize("Waving Hand") == ["waving", "hand"]  # uncased words, cased special tokens


def test_the_random_bpe_round_trips_every_class_name(built):
    tokenizer = load_processor(built["random"]).tokenizer
    names = {*NTU120_CLASSES, *NWUCLA_CLASSES, *PKU51_CLASSES, *SYNTH_CLASSES}
    assert len(names) > 140
    for name in sorted(names):
        ids = tokenizer.encode(name, add_special_tokens=False)
        assert tokenizer.unk_token_id not in ids, name
        assert tokenizer.decode(ids) == name.lower()
    assert len(tokenizer.encode("put on a hat/cap", add_special_tokens=False)) < len("put on a hat/cap") / 2  # merges


@pytest.mark.parametrize("init", INITS)
def test_the_chat_template_has_one_image_token_per_image_and_a_generation_prompt(built, init):
    processor = load_processor(built[init])
    text = processor.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    assert text == ("<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\n" + "<IMG_CONTEXT>\n" * 3
                    + "Which action? put on a hat/cap<|im_end|>\n<|im_start|>assistant\n")
    closed = processor.apply_chat_template(MESSAGES, add_generation_prompt=False, tokenize=False)
    assert closed.count("<IMG_CONTEXT>") == 3 and closed.endswith("<|im_end|>\n")
    assert (built[init] / "chat_template.jinja").read_text() == processor.chat_template


def test_the_processor_reads_a_real_internvl3_hf_folder_layout(built, tmp_path):
    """Real -hf folders keep the image processor in preprocessor_config.json (the torchvision class name), list the
    image tokens in processor_config.json and carry a video_preprocessor_config.json; none needs torchvision here."""
    folder = tmp_path / "InternVL3-hf"
    shutil.copytree(built["minilm"], folder)
    unified = json.loads((folder / "processor_config.json").read_text())
    image = {**unified["image_processor"], "image_processor_type": "GotOcr2ImageProcessorFast",
             "processor_class": "InternVLProcessor", "size": {"height": 448, "width": 448}}
    (folder / "preprocessor_config.json").write_text(json.dumps(image))
    (folder / "processor_config.json").write_text(json.dumps({
        "context_image_token": "<IMG_CONTEXT>", "end_image_token": "</img>", "fake_image_token": "<image>",
        "fake_video_token": "<video>", "image_seq_length": 256, "processor_class": "InternVLProcessor",
        "start_image_token": "<img>"}))
    (folder / "video_preprocessor_config.json").write_text(json.dumps(
        {"video_processor_type": "InternVLVideoProcessor", "size": {"height": 448, "width": 448}}))
    processor = load_processor(folder)
    assert processor.image_seq_length == 256 and processor.image_processor.size["height"] == 448
    assert processor.image_token_id == processor.tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>")


def projector(vision_hidden: int, text_hidden: int) -> int:
    """Parameters of InternVL's projector: LayerNorm(4 * vision) -> Linear(4 * vision, text) -> GELU -> Linear."""
    wide = 4 * vision_hidden  # pixel shuffle with downsample ratio 0.5
    return 2 * wide + wide * text_hidden + text_hidden + text_hidden * text_hidden + text_hidden


# Published: the Hugging Face hub's safetensors parameter counts (BF16) of OpenGVLab/InternVL2_5-1B, whose
# architecture InternVL3-1B shares (InternViT-300M-448px-V2.5 + Qwen2.5-0.5B, vocabulary 151,674, untied lm_head),
# and of Qwen/Qwen2.5-0.5B-Instruct (vocabulary 151,936, tied) and Qwen/Qwen2.5-7B-Instruct (152,064, untied).
INTERNVL_1B, QWEN_05B, QWEN_7B, VOCAB = 938_193_024, 494_032_768, 7_615_616_512, 151_674
VISION = INTERNVL_1B - projector(1024, 896) - (QWEN_05B - 151_936 * 896 + 2 * VOCAB * 896)  # InternViT-300M
INTERNVL3_8B = VISION + projector(1024, 3584) + QWEN_7B - 2 * 152_064 * 3584 + 2 * VOCAB * 3584


@pytest.mark.parametrize("size, expected", [("1B", INTERNVL_1B), ("8B", INTERNVL3_8B)])
def test_internvl3_presets_have_the_published_parameter_counts(size, expected):
    model = mllm_from_config(internvl3_config(size))  # meta device: no memory
    assert next(model.parameters()).device.type == "meta"
    assert sum(p.numel() for p in model.parameters()) == expected
    assert sum(p.numel() for p in model.model.vision_tower.parameters()) == VISION == 304_012_288
    assert (INTERNVL3_8B, round(INTERNVL3_8B / 1e9, 2)) == (7_944_373_760, 7.94)


def test_mllm_from_config_reads_a_config_json(tmp_path):
    internvl3_config("2B").save_pretrained(tmp_path)
    model = mllm_from_config(tmp_path / "config.json")
    assert model.config.text_config.hidden_size == 1536 and model.config.tie_word_embeddings is False


def test_build_model_cli_writes_the_tiny_folder(built, tmp_path, capsys):
    assert main(["build-model", "--preset", "tiny", "--out", str(tmp_path / "m"), "--seed", "0"]) == 0
    assert files(tmp_path / "m") == files(built["minilm"])  # the CLI default is text_init minilm
    out = capsys.readouterr().out
    assert str(tmp_path / "m") in out and "16 image tokens per frame" in out and "vocabulary 30,528" in out


def test_an_uncached_hub_id_fails_offline_saying_where_to_put_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(["build-model", "--preset", "OpenGVLab/NoSuchModel-hf", "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert err.startswith("skeletonllm build-model: error:")
    assert "hf download OpenGVLab/NoSuchModel-hf --local-dir DIR" in err and "cache" in err
    assert not (tmp_path / "m").exists()
    with pytest.raises(CommandError, match="hf download OpenGVLab/NoSuchModel-hf"):
        load_mllm("OpenGVLab/NoSuchModel-hf")
