"""Read samples of a prepared dataset (poses.npy, index.parquet, manifest.json) as SkeletonSequences."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.formats.topology import get_topology


class PreparedData:
    """One prepared dataset: index rows by sample_id and memory-mapped poses [frames, 2, J, C]."""

    def __init__(self, directory: str | Path, fps: float):
        import pandas as pd

        self.directory = Path(directory)
        for name in ("poses.npy", "index.parquet", "manifest.json"):
            if not (self.directory / name).is_file():
                raise FileNotFoundError(f"{self.directory / name}: missing (run `skeletonllm prepare` first)")
        manifest = json.loads((self.directory / "manifest.json").read_text())
        self.topology = get_topology(manifest["topology"]["name"])
        self.index = pd.read_parquet(self.directory / "index.parquet").set_index("sample_id", drop=False)
        self.poses = np.load(self.directory / "poses.npy", mmap_mode="r")  # [frames, 2, J, C]
        self.fps = fps

    def class_names(self) -> list[str]:
        """Class names in label order."""
        pairs = self.index[["label", "label_name"]].drop_duplicates().sort_values("label")
        return [str(name) for name in pairs["label_name"]]

    def sample(self, sample_id: str) -> tuple[dict, SkeletonSequence]:
        """(index row, normalized sequence joints [T, 2, J, C]) of one sample; KeyError names an unknown id."""
        if sample_id not in self.index.index:
            raise KeyError(f"{sample_id!r} is not in {self.directory / 'index.parquet'}")
        row = self.index.loc[sample_id].to_dict()
        start, length = int(row["offset"]), int(row["length"])
        joints = np.array(self.poses[start : start + length], dtype=np.float32)  # [T, 2, J, C]
        return row, SkeletonSequence(joints, None, self.topology, self.fps, {"sample_id": sample_id})
