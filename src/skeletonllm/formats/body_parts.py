"""Where each joint sits on the body, in one vocabulary shared by every topology.

Joint names are read as anatomical joint kinds: Kinect "left elbow", SMPL "left collar", CMU BVH "LeftForeArm"
(which names the segment starting at the elbow) and so on. The body part of a joint is the part of the bone that
ends at it, and a bone's part follows from the kinds of its two joints: the segment below an elbow is the forearm,
whether its end is called "wrist" (Kinect) or "LeftHand" (CMU). Where names say nothing (an unknown BVH rig), the
kinds come from the geometry of a rest pose: the chain from the root to the highest joint is the spine and head,
chains hanging below the root are legs and the other branches are arms; sides come from which side of the body
a joint lies on.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # topology.from_hierarchy reads joint names with this module
    from skeletonllm.formats.topology import Topology

PARTS = ("head", "neck", "torso", "pelvis", "upper arm", "forearm", "hand", "thigh", "shin", "foot")
SIDES = ("left", "right", "centre")
UNKNOWN = "unknown"

# Joint kinds by name (lower-case words, side markers removed); the first match wins, so the order matters:
# "spine shoulder" is spine, "shoulder center" is chest, "up leg" is a hip, "fore arm" an elbow.
_KIND_PATTERNS = (
    ("pelvis", r"\bpelvis\b|\bspine base\b|\bhip cent(er|re)\b|^hips$|^root$|^mid hip$"),
    ("collar", r"\bcollar|\bclavicle"),
    ("chest", r"\bspine|\bchest|\bthorax|\btorso|\bback\b|\babdomen|\bwaist|\bshoulder cent(er|re)"),
    ("neck", r"\bneck"),
    ("head", r"\bhead\b|\bnose\b|\beye\b|\bear\b|\bjaw\b|\bface\b|\bskull\b|\bchin\b"),
    ("hand", r"\bfinger|\bthumb|\bindex|\bpinky|\bmiddle\d*$|\bring\d*$|\bpalm\b|\bhand"),
    ("wrist", r"\bwrist"),
    ("elbow", r"\bfore ?arm\b|\blower ?arm\b|\belbow"),
    ("shoulder", r"\bup(per)? ?arm\b|\bshoulder\b|^arm$|\barm$|\bhumerus"),
    ("hip", r"\bup(per)? ?leg\b|\bthigh|\bfemur|\bhip"),
    ("knee", r"\bknee|\bshin\b|\bcalf\b|\blower ?leg\b|\btibia|\bleg$"),
    ("ankle", r"\bankle"),
    ("foot", r"\btoe|\bfoot|\bheel\b|\bball\b"),
)
_TRUNK = ("pelvis", "collar", "chest", "neck", "head")
_ARM, _LEG = ("collar", "shoulder", "elbow", "wrist", "hand"), ("hip", "knee", "ankle", "foot")
_BELOW = {"shoulder": "upper arm", "elbow": "forearm", "wrist": "hand", "hand": "hand",
          "hip": "thigh", "knee": "shin", "ankle": "foot", "foot": "foot"}  # the segment starting at a limb joint
_ENDING = {"elbow": "upper arm", "wrist": "forearm", "hand": "hand", "knee": "thigh", "ankle": "shin", "foot": "foot"}
_LEFT = re.compile(r"(^|[^a-z])left|Left|^[lL](?=[ _.:]|[A-Z])")
_RIGHT = re.compile(r"(^|[^a-z])right|Right|^[rR](?=[ _.:]|[A-Z])")


def _words(name: str) -> str:
    """A joint name as lower-case words without side markers: "LeftForeArm" -> "fore arm", "l_hip" -> "hip"."""
    name = name.rsplit(":", 1)[-1]  # "mixamorig:LeftArm" -> "LeftArm"
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=^[LR])(?=[A-Z][a-z])", " ", name)
    spaced = re.sub(r"[_\-.]+", " ", spaced).lower()
    return " ".join(word for word in spaced.split() if word not in ("left", "right", "l", "r"))


def name_kind(name: str) -> str:
    """The anatomical joint kind a joint name denotes, or UNKNOWN when the name says nothing."""
    words = _words(name)
    return next((kind for kind, pattern in _KIND_PATTERNS if re.search(pattern, words)), UNKNOWN)


def name_side(name: str) -> str | None:
    """"left" or "right" from a side marker in a joint name, else None."""
    if _LEFT.search(name):
        return "left"
    if _RIGHT.search(name):
        return "right"
    return None


def bone_part(child_kind: str, parent_kind: str) -> str:
    """The body part (one of PARTS) of a bone from a joint of parent_kind to one of child_kind."""
    if child_kind in ("head", "neck", "pelvis"):
        return child_kind
    if child_kind in ("chest", "collar", "shoulder"):
        return "torso"  # spine segments, the clavicle, and hip -> shoulder in 2D layouts
    if child_kind == "hip":
        return "pelvis" if parent_kind in ("pelvis", "hip") else "torso"  # OpenPose's neck -> hip is the trunk
    if parent_kind in _BELOW:
        return _BELOW[parent_kind]
    return _ENDING.get(child_kind, "torso")


def geometric_kinds(topology: Topology, rest: np.ndarray) -> tuple[list[str], list[int]]:
    """Joint kinds from the tree and a rest pose rest [J, 3] (y up): the chain from the root to the highest joint
    is chest, neck and head; branches off the root that hang below it are legs, the other branches arms. Also the
    branch (limb) each joint belongs to: -1 on the root-to-head chain, else the index of the branch's first joint."""
    children, root = topology.children, topology.root
    heights = rest[:, 1]  # [J]

    def top(joint: int) -> float:
        return max([float(heights[joint]), *(top(child) for child in children[joint])])

    kinds, branch = [UNKNOWN] * topology.num_joints, [-1] * topology.num_joints
    kinds[root] = "pelvis"
    spine, joint = [], root
    while children[joint]:
        joint = max(children[joint], key=top)
        spine.append(joint)
    for index, joint in enumerate(spine):
        kinds[joint] = "head" if index == len(spine) - 1 else "neck" if index == len(spine) - 2 else "chest"

    def limb(joint: int, chain: tuple[str, ...], start: int) -> None:  # each joint takes the next kind of chain
        kinds[joint], branch[joint] = chain[0], start
        for child in children[joint]:
            limb(child, chain[1:] or chain[-1:], start)

    for joint in [root, *spine]:
        for child in children[joint]:
            if child not in spine:
                leg = joint == root and heights[child] <= heights[root]
                limb(child, _LEG if leg else _ARM, child)
    return kinds, branch


@lru_cache(maxsize=64)
def named_kinds(topology: Topology) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """(kind, side) of each joint as far as the names tell: UNKNOWN kinds and None sides where they don't."""
    return tuple(map(name_kind, topology.joint_names)), tuple(map(name_side, topology.joint_names))


def needs_geometry(topology: Topology) -> bool:
    """Whether some joint's kind, or a limb joint's side, is not in its name (so a rest pose must tell)."""
    kinds, sides = named_kinds(topology)
    return any(kind == UNKNOWN or (kind not in _TRUNK and side is None) for kind, side in zip(kinds, sides))


def joint_labels(topology: Topology, rest: np.ndarray | None = None) -> tuple[list[str], list[str]]:
    """(part, side) of each joint: the part of the bone ending at it (the root: its own trunk part), in PARTS and
    SIDES. rest [J, 3] (y up, facing the camera, so the body's right is +x) fills in what the names don't tell:
    kinds from the geometry, and a limb's side from where its joints lie on average. Without it, unknown kinds
    count as torso and unsided joints as centre."""
    kinds, sides = (list(values) for values in named_kinds(topology))
    if rest is not None and needs_geometry(topology):
        rest = np.asarray(rest, dtype=np.float64)
        geometric, branch = geometric_kinds(topology, rest)
        kinds = [g if k == UNKNOWN else k for k, g in zip(kinds, geometric)]
        lateral = rest[:, 0] - rest[topology.root, 0]  # [J] offset towards the body's right
        limb_side = {b: float(np.mean([x for x, c in zip(lateral, branch) if c == b])) for b in set(branch) - {-1}}
        tolerance = 0.01 * (float(np.ptp(rest[:, 1])) or 1.0)
        sides = [s or ("centre" if b < 0 or abs(limb_side[b]) < tolerance else
                       "right" if limb_side[b] > 0 else "left") for s, b in zip(sides, branch)]
    parts = []
    for joint, parent in enumerate(topology.parents):
        if parent < 0:
            parts.append(kinds[joint] if kinds[joint] in ("head", "neck", "pelvis") else
                         "pelvis" if kinds[joint] == "hip" else "torso")
        else:
            parts.append(bone_part(kinds[joint], kinds[parent]))
    return parts, [side or "centre" for side in sides]
