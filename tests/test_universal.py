"""One DrAction for every format, in one canonical body frame.

The same synthetic performance is written by the project's own writers as NTU .skeleton, NW-UCLA json,
HumanML3D npy, BVH (CMU-style: T-pose offsets, facing away along +z like HumanML3D) and Kinetics-skeleton json
(2D), and as PKU-MMD txt (numpy, no writer), read back through format detection and normalized as prepare does.
The 3D formats must agree on where the body is and which way it faces, one saved DrAction must draw them all with
overlapping silhouettes, and the 2D clip must come out upright.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skeletonllm.cli import main
from skeletonllm.data.normalize import normalize_sequence
from skeletonllm.data.synth.actions import SYNTH_CLASSES
from skeletonllm.data.synth.formats import ntu_sequence
from skeletonllm.data.synth.scene import Sample, camera_for, perform
from skeletonllm.formats import read
from skeletonllm.render.camera import intrinsics, sample_clip
from skeletonllm.render.draction import DrAction, DrActionConfig

from performances import first_body, write_every_format

FRAMES, SIZE = 4, 96
LANDMARKS = ("left hip", "right hip", "left shoulder", "right shoulder", "head")
THREE_D = ("ntu", "ucla", "humanml3d", "bvh")


@pytest.fixture(scope="module")
def performances(tmp_path_factory):
    root = tmp_path_factory.mktemp("universal")
    return {action: write_every_format(root / action.replace(" ", "_"), action, camera)
            for action, camera in (("wave right hand", 2), ("kick with left leg", 3), ("sit down", 1))}


def _landmarks(seq) -> np.ndarray:
    """float [T, 5, 3]: hips, shoulders and head of body 0, found by name in any topology."""
    names = [name.lower().replace("_", " ") for name in seq.topology.joint_names]
    return seq.joints[:, 0, [names.index(name) for name in LANDMARKS]]


@pytest.mark.parametrize("action", ["wave right hand", "kick with left leg", "sit down"])
def test_every_3d_format_lands_in_one_canonical_frame(performances, action):
    normalized = {fmt: normalize_sequence(read(performances[action][fmt])) for fmt in THREE_D}
    assert {read(performances[action][fmt]).meta["format"] for fmt in THREE_D} == set(THREE_D)
    raw = {fmt: read(performances[action][fmt]) for fmt in ("ntu", "humanml3d")}
    raw_front = [np.cross([0, 1, 0], _landmarks(seq)[0, 1] - _landmarks(seq)[0, 0]) for seq in raw.values()]
    assert raw_front[0][2] < 0 < raw_front[1][2]  # as captured: NTU faces its sensor, HumanML3D faces +z (away)
    points = {fmt: _landmarks(seq) for fmt, seq in normalized.items()}  # [T, 5, 3] each
    assert len({p.shape[0] for p in points.values()}) == 1  # the same frames in every format
    for fmt, landmarks in points.items():
        for other in THREE_D:
            distance = np.linalg.norm(landmarks - points[other], axis=-1)  # [T, 5]
            assert distance[0].max() < 0.05, (fmt, other, distance[0])  # first frame: within 5 cm
            assert np.median(distance) < 0.05, (fmt, other)  # and throughout
        hips, shoulders = landmarks[0, :2], landmarks[0, 2:4]
        right = hips[1] - hips[0] + shoulders[1] - shoulders[0]
        assert right[0] > 0.9 * np.linalg.norm(right), fmt  # the body's right is +x: it faces the camera
        front = np.cross([0.0, 1.0, 0.0], right)
        assert front[2] < -0.9 * np.linalg.norm(front), fmt  # its front faces -z, towards the camera
        seen = (landmarks != 0).any(-1).all(-1)  # [T] frames with every landmark (NW-UCLA loses joints at times)
        assert seen.mean() > 0.8 and (landmarks[seen, 4, 1] > landmarks[seen, 2:4, 1].max(-1)).all(), fmt
        rotation = np.array(normalized[fmt].meta["normalization"]["rotation"]).reshape(3, 3)
        np.testing.assert_allclose(np.linalg.det(rotation), 1.0, atol=1e-6)  # a rotation: no mirroring


def test_the_canonical_frame_can_be_turned_off(performances):
    seq = read(performances["wave right hand"]["humanml3d"])
    off = normalize_sequence(seq, canonical=False)
    assert off.meta["normalization"]["rotation"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    hips = _landmarks(off)[0, :2]
    assert hips[1, 0] < hips[0, 0]  # captured facing away: the right hip at -x


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    directory = tmp_path_factory.mktemp("weights")
    model = DrAction(DrActionConfig(frames=FRAMES, size=SIZE, seed=11))
    with torch.no_grad():
        model.head[-1].bias[3] = 4.0  # opaque Gaussians: silhouettes that are easy to compare
    return model.save(directory)


def _alpha(model: DrAction, path) -> torch.Tensor:
    seq = normalize_sequence(read(path))
    with torch.no_grad():
        return model.render(torch.from_numpy(seq.joints)[None], seq.topology)[1][0]  # [F, H, W]


def test_one_draction_renders_every_format_alike(performances, weights, tmp_path):
    model = DrAction.load(weights)
    for action, paths in performances.items():
        masks = {fmt: _alpha(model, paths[fmt]) > 0.5 for fmt in THREE_D}  # [F, H, W] each
        for fmt in THREE_D:
            assert masks[fmt].float().mean() > 0.02, (action, fmt)  # the body is drawn
            for other in THREE_D:
                iou = (masks[fmt] & masks[other]).sum() / (masks[fmt] | masks[other]).sum()  # over the clip
                print(f"{action}: IoU {fmt}/{other} {float(iou):.3f}")
                assert iou >= 0.7, (action, fmt, other, float(iou))
    for fmt, path in performances["wave right hand"].items():  # the CLI contract: any format, the same weights
        out = tmp_path / fmt
        assert main(["render", str(path), "--renderer", "draction", "--weights", str(weights), "--frames",
                     str(FRAMES), "--size", str(SIZE), "--out", str(out)]) == 0, fmt
        assert (out / "frame_00.png").is_file(), fmt


def test_2d_pose_renders_upright(performances, weights):
    model = DrAction.load(weights)
    seq = normalize_sequence(read(performances["wave right hand"]["kinetics"]))
    assert seq.topology.dims == 2
    joints = torch.from_numpy(seq.joints)[None]
    with torch.no_grad():
        _, alpha = model.render(joints, seq.topology)  # [1, F, H, W]
    clip = sample_clip(joints, seq.topology, FRAMES, 60.0)
    cam = clip.points[0, :, 0] @ clip.viewmat[0, :3, :3].T + clip.viewmat[0, :3, 3]  # [F, J, 3]
    pixels = (cam @ intrinsics(SIZE, 60.0, 1)[0].T)[..., :2] / cam[..., 2:]  # [F, J, 2]
    names = seq.topology.joint_names
    nose, ankles = pixels[:, names.index("nose")], pixels[:, [names.index("left ankle"), names.index("right ankle")]]
    assert (nose[:, 1] < ankles[..., 1].amin(-1) - 0.3 * SIZE).all()  # the head is drawn well above the feet
    for frame in range(FRAMES):
        for x, y in (nose[frame], *ankles[frame]):
            assert alpha[0, frame, int(y), int(x)] > 0.5  # and the body is drawn there


def test_a_tilted_sensor_is_levelled():
    """Real NTU clips keep the Kinect's tilt (the spine leans up to 25 degrees): the canonical frame removes it."""
    sample = Sample(SYNTH_CLASSES.index("wave right hand") + 1, 1, 1)
    seq = first_body(ntu_sequence(0, sample, 1, camera_for(0, sample, 1), perform(0, sample, 10, 30.0)[:1]))
    angle = np.radians(25.0)
    tilt = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    tilted = type(seq)((seq.joints @ tilt.T.astype(np.float32)) * (seq.joints != 0), seq.scores, seq.topology,
                       seq.fps, dict(seq.meta))
    level, levelled = normalize_sequence(seq), normalize_sequence(tilted)
    assert np.abs(levelled.joints - level.joints).max() < 1e-3
    rotation = np.array(levelled.meta["normalization"]["rotation"]).reshape(3, 3)
    assert np.degrees(np.arccos(rotation[1] @ [0.0, 1.0, 0.0])) > 20  # it undid a tilt of the captured up


def test_two_people_are_seen_side_on():
    """A pair that faces each other is seen in profile, side by side, so that neither hides the other."""
    sample = Sample(SYNTH_CLASSES.index("shake hands") + 1, 1, 1)
    people = perform(0, sample, 10, 30.0)
    seq = normalize_sequence(ntu_sequence(0, sample, 1, camera_for(0, sample, 1), people))
    hips = seq.joints[0][:, list(seq.topology.hips)].mean(axis=1)  # [2, 3]
    apart = hips[1] - hips[0]
    assert abs(apart[0]) > 0.5 and abs(apart[2]) < 0.2 * abs(apart[0])  # apart along x, at one depth


def test_prepare_records_each_rotation_and_the_switch_turns_it_off(performances, tmp_path):
    import json
    import shutil

    import pandas as pd

    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(performances["wave right hand"]["ntu"], raw)
    for flag, name in (([], "on"), (["--no-canonical-frame"], "off")):
        out = tmp_path / name
        assert main(["prepare", "--dataset", "ntu120", "--raw", str(raw), "--out", str(out), "--workers", "1",
                     *flag]) == 0
        rotation = np.asarray(pd.read_parquet(out / "index.parquet")["rotation"].iloc[0]).reshape(3, 3)
        normalization = json.loads((out / "manifest.json").read_text())["normalization"]
        if name == "on":
            assert not np.allclose(rotation, np.eye(3)) and np.isclose(np.linalg.det(rotation), 1.0)
            assert normalization["canonical_frame"].startswith("rotated") and normalization["rotations"]["rotated"] == 1
        else:
            np.testing.assert_array_equal(rotation, np.eye(3))
            assert normalization["canonical_frame"].startswith("off") and normalization["rotations"]["rotated"] == 0
