"""Read side of the array store that `skeletonllm prepare` writes (results/data/<dataset>/): the one reader of
prepared data.

Every consumer (splits, render, teacher, mining) opens a store through `PreparedDataset`. Opening checks that the
three files exist and belong together: poses.npy, index.parquet and manifest.json carry one build id (see
data/store.py) and agree on the frame total and the sample count; a store mixed from different prepare runs is
refused. The manifest is the one source of class names and of the dataset's frame rate, the index of each sample's
row (and its fps); frames are sliced from the memory-mapped poses.npy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import numpy as np

from skeletonllm.data.store import index_build, poses_build
from skeletonllm.errors import CommandError
from skeletonllm.formats.topology import Topology, get_topology

PREPARED_FILES = ("poses.npy", "index.parquet", "manifest.json")
INDEX_COLUMNS = {"sample_id", "label", "offset", "length", "fps"}
RERUN = "run `skeletonllm prepare` again to rebuild it"


class DatasetError(CommandError, ValueError):
    """A prepared dataset, or one of its samples, cannot be loaded (missing or mismatched files, missing columns,
    unknown sample)."""


class PreparedDataset:
    """A prepared dataset directory: manifest, topology, index and memory-mapped poses [frames, 2, J, C].

    Raises DatasetError when the directory is no complete store of one prepare run.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        missing = [name for name in PREPARED_FILES if not (self.directory / name).is_file()]
        if missing:
            raise DatasetError(
                f"{self.directory} is not a prepared dataset (missing {', '.join(missing)}); "
                "expected the output folder of `skeletonllm prepare`, e.g. results/data/<dataset>"
            )
        try:
            self.manifest = json.loads((self.directory / "manifest.json").read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DatasetError(f"{self.directory / 'manifest.json'} is not valid JSON ({error}); {RERUN}") from None
        self.name: str = self.manifest.get("dataset", self.directory.name)
        self.topology: Topology = get_topology(self.manifest["topology"]["name"])
        self.build_id: str = self._check_files_belong_together()

    def _check_files_belong_together(self) -> str:
        """The build id that poses.npy, index.parquet and manifest.json share; DatasetError when they do not share
        one, or disagree on the frame total, the frame shape or the sample count."""
        try:
            shape, poses_id = poses_build(self.directory / "poses.npy")
            index_meta, rows = index_build(self.directory / "index.parquet")
        except ValueError as error:  # pyarrow's ArrowInvalid (no parquet file) is a ValueError too
            raise DatasetError(f"{error}; {RERUN}") from None
        ids = {"poses.npy": poses_id, "index.parquet": (index_meta or {}).get("build_id"),
               "manifest.json": self.manifest.get("build_id")}
        unmarked = [name for name, build_id in ids.items() if build_id is None]
        if unmarked:
            raise DatasetError(f"{self.directory}: no build id in {', '.join(unmarked)} (written by an older "
                               f"prepare, or by hand), so the files cannot be shown to belong together; {RERUN}")
        if len(set(ids.values())) > 1:
            builds = ", ".join(f"{name} {build_id[:12]}" for name, build_id in ids.items())
            raise DatasetError(f"{self.directory} mixes files of different prepare runs (builds: {builds}), as an "
                               f"interrupted prepare or files copied in by hand leave it; {RERUN}")
        frames = {"poses.npy": shape[0], "index.parquet": index_meta.get("frames"),
                  "manifest.json": self.manifest["poses"]["shape"][0]}
        samples = {"index.parquet": rows, "manifest.json": self.manifest["counts"]["samples_kept"]}
        frame_shape = (2, self.topology.num_joints, self.topology.dims)
        for what, counts in (("frame totals", frames), ("sample counts", samples)):
            if len(set(counts.values())) > 1:
                listed = ", ".join(f"{name} {count}" for name, count in counts.items())
                raise DatasetError(f"{self.directory}: the {what} disagree ({listed}); {RERUN}")
        if tuple(shape[1:]) != frame_shape:
            raise DatasetError(f"{self.directory}: poses.npy holds frames of shape {tuple(shape[1:])}, not "
                               f"{frame_shape} of the manifest's {self.topology.name} topology; {RERUN}")
        return ids["manifest.json"]

    @cached_property
    def index(self):
        """index.parquet as a DataFrame (one row per sample: sample_id, label, label_name, offset, length, fps,
        ...); DatasetError when a column is missing or a sample's frames lie outside poses.npy."""
        import pandas as pd

        index = pd.read_parquet(self.directory / "index.parquet")
        self._check_unchanged("index.parquet", (index_build(self.directory / "index.parquet")[0] or {}).get("build_id"))
        missing = INDEX_COLUMNS - set(index.columns)
        if missing:
            raise DatasetError(f"{self.directory / 'index.parquet'} lacks the columns {sorted(missing)}; {RERUN}")
        offset, length = index["offset"].to_numpy(), index["length"].to_numpy()  # [N], [N]
        outside = (offset < 0) | (length < 1) | (offset + length > self.poses.shape[0])  # [N]
        if outside.any():
            first = int(np.flatnonzero(outside)[0])
            raise DatasetError(f"{self.directory}: sample {index['sample_id'].iloc[first]!r} spans frames "
                               f"{offset[first]}..{offset[first] + length[first]}, outside poses.npy's "
                               f"{self.poses.shape[0]} frames; {RERUN}")
        return index

    @cached_property
    def poses(self) -> np.ndarray:
        """float32 [total_frames, 2, J, C], memory-mapped (read only)."""
        poses = np.load(self.directory / "poses.npy", mmap_mode="r")
        self._check_unchanged("poses.npy", poses_build(self.directory / "poses.npy")[1])
        return poses

    def _check_unchanged(self, name: str, build_id: str | None) -> None:
        """DatasetError when a file read after opening (checked after reading it, so that a swap at any moment is
        seen) belongs to another build than the store opened: a prepare replaced the store meanwhile."""
        if build_id != self.build_id:
            raise DatasetError(f"{self.directory} was replaced by another prepare run since it was opened ({name} "
                               f"is of build {str(build_id)[:12]}, not {self.build_id[:12]}); open it again")

    @cached_property
    def _position(self) -> dict[str, int]:
        """sample_id -> row position in the index."""
        return {sample_id: i for i, sample_id in enumerate(self.index["sample_id"])}

    def row(self, sample_id: str):
        """The index row (a pandas Series) of one sample, its frame rate in row["fps"]; DatasetError names an
        unknown id."""
        position = self._position.get(sample_id)
        if position is None:
            examples = ", ".join(self.index["sample_id"].head(3))
            raise DatasetError(f"{self.directory}: no sample {sample_id!r} in index.parquet "
                               f"({len(self.index)} samples, e.g. {examples})")
        return self.index.iloc[position]

    def joints(self, sample_id: str) -> np.ndarray:
        """float32 [T, 2, J, C]: one sample's frames, copied out of the memory map."""
        row = self.row(sample_id)
        offset, length = int(row["offset"]), int(row["length"])
        return np.array(self.poses[offset : offset + length], dtype=np.float32)

    def samples(self, *columns: str) -> Iterator[tuple]:
        """(the sample's value of each index column, joints) for every sample in store order; joints float32
        [T, 2, J, C] is a read-only view into the memory map (copy it to keep it past the dataset)."""
        table = self.index[[*columns, "offset", "length"]]
        for *values, offset, length in table.itertuples(index=False, name=None):
            yield (*values, self.poses[offset : offset + length])

    def class_names(self) -> list[str]:
        """Class names in label order, from manifest.json ("" for a label the dataset names none, as Kinetics
        labels absent from the files)."""
        return [str(name) for name in self.manifest["classes"]]

    def class_name(self, label: int) -> str:
        """The class name of a 0-based label; "" for an unlabelled sample (-1) or a label without a name."""
        names = self.class_names()
        return names[label] if 0 <= label < len(names) else ""

    def label_name(self, sample_id: str) -> str:
        """The class name of one sample ("" when it is unlabelled or its label has no name)."""
        return self.class_name(int(self.row(sample_id)["label"]))

    @property
    def fps(self) -> float:
        """The frame rate of every sample (manifest.json); DatasetError when the samples differ in frame rate (each
        sample's is row(sample_id)["fps"]) or there are none."""
        fps = self.manifest.get("fps")
        if fps is None:
            rates = sorted(self.index["fps"].unique().tolist())
            raise DatasetError(f"{self.directory}: no single frame rate (samples at {rates or 'none'} fps); "
                               "read each sample's from its index row (fps)")
        return float(fps)
