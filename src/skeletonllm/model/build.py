"""The tiny InternVL built offline with a seed, and THE loading code of every MLLM (the tiny folder, a fetched
InternVL3-hf checkpoint, a hub id already in the Hugging Face cache).

`build_tiny` writes, with `save_pretrained`, transformers' native InternVLForConditionalGeneration and its
SkeletonLLMProcessor, plus build.json. The same seed gives byte-identical files. With text_init "minilm" the LLM's
input embeddings (and, untied, its lm_head) start from MiniLM's 384-d word embeddings reduced by PCA to the LLM
width, so that class names never seen in training still carry meaning.

Loading never downloads: `load_mllm` / `load_processor` read a folder, or a hub id's snapshot in the local cache,
and otherwise fail saying where to put the checkpoint. `fetch_checkpoint` is the one function that downloads.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from skeletonllm.errors import CommandError
from skeletonllm.model.processor import SkeletonLLMProcessor, load_processor, make_image_processor
from skeletonllm.model.tokenizer import TEXT_INITS, make_tokenizer

__all__ = ["TinySizes", "build_tiny", "fetch_checkpoint", "load_mllm", "load_processor", "local_checkpoint",
           "tiny_config", "tiny_mllm"]


@dataclass(frozen=True)
class TinySizes:
    """Sizes of the tiny InternVL (overridable, e.g. from a config file)."""

    vision_hidden: int = 64
    vision_layers: int = 2
    vision_heads: int = 2
    vision_intermediate: int = 128
    image_size: int = 112
    patch_size: int = 14
    downsample_ratio: float = 0.5
    text_hidden: int = 192
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    text_intermediate: int = 384

    @property
    def image_tokens(self) -> int:
        """Visual tokens per image: (image_size / patch_size * downsample_ratio) ** 2, 16 for 112 / 14 * 0.5."""
        side = self.image_size // self.patch_size * self.downsample_ratio
        if side != int(side):
            raise ValueError(f"{self.image_size // self.patch_size} patches per side cannot be downsampled by "
                             f"{self.downsample_ratio}")
        return int(side) ** 2


def tiny_config(sizes: TinySizes, tokenizer):
    """InternVLConfig of the tiny model: an InternViT-style vision tower and a Qwen2 LLM over `tokenizer`'s
    vocabulary, <IMG_CONTEXT> as image token, untied lm_head."""
    from transformers import InternVLConfig, InternVLVisionConfig, Qwen2Config

    from skeletonllm.model.presets import INTERNVIT_300M

    vision = InternVLVisionConfig(**{**INTERNVIT_300M, **dict(
        hidden_size=sizes.vision_hidden, num_hidden_layers=sizes.vision_layers,
        num_attention_heads=sizes.vision_heads, intermediate_size=sizes.vision_intermediate,
        image_size=[sizes.image_size] * 2, patch_size=[sizes.patch_size] * 2)})
    ids = dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.pad_token_id,
               eos_token_id=tokenizer.eos_token_id)  # bos = pad, as Qwen2's <|endoftext|>; no BOS is ever added
    text = Qwen2Config(vocab_size=len(tokenizer), hidden_size=sizes.text_hidden, num_hidden_layers=sizes.text_layers,
                       num_attention_heads=sizes.text_heads, num_key_value_heads=sizes.text_kv_heads,
                       intermediate_size=sizes.text_intermediate, max_position_embeddings=4096,
                       rope_parameters={"rope_type": "default", "rope_theta": 1e6}, tie_word_embeddings=False, **ids)
    return InternVLConfig(vision_config=vision, text_config=text, image_token_id=tokenizer.context_image_token_id,
                          image_seq_length=sizes.image_tokens, downsample_ratio=sizes.downsample_ratio,
                          tie_word_embeddings=False, **ids)


def minilm_word_embeddings():
    """MiniLM's word embeddings, float32 tensor [30522, 384], read from the packaged safetensors."""
    from safetensors import safe_open

    from skeletonllm.mining.embedding import model_path

    with safe_open(str(model_path() / "model.safetensors"), framework="pt") as weights:
        return weights.get_tensor("embeddings.word_embeddings.weight")


def pca(matrix, dim: int):
    """The rows of matrix [N, D], centred, projected on their first `dim` principal axes: float64 [N, dim].

    The axes are the eigenvectors of the D x D scatter matrix, each signed so that its largest component is
    positive, computed on one thread: deterministic, and LAPACK's threads on so small a matrix only spin (100 times
    slower when the other cores are busy)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        matrix = matrix.double()
        centred = matrix - matrix.mean(dim=0)  # [N, D]
        _, vectors = torch.linalg.eigh(centred.T @ centred)  # columns by increasing variance, [D, D]
        axes = vectors.flip(1)[:, :dim]  # [D, dim], by decreasing variance
        axes = axes * torch.sign(axes.gather(0, axes.abs().argmax(dim=0, keepdim=True)))
        return centred @ axes
    finally:
        torch.set_num_threads(threads)


def init_from_minilm(model) -> None:
    """Overwrite the first 30,522 rows of the LLM's input embeddings and of lm_head with MiniLM's word embeddings,
    PCA-reduced to the LLM width and scaled to the standard deviation of the random rows they replace (the rows of
    the added special tokens stay random)."""
    import torch

    words = minilm_word_embeddings()  # [30522, 384]
    embeddings = model.get_input_embeddings().weight  # [vocab, hidden]
    reduced = pca(words, embeddings.shape[1])  # [30522, hidden]
    with torch.no_grad():
        rows = embeddings[: len(words)]
        rows.copy_(reduced * (rows.double().std() / reduced.std()))
        model.lm_head.weight[: len(words)].copy_(rows)


def init_vision_for_renders(model, position_std: float = 0.02) -> None:
    """Start the vision tower so that rendered frames tell apart: each patch kernel sums to zero over its pixels
    per colour channel, so the uniform black background of a render maps to the bias alone and the skeleton's
    pixels carry the embedding (with HF's plain init the background's constant response is ~20x the variation
    between clips, and the LM loss never learnt to look); position embeddings start random (std position_std)
    rather than zero, so tokens know where in the frame they are."""
    import torch

    embeddings = model.model.vision_tower.embeddings
    with torch.no_grad():
        kernel = embeddings.patch_embeddings.projection.weight  # [D, 3, P, P]
        kernel.sub_(kernel.mean(dim=(2, 3), keepdim=True))
        embeddings.position_embeddings.normal_(0.0, position_std)  # [1, 1 + patches, D]


def parameter_count(model) -> int:
    """Number of parameters (each tied tensor once)."""
    return sum(p.numel() for p in model.parameters())


def tiny_mllm(seed: int = 0, text_init: str = "minilm", sizes: TinySizes = TinySizes()):
    """(model, processor) of the tiny InternVL, in memory: every random weight comes from `seed` (the global torch
    RNG is left as it was)."""
    import torch
    from transformers import InternVLForConditionalGeneration

    if text_init not in TEXT_INITS:
        raise ValueError(f"unknown text_init {text_init!r}; choose one of {', '.join(TEXT_INITS)}")
    tokenizer = make_tokenizer(text_init)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = InternVLForConditionalGeneration(tiny_config(sizes, tokenizer)).eval()
        init_vision_for_renders(model)
        if text_init == "minilm":
            init_from_minilm(model)
    processor = SkeletonLLMProcessor(make_image_processor(sizes.image_size), tokenizer,
                                     image_seq_length=sizes.image_tokens, chat_template=tokenizer.chat_template)
    return model, processor


def build_tiny(out_dir: str | Path, seed: int = 0, text_init: str = "minilm", sizes: TinySizes = TinySizes()) -> Path:
    """Build the tiny InternVL (`tiny_mllm`) and save model, processor (tokenizer, image processor, chat template)
    and build.json into out_dir; returns out_dir. The same arguments give byte-identical files."""
    model, processor = tiny_mllm(seed, text_init, sizes)
    out = Path(out_dir)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    info = {"preset": "tiny", "seed": seed, "text_init": text_init, "sizes": asdict(sizes),
            "image_tokens": sizes.image_tokens, "vocab_size": len(processor.tokenizer),
            "parameters": parameter_count(model)}
    (out / "build.json").write_text(json.dumps(info, indent=2) + "\n")
    return out


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE is set (read now, not at import like huggingface_hub.constants)."""
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def where_to_put(repo_id: str) -> str:
    """The instruction that ends every 'checkpoint not here' message."""
    from huggingface_hub import constants

    return (f"where the hub is reachable, run `skeletonllm build-model --preset {repo_id} --out DIR` or "
            f"`hf download {repo_id} --local-dir DIR` (huggingface-cli download before huggingface_hub 1.0) and "
            f"use DIR, or put the repository into the Hugging Face cache {constants.HF_HUB_CACHE}")


def local_checkpoint(name_or_path: str | Path) -> Path:
    """The folder of a model: name_or_path itself when it is a folder, else the cached snapshot of that hub id.
    CommandError, never a download, when neither exists."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    path = Path(name_or_path)
    if path.is_dir():
        return path
    name = str(name_or_path)
    try:
        return Path(snapshot_download(name, local_files_only=True))
    except HFValidationError:
        raise CommandError(f"{name}: no such model folder (nor a hub id)") from None
    except LocalEntryNotFoundError:
        raise CommandError(f"{name} is neither a model folder nor in the local Hugging Face cache; "
                           f"{where_to_put(name)}") from None


def load_mllm(name_or_path: str | Path, dtype=None):
    """InternVLForConditionalGeneration of a model folder (tiny or InternVL3-hf) or cached hub id, in eval mode;
    dtype e.g. torch.bfloat16 (default: as saved, float32 for the tiny model)."""
    from transformers import InternVLForConditionalGeneration

    folder = local_checkpoint(name_or_path)
    return InternVLForConditionalGeneration.from_pretrained(str(folder), dtype=dtype, local_files_only=True).eval()


def fetch_checkpoint(repo_id: str, out_dir: str | Path) -> Path:
    """Download (or complete) the hub repository repo_id into out_dir with huggingface_hub.snapshot_download;
    CommandError, at once, when HF_HUB_OFFLINE is set or the hub cannot be reached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    if hub_offline():
        raise CommandError(f"cannot fetch {repo_id}: HF_HUB_OFFLINE is set; {where_to_put(repo_id)}")
    try:
        return Path(snapshot_download(repo_id, local_dir=str(out_dir)))
    except (HfHubHTTPError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CommandError(f"cannot fetch {repo_id} ({reason}); {where_to_put(repo_id)}") from None
