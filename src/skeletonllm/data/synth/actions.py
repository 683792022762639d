"""The synthetic dataset's action classes (``SYNTH_CLASSES``, in id order) and the parametric motion of each.

A class's ``perform(u, params, bodies)`` turns the warped clock u [T] into one ``Actor`` per person: a pose dict
(synth.body) plus where that person stands on the stage and which way they face. Some pairs are confusable on
purpose, as in NTU: ``CONFUSABLE_PAIRS`` are the same movement played backwards (put on / take off hat, sit down /
stand up, walk towards / apart).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from skeletonllm.data.synth.body import J, BodyShape, forward_kinematics
from skeletonllm.data.synth.motion import (
    MotionParams, Pose, add_sway, arm_angles, arm_track, bump, deg, gait, get_arm, mirror, planted_root_z, put_arm,
    rest, reverse, set_arm, swing_arm, track,
)


@dataclass
class Actor:
    """One person of a performance: pose [T] per key, stage position x (metres) and facing (yaw, radians;
    0 faces the front camera, +pi/2 faces the stage's +x)."""

    pose: Pose
    x: float = 0.0
    yaw: float = 0.0


Perform = Callable[[np.ndarray, MotionParams, tuple[BodyShape, ...]], list[Actor]]


@dataclass(frozen=True)
class ActionClass:
    """A named action: its motion, typical duration at normal speed, and repetitions when periodic."""

    name: str
    perform: Perform
    seconds: float
    cycles: tuple[float, float] = (1.0, 1.0)
    actors: int = 1


def _one(pose: Pose, u: np.ndarray, p: MotionParams) -> list[Actor]:
    add_sway(pose, u, p)
    return [Actor(pose)]


def _drink_water(u, p, bodies):
    """Right hand up to the mouth, head tipped back while drinking, hand down."""
    pose = rest(u.size)
    arm_track(pose, "r", u, [(0.1, "rest"), (0.4, "drink"), (0.68, "drink"), (0.92, "rest")])
    pose["neck_pitch"] = -deg(18.0 * p.amplitude) * bump(u, 0.38, 0.46, 0.6, 0.7)
    return _one(pose, u, p)


def _sit(u, p, body: BodyShape) -> Pose:
    pose = rest(u.size)
    e = track(u, [(0.12, 0.0), (0.85, 1.0)])
    hip, knee = deg(90.0) * e, deg(95.0) * e
    pose["l_hip_flex"] = pose["r_hip_flex"] = hip
    pose["l_knee"] = pose["r_knee"] = knee + deg(3.0)
    pose["root_z"] = planted_root_z(body, hip, knee)
    pose["trunk_pitch"] = deg(35.0 * p.amplitude) * np.sin(np.pi * e) + deg(8.0) * e
    for side in "lr":
        set_arm(pose, side, e, "rest", "toward knees")
    return pose


def _sit_down(u, p, bodies):
    """From standing to sitting: hips and knees bend to ~90 degrees, pelvis back over planted feet."""
    return _one(_sit(u, p, bodies[0]), u, p)


def _stand_up(u, p, bodies):
    """Sit down played backwards: from sitting to standing."""
    return _one(reverse(_sit(u, p, bodies[0])), u, p)


def _clap_hands(u, p, bodies):
    """Both hands meet in front of the chest, ``cycles`` times."""
    pose = rest(u.size)
    on = bump(u, 0.0, 0.12, 0.88, 1.0)[:, None]
    together = 0.5 + 0.5 * np.cos(2 * np.pi * (p.cycles * u + p.phase))
    for side in "lr":
        hanging = get_arm(pose, side)
        clapping = arm_angles("clap apart", "clap together", np.clip(together * p.amplitude, 0.0, 1.1))
        put_arm(pose, side, hanging + (clapping - hanging) * on)
    return _one(pose, u, p)


def _wave_right(u, p) -> Pose:
    pose = rest(u.size)
    on = bump(u, 0.05, 0.2, 0.8, 0.95)
    set_arm(pose, "r", on, "rest", "wave")
    pose["r_elbow"] = pose["r_elbow"] + deg(28.0 * p.amplitude) * on * np.sin(2 * np.pi * (p.cycles * u + p.phase))
    return pose


def _wave_right_hand(u, p, bodies):
    """Right forearm raised and swung side to side, ``cycles`` times."""
    return _one(_wave_right(u, p), u, p)


def _wave_left_hand(u, p, bodies):
    """Mirror image of waving the right hand."""
    return _one(mirror(_wave_right(u, p)), u, p)


def _kick_right(u, p) -> Pose:
    pose = rest(u.size)
    a = p.amplitude
    pose["r_hip_flex"] = deg(track(u, [(0.2, 0), (0.4, 50 * a), (0.5, 80 * a), (0.62, 35), (0.8, 0)]))
    pose["r_knee"] = deg(track(u, [(0.2, 3), (0.4, 85), (0.5, 8), (0.62, 45), (0.8, 3)]))
    pose["trunk_pitch"] = -deg(12.0 * a) * bump(u, 0.3, 0.48, 0.55, 0.75)
    pose["l_shoulder_elev"] = deg(7.0 + 25.0 * a * bump(u, 0.3, 0.45, 0.6, 0.8))
    return pose


def _kick_right_leg(u, p, bodies):
    """Right knee up, leg snaps forward, back down; the trunk leans back, the left arm balances."""
    return _one(_kick_right(u, p), u, p)


def _kick_left_leg(u, p, bodies):
    """Mirror image of the right kick."""
    return _one(mirror(_kick_right(u, p)), u, p)


def _hat_on(u, p) -> Pose:
    pose = rest(u.size)
    keys = [(0.0, "hold at waist"), (0.12, "hold at waist"), (0.38, "hat above head"), (0.52, "hat on head"),
            (0.74, "hat on head"), (0.92, "rest")]
    adjust = deg(10.0 * p.amplitude) * bump(u, 0.52, 0.56, 0.7, 0.74) * np.sin(2 * np.pi * (4.0 * u + p.phase))
    for side in "lr":
        arm_track(pose, side, u, keys)
        pose[f"{side}_shoulder_twist"] = pose[f"{side}_shoulder_twist"] + adjust
    pose["neck_pitch"] = deg(12.0 * p.amplitude) * bump(u, 0.45, 0.55, 0.7, 0.8)
    return pose


def _put_on_hat(u, p, bodies):
    """Hat held at the waist, raised above the head, set on it and adjusted, arms down."""
    return _one(_hat_on(u, p), u, p)


def _take_off_hat(u, p, bodies):
    """Put on hat played backwards."""
    return _one(reverse(_hat_on(u, p)), u, p)


def _jump_up(u, p, bodies):
    """Crouch with arms swinging up, take off, fly, land in a crouch, stand."""
    pose = rest(u.size)
    crouch = track(u, [(0.12, 0), (0.32, 1), (0.42, 0), (0.58, 0), (0.68, 0.8), (0.88, 0)])
    pose["l_hip_flex"] = pose["r_hip_flex"] = deg(45.0) * crouch
    pose["l_knee"] = pose["r_knee"] = deg(75.0) * crouch + deg(3.0)
    pose["l_ankle"] = pose["r_ankle"] = deg(25.0) * crouch
    pose["trunk_pitch"] = deg(25.0) * crouch
    flight = np.clip((u - 0.42) / 0.16, 0.0, 1.0)
    pose["lift"] = 0.25 * p.amplitude * 4.0 * flight * (1.0 - flight)
    for side in "lr":
        arm_track(pose, side, u, [(0.12, "rest"), (0.42, "hands up"), (0.62, "hands up"), (0.88, "rest")])
    return _one(pose, u, p)


def _squat_down(u, p, bodies):
    """Deep squat with arms forward for balance, and back up."""
    pose = rest(u.size)
    e = bump(u, 0.1, 0.42, 0.6, 0.9) * p.amplitude
    hip, knee = deg(100.0) * e, deg(125.0) * e
    pose["l_hip_flex"] = pose["r_hip_flex"] = hip
    pose["l_knee"] = pose["r_knee"] = knee + deg(3.0)
    pose["l_ankle"] = pose["r_ankle"] = deg(25.0) * e
    pose["root_z"] = planted_root_z(bodies[0], hip, knee)
    pose["trunk_pitch"] = deg(30.0) * e
    for side in "lr":
        set_arm(pose, side, np.clip(e, 0, 1), "rest", "throw release")
    return _one(pose, u, p)


def _raise_both_hands(u, p, bodies):
    """Both arms up through the sides, held high on tiptoe, then down."""
    pose = rest(u.size)
    for side in "lr":  # up through the sides, held high while rising onto the toes
        arm_track(pose, side, u, [(0.08, "rest"), (0.22, "arms sideways"), (0.34, "hands up"), (0.78, "hands up"),
                                  (0.95, "rest")])
    up = bump(u, 0.25, 0.38, 0.72, 0.85)
    pose["lift"] = 0.04 * p.amplitude * up
    pose["l_ankle"] = pose["r_ankle"] = -deg(25.0) * up
    pose["neck_pitch"] = -deg(15.0 * p.amplitude) * up
    return _one(pose, u, p)


def _punch_forward(u, p, bodies):
    """Boxing guard with alternating straight punches, the trunk turning into each."""
    pose = rest(u.size)
    guard = bump(u, 0.0, 0.12, 0.88, 1.0)
    for side in "lr":
        set_arm(pose, side, guard, "rest", "guard")
    punches = max(int(round(p.cycles)), 1)
    twist = np.zeros(u.size)
    for k in range(punches):
        centre = 0.18 + (0.64 * (k + 0.5 + 0.2 * (p.phase - 0.5))) / punches
        hit = np.exp(-(((u - centre) / (0.22 / punches)) ** 2)) * guard * min(p.amplitude, 1.0)
        side = "r" if k % 2 == 0 else "l"
        current = get_arm(pose, side)
        put_arm(pose, side, current + (arm_angles("punch", "punch", hit) - current) * hit[:, None])
        twist += (1 if side == "r" else -1) * deg(18.0) * hit
    pose["trunk_yaw"] = -twist  # the punching shoulder turns forward
    return _one(pose, u, p)


def _bow(u, p, bodies):
    """Bend forward at the waist with the arms hanging, and straighten up."""
    pose = rest(u.size)
    e = bump(u, 0.15, 0.42, 0.6, 0.85)
    pitch = deg(55.0 * p.amplitude) * e
    pose["trunk_pitch"] = pitch
    pose["neck_pitch"] = deg(12.0) * e
    pose["root_z"] = -0.08 * e
    for side in "lr":  # the arms keep hanging down while the trunk bends
        swing_arm(pose, side, 0.9 * pitch)
    return _one(pose, u, p)


def _touch_head(u, p, bodies):
    """Right hand held to the side of the head (headache), head bowed."""
    pose = rest(u.size)
    arm_track(pose, "r", u, [(0.1, "rest"), (0.38, "touch head"), (0.75, "touch head"), (0.95, "rest")])
    hold = bump(u, 0.38, 0.45, 0.68, 0.75)
    pose["r_elbow"] = pose["r_elbow"] + deg(8.0 * p.amplitude) * hold * np.sin(2 * np.pi * (3.0 * u + p.phase))
    pose["neck_pitch"] = deg(15.0) * hold
    pose["trunk_pitch"] = deg(8.0) * hold
    return _one(pose, u, p)


def _throw(u, p, bodies):
    """Right arm cocked behind the head, whipped forward with a trunk turn and a step."""
    pose = rest(u.size)
    arm_track(pose, "r", u, [(0.1, "rest"), (0.35, "throw cock"), (0.5, "throw release"), (0.6, "throw follow"),
                             (0.9, "rest")])
    a = p.amplitude
    pose["trunk_yaw"] = deg(track(u, [(0.1, 0), (0.35, -30 * a), (0.5, 20 * a), (0.6, 25 * a), (0.9, 0)]))
    pose["trunk_pitch"] = deg(track(u, [(0.35, -5), (0.55, 20 * a), (0.9, 0)]))
    pose["l_hip_flex"] = deg(25.0) * bump(u, 0.3, 0.45, 0.65, 0.85)
    pose["l_knee"] = deg(20.0) * bump(u, 0.3, 0.45, 0.65, 0.85) + deg(3.0)
    return _one(pose, u, p)


def _walk_in_place(u, p, bodies):
    """Knees lifted alternately with opposite arm swing, ``cycles`` steps."""
    pose = rest(u.size)
    gait(pose, u, p.cycles, p.phase, p.amplitude, in_place=True)
    return _one(pose, u, p)


def _salute(u, p, bodies):
    """Right finger tips brought briskly to the forehead, held, lowered."""
    pose = rest(u.size)
    arm_track(pose, "r", u, [(0.15, "rest"), (0.3, "salute"), (0.72, "salute"), (0.88, "rest")])
    pose["neck_pitch"] = -deg(6.0 * p.amplitude) * bump(u, 0.3, 0.35, 0.7, 0.75)
    return _one(pose, u, p)


def _hand_reach(body: BodyShape, arm: str) -> float:
    """How far in front of the pelvis the right hand is with the right arm in key pose ``arm``."""
    pose = rest(1)
    set_arm(pose, "r", np.ones(1), "rest", arm)
    return float(forward_kinematics(body, pose).joints[0, J["right hand"], 2])


def _facing(pose_a: Pose, pose_b: Pose, distance: float) -> list[Actor]:
    """Two people facing each other across ``distance`` metres (pelvis to pelvis at root_z = 0)."""
    return [Actor(pose_a, -distance / 2, np.pi / 2), Actor(pose_b, distance / 2, -np.pi / 2)]


def _shake_hands(u, p, bodies):
    """Two people step in, join right hands and shake them, step back."""
    poses = []
    for index in range(2):
        pose = rest(u.size)
        arm_track(pose, "r", u, [(0.1, "rest"), (0.35, "shake"), (0.75, "shake"), (0.92, "rest")])
        hold = bump(u, 0.35, 0.42, 0.68, 0.75)
        pose["r_elbow"] = pose["r_elbow"] + deg(12.0 * p.amplitude) * hold * np.sin(2 * np.pi * (p.cycles * u + p.phase))
        pose["root_z"] = track(u, [(0.05, -0.15), (0.3, 0.0), (0.8, 0.0), (0.95, -0.15)])
        add_sway(pose, u, MotionParams(p.amplitude, p.cycles, p.phase + 0.37 * index, p.onset, p.gamma, p.sway))
        poses.append(pose)
    return _facing(*poses, _hand_reach(bodies[0], "shake") + _hand_reach(bodies[1], "shake"))


def _hug(u, p, bodies):
    """Two people step together, wrap their arms around each other, let go."""
    poses = []
    for index in range(2):
        pose = rest(u.size)
        arm_track(pose, "r", u, [(0.15, "rest"), (0.45, "hug"), (0.75, "hug"), (0.95, "rest")])
        arm_track(pose, "l", u, [(0.15, "rest"), (0.45, "hug"), (0.75, "hug"), (0.95, "rest")])
        pose["root_z"] = track(u, [(0.05, -0.3), (0.4, 0.0), (0.8, 0.0), (1.0, -0.25)])
        pose["neck_yaw"] = deg(25.0 if index == 0 else -25.0) * bump(u, 0.4, 0.5, 0.7, 0.8)
        add_sway(pose, u, MotionParams(p.amplitude, p.cycles, p.phase + 0.37 * index, p.onset, p.gamma, p.sway))
        poses.append(pose)
    return _facing(*poses, 0.45 + 0.05 * (p.amplitude - 1.0))


def _push(u, p, bodies):
    """The first pushes the second with both hands; the second stumbles back."""
    pusher, pushed = rest(u.size), rest(u.size)
    for side in "lr":
        arm_track(pusher, side, u, [(0.1, "rest"), (0.3, "push ready"), (0.45, "push"), (0.58, "push"), (0.85, "rest")])
    pusher["trunk_pitch"] = deg(15.0) * bump(u, 0.3, 0.45, 0.58, 0.8)
    pusher["root_z"] = 0.15 * bump(u, 0.3, 0.45, 0.7, 0.95)
    shove = track(u, [(0.42, 0.0), (0.62, 1.0)])
    pushed["root_z"] = -0.45 * p.amplitude * shove
    pushed["trunk_pitch"] = -deg(18.0) * bump(u, 0.42, 0.5, 0.55, 0.75)
    for side in "lr":
        arm_track(pushed, side, u, [(0.42, "rest"), (0.52, "clap apart"), (0.75, "rest")])
    pushed["r_hip_flex"] = -deg(20.0) * bump(u, 0.45, 0.55, 0.6, 0.75)
    pushed["r_knee"] = deg(25.0) * bump(u, 0.45, 0.55, 0.6, 0.75) + deg(3.0)
    for index, pose in enumerate((pusher, pushed)):
        add_sway(pose, u, MotionParams(p.amplitude, p.cycles, p.phase + 0.37 * index, p.onset, p.gamma, p.sway))
    return _facing(pusher, pushed, _hand_reach(bodies[0], "push") + 0.12)


def _walkers(u, p, start: float, end: float, face_each_other: bool) -> list[Actor]:
    """Two people walking along the stage's x axis; each pelvis goes from +-start/2 to +-end/2."""
    actors = []
    for index, sign in enumerate((-1.0, 1.0)):
        pose = rest(u.size)
        gait(pose, u, p.cycles, p.phase + 0.5 * index, p.amplitude, in_place=False)
        add_sway(pose, u, MotionParams(p.amplitude, p.cycles, p.phase + 0.37 * index, p.onset, p.gamma, p.sway))
        travelled = abs(start - end) / 2 * u
        pose["root_z"] = travelled - travelled.mean()
        towards = sign * np.pi / 2 * (-1.0 if face_each_other else 1.0)
        actors.append(Actor(pose, sign * (start + end) / 4, towards))
    return actors


def _walk_towards(u, p, bodies):
    """Two people walk towards each other from about 2.6 m to 0.8 m apart."""
    return _walkers(u, p, start=2.6 * p.amplitude, end=0.8, face_each_other=True)


def _walk_apart(u, p, bodies):
    """Two people back to back walk away from each other."""
    return _walkers(u, p, start=0.8, end=2.6 * p.amplitude, face_each_other=False)


ACTION_CLASSES: tuple[ActionClass, ...] = (
    ActionClass("drink water", _drink_water, 2.6),
    ActionClass("sit down", _sit_down, 2.4),
    ActionClass("stand up", _stand_up, 2.4),
    ActionClass("clap hands", _clap_hands, 2.2, cycles=(3.0, 6.0)),
    ActionClass("wave right hand", _wave_right_hand, 2.4, cycles=(2.0, 4.0)),
    ActionClass("wave left hand", _wave_left_hand, 2.4, cycles=(2.0, 4.0)),
    ActionClass("kick with left leg", _kick_left_leg, 2.0),
    ActionClass("kick with right leg", _kick_right_leg, 2.0),
    ActionClass("put on hat", _put_on_hat, 2.8),
    ActionClass("take off hat", _take_off_hat, 2.8),
    ActionClass("jump up", _jump_up, 2.0),
    ActionClass("squat down", _squat_down, 2.6),
    ActionClass("raise both hands", _raise_both_hands, 2.4),
    ActionClass("punch forward", _punch_forward, 2.2, cycles=(2.0, 4.0)),
    ActionClass("bow", _bow, 2.4),
    ActionClass("touch head", _touch_head, 2.6),
    ActionClass("throw", _throw, 2.0),
    ActionClass("walk in place", _walk_in_place, 2.6, cycles=(2.0, 3.5)),
    ActionClass("salute", _salute, 2.2),
    ActionClass("shake hands", _shake_hands, 2.8, cycles=(2.5, 4.0), actors=2),
    ActionClass("hug another person", _hug, 3.0, actors=2),
    ActionClass("push another person", _push, 2.2, actors=2),
    ActionClass("walk towards each other", _walk_towards, 3.0, cycles=(2.0, 3.0), actors=2),
    ActionClass("walk apart from each other", _walk_apart, 3.0, cycles=(2.0, 3.0), actors=2),
)

SYNTH_CLASSES: list[str] = [c.name for c in ACTION_CLASSES]
INTERACTION_CLASSES: tuple[str, ...] = tuple(c.name for c in ACTION_CLASSES if c.actors > 1)
SINGLE_PERSON_CLASSES: tuple[str, ...] = tuple(c.name for c in ACTION_CLASSES if c.actors == 1)
CONFUSABLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("put on hat", "take off hat"), ("sit down", "stand up"), ("walk towards each other", "walk apart from each other"),
)


def action_class(name_or_id: str | int) -> ActionClass:
    """A class by name or by 1-based id; raises KeyError naming the valid choices."""
    if isinstance(name_or_id, int):
        if not 1 <= name_or_id <= len(ACTION_CLASSES):
            raise KeyError(f"synthetic class ids run from 1 to {len(ACTION_CLASSES)}, got {name_or_id}")
        return ACTION_CLASSES[name_or_id - 1]
    for cls in ACTION_CLASSES:
        if cls.name == name_or_id:
            return cls
    raise KeyError(f"unknown synthetic class {name_or_id!r}; known: {SYNTH_CLASSES}")


def is_interaction(name_or_id: str | int) -> bool:
    """True for the two-person classes."""
    return action_class(name_or_id).actors > 1
