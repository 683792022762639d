"""Load the clips that `skeletonllm render` draws: a raw skeleton file or a sample of a prepared dataset.

A raw file of any supported format is read with `skeletonllm.formats.read`, denoised and normalized exactly as
prepare does (`denoise_bodies` for Kinect files, then `normalize_sequence`: at most 2 bodies, empty frames
dropped, centred, 3D poses in the canonical body frame). A prepared sample is named
`PREPARED_DIR:SAMPLE_ID`, where PREPARED_DIR is a prepare output (results/data/<dataset>/ with poses.npy,
index.parquet and manifest.json); its frames are sliced from the memory-mapped poses.npy at the index row's
offset and length. `preview_sample_ids` picks the few samples, from different classes, that previews show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skeletonllm.data import prepared
from skeletonllm.data.denoise import denoise_bodies
from skeletonllm.data.normalize import normalize_sequence
from skeletonllm.data.prepared import DatasetError
from skeletonllm.formats import Topology, read


class ClipError(DatasetError):
    """A clip cannot be found or loaded (no such file, no sample to preview, clashing output folders).

    Errors of the prepared dataset itself (missing files, unknown sample id) are its DatasetError base class.
    """


@dataclass
class Clip:
    """A normalized clip ready to render.

    joints: float32 [T, M, J, C] as prepare stores them (M = 2 body slots, an absent body all-zero).
    name: a short name for output folders (the sample id or the file's stem); source: where it came from.
    """

    name: str
    joints: np.ndarray
    topology: Topology
    source: str
    label: str | None = None


def load_raw_clip(path: str | Path, format: str | None = None) -> Clip:
    """Read a raw skeleton file (format detected unless given) and normalize it like prepare.

    Raises ClipError when the file does not exist, SkeletonFormatError for a malformed file and
    EmptySequenceError when no frame holds a body (all three are ValueErrors).
    """
    path = Path(path)
    if not path.is_file():
        raise ClipError(f"{path}: no such file")
    seq = normalize_sequence(denoise_bodies(read(path, format))[0])
    label = seq.meta.get("label")
    return Clip(path.stem, seq.joints, seq.topology, str(path), None if label is None else str(label))


class PreparedDataset(prepared.PreparedDataset):
    """A prepared dataset whose samples are loaded as Clips."""

    def clip(self, sample_id: str) -> Clip:
        """The clip of one sample, its frames copied out of the memory map."""
        label = int(self.row(sample_id)["label"])
        return Clip(sample_id, self.joints(sample_id), self.topology, f"{self.directory}:{sample_id}",
                    self.class_name(label) or str(label))

    def preview_ids(self, count: int) -> list[str]:
        """`preview_sample_ids` of this dataset's index."""
        return preview_sample_ids(self.index, count)


def preview_sample_ids(index, count: int) -> list[str]:
    """count sample ids for previews, spread over the classes: the first sample of count classes evenly spaced
    over the sorted labels; when count exceeds the classes, every class, then second samples, and so on.

    index: a DataFrame with sample_id and label columns, in store order (the choice follows that order).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if len(index) == 0:
        raise ClipError("the dataset has no samples to preview")
    table = index[["sample_id", "label"]].reset_index(drop=True)
    labels = np.sort(table["label"].unique())
    rank_in_class = table.groupby("label").cumcount()  # 0 for the first sample of each class
    if count <= len(labels):
        chosen = labels[np.linspace(0, len(labels) - 1, count).round().astype(int)]
        firsts = table[(rank_in_class == 0) & table["label"].isin(chosen)]
        return firsts.sort_values("label")["sample_id"].tolist()
    order = table.assign(rank=rank_in_class).sort_values(["rank", "label"], kind="stable")
    return order["sample_id"].head(count).tolist()


def split_sample_spec(spec: str) -> tuple[Path, str] | None:
    """(PREPARED_DIR, SAMPLE_ID) when spec reads `PREPARED_DIR:SAMPLE_ID` (split at the last colon), else None."""
    directory, colon, sample_id = spec.rpartition(":")
    if not colon or not directory or not sample_id:
        return None
    return Path(directory), sample_id


class ClipLoader:
    """Resolves clip arguments to Clips, opening each prepared dataset once.

    An argument is a raw file when such a file exists, else `PREPARED_DIR:SAMPLE_ID`; with a default data
    directory, a bare argument that is no file is a sample id of that dataset.
    """

    def __init__(self, data: str | Path | None = None, format: str | None = None):
        self.format = format
        self.datasets: dict[Path, PreparedDataset] = {}
        self.data = self.dataset(data) if data is not None else None

    def dataset(self, directory: str | Path) -> PreparedDataset:
        """The PreparedDataset at directory (opened on first use)."""
        key = Path(directory).resolve()
        if key not in self.datasets:
            self.datasets[key] = PreparedDataset(directory)
        return self.datasets[key]

    def load(self, spec: str) -> Clip:
        """The clip an argument names (see the class docstring)."""
        if Path(spec).is_file():
            return load_raw_clip(spec, self.format)
        if self.data is not None and ":" not in spec:
            return self.data.clip(spec)
        parts = split_sample_spec(spec)
        if parts is None or not parts[0].is_dir():
            raise ClipError(f"{spec!r} is neither a skeleton file nor PREPARED_DIR:SAMPLE_ID of a prepared dataset"
                            + (" (the file does not exist)" if parts is None else f" ({parts[0]} is no directory)"))
        return self.dataset(parts[0]).clip(parts[1])
