"""The synthetic motions as the sequences each real format holds: what a sensor or a pipeline would have made.

- ntu: Kinect v2 camera coordinates (metres), sensor jitter, runs of inferred joints, depth/colour pixel
  coordinates by pinhole projection, joint orientations, hand states and lean, 17-digit body ids; now and then a
  few empty frames before tracking starts or a short-lived noisy extra body, as in raw NTU.
- ucla: the same camera's view as Kinect v1 ucla20, with its own jitter and now and then a joint at (0, 0, 0).
- kinetics: openpose18 by pinhole projection into a 340x256 video, normalized to [0, 1], with detector scores;
  hidden or off-image keypoints are (0, 0) with score 0, and some clips have runs of empty frames.
- humanml3d: smpl22-like joints on the stage (Y up, floor at 0, root starting at the origin facing +Z), 20 fps.
"""

from __future__ import annotations

import numpy as np

from skeletonllm.data.synth.actions import action_class
from skeletonllm.data.synth.body import FACE_POINTS, NO_ORIENTATION, J, Kinematics
from skeletonllm.data.synth.captions import captions_for
from skeletonllm.data.synth.scene import (
    CAPTION_STREAM, KINETICS_STREAM, NTU_STREAM, UCLA_STREAM, Camera, Sample, project, sample_rng,
)
from skeletonllm.formats.sequence import SkeletonSequence, body_presence
from skeletonllm.formats.topology import get_topology

NTU_FPS, HUMANML3D_FPS = 30.0, 20.0
BODY_ID_BASE = 72057594037927936  # Kinect v2 body ids count up from 2**56
DEPTH_CAMERA = (365.5, (256.0, 212.0))  # focal length (px), principal point of the 512x424 depth image
COLOR_CAMERA = (1061.0, (960.0, 540.0), 0.052)  # ... of the 1920x1080 colour image, and its offset (m) along x
KINETICS_SIZE = (340.0, 256.0)  # Kinetics-skeleton poses were estimated on videos resized to 340x256

UCLA_FROM_NTU = [J[n] for n in ("spine base", "spine mid", "spine shoulder", "head", "left shoulder", "left elbow",
                                "left wrist", "left hand", "right shoulder", "right elbow", "right wrist",
                                "right hand", "left hip", "left knee", "left ankle", "left foot", "right hip",
                                "right knee", "right ankle", "right foot")]
_FACE = {name: 25 + index for index, name in enumerate(FACE_POINTS)}  # face points follow the 25 joints
OPENPOSE_FROM_NTU = [
    _FACE["nose"], J["spine shoulder"], J["right shoulder"], J["right elbow"], J["right wrist"], J["left shoulder"],
    J["left elbow"], J["left wrist"], J["right hip"], J["right knee"], J["right ankle"], J["left hip"],
    J["left knee"], J["left ankle"], _FACE["right eye"], _FACE["left eye"], _FACE["right ear"], _FACE["left ear"],
]
# smpl22 joints as weighted means of ntu25 joints
_SMPL_PARTS = {
    "pelvis": {"spine base": 1.0}, "spine1": {"spine base": 0.55, "spine mid": 0.45}, "spine2": {"spine mid": 1.0},
    "spine3": {"spine mid": 0.45, "spine shoulder": 0.55}, "neck": {"neck": 1.0}, "head": {"head": 1.0},
    "left collar": {"spine shoulder": 0.55, "left shoulder": 0.45},
    "right collar": {"spine shoulder": 0.55, "right shoulder": 0.45},
    **{f"{side} {part}": {f"{side} {part}": 1.0} for side in ("left", "right")
       for part in ("hip", "knee", "ankle", "foot", "shoulder", "elbow", "wrist")},
}
SMPL_FROM_NTU = np.zeros((22, 25))  # [22, 25]
for _name, _parts in _SMPL_PARTS.items():
    for _joint, _weight in _parts.items():
        SMPL_FROM_NTU[get_topology("smpl22").index(_name), J[_joint]] = _weight
# joints the Kinect loses (infers) most often, as relative weights
_INFER_WEIGHT = np.ones(25)
_INFER_WEIGHT[[J[n] for n in ("left hand tip", "left thumb", "right hand tip", "right thumb", "left foot",
                              "right foot")]] = 6.0
_INFER_WEIGHT[[J[n] for n in ("left hand", "right hand", "left wrist", "right wrist", "left ankle",
                              "right ankle")]] = 3.0


def quaternions(rotations: np.ndarray) -> np.ndarray:
    """float [..., 4] (w, x, y, z), w >= 0: the unit quaternions of rotation matrices [..., 3, 3]."""
    m = rotations
    w = np.sqrt(np.maximum(0.0, 1.0 + m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2])) / 2
    x = np.sqrt(np.maximum(0.0, 1.0 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2])) / 2
    y = np.sqrt(np.maximum(0.0, 1.0 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2])) / 2
    z = np.sqrt(np.maximum(0.0, 1.0 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2])) / 2
    x = np.copysign(x, m[..., 2, 1] - m[..., 1, 2])
    y = np.copysign(y, m[..., 0, 2] - m[..., 2, 0])
    z = np.copysign(z, m[..., 1, 0] - m[..., 0, 1])
    q = np.stack([w, x, y, z], axis=-1)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def significant(values: np.ndarray, digits: int = 7) -> np.ndarray:
    """float32 values rounded to ``digits`` significant decimal digits, as a Kinect's text output has them."""
    values = np.asarray(values, dtype=np.float64)
    magnitude = np.floor(np.log10(np.where(values == 0, 1.0, np.abs(values))))
    scale = 10.0 ** (digits - 1 - magnitude)
    return (np.round(values * scale) / scale).astype(np.float32)


def _jitter(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Sensor jitter [T, ...]: white noise smoothed over 3 frames (consecutive errors correlate)."""
    white = rng.normal(0.0, sigma, (shape[0] + 2, *shape[1:]))
    return (white[:-2] + white[1:-1] + white[2:]) / np.sqrt(3.0)


def _inferred(rng: np.random.Generator, frames: int, bodies: int) -> np.ndarray:
    """bool [T, M, 25]: runs of inferred joints covering about 3-15% of all joint-frames."""
    mask = np.zeros((frames, bodies, 25), dtype=bool)
    target = rng.uniform(0.03, 0.15) * mask.size
    weights = _INFER_WEIGHT / _INFER_WEIGHT.sum()
    while mask.sum() < target:
        start, length = rng.integers(frames), rng.integers(3, 13)
        mask[start : start + length, rng.integers(bodies), rng.choice(25, p=weights)] = True
    return mask


def _lean(person: Kinematics) -> np.ndarray:
    """float [T, 2]: Kinect lean (sideways, forward) in [-1, 1] from the chest frame relative to the pelvis."""
    relative = np.einsum("tji,tjk->tik", person.rotations[:, J["spine base"]], person.rotations[:, J["spine shoulder"]])
    up = relative[:, :, 1]  # [T, 3] the chest's up axis in the pelvis frame
    return np.stack([-up[:, 0], up[:, 2]], axis=-1)


def ntu_sequence(seed: int, sample: Sample, camera_index: int, camera: Camera,
                 people: list[Kinematics]) -> SkeletonSequence:
    """The sample as an NTU .skeleton sequence seen by ``camera`` (meta as write_ntu expects it)."""
    rng = sample_rng(seed, NTU_STREAM, sample, camera_index)
    views = [camera.view(person) for person in people]
    joints = np.stack([v.joints for v in views], axis=1)  # [T, M, 25, 3]
    frames, bodies = joints.shape[:2]
    inferred = _inferred(rng, frames, bodies)  # [T, M, 25]
    joints = joints + _jitter(rng, joints.shape, rng.uniform(0.003, 0.01))
    joints = joints + inferred[..., None] * _jitter(rng, joints.shape, 0.02)
    orientation = quaternions(np.stack([v.rotations for v in views], axis=1))  # [T, M, 25, 4]
    orientation[:, :, list(NO_ORIENTATION)] = 0.0
    hand_state = np.repeat(rng.choice([1, 2, 3], size=(1, bodies, 2), p=[0.5, 0.3, 0.2]), frames, axis=0)
    flips = rng.random((frames, bodies, 2)) < 0.03
    hand_state = np.where(flips, rng.integers(0, 4, size=flips.shape), hand_state)  # [T, M, 2]
    body_info = np.zeros((frames, bodies, 9))
    body_info[..., [1, 3]] = (hand_state >= 2).astype(float)  # confidence: high when open/closed is known
    body_info[..., [2, 4]] = hand_state
    body_info[..., 6:8] = np.stack([_lean(person) for person in people], axis=1)
    body_info[..., 8] = 2  # body tracked
    present = np.ones((frames, bodies), dtype=bool)
    scores = np.where(inferred, 0.5, 1.0)
    body_ids = (BODY_ID_BASE + 1000 + np.sort(rng.choice(99000, size=bodies + 1, replace=False))).tolist()
    if rng.random() < 0.15:  # a short-lived noisy extra body (a misdetection), as raw NTU files have
        start, length = int(rng.integers(0, frames - 12)), int(rng.integers(5, 13))
        ghost = np.zeros((frames, 1, 25, 3))
        ghost[start : start + length, 0] = joints[start, 0] + np.array([rng.choice([-1.3, 1.3]), 0.0, 0.6])
        ghost[start : start + length] += rng.normal(0.0, 0.03, (length, 1, 25, 3))
        joints = np.concatenate([joints, ghost], axis=1)
        scores = np.concatenate([scores, np.where(ghost[..., 0] != 0, 0.5, 0.0)], axis=1)
        orientation = np.concatenate([orientation, np.zeros((frames, 1, 25, 4))], axis=1)
        ghost_info = np.zeros((frames, 1, 9))
        ghost_info[..., 8] = 2
        body_info = np.concatenate([body_info, ghost_info], axis=1)
        present = np.concatenate([present, body_presence(ghost)], axis=1)
    if rng.random() < 0.1:  # tracking starts a few frames late
        present[: int(rng.integers(1, 4))] = False
    joints = joints * present[..., None, None]
    depth = project(joints, *DEPTH_CAMERA)  # [T, M', 25, 2]
    color = project(joints + np.array([COLOR_CAMERA[2], 0.0, 0.0]), *COLOR_CAMERA[:2])
    extra = np.concatenate([depth, color, orientation], axis=-1) * present[..., None, None]  # [T, M', 25, 8]
    slots = joints.shape[1]
    meta = {
        "body_ids": [str(b) for b in body_ids[:slots]], "body_present": present,
        "body_info": significant(body_info * present[..., None]), "joint_extra": significant(extra),
    }
    return SkeletonSequence(significant(joints), (scores * present[..., None]).astype(np.float32),
                            get_topology("ntu25"), NTU_FPS, meta)


def ucla_sequence(seed: int, sample: Sample, camera_index: int, camera: Camera,
                  person: Kinematics) -> SkeletonSequence:
    """The single-person sample as NW-UCLA json content (label = action id, 1-based)."""
    rng = sample_rng(seed, UCLA_STREAM, sample, camera_index)
    joints = camera.view(person).joints[:, UCLA_FROM_NTU]  # [T, 20, 3]
    joints = joints + _jitter(rng, joints.shape, rng.uniform(0.004, 0.012))
    if rng.random() < 0.2:  # a lost joint is written as (0, 0, 0)
        lost = rng.integers(0, joints.shape[0], size=3), rng.integers(0, 20, size=3)
        joints[lost] = 0.0
    meta = {"label": sample.action, "file_name": sample.ucla_name(camera_index)}
    return SkeletonSequence(significant(joints[:, None]), None, get_topology("ucla20"), NTU_FPS, meta)


def kinetics_sequence(seed: int, sample: Sample, camera_index: int, camera: Camera,
                      people: list[Kinematics]) -> SkeletonSequence:
    """The sample as a Kinetics-skeleton clip: 2D openpose18 keypoints in [0, 1] with scores."""
    rng = sample_rng(seed, KINETICS_STREAM, sample, camera_index)
    views = [camera.view(person) for person in people]
    points = np.stack([np.concatenate([v.joints, v.face], axis=1)[:, OPENPOSE_FROM_NTU] for v in views],
                      axis=1)  # [T, M, 18, 3]
    frames, bodies = points.shape[:2]
    focal = rng.uniform(200.0, 300.0)
    centre = (KINETICS_SIZE[0] / 2 + rng.uniform(-15, 15), KINETICS_SIZE[1] / 2 + rng.uniform(-10, 10))
    mirrored = points * np.array([-1.0, 1.0, 1.0])  # a video is not mirrored like Kinect's images
    xy = project(mirrored, focal, centre) / np.array(KINETICS_SIZE)  # [T, M, 18, 2]
    xy = xy + _jitter(rng, xy.shape, rng.uniform(0.002, 0.006))
    scores = np.clip(rng.normal(0.75, 0.12, (frames, bodies, 18)), 0.05, 0.99)
    head = np.stack([v.joints[:, J["head"], 2] for v in views], axis=1)[..., None]  # [T, M, 1] head centre depth
    ears = np.array([16, 17])
    hidden = np.zeros((frames, bodies, 18), dtype=bool)  # an ear on the far side of the head is mostly not found
    hidden[:, :, ears] = (points[:, :, ears, 2] > head + 0.03) & (rng.random((frames, bodies, 2)) < 0.8)
    hidden |= np.any((xy <= 0.0) | (xy >= 1.0), axis=-1)
    if rng.random() < 0.15:  # a run of frames where the detector found nobody
        start = int(rng.integers(0, frames - 6))
        hidden[start : start + int(rng.integers(2, 7))] = True
    xy[hidden], scores[hidden] = 0.0, 0.0
    meta = {"label": action_class(sample.action).name, "label_index": sample.action - 1}
    # Kinetics-skeleton files give coordinates and scores with 3 decimals
    return SkeletonSequence(np.round(xy, 3).astype(np.float32), np.round(scores, 3).astype(np.float32),
                            get_topology("openpose18"), NTU_FPS, meta)


def humanml3d_sequence(seed: int, sample: Sample, person: Kinematics) -> SkeletonSequence:
    """The single-person sample as HumanML3D new_joints (stage coordinates, 20 fps) with templated captions."""
    joints = np.einsum("sj,tjc->tsc", SMPL_FROM_NTU, person.joints)  # [T, 22, 3]
    joints = joints - np.array([joints[0, 0, 0], 0.0, joints[0, 0, 2]])  # root starts above the origin
    joints[..., 1] -= joints[..., 1].min()  # floor at 0
    captions = captions_for(action_class(sample.action).name, sample_rng(seed, CAPTION_STREAM, sample))
    return SkeletonSequence(joints[:, None].astype(np.float32), None, get_topology("smpl22"), HUMANML3D_FPS,
                            {"captions": captions})
