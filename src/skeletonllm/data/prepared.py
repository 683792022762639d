"""Read side of the array store that `skeletonllm prepare` writes (results/data/<dataset>/).

One reader serves every consumer (render, teacher, mining): it checks the three files exist, reads the topology
from manifest.json, loads index.parquet on first use and memory-maps poses.npy.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np

from skeletonllm.formats.topology import Topology, get_topology

PREPARED_FILES = ("poses.npy", "index.parquet", "manifest.json")
INDEX_COLUMNS = {"sample_id", "label", "offset", "length"}


class DatasetError(ValueError):
    """A prepared dataset, or one of its samples, cannot be loaded (missing files or columns, unknown sample)."""


class PreparedDataset:
    """A prepared dataset directory: manifest, topology, index and memory-mapped poses [frames, 2, J, C]."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        missing = [name for name in PREPARED_FILES if not (self.directory / name).is_file()]
        if missing:
            raise DatasetError(
                f"{self.directory} is not a prepared dataset (missing {', '.join(missing)}); "
                "expected the output folder of `skeletonllm prepare`, e.g. results/data/<dataset>"
            )
        self.manifest = json.loads((self.directory / "manifest.json").read_text())
        self.name: str = self.manifest.get("dataset", self.directory.name)
        self.topology: Topology = get_topology(self.manifest["topology"]["name"])

    @cached_property
    def index(self):
        """index.parquet as a DataFrame (one row per sample: sample_id, label, label_name, offset, length, ...)."""
        import pandas as pd

        index = pd.read_parquet(self.directory / "index.parquet")
        missing = INDEX_COLUMNS - set(index.columns)
        if missing:
            raise DatasetError(f"{self.directory / 'index.parquet'} lacks the columns {sorted(missing)}")
        return index

    @cached_property
    def poses(self) -> np.ndarray:
        """float32 [total_frames, 2, J, C], memory-mapped (read only)."""
        return np.load(self.directory / "poses.npy", mmap_mode="r")

    @cached_property
    def _position(self) -> dict[str, int]:
        """sample_id -> row position in the index."""
        return {sample_id: i for i, sample_id in enumerate(self.index["sample_id"])}

    def row(self, sample_id: str):
        """The index row (a pandas Series) of one sample; DatasetError names an unknown id."""
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
        if offset < 0 or length < 1 or offset + length > self.poses.shape[0]:
            raise DatasetError(f"{self.directory}: sample {sample_id!r} spans frames {offset}..{offset + length}, "
                               f"outside poses.npy's {self.poses.shape[0]} frames")
        return np.array(self.poses[offset : offset + length], dtype=np.float32)

    def class_names(self) -> list[str]:
        """Class names in label order, as the samples carry them."""
        pairs = self.index[["label", "label_name"]].drop_duplicates().sort_values("label")
        return [str(name) for name in pairs["label_name"]]
