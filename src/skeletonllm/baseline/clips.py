"""Prepared samples as fixed-length clips on the shared joints: the encoder's input."""

from __future__ import annotations

import numpy as np

from skeletonllm.baseline.joints import to_shared
from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.errors import CommandError
from skeletonllm.formats.topology import Topology
from skeletonllm.progress import progress

FRAMES = 32  # frames per clip: the centre frame of each of 32 equal segments of the whole clip


def segment_centres(length: int, frames: int) -> np.ndarray:
    """long [F]: the centre frame of each of F equal segments of [0, length) (frames repeat in shorter clips)."""
    if length < 1 or frames < 1:
        raise ValueError(f"need length >= 1 and frames >= 1, got {length} and {frames}")
    return np.minimum(((np.arange(frames) + 0.5) * length / frames).astype(np.int64), length - 1)


def clip_array(joints: np.ndarray, topology: Topology, frames: int = FRAMES) -> np.ndarray:
    """float32 [F, M, S, 3]: a clip joints [T, M, J, C] on the shared joints (joints.to_shared), resampled to F
    frames spread over the whole clip, so clips of any length and frame rate match."""
    return to_shared(joints, topology)[segment_centres(len(joints), frames)]


def check_samples(dataset: PreparedDataset, sample_ids: list[str], what: str) -> None:
    """CommandError when some of the ids are no samples of the dataset (a split of another dataset)."""
    known = set(dataset.index["sample_id"])
    unknown = [sample_id for sample_id in sample_ids if sample_id not in known]
    if unknown:
        raise CommandError(f"{what} names {len(unknown)} samples that {dataset.directory} does not hold (e.g. "
                           f"{', '.join(unknown[:3])}); is it a split of another dataset?")


def load_clips(dataset: PreparedDataset, sample_ids: list[str], frames: int = FRAMES,
               desc: str = "") -> np.ndarray:
    """float32 [N, F, M, S, 3]: the clips of the given samples, in their order."""
    clips = [clip_array(dataset.joints(sample_id), dataset.topology, frames)
             for sample_id in progress(sample_ids, desc or f"load {dataset.name}", unit="sample")]
    if not clips:
        return np.zeros((0, frames, 2, 0, 3), dtype=np.float32)
    return np.stack(clips)
