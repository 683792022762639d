"""Training the feature baseline on a split's training samples (seen classes), and loading a trained model.

Defaults (chosen once, not tuned on any result): 40 epochs of batches of 32 clips, AdamW (learning rate 1e-3,
weight decay 1e-4) with a cosine learning-rate decay to zero, 32 frames per clip, temperature 0.1 (EncoderConfig).
Depth dropout 0.5: each 3D training clip has its depth channel zeroed with probability 0.5, as a 2D format's clips
arrive (joints.to_shared), so that one model reads 3D and 2D formats; a 2D training set has no depth to drop.
Everything random (initialization, order, depth dropout) follows from the seed. Torch runs on one CPU thread by
default (threads): the encoder's tensors are too small for intra-op parallelism to pay, and on a busy machine two
threads took ten times the CPU time of one.

Writes OUT/model.pt ({"state_dict", "config"}), OUT/config.json (the same config) and OUT/history.json (mean loss
and training accuracy per epoch).
"""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from skeletonllm.baseline.clips import FRAMES, check_samples, load_clips
from skeletonllm.baseline.encoder import EncoderConfig, SkeletonEncoder, alignment_loss, cosine_logits
from skeletonllm.baseline.joints import SHARED_NAMES, shared_joint_map
from skeletonllm.baseline.text import TEXT_MODEL, name_embeddings
from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.errors import CommandError
from skeletonllm.progress import progress

METHOD = "feature baseline"


@dataclass(frozen=True)
class TrainSettings:
    """Optimization settings (see the module docstring for the defaults' reasons)."""

    seed: int = 0
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    depth_dropout: float = 0.5
    frames: int = FRAMES
    threads: int = 1

    def check(self) -> None:
        """CommandError for settings that cannot train."""
        if self.epochs < 1 or self.batch_size < 2 or self.frames < 2 or self.threads < 1:
            raise CommandError(f"need epochs >= 1, batch size >= 2, frames >= 2 and threads >= 1, got {self.epochs}, "
                               f"{self.batch_size}, {self.frames} and {self.threads}")
        if not 0.0 <= self.depth_dropout <= 1.0 or self.learning_rate <= 0 or self.weight_decay < 0:
            raise CommandError("need 0 <= depth dropout <= 1, learning rate > 0 and weight decay >= 0")


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with torch on `count` intra-op threads, restoring the previous count after it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def split_name(path: Path) -> str:
    """'<protocol>/<class split>' of a split file results/splits/<dataset>/<protocol>/<class split>.json."""
    return f"{path.parent.name}/{path.stem}"


def training_labels(dataset: PreparedDataset, sample_ids: list[str], seen: list[str]) -> np.ndarray:
    """long [N]: each training sample's index into the seen classes; CommandError for a sample of another class."""
    names = [dataset.label_name(sample_id) for sample_id in sample_ids]
    strays = sorted({name for name in names if name not in seen})
    if strays:
        raise CommandError(f"training samples of classes the split does not list as seen: {', '.join(strays)}")
    return np.array([seen.index(name) for name in names], dtype=np.int64)


def drop_depth(clips: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """clips [B, F, M, S, 3] with the depth channel zeroed in each clip with the given probability."""
    if probability <= 0:
        return clips
    dropped = torch.rand(clips.shape[0], generator=generator) < probability  # [B]
    clips = clips.clone()
    clips[dropped, ..., 2] = 0.0
    return clips


def fit(clips: torch.Tensor, labels: torch.Tensor, class_embeddings: torch.Tensor, settings: TrainSettings,
        encoder_config: EncoderConfig, use_depth_dropout: bool) -> tuple[SkeletonEncoder, list[dict]]:
    """Train an encoder on clips [N, F, M, S, 3] with labels long [N] into class_embeddings [K, D]; returns it (in
    eval mode) and the per-epoch history [{"epoch", "loss", "accuracy"}]."""
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    encoder = SkeletonEncoder(encoder_config)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    batches = -(-len(clips) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs * batches)
    dropout = settings.depth_dropout if use_depth_dropout else 0.0
    history = []
    encoder.train()
    for epoch in progress(range(settings.epochs), "train baseline", unit="epoch"):
        order = torch.randperm(len(clips), generator=generator)  # [N]
        total, correct, seen = 0.0, 0, 0
        for start in range(0, len(order), settings.batch_size):
            index = order[start : start + settings.batch_size]  # [B]
            if len(index) < 2:  # batch norm needs more than one clip
                continue
            batch = drop_depth(clips[index], dropout, generator)  # [B, F, M, S, 3]
            embeddings = encoder(batch)  # [B, D]
            loss = alignment_loss(embeddings, class_embeddings, labels[index], encoder_config.temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(index)
            seen += len(index)
            with torch.no_grad():
                predicted = cosine_logits(embeddings, class_embeddings, 1.0).argmax(dim=1)  # [B]
                correct += int((predicted == labels[index]).sum())
        history.append({"epoch": epoch + 1, "loss": total / max(seen, 1), "accuracy": correct / max(seen, 1)})
    return encoder.eval(), history


def train_baseline(data: Path, split_path: Path, out: Path, settings: TrainSettings,
                   encoder_config: EncoderConfig = EncoderConfig()) -> dict:
    """Train on the split's training samples and write model.pt, config.json and history.json to out; returns a
    summary {"loss_first", "loss_last", "train_accuracy", "samples", "classes", "seconds", "model"}."""
    from skeletonllm.train.data import Split

    settings.check()
    started = time.monotonic()
    dataset, split = PreparedDataset(data), Split.load(split_path)
    shared_joint_map(dataset.topology)  # fails early, naming the joints a topology lacks
    train_ids = split.parts["train"]
    if not train_ids or not split.seen:
        raise CommandError(f"{split_path}: no training samples or no seen classes to train on")
    check_samples(dataset, train_ids, f"split {split_path}")
    labels = torch.from_numpy(training_labels(dataset, train_ids, split.seen))  # [N]
    class_embeddings = torch.from_numpy(name_embeddings(split.seen))  # [K, 384]
    clips = torch.from_numpy(load_clips(dataset, train_ids, settings.frames, f"load {dataset.name} train"))
    with torch_threads(settings.threads):
        encoder, history = fit(clips, labels, class_embeddings, settings, encoder_config, dataset.topology.dims == 3)
    config = {
        "method": METHOD, "dataset": dataset.name, "data": str(data), "split": split_name(Path(split_path)),
        "split_file": str(split_path), "topology": dataset.topology.name, "dims": dataset.topology.dims,
        "shared_joints": list(SHARED_NAMES), "classes_seen": list(split.seen), "classes_unseen": list(split.unseen),
        "dataset_classes": [name for name in dataset.class_names() if name], "text_model": TEXT_MODEL,
        "seed": settings.seed, "training": asdict(settings), "encoder": encoder_config.to_dict(),
        "train_samples": len(train_ids),
    }
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": encoder.state_dict(), "config": config}, out / "model.pt")
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    return {"loss_first": history[0]["loss"], "loss_last": history[-1]["loss"],
            "train_accuracy": history[-1]["accuracy"], "samples": len(train_ids), "classes": len(split.seen),
            "seconds": round(time.monotonic() - started, 1), "model": str(out / "model.pt")}


def load_trained(model_dir: Path) -> tuple[SkeletonEncoder, dict]:
    """(encoder in eval mode, config) of a trained baseline folder; CommandError when it holds none."""
    path = Path(model_dir) / "model.pt"
    if not path.is_file():
        raise CommandError(f"{model_dir}: no model.pt (written by `skeletonllm baseline train --out DIR`)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        config = saved["config"]
        encoder = SkeletonEncoder(EncoderConfig.from_dict(config["encoder"]))
        encoder.load_state_dict(saved["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise CommandError(f"{path}: not a feature-baseline model ({error})") from None
    if config.get("method") != METHOD:
        raise CommandError(f"{path}: not a feature-baseline model (method {config.get('method')!r})")
    return encoder.eval(), config
