"""Building blocks of the synthetic motions: timing envelopes, keyframe tracks, arm key poses, gait, mirroring.

Everything works on a normalized, warped clock ``u`` [T] in [0, 1] and returns pose dicts (see synth.body):
per-frame arrays [T] keyed by pose key, angles in radians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skeletonllm.data.synth.body import POSE_KEYS, BodyShape

Pose = dict[str, np.ndarray]

# Arm key poses in degrees: (shoulder_elev, shoulder_az, shoulder_twist, elbow), for the right arm (the left
# mirrors). Found by a grid search of the hand position over the forward kinematics of a 1.86 m body.
ARM = {
    "rest": (7, 0, 0, 12),
    "drink": (100, 70, 30, 130),  # hand at the mouth
    "touch head": (130, 30, 75, 120),  # palm on the side of the head
    "salute": (90, 50, 60, 130),  # finger tips at the forehead, elbow out
    "clap apart": (50, 30, -15, 80),
    "clap together": (60, 60, -15, 90),  # palms meet in front of the chest
    "hat on head": (120, 70, 75, 110),  # hands on top of the head
    "hat above head": (135, 60, 60, 80),
    "hold at waist": (10, 10, -15, 70),  # holding something in front of the belly
    "shake": (40, 90, 15, 30),  # hand forward at waist height, to meet another hand
    "guard": (30, 80, 0, 130),  # boxing guard
    "punch": (80, 90, 15, 15),
    "push ready": (60, 80, -30, 110),
    "push": (90, 70, -30, 50),
    "hug": (90, 100, -30, 50),  # arms around another person
    "hands up": (170, 90, 0, 8),
    "arms sideways": (90, 0, 0, 5),
    "wave": (80, 20, 90, 90),  # upper arm sideways, forearm up
    "throw cock": (120, -40, 90, 100),  # hand behind the head
    "throw release": (100, 90, 0, 10),
    "throw follow": (40, 100, -20, 20),
    "toward knees": (20, 60, 0, 40),
}
ARM_KEYS = ("shoulder_elev", "shoulder_az", "shoulder_twist", "elbow")


@dataclass(frozen=True)
class MotionParams:
    """Per-sample variation of one performance."""

    amplitude: float  # scales the size of the movement (~0.85-1.15)
    cycles: float  # repetitions of a periodic movement within the clip
    phase: float  # phase offset of periodic movements, in cycles [0, 1)
    onset: float  # shift of the timeline (fraction of the clip)
    gamma: float  # time-warp exponent (uneven speed within the clip)
    sway: float  # size of the idle sway


def clock(frames: int, params: MotionParams) -> np.ndarray:
    """float [T]: the warped clock u in [0, 1] for a clip of ``frames`` frames."""
    t = np.linspace(0.0, 1.0, frames)
    return np.clip((t - params.onset) / (1.0 - abs(params.onset)), 0.0, 1.0) ** params.gamma


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Smooth 0 -> 1 step of x clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def bump(u: np.ndarray, rise: float, top: float, fall: float, end: float) -> np.ndarray:
    """float [T]: 0 before ``rise``, smoothly 1 from ``top`` to ``fall``, back to 0 at ``end``."""
    return smoothstep((u - rise) / (top - rise)) * (1.0 - smoothstep((u - fall) / (end - fall)))


def track(u: np.ndarray, keys: list[tuple[float, float]]) -> np.ndarray:
    """float [T]: smooth piecewise interpolation through (time, value) keys, held constant outside them."""
    times = [k[0] for k in keys]
    if times != sorted(times):
        raise ValueError(f"keyframe times must increase: {times}")
    out = np.full_like(u, keys[0][1], dtype=np.float64)
    for (t0, v0), (t1, v1) in zip(keys, keys[1:]):
        out = np.where(u >= t0, v0 + (v1 - v0) * smoothstep((u - t0) / max(t1 - t0, 1e-9)), out)
    return out


def deg(values) -> np.ndarray:
    """Degrees to radians."""
    return np.radians(values)


def rest(frames: int) -> Pose:
    """The standing rest pose: arms hanging with soft elbows, everything else neutral."""
    pose = {key: np.zeros(frames) for key in POSE_KEYS}
    for side in "lr":
        set_arm(pose, side, np.ones(frames), "rest", "rest")
        pose[f"{side}_knee"] = np.full(frames, deg(3.0))
    return pose


def arm_angles(start: str, end: str, weight: np.ndarray) -> np.ndarray:
    """float [T, 4]: arm angles (radians, in ``ARM_KEYS`` order) blended between two key poses of ``ARM``."""
    a, b = np.array(ARM[start], dtype=float), np.array(ARM[end], dtype=float)
    return deg(a + (b - a) * np.asarray(weight, dtype=float)[:, None])


def put_arm(pose: Pose, side: str, angles: np.ndarray) -> None:
    """Set one arm's four angles from an array [T, 4] (``ARM_KEYS`` order); side "l" or "r"."""
    for index, key in enumerate(ARM_KEYS):
        pose[f"{side}_{key}"] = angles[:, index]


def get_arm(pose: Pose, side: str) -> np.ndarray:
    """float [T, 4]: one arm's current angles (``ARM_KEYS`` order)."""
    return np.stack([pose[f"{side}_{key}"] for key in ARM_KEYS], axis=-1)


def set_arm(pose: Pose, side: str, weight: np.ndarray, start: str, end: str) -> None:
    """Blend an arm between two key poses of ``ARM``: weight 0 -> start, 1 -> end (mirrored for the left)."""
    put_arm(pose, side, arm_angles(start, end, weight))


def arm_track(pose: Pose, side: str, u: np.ndarray, keys: list[tuple[float, str]]) -> None:
    """Move an arm through key poses of ``ARM`` at the given times (smooth between them)."""
    for index, key in enumerate(ARM_KEYS):
        pose[f"{side}_{key}"] = deg(track(u, [(t, ARM[name][index]) for t, name in keys]))


def add_sway(pose: Pose, u: np.ndarray, params: MotionParams) -> None:
    """Small idle movement every live body shows: trunk sway, head turns, breathing arms."""
    phi = 2 * np.pi * (0.7 * u + params.phase)
    pose["trunk_roll"] = pose["trunk_roll"] + deg(1.2 * params.sway) * np.sin(phi)
    pose["neck_yaw"] = pose["neck_yaw"] + deg(3.0 * params.sway) * np.sin(0.6 * phi + 1.0)
    for side, shift in (("l", 0.0), ("r", 0.5)):
        pose[f"{side}_elbow"] = pose[f"{side}_elbow"] + deg(2.0 * params.sway) * np.sin(phi + shift)


def swing_arm(pose: Pose, side: str, angle: np.ndarray) -> None:
    """Swing a hanging arm forward (angle > 0) or backward (angle < 0) in the sagittal plane (radians)."""
    pose[f"{side}_shoulder_elev"] = np.abs(angle) + deg(4.0)
    pose[f"{side}_shoulder_az"] = np.where(angle >= 0, deg(90.0), deg(-90.0))
    pose[f"{side}_shoulder_twist"] = np.zeros_like(angle)


def gait(pose: Pose, u: np.ndarray, cycles: float, phase: float, amplitude: float, in_place: bool) -> None:
    """Alternating leg swing with opposite arm swing; walking (in_place=False) swings the thighs back and forth,
    stepping in place lifts the knees."""
    phi = 2 * np.pi * (cycles * u + phase)
    for side, shift in (("l", 0.0), ("r", np.pi)):
        s = np.sin(phi + shift)
        if in_place:
            lift = np.maximum(s, 0.0)
            pose[f"{side}_hip_flex"] = deg(45.0 * amplitude) * lift
            pose[f"{side}_knee"] = deg(75.0 * amplitude) * lift + deg(3.0)
        else:
            pose[f"{side}_hip_flex"] = deg(25.0 * amplitude) * s
            pose[f"{side}_knee"] = deg(45.0 * amplitude) * np.maximum(np.sin(phi + shift + 1.2), 0.0) + deg(5.0)
        other = "r" if side == "l" else "l"
        swing_arm(pose, other, deg(20.0 * amplitude) * s)


def planted_root_z(body: BodyShape, hip: np.ndarray, knee: np.ndarray) -> np.ndarray:
    """float [T]: forward shift of the pelvis that keeps the ankles where they stand for given hip/knee flexion."""
    return -(body.thigh * np.sin(hip) - body.shin * np.sin(knee - hip))


def mirror(pose: Pose) -> Pose:
    """The left-right mirror image of a pose (left and right keys swapped, yaw and roll negated)."""
    out = {}
    for key, value in pose.items():
        if key[:2] in ("l_", "r_"):
            out[("r_" if key[0] == "l" else "l_") + key[2:]] = value
        elif key in ("root_x", "root_yaw", "trunk_yaw", "trunk_roll", "neck_yaw"):
            out[key] = -value
        else:
            out[key] = value
    return out


def reverse(pose: Pose) -> Pose:
    """The same movement played backwards."""
    return {key: value[::-1].copy() for key, value in pose.items()}
