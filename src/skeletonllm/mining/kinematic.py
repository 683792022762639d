"""`kinematic` backend: distances between class-mean motion statistics of a prepared dataset.

Per sample (first = most active body, joints relative to its root joint): the mean position of each joint, the
spread (std over time) of each joint, the mean speed of each joint, and for two-person clips the fraction of frames
with a second body and the mean distance between the two roots. Each statistic is averaged over a class's samples
and standardised across classes; each of the four groups (positions, spreads, speeds, two-person) then weighs the
same, so that the two two-person statistics are not drowned by the J*C positions. Classes are compared by negative
Euclidean distance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skeletonllm.formats.sequence import body_presence
from skeletonllm.progress import progress


def sample_features(joints: np.ndarray, root: int) -> np.ndarray:
    """Motion statistics of one clip; joints [T, M, J, C] -> features [J*C + 2*J + 2]."""
    main = joints[:, 0]  # [T, J, C]
    centred = main - main[:, root : root + 1]  # [T, J, C]
    mean_position = centred.mean(axis=0).ravel()  # [J*C]
    spread = np.linalg.norm(centred.std(axis=0), axis=-1)  # [J]
    steps = np.diff(main, axis=0) if len(main) > 1 else np.zeros_like(main[:1])  # [T-1, J, C]
    speed = np.linalg.norm(steps, axis=-1).mean(axis=0)  # [J]
    second = joints[:, 1] if joints.shape[1] > 1 else np.zeros_like(main)  # [T, J, C]
    present = body_presence(second)  # [T]
    root_distance = (np.linalg.norm(second[present, root] - main[present, root], axis=-1).mean()
                     if present.any() else 0.0)
    return np.concatenate([mean_position, spread, speed, [present.mean(), root_distance]]).astype(np.float64)


def feature_groups(num_joints: int, dims: int) -> list[int]:
    """Sizes of the groups of sample_features, in order: mean positions, spreads, speeds, two-person statistics."""
    return [num_joints * dims, num_joints, num_joints, 2]


def class_features(directory: str | Path, num_classes: int) -> tuple[np.ndarray, list[int]]:
    """Class-mean features [N, F] of a prepared dataset (read through PreparedDataset) and their feature_groups."""
    from skeletonllm.data.prepared import DatasetError, PreparedDataset

    try:
        dataset = PreparedDataset(directory)
        samples = dataset.samples("label")
        total = len(dataset.index)
    except DatasetError as error:
        raise ValueError(f"the kinematic backend needs a prepared dataset (--data): {error}") from None
    root = dataset.topology.root
    sums, counts = None, np.zeros(num_classes, dtype=np.int64)
    for label, joints in progress(samples, "motion statistics", total=total, unit="sample"):
        if not 0 <= label < num_classes:
            continue  # unlabelled (-1) samples carry no class
        features = sample_features(np.asarray(joints, dtype=np.float64), root)  # joints [T, M, J, C]
        if sums is None:
            sums = np.zeros((num_classes, features.size))  # [N, F]
        sums[label] += features
        counts[label] += 1
    empty = [i for i in range(num_classes) if counts[i] == 0]
    if empty:
        raise ValueError(f"{directory}: no samples for class ids {empty}; every class needs samples")
    return sums / counts[:, None], feature_groups(dataset.topology.num_joints, dataset.topology.dims)


def similarity(features: np.ndarray, groups: list[int]) -> np.ndarray:
    """Negative Euclidean distance [N, N] between class features [N, F], standardised per feature and weighted
    1/sqrt(group size) so that every group of features (sizes `groups`, summing to F) counts the same."""
    scale = features.std(axis=0)
    weights = np.concatenate([np.full(size, 1.0 / np.sqrt(size)) for size in groups])  # [F]
    z = (features - features.mean(axis=0)) / np.where(scale > 0, scale, 1.0) * weights  # [N, F]
    return -np.linalg.norm(z[:, None, :] - z[None, :, :], axis=-1)
