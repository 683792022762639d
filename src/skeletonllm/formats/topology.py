"""Topology registry: joint names, kinematic tree, landmark joints and left-right pairs per skeleton kind.

Every downstream module reads joint counts and landmarks from here; nothing hard-codes a joint count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Topology:
    """A skeleton layout.

    parents[j] is the parent joint of j (-1 for the root); bones are (child, parent) pairs.
    shoulders and hips are (left, right) joint indices; spine runs from the root upwards.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    dims: int
    root: int
    spine: tuple[int, ...]
    shoulders: tuple[int, int]
    hips: tuple[int, int]
    left_right: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if len(self.parents) != len(self.joint_names):
            raise ValueError(f"{self.name}: {len(self.parents)} parents for {len(self.joint_names)} joints")
        if self.dims not in (2, 3):
            raise ValueError(f"{self.name}: dims must be 2 or 3, got {self.dims}")
        if self.parents[self.root] != -1 or sum(p == -1 for p in self.parents) != 1:
            raise ValueError(f"{self.name}: exactly the root joint must have parent -1")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) pairs, one per non-root joint."""
        return tuple((child, parent) for child, parent in enumerate(self.parents) if parent >= 0)

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        """children[j]: the joints whose parent is j, in joint order."""
        return tuple(tuple(c for c, p in enumerate(self.parents) if p == j) for j in range(self.num_joints))

    def index(self, joint_name: str) -> int:
        return self.joint_names.index(joint_name)


def _pairs_by_name(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Left-right pairs found by swapping a left/right marker in the joint names."""
    pairs = []
    for left_index, name in enumerate(names):
        for pattern, swap in ((r"\bleft", "right"), (r"^l_", "r_"), (r"Left", "Right"), (r"^L(?=[A-Z])", "R")):
            if re.search(pattern, name):
                mirrored = re.sub(pattern, swap, name, count=1)
                if mirrored in names:
                    pairs.append((left_index, names.index(mirrored)))
                break
    return tuple(pairs)


def _make(name, joint_names, parents, dims, root, spine, shoulders, hips) -> Topology:
    names = tuple(joint_names)
    return Topology(name, names, tuple(parents), dims, root, tuple(spine), shoulders, hips, _pairs_by_name(names))


_NTU25 = [
    "spine base", "spine mid", "neck", "head",
    "left shoulder", "left elbow", "left wrist", "left hand",
    "right shoulder", "right elbow", "right wrist", "right hand",
    "left hip", "left knee", "left ankle", "left foot",
    "right hip", "right knee", "right ankle", "right foot",
    "spine shoulder", "left hand tip", "left thumb", "right hand tip", "right thumb",
]
_UCLA20 = [
    "hip center", "spine", "shoulder center", "head",
    "left shoulder", "left elbow", "left wrist", "left hand",
    "right shoulder", "right elbow", "right wrist", "right hand",
    "left hip", "left knee", "left ankle", "left foot",
    "right hip", "right knee", "right ankle", "right foot",
]
_COCO17 = [
    "nose", "left eye", "right eye", "left ear", "right ear",
    "left shoulder", "right shoulder", "left elbow", "right elbow", "left wrist", "right wrist",
    "left hip", "right hip", "left knee", "right knee", "left ankle", "right ankle",
]
_OPENPOSE18 = [
    "nose", "neck", "right shoulder", "right elbow", "right wrist", "left shoulder", "left elbow",
    "left wrist", "right hip", "right knee", "right ankle", "left hip", "left knee", "left ankle",
    "right eye", "left eye", "right ear", "left ear",
]
_SMPL22 = [
    "pelvis", "left hip", "right hip", "spine1", "left knee", "right knee", "spine2",
    "left ankle", "right ankle", "spine3", "left foot", "right foot", "neck",
    "left collar", "right collar", "head", "left shoulder", "right shoulder",
    "left elbow", "right elbow", "left wrist", "right wrist",
]

TOPOLOGIES: dict[str, Topology] = {
    t.name: t
    for t in (
        _make(
            "ntu25", _NTU25,
            [-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 7, 7, 11, 11],
            3, root=0, spine=(0, 1, 20, 2, 3), shoulders=(4, 8), hips=(12, 16),
        ),
        _make(
            "ucla20", _UCLA20,
            [-1, 0, 1, 2, 2, 4, 5, 6, 2, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18],
            3, root=0, spine=(0, 1, 2, 3), shoulders=(4, 8), hips=(12, 16),
        ),
        _make(
            "coco17", _COCO17,
            [5, 0, 0, 1, 2, 11, 12, 5, 6, 7, 8, -1, 11, 11, 12, 13, 14],
            2, root=11, spine=(11, 5, 0), shoulders=(5, 6), hips=(11, 12),
        ),
        _make(
            "openpose18", _OPENPOSE18,
            [1, -1, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 0, 0, 14, 15],
            2, root=1, spine=(1, 0), shoulders=(5, 2), hips=(11, 8),
        ),
        _make(
            "smpl22", _SMPL22,
            [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19],
            3, root=0, spine=(0, 3, 6, 9, 12, 15), shoulders=(16, 17), hips=(1, 2),
        ),
    )
}


def get_topology(name: str) -> Topology:
    """Look a topology up by name; raises KeyError listing the known names."""
    try:
        return TOPOLOGIES[name]
    except KeyError:
        raise KeyError(f"unknown topology {name!r}; known: {sorted(TOPOLOGIES)}") from None


def register(topology: Topology) -> Topology:
    """Add a topology (e.g. one read from a BVH hierarchy); re-registering an identical one is a no-op."""
    existing = TOPOLOGIES.get(topology.name)
    if existing is not None and existing != topology:
        raise ValueError(f"a different topology named {topology.name!r} is already registered")
    TOPOLOGIES[topology.name] = topology
    return topology


def from_hierarchy(name: str, joint_names: list[str], parents: list[int]) -> Topology:
    """Build and register a 3D topology from a kinematic hierarchy (BVH), finding landmarks by joint name.

    Names are read as joint kinds (formats.body_parts): the spine is the path from the root to the first head
    joint (or the chest and neck joints when no joint is a head); shoulders and hips are the last shoulder and
    the first hip joint of each side. A landmark no name tells falls back to the root.
    """
    from skeletonllm.formats.body_parts import name_kind, name_side

    names = tuple(joint_names)
    kinds, sides = [name_kind(n) for n in names], [name_side(n) for n in names]
    root = parents.index(-1)

    def path_to(joint: int) -> tuple[int, ...]:
        chain = [joint]
        while parents[chain[-1]] >= 0:
            chain.append(parents[chain[-1]])
        return tuple(reversed(chain))

    heads = [j for j, kind in enumerate(kinds) if kind == "head"]
    spine = path_to(heads[0]) if heads else (root, *(j for j, k in enumerate(kinds) if k in ("chest", "neck")))

    def landmark(kind: str, side: str, last: bool) -> int:
        found = [j for j in range(len(names)) if kinds[j] == kind and sides[j] == side]
        return (found[-1] if last else found[0]) if found else root

    shoulders = (landmark("shoulder", "left", True), landmark("shoulder", "right", True))
    hips = (landmark("hip", "left", False), landmark("hip", "right", False))
    return register(Topology(name, names, tuple(parents), 3, root, spine, shoulders, hips, _pairs_by_name(names)))
