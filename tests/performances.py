"""A synthetic performance written in every skeleton file format by the project's own writers (PKU-MMD txt with
numpy, which has no writer), for tests that need one file of each format."""

from __future__ import annotations

import numpy as np

from skeletonllm.data.synth.actions import SYNTH_CLASSES
from skeletonllm.data.synth.formats import humanml3d_sequence, kinetics_sequence, ntu_sequence, ucla_sequence
from skeletonllm.data.synth.scene import Sample, camera_for, perform
from skeletonllm.formats import write

FORMAT_KINDS = ("ntu", "ucla", "humanml3d", "bvh", "kinetics", "pku")


def write_every_format(directory, action: str, camera_index: int) -> dict:
    """{format: path} of one performance written in every format (one body)."""
    sample = Sample(SYNTH_CLASSES.index(action) + 1, 1, 1)
    people = perform(0, sample, 10, 30.0)
    camera = camera_for(0, sample, camera_index)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"ntu": directory / "S001C002P001R001A001.skeleton", "ucla": directory / "a01_s01_e01_v02.json",
             "humanml3d": directory / "new_joints" / "000001.npy", "bvh": directory / "take.bvh",
             "kinetics": directory / "clip.json", "pku": directory / "0001-M.txt"}
    ntu = ntu_sequence(0, sample, camera_index, camera, people[:1])
    ntu.meta.pop("body_ids", None)  # a file of exactly one performer: the writer numbers it
    write(paths["ntu"], first_body(ntu), "ntu")
    write(paths["ucla"], ucla_sequence(0, sample, camera_index, camera, people[0]), "ucla")
    humanml3d = humanml3d_sequence(0, sample, people[0])
    write(paths["humanml3d"], humanml3d, "humanml3d")
    write(paths["bvh"], humanml3d, "bvh")
    write(paths["kinetics"], kinetics_sequence(0, sample, camera_index, camera, people[:1]), "kinetics")
    pku = np.zeros((ntu.num_frames, 2, 25, 3), dtype=np.float32)  # PKU-MMD: 2 bodies x 25 joints x 3 per line
    pku[:, 0] = ntu.joints[:, 0]
    np.savetxt(paths["pku"], pku.reshape(len(pku), -1), fmt="%.6f")
    return paths


def first_body(seq):
    """The sequence restricted to its first body slot, with the per-slot meta cut to match."""
    meta = {key: (value[:, :1] if isinstance(value, np.ndarray) and value.ndim >= 2 else value)
            for key, value in seq.meta.items()}
    scores = None if seq.scores is None else seq.scores[:, :1]
    return type(seq)(seq.joints[:, :1], scores, seq.topology, seq.fps, meta)
