"""Kinematic body of the synthetic dataset: per-subject bone lengths and forward kinematics to ntu25 joints.

Body frame (the HumanML3D/SMPL convention): x = the body's left, y = up, z = the body's forward, right-handed,
floor at y = 0. A pose is a dict of per-frame arrays [T]: the joint angles of ``POSE_KEYS`` in radians plus the
root placement (``root_x``, ``root_z`` in metres, ``root_yaw`` in radians, ``lift`` = height of the feet above
the floor). Angles left out are 0 (arms hanging straight, legs straight, upright trunk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skeletonllm.formats.topology import get_topology

NTU = get_topology("ntu25")
J = {name: index for index, name in enumerate(NTU.joint_names)}  # ntu25 joint name -> index

ROOT_KEYS = ("root_x", "root_z", "root_yaw", "lift")
BODY_KEYS = ("trunk_pitch", "trunk_roll", "trunk_yaw", "neck_pitch", "neck_yaw")
SIDE_KEYS = (
    "shoulder_elev",  # raise the upper arm sideways, in the frontal plane (pi/2 = horizontal)
    "shoulder_az",  # swing the raised arm forward about the vertical axis (pi/2 = pointing forward)
    "shoulder_twist",  # external rotation of the upper arm (turns the elbow's bending plane)
    "elbow",  # elbow flexion
    "wrist",  # wrist flexion
    "hip_flex",  # thigh forward
    "hip_abd",  # thigh sideways
    "knee",  # knee flexion (shin backward)
    "ankle",  # dorsiflexion (toes up)
)
POSE_KEYS = ROOT_KEYS + BODY_KEYS + tuple(f"{side}_{key}" for side in "lr" for key in SIDE_KEYS)
FACE_POINTS = ("nose", "left eye", "right eye", "left ear", "right ear")
FOOT_JOINT_HEIGHT = 0.025  # the Kinect "foot" joint (toes) sits this far above the floor
NO_ORIENTATION = tuple(J[n] for n in ("head", "left foot", "right foot", "left hand tip", "left thumb",
                                      "right hand tip", "right thumb"))  # Kinect reports zero quaternions here


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths of one subject, in metres."""

    height: float
    spine_lower: float  # spine base -> spine mid
    spine_upper: float  # spine mid -> spine shoulder
    neck: float  # spine shoulder -> neck
    head: float  # neck -> head centre
    head_radius: float
    shoulder_half: float  # spine shoulder -> shoulder, sideways
    upper_arm: float
    forearm: float
    hand: float  # wrist -> hand centre
    hand_tip: float  # hand centre -> finger tips
    thumb: float
    hip_half: float  # spine base -> hip, sideways
    hip_drop: float  # spine base -> hip, downwards
    thigh: float
    shin: float
    ankle_height: float
    foot: float  # ankle -> toes, forwards

    @property
    def pelvis_height(self) -> float:
        """Height of the spine base above the floor when standing straight."""
        return self.ankle_height + self.shin + self.thigh + self.hip_drop


# length / height of an average adult Kinect skeleton, and the proportion group each length varies with
_RATIOS = {
    "spine_lower": (0.160, "torso"), "spine_upper": (0.125, "torso"), "neck": (0.040, "torso"),
    "head": (0.075, "head"), "head_radius": (0.052, "head"), "shoulder_half": (0.100, "width"),
    "upper_arm": (0.165, "arm"), "forearm": (0.145, "arm"), "hand": (0.040, "hand"), "hand_tip": (0.040, "hand"),
    "thumb": (0.030, "hand"), "hip_half": (0.050, "width"), "hip_drop": (0.030, "torso"), "thigh": (0.245, "leg"),
    "shin": (0.246, "leg"), "ankle_height": (0.039, "leg"), "foot": (0.080, "leg"),
}


def make_body(seed: int, subject: int) -> BodyShape:
    """The body of ``subject`` (1-based): its own height and limb proportions, fixed by (seed, subject) alone."""
    if subject < 1:
        raise ValueError(f"subject ids are 1-based, got {subject}")
    rng = np.random.default_rng([seed, 101, subject])
    height = rng.uniform(1.50, 1.92)
    groups = {g: 1.0 + rng.normal(0.0, s) for g, s in
              (("torso", 0.04), ("head", 0.04), ("width", 0.07), ("arm", 0.04), ("hand", 0.05), ("leg", 0.035))}
    lengths = {name: ratio * height * groups[group] * (1.0 + rng.normal(0.0, 0.015))
               for name, (ratio, group) in _RATIOS.items()}
    return BodyShape(height=height, **lengths)


def rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """float [T, 3, 3]: right-handed rotations by ``angle`` [T] (radians) about the x, y or z axis."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(c), np.zeros_like(c)
    rows = {
        "x": ((one, zero, zero), (zero, c, -s), (zero, s, c)),
        "y": ((c, zero, s), (zero, one, zero), (-s, zero, c)),
        "z": ((c, -s, zero), (s, c, zero), (zero, zero, one)),
    }[axis]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


@dataclass
class Kinematics:
    """Posed body: ntu25 joints, the orientation frame of each joint's segment, and face points (for openpose)."""

    joints: np.ndarray  # [T, 25, 3]
    rotations: np.ndarray  # [T, 25, 3, 3], segment frame ending at each joint
    face: np.ndarray  # [T, 5, 3], FACE_POINTS

    def transformed(self, rotation_matrix: np.ndarray, translation: np.ndarray) -> "Kinematics":
        """Apply p -> R p + t to every point and R to every frame; R [3, 3] or [T, 3, 3], t [3] or [T, 3]."""
        rot = np.broadcast_to(rotation_matrix, (self.joints.shape[0], 3, 3))  # [T, 3, 3]
        shift = np.broadcast_to(translation, (self.joints.shape[0], 3))[:, None, :]  # [T, 1, 3]
        return Kinematics(
            joints=np.einsum("tij,tkj->tki", rot, self.joints) + shift,
            rotations=np.einsum("tij,tkjl->tkil", rot, self.rotations),
            face=np.einsum("tij,tkj->tki", rot, self.face) + shift,
        )


def _angles(pose: dict[str, np.ndarray]) -> tuple[int, dict[str, np.ndarray]]:
    """Validate a pose dict and fill the missing keys with zeros."""
    unknown = sorted(set(pose) - set(POSE_KEYS))
    if unknown:
        raise ValueError(f"unknown pose keys {unknown}; known: {list(POSE_KEYS)}")
    lengths = {np.shape(value) for value in pose.values()}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise ValueError(f"every pose entry must be a 1-D array of the same length, got shapes {lengths}")
    frames = next(iter(lengths))[0]
    zero = np.zeros(frames)
    return frames, {key: np.asarray(pose.get(key, zero), dtype=np.float64) for key in POSE_KEYS}


def forward_kinematics(body: BodyShape, pose: dict[str, np.ndarray]) -> Kinematics:
    """Pose the body: joint angles [T] per key -> ntu25 joints in the body frame, feet on the floor (+ lift)."""
    frames, a = _angles(pose)

    def at(rot: np.ndarray, x: float, y: float, z: float) -> np.ndarray:
        return rot @ np.array([x, y, z])  # [T, 3]

    points: dict[str, np.ndarray] = {}
    frames_of: dict[str, np.ndarray] = {}
    pelvis = rotation("y", a["root_yaw"])
    points["spine base"] = np.stack([a["root_x"], np.full(frames, body.pelvis_height), a["root_z"]], axis=-1)
    mid = pelvis @ rotation("y", a["trunk_yaw"] / 2) @ rotation("x", a["trunk_pitch"] / 2) @ rotation("z", -a["trunk_roll"] / 2)
    chest = pelvis @ rotation("y", a["trunk_yaw"]) @ rotation("x", a["trunk_pitch"]) @ rotation("z", -a["trunk_roll"])
    head = chest @ rotation("y", a["neck_yaw"]) @ rotation("x", a["neck_pitch"])
    points["spine mid"] = points["spine base"] + at(mid, 0, body.spine_lower, 0)
    points["spine shoulder"] = points["spine mid"] + at(chest, 0, body.spine_upper, 0)
    points["neck"] = points["spine shoulder"] + at(head, 0, body.neck, 0)
    points["head"] = points["neck"] + at(head, 0, body.head, 0.015)
    frames_of.update({"spine base": pelvis, "spine mid": mid, "spine shoulder": chest, "neck": head, "head": head})
    for side, sign in (("left", 1.0), ("right", -1.0)):
        s = side[0]
        shoulder = points["spine shoulder"] + at(chest, sign * body.shoulder_half, -0.02, -0.01)
        upper = (chest @ rotation("y", -sign * a[f"{s}_shoulder_az"]) @ rotation("z", sign * a[f"{s}_shoulder_elev"])
                 @ rotation("y", sign * a[f"{s}_shoulder_twist"]))
        fore = upper @ rotation("x", -a[f"{s}_elbow"])
        hand = fore @ rotation("x", -a[f"{s}_wrist"])
        points[f"{side} shoulder"] = shoulder
        points[f"{side} elbow"] = shoulder + at(upper, 0, -body.upper_arm, 0)
        points[f"{side} wrist"] = points[f"{side} elbow"] + at(fore, 0, -body.forearm, 0)
        points[f"{side} hand"] = points[f"{side} wrist"] + at(hand, 0, -body.hand, 0)
        points[f"{side} hand tip"] = points[f"{side} hand"] + at(hand, 0, -body.hand_tip, 0)
        points[f"{side} thumb"] = points[f"{side} wrist"] + at(hand, -sign * 0.2 * body.thumb, -body.thumb, body.thumb)
        thigh = pelvis @ rotation("z", sign * a[f"{s}_hip_abd"]) @ rotation("x", -a[f"{s}_hip_flex"])
        shin = thigh @ rotation("x", a[f"{s}_knee"])
        foot = shin @ rotation("x", -a[f"{s}_ankle"])
        points[f"{side} hip"] = points["spine base"] + at(pelvis, sign * body.hip_half, -body.hip_drop, 0)
        points[f"{side} knee"] = points[f"{side} hip"] + at(thigh, 0, -body.thigh, 0)
        points[f"{side} ankle"] = points[f"{side} knee"] + at(shin, 0, -body.shin, 0)
        points[f"{side} foot"] = points[f"{side} ankle"] + at(foot, 0, FOOT_JOINT_HEIGHT - body.ankle_height, body.foot)
        frames_of.update({f"{side} shoulder": chest, f"{side} elbow": upper, f"{side} wrist": fore,
                          f"{side} hand": hand, f"{side} hand tip": hand, f"{side} thumb": hand,
                          f"{side} hip": pelvis, f"{side} knee": thigh, f"{side} ankle": shin, f"{side} foot": foot})
    joints = np.stack([points[name] for name in NTU.joint_names], axis=1)  # [T, 25, 3]
    r = body.head_radius
    face = np.stack([points["head"] + at(head, *offset) for offset in
                     ((0, -0.2 * r, r), (0.35 * r, 0.15 * r, 0.9 * r), (-0.35 * r, 0.15 * r, 0.9 * r),
                      (0.85 * r, 0, 0), (-0.85 * r, 0, 0))], axis=1)  # [T, 5, 3]
    sole = np.minimum(joints[:, [J["left ankle"], J["right ankle"]], 1] - body.ankle_height,
                      joints[:, [J["left foot"], J["right foot"]], 1] - FOOT_JOINT_HEIGHT).min(axis=1)  # [T]
    shift = np.stack([np.zeros(frames), a["lift"] - sole, np.zeros(frames)], axis=-1)  # [T, 3]
    rotations = np.stack([frames_of[name] for name in NTU.joint_names], axis=1)  # [T, 25, 3, 3]
    return Kinematics(joints + shift[:, None], rotations, face + shift[:, None])

