"""Measure what a normalized skeleton clip does: which body parts move, when, which way, how fast, what touches.

Everything is measured in the person's own body frame (right from the shoulders and hips, up from the hips to the
shoulders, forward = up x right) and in torso lengths, so the facts do not depend on the camera or the body size.
Limbs are measured at their end effector relative to their root (hand to shoulder, foot to hip, head to the
shoulders, shoulders to the pelvis); the pelvis itself gives the whole-body motion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.formats.topology import Topology

LIMBS = ("right arm", "left arm", "right leg", "left leg", "head", "trunk")
EFFECTOR = {"right arm": "right hand", "left arm": "left hand", "right leg": "right foot", "left leg": "left foot",
            "head": "head", "trunk": "shoulders"}
PHASES = ("beginning", "middle", "end")
MOVING_SHARE, MOVING_MIN = 0.35, 0.15  # a part moves when its extent is >= 35% of the top one and >= 0.15 torso
CONTACT = {"hand to head": 0.35, "hands together": 0.3, "hand to other person": 0.3}  # torso lengths
SPEED_WORDS = ((2.0, "slowly"), (5.0, "at a moderate speed"), (np.inf, "fast"))  # torso lengths per second


@dataclass
class PartMotion:
    """How one limb's end effector moves relative to the limb's root."""

    part: str  # one of LIMBS
    effector: str  # e.g. "right hand"
    extent: float  # robust size of its trajectory, torso lengths
    phases: tuple[str, ...]  # of PHASES, when it is active
    direction: str  # e.g. "up and outward"
    returns: bool  # comes back near where it started
    cycles: int  # back-and-forth repetitions (0 when not repeated)
    peak_speed: float  # torso lengths per second
    level: str | None = None  # arms: highest hand level ("waist", "chest", "shoulder", "head", "above the head")

    @property
    def speed_word(self) -> str:
        return next(word for limit, word in SPEED_WORDS if self.peak_speed < limit)


@dataclass
class Contact:
    """Two body points closer than CONTACT[kind] torso lengths during some frames."""

    kind: str  # a key of CONTACT
    who: str  # e.g. "right hand" or "both hands"
    phases: tuple[str, ...]


@dataclass
class MotionFacts:
    """Everything measured about one clip (the main person is the most active one, slot 0)."""

    frames: int
    seconds: float
    people: int
    parts: list[PartMotion]  # all limbs, most active first
    contacts: list[Contact] = field(default_factory=list)
    body: list[str] = field(default_factory=list)  # whole-body motion, e.g. "the whole body lowers"
    partner_parts: list[str] = field(default_factory=list)  # moving limbs of the second person

    @property
    def moving(self) -> list[PartMotion]:
        """The limbs that clearly move, most active first."""
        top = self.parts[0].extent
        return [p for p in self.parts if p.extent >= max(MOVING_SHARE * top, MOVING_MIN)]


def _joints(topology: Topology, side: str, words: tuple[str, ...]) -> list[int]:
    """Indices of joints whose name contains the side word (or none when side is "") and one of words."""
    found = []
    for index, name in enumerate(topology.joint_names):
        tokens = name.lower().replace("_", " ").split()
        if (not side or side in tokens) and any(w in tokens for w in words):
            found.append(index)
    return found


def joint_groups(topology: Topology) -> dict[str, tuple[list[int], list[int]]]:
    """Per limb: (effector joints, root joints) of a topology, found by joint name; raises if one is missing."""
    sh, hp = topology.shoulders, topology.hips
    groups = {
        "right arm": (_joints(topology, "right", ("hand", "wrist", "thumb")), [sh[1]]),
        "left arm": (_joints(topology, "left", ("hand", "wrist", "thumb")), [sh[0]]),
        "right leg": (_joints(topology, "right", ("foot", "ankle")), [hp[1]]),
        "left leg": (_joints(topology, "left", ("foot", "ankle")), [hp[0]]),
        "head": (_joints(topology, "", ("head", "nose", "eye", "ear")), list(sh)),
        "trunk": (list(sh), list(hp)),
    }
    missing = [limb for limb, (effector, _) in groups.items() if not effector]
    if missing:
        raise ValueError(f"topology {topology.name!r}: no joints found by name for {missing}")
    return groups


def body_frame(joints: np.ndarray, topology: Topology) -> tuple[np.ndarray, float]:
    """(axes float [3, C] rows right, up, forward, torso length) of one body's joints [T, J, C].

    In 2D the forward row is zero (not observable)."""
    (ls, rs), (lh, rh) = topology.shoulders, topology.hips
    right = np.median(joints[:, rs] - joints[:, ls] + joints[:, rh] - joints[:, lh], axis=0)  # [C]
    spine = joints[:, [ls, rs]].mean(axis=1) - joints[:, [lh, rh]].mean(axis=1)  # [T, C]
    torso = float(np.median(np.linalg.norm(spine, axis=-1)))
    if torso <= 0 or not np.linalg.norm(right) > 0:
        raise ValueError("cannot build a body frame: shoulders and hips coincide")
    right = right / np.linalg.norm(right)
    up = np.median(spine, axis=0)
    up = up - up @ right * right
    up = up / np.linalg.norm(up)
    forward = np.cross(up, right) if joints.shape[-1] == 3 else np.zeros_like(up)
    return np.stack([right, up, forward]), torso


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Moving average over axis 0 of x [T, ...] (edges padded by repetition)."""
    if window <= 1 or len(x) < 3:
        return x
    pad = window // 2
    padded = np.concatenate([np.repeat(x[:1], pad, 0), x, np.repeat(x[-1:], window - 1 - pad, 0)])
    kernel = np.ones(window) / window
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), 0, padded)


def phases_of(mask: np.ndarray, share: float = 0.2) -> tuple[str, ...]:
    """Which thirds of the clip (PHASES) hold at least ``share`` of their frames where mask [T] is true."""
    thirds = np.array_split(mask, 3)
    return tuple(name for name, part in zip(PHASES, thirds) if part.size and part.mean() >= share)


def _reversals(values: np.ndarray, hysteresis: float) -> int:
    """Number of direction changes of a 1D trajectory [T] that travel at least ``hysteresis`` each way."""
    count, direction, low, high, extreme = 0, 0, values[0], values[0], values[0]
    for v in values[1:]:
        if direction == 0:  # until the first clear movement, either way
            low, high = min(low, v), max(high, v)
            if high - low >= hysteresis:
                direction, extreme = (1 if v == high else -1), v
        elif (v - extreme) * direction > 0:
            extreme = v
        elif abs(v - extreme) >= hysteresis:
            count, direction, extreme = count + 1, -direction, v
    return count


def _direction(vector: np.ndarray, side: str) -> str:
    """Words for the dominant components of a body-frame vector [3] (right, up, forward)."""
    size = np.linalg.norm(vector)
    words = []
    for axis in np.argsort(-np.abs(vector)):
        value = vector[axis]
        if abs(value) < 0.4 * size:
            break
        if axis == 1:
            words.append("up" if value > 0 else "down")
        elif axis == 2:
            words.append("forward" if value > 0 else "backward")
        elif side:
            words.append("outward" if (value > 0) == (side == "right") else "inward")
        else:
            words.append("to the right" if value > 0 else "to the left")
    return " and ".join(words) if words else "in place"


def _hand_level(height: float, shoulder: float, head: float) -> str:
    """Word for a hand height (body frame up, relative to the pelvis) against shoulder and head heights."""
    if height > head + 0.15:
        return "above the head"
    if height > (shoulder + head) / 2:
        return "head height"
    if height > shoulder - 0.15:
        return "shoulder height"
    return "chest height" if height > shoulder * 0.5 else "waist height"


def _part_motion(limb: str, local: np.ndarray, fps: float, window: int, level: str | None) -> PartMotion:
    """Facts of one limb from its effector trajectory local [T, 3] (body frame, torso lengths, root-relative)."""
    smooth = _smooth(local, window)  # [T, 3]
    low, high = np.percentile(smooth, [5, 95], axis=0)  # [3]
    extent = float(np.linalg.norm(high - low))
    speed = np.linalg.norm(np.diff(smooth, axis=0), axis=-1) * fps if len(smooth) > 1 else np.zeros(1)  # [T-1]
    head = max(len(smooth) // 10, 1)
    start, end = smooth[:head].mean(axis=0), smooth[-head:].mean(axis=0)  # [3]
    displacement = np.linalg.norm(smooth - start, axis=-1)  # [T]
    excursion = smooth[np.argmax(displacement)] - start
    fast = np.append(speed, speed[-1]) > 0.25 * np.percentile(speed, 95)  # [T]
    active = (displacement > 0.3 * displacement.max()) | fast  # [T]: away from the start or moving fast
    side = limb.split()[0] if limb.split()[0] in ("left", "right") else ""
    reach = displacement.max()
    cycles = max(_reversals(smooth[:, axis], max(0.08, 0.25 * (high - low)[axis])) for axis in range(3))
    return PartMotion(
        part=limb, effector=EFFECTOR[limb], extent=extent, phases=phases_of(active),
        direction=_direction(excursion, side), returns=bool(np.linalg.norm(end - start) < 0.4 * reach),
        cycles=(cycles + 1) // 2 if cycles >= 3 else 0, peak_speed=float(np.percentile(speed, 95)), level=level,
    )


def _contact(kind: str, who: str, near: np.ndarray) -> list[Contact]:
    """[Contact] when near [T] holds in at least a tenth of some third of the clip, else []."""
    phases = phases_of(near, 0.1)
    return [Contact(kind, who, phases)] if phases else []


def _contacts(points: dict[str, np.ndarray], other: np.ndarray | None) -> list[Contact]:
    """Contacts from effector positions {name: [T, 3]} (torso lengths) and the other person's joints [T, J, 3]."""
    found = []
    for hand in ("right hand", "left hand"):
        near = np.linalg.norm(points[hand] - points["head"], axis=-1) < CONTACT["hand to head"]
        found += _contact("hand to head", hand, near)
    together = np.linalg.norm(points["right hand"] - points["left hand"], axis=-1) < CONTACT["hands together"]
    found += _contact("hands together", "both hands", together)
    if other is not None:
        for hand in ("right hand", "left hand"):
            gap = np.linalg.norm(other - points[hand][:, None], axis=-1).min(axis=1)  # [T]
            near = gap < CONTACT["hand to other person"]
            found += _contact("hand to other person", hand, near)
    return found


def _whole_body(pelvis: np.ndarray, other_pelvis: np.ndarray | None) -> list[str]:
    """Whole-body motion words from the pelvis trajectory [T, 3] (body frame, torso lengths) and the partner's."""
    words = []
    head = max(len(pelvis) // 10, 1)
    start, end = pelvis[:head].mean(axis=0), pelvis[-head:].mean(axis=0)
    vertical = pelvis[:, 1] - start[1]
    if vertical.min() < -0.3:
        words.append("the whole body lowers" + (" and rises again" if end[1] - start[1] > -0.15 else " and stays low"))
    elif end[1] - start[1] > 0.3:
        words.append("the whole body rises from a low position")
    elif vertical.max() > 0.3:
        words.append("the whole body goes up and comes back down")
    travel = (end - start)[[0, 2]]
    if np.linalg.norm(travel) > 0.6:
        words.append("the whole body travels " + _direction(np.array([travel[0], 0.0, travel[1]]), ""))
    if other_pelvis is not None:
        gap = np.linalg.norm(other_pelvis - pelvis, axis=-1)  # [T]
        change = gap[-head:].mean() - gap[:head].mean()
        if abs(change) > 0.6:
            words.append("the two people " + ("come closer together" if change < 0 else "move apart"))
    return words


def measure(seq: SkeletonSequence) -> MotionFacts:
    """The motion facts of a normalized sequence (joints [T, M, J, C], absent bodies all-zero, slot 0 the main)."""
    joints = np.asarray(seq.joints, dtype=np.float64)  # [T, M, J, C]
    if joints.ndim != 4 or joints.shape[0] < 2:
        raise ValueError(f"need joints [T>=2, M, J, C], got shape {list(joints.shape)}")
    topology, fps = seq.topology, float(seq.fps)
    present = joints.reshape(*joints.shape[:2], -1).any(axis=-1)  # [T, M]
    people = [m for m in range(joints.shape[1]) if present[:, m].mean() >= 0.5]
    if not people:
        raise ValueError("no body is present in at least half of the frames")
    groups = joint_groups(topology)
    main = joints[:, people[0]]  # [T, J, C]
    axes, torso = body_frame(main, topology)  # [3, C]
    pelvis_index = list(topology.hips)

    def local(points: np.ndarray) -> np.ndarray:  # [..., C] -> body frame [..., 3] in torso lengths
        return points @ axes.T / torso

    body = local(main)  # [T, J, 3]
    pelvis = body[:, pelvis_index].mean(axis=1)  # [T, 3]
    window = max(int(round(fps / 6)), 1)
    effectors = {EFFECTOR[limb]: body[:, eff].mean(axis=1) for limb, (eff, _) in groups.items()}  # {name: [T, 3]}
    shoulder_height = float(np.median(body[:, list(topology.shoulders), 1].mean(axis=1) - pelvis[:, 1]))
    head_height = float(np.median(effectors["head"][:, 1] - pelvis[:, 1]))
    parts = []
    for limb, (eff, root) in groups.items():
        trajectory = effectors[EFFECTOR[limb]] - body[:, root].mean(axis=1)  # [T, 3]
        level = None
        if limb.endswith("arm"):
            height = np.percentile(_smooth(effectors[EFFECTOR[limb]] - pelvis, window)[:, 1], 95)
            level = _hand_level(float(height), shoulder_height, head_height)
        parts.append(_part_motion(limb, trajectory, fps, window, level))
    parts.sort(key=lambda p: -p.extent)

    other = other_pelvis = None
    partner_parts: list[str] = []
    if len(people) > 1:
        other = local(joints[:, people[1]])  # [T, J, 3]
        other_pelvis = other[:, pelvis_index].mean(axis=1)
        partner = measure(SkeletonSequence(joints[:, people[1]][:, None].astype(np.float32), None, topology, fps, {}))
        partner_parts = [p.part for p in partner.moving]
    return MotionFacts(
        frames=len(joints), seconds=len(joints) / fps, people=len(people), parts=parts,
        contacts=_contacts(effectors, other), body=_whole_body(_smooth(pelvis, window), other_pelvis),
        partner_parts=partner_parts,
    )
