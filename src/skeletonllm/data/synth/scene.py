"""Scenes of the synthetic dataset: per-sample variation, the performed 3D motion on the stage, and the cameras.

Stage coordinates: y up, floor at 0; a single actor stands at the origin facing +z, towards camera 1.
Every random draw comes from a generator seeded by (seed, stream, sample ids), so any sample can be made alone
and the whole dataset is the same whatever the order or the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skeletonllm.data.synth.actions import action_class
from skeletonllm.data.synth.body import Kinematics, forward_kinematics, make_body, rotation
from skeletonllm.data.synth.motion import MotionParams, clock

CAMERA_YAWS = (0.0, 45.0, -45.0)  # degrees around the stage, cameras 1..3 (more cameras continue the circle)
MIN_FRAMES, MAX_FRAMES = 40, 100  # clip length at 30 fps
SETUP = 1  # one recording setup; camera height and distance still vary per sample

# random streams (the second number of every generator seed)
MOTION_STREAM, CAMERA_STREAM, CAPTION_STREAM, NTU_STREAM, UCLA_STREAM, KINETICS_STREAM = 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class Sample:
    """One performance: action (1-based class id), subject (1-based) and repetition (1-based)."""

    action: int
    subject: int
    rep: int

    def ntu_name(self, camera: int) -> str:
        """The NTU-style sample name S###C###P###R###A###."""
        return f"S{SETUP:03d}C{camera:03d}P{self.subject:03d}R{self.rep:03d}A{self.action:03d}"

    def ucla_name(self, camera: int) -> str:
        """The NW-UCLA-style sample name a##_s##_e##_v## (view = camera)."""
        return f"a{self.action:02d}_s{self.subject:02d}_e{self.rep:02d}_v{camera:02d}"


def sample_rng(seed: int, stream: int, sample: Sample, camera: int = 0) -> np.random.Generator:
    """The generator of one random stream of one sample (and camera)."""
    return np.random.default_rng([seed, stream, sample.action, sample.subject, sample.rep, camera])


def motion_params(seed: int, sample: Sample) -> tuple[MotionParams, float]:
    """The sample's motion variation and its speed factor (1 = the class's typical duration)."""
    rng = sample_rng(seed, MOTION_STREAM, sample)
    cls = action_class(sample.action)
    speed = rng.uniform(0.8, 1.25)
    params = MotionParams(
        amplitude=rng.uniform(0.85, 1.15), cycles=rng.uniform(*cls.cycles), phase=rng.uniform(0.0, 1.0),
        onset=rng.uniform(-0.05, 0.05), gamma=rng.uniform(0.85, 1.18), sway=rng.uniform(0.5, 1.5),
    )
    return params, speed


def partner_of(subject: int, subjects: int) -> int:
    """The other person of a two-person action: the next subject, cyclically."""
    return subject % subjects + 1


def perform(seed: int, sample: Sample, subjects: int, fps: float) -> list[Kinematics]:
    """The sample's motion on the stage at ``fps``: one Kinematics per person (the subject first)."""
    cls = action_class(sample.action)
    params, speed = motion_params(seed, sample)
    seconds = np.clip(cls.seconds / speed, MIN_FRAMES / 30.0, MAX_FRAMES / 30.0)
    frames = max(int(round(seconds * fps)), 2)
    people = (sample.subject, partner_of(sample.subject, subjects))[: cls.actors]
    bodies = tuple(make_body(seed, person) for person in people)
    actors = cls.perform(clock(frames, params), params, bodies)
    return [
        forward_kinematics(body, actor.pose).transformed(rotation("y", np.array(actor.yaw)),
                                                         np.array([actor.x, 0.0, 0.0]))
        for body, actor in zip(bodies, actors)
    ]


@dataclass(frozen=True)
class Camera:
    """A Kinect-like camera on the circle around the stage, looking at the performers."""

    yaw: float  # radians around the stage's y axis (0 = in front)
    height: float  # metres above the floor
    distance: float  # metres from the stage centre
    aim: float  # height of the point it looks at

    def rotation(self) -> np.ndarray:
        """[3, 3]: stage -> camera axes (x = the sensor's left, y = up, z = viewing direction; Kinect v2)."""
        forward = np.array([0.0, self.aim, 0.0]) - self.position()
        forward /= np.linalg.norm(forward)
        left = np.cross([0.0, 1.0, 0.0], forward)
        left /= np.linalg.norm(left)
        return np.stack([left, np.cross(forward, left), forward])

    def position(self) -> np.ndarray:
        return np.array([self.distance * np.sin(self.yaw), self.height, self.distance * np.cos(self.yaw)])

    def view(self, kinematics: Kinematics) -> Kinematics:
        """The posed body in this camera's coordinates (metres)."""
        rot = self.rotation()
        return kinematics.transformed(rot, -rot @ self.position())


def camera_for(seed: int, sample: Sample, camera: int) -> Camera:
    """Camera ``camera`` (1-based) of a sample, with its per-sample jitter of yaw, height and distance."""
    rng = sample_rng(seed, CAMERA_STREAM, sample, camera)
    base = CAMERA_YAWS[(camera - 1) % len(CAMERA_YAWS)] + 120.0 * ((camera - 1) // len(CAMERA_YAWS))
    return Camera(
        yaw=np.radians(base + rng.uniform(-10.0, 10.0)), height=rng.uniform(0.8, 1.4),
        distance=rng.uniform(3.0, 3.6), aim=rng.uniform(0.9, 1.1),
    )


def project(points: np.ndarray, focal: float, centre: tuple[float, float]) -> np.ndarray:
    """float [..., 2]: pinhole image coordinates (pixels, v down) of camera-space points [..., 3]."""
    z = np.maximum(points[..., 2], 1e-3)
    return np.stack([centre[0] + focal * points[..., 0] / z, centre[1] - focal * points[..., 1] / z], axis=-1)
