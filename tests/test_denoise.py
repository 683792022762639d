"""Body denoising of Kinect clips (data/denoise.py) on arrays, and through `prepare` on NTU and PKU-MMD files."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from skeletonllm.data.denoise import denoise_bodies
from skeletonllm.data.normalize import normalize_sequence
from skeletonllm.data.prepare import prepare
from skeletonllm.data.synth.actions import SYNTH_CLASSES
from skeletonllm.data.synth.scene import Sample, camera_for, perform
from skeletonllm.formats import SkeletonSequence, get_topology, read, write

NTU = get_topology("ntu25")
FIRST_ID = 72057594037930000  # 17-digit Kinect v2 body ids
A, B, C = (str(FIRST_ID + k) for k in range(3))


def _performers(action: str) -> np.ndarray:
    """float32 [T, P, 25, 3]: the synthetic performers of an action in Kinect camera coordinates (metres, y up)."""
    sample = Sample(SYNTH_CLASSES.index(action) + 1, 1, 1)
    camera = camera_for(0, sample, 1)
    return np.stack([camera.view(person).joints for person in perform(0, sample, 2, 30.0)], axis=1).astype(np.float32)


def _flat_body(frames: int, seed: int = 0) -> np.ndarray:
    """float32 [T, 25, 3]: a flat noise body: joints strung 2.4 m along x, 4 cm of y, 3.8 m away."""
    rng = np.random.default_rng(seed)
    joints = np.zeros((frames, NTU.num_joints, 3))
    joints[..., 0] = np.linspace(-1.2, 1.2, NTU.num_joints)
    joints[..., 1] = 0.3
    joints[..., 2] = 3.8
    return (joints + rng.normal(0.0, 0.01, joints.shape)).astype(np.float32)


def _ghost(performer: np.ndarray, start: int, length: int) -> np.ndarray:
    """float32 [T, 25, 3]: a copy of the performer's pose at start, 1.3 m to the side, present for length frames."""
    ghost = np.zeros_like(performer)
    ghost[start : start + length] = performer[start] + np.array([1.3, 0.0, 0.6], dtype=np.float32)
    return ghost


def _ntu(joints: np.ndarray, ids: list[str]) -> SkeletonSequence:
    """An NTU sequence of bodies [T, M, 25, 3] (all-zero where absent) with the given body ids."""
    scores = joints.any(axis=-1).astype(np.float32)  # [T, M, J]
    return SkeletonSequence(joints, scores, NTU, 30.0, {"format": "ntu", "source": "test", "body_ids": ids})


def _unchanged(seq: SkeletonSequence) -> bool:
    """Whether denoise_bodies hands seq back as it is, with no decision."""
    out, decisions = denoise_bodies(seq)
    return out is seq and decisions == []


def _id_switch(performer: np.ndarray, switch: int) -> np.ndarray:
    """[T, 2, 25, 3]: one performer tracked as body 1 before frame switch and as body 2 from there on."""
    joints = np.zeros((len(performer), 2, *performer.shape[1:]), dtype=np.float32)
    joints[:switch, 0], joints[switch:, 1] = performer[:switch], performer[switch:]
    return joints


def test_an_id_switch_is_merged_into_one_slot_with_the_readers_meta(tmp_path):
    performer = _performers("wave left hand")[:, 0]  # [T, 25, 3]
    path = tmp_path / "switch.skeleton"
    write(path, _ntu(_id_switch(performer, 25), [A, B]), "ntu")
    seq = read(path)
    out, decisions = denoise_bodies(seq)
    assert out.joints.shape == (len(performer), 1, 25, 3)
    np.testing.assert_array_equal(out.joints[:, 0], seq.joints.sum(axis=1))  # every frame of both ids, in one slot
    np.testing.assert_array_equal(out.scores[:, 0], seq.scores.sum(axis=1))
    np.testing.assert_array_equal(out.meta["joint_extra"][:, 0], seq.meta["joint_extra"].sum(axis=1))
    np.testing.assert_array_equal(out.meta["body_info"][:, 0], seq.meta["body_info"].sum(axis=1))
    assert out.meta["body_present"].shape == (len(performer), 1) and out.meta["body_present"].all()
    (decision,) = decisions
    (lead,) = out.meta["body_ids"]
    assert {decision.body, lead} == {A, B} and decision.reason == "merged" and lead in decision.detail
    assert out.meta["denoise"] == [asdict(decision)]
    assert seq.joints.shape[1] == 2 and seq.meta["body_ids"] == [A, B]  # the input is not modified


def test_ghosts_flat_noise_and_extra_bodies_are_dropped():
    pair = _performers("shake hands")  # [T, 2, 25, 3]
    frames = len(pair)
    still = np.repeat(pair[:1, 0] + np.array([0.0, 0.0, 1.0], np.float32), frames, axis=0)  # a third, motionless
    joints = np.stack([pair[:, 0], _ghost(pair[:, 0], 10, 6), _flat_body(frames), pair[:, 1], still], axis=1)
    ids = [A, B, C, str(FIRST_ID + 3), str(FIRST_ID + 4)]
    out, decisions = denoise_bodies(_ntu(joints, ids))
    assert [(d.body, d.reason) for d in decisions] == [(B, "ghost"), (C, "flat noise"), (ids[4], "extra")]
    assert decisions[0].detail == "present in 6 frames (at most 10)"
    assert "in 100% of its" in decisions[1].detail
    assert A in decisions[2].detail and ids[3] in decisions[2].detail
    assert sorted(out.meta["body_ids"]) == [A, ids[3]]
    kept = {body: out.joints[:, slot] for slot, body in enumerate(out.meta["body_ids"])}
    np.testing.assert_array_equal(kept[A], pair[:, 0])
    np.testing.assert_array_equal(kept[ids[3]], pair[:, 1])


def test_a_rule_that_would_drop_every_body_is_skipped():
    pair = _performers("shake hands")
    short = _ntu(pair[:6], [A, B])  # both bodies are present in 6 frames only
    assert _unchanged(short)
    flat = _ntu(np.stack([_flat_body(40, 1), _flat_body(40, 2)], axis=1), [A, B])  # nothing but flat bodies
    assert _unchanged(flat)
    ghost_and_flat = _ntu(np.stack([_flat_body(40), _ghost(pair[:40, 0], 0, 6)], axis=1), [A, B])
    out, decisions = denoise_bodies(ghost_and_flat)  # the ghost goes; the flat body is all that is left
    assert [(d.body, d.reason) for d in decisions] == [(B, "ghost")]
    np.testing.assert_array_equal(out.joints[:, 0], ghost_and_flat.joints[:, 0])


def test_performers_crossing_the_view_are_not_flat_noise():
    pair = _performers("shake hands")  # [T, 2, 25, 3]
    pair[:, 0, :, 0] += np.linspace(0.0, 3.0, len(pair), dtype=np.float32)[:, None]  # the first walks 3 m along x
    walker = pair[:, 0]  # over the whole clip, its x spreads wider than its y; frame by frame it does not
    assert np.ptp(walker[..., 0]) > 0.8 * np.ptp(walker[..., 1])
    seq = _ntu(pair, [A, B])
    assert _unchanged(seq)


def test_other_formats_and_single_bodies_are_left_alone():
    openpose = get_topology("openpose18")
    joints = np.zeros((20, 2, openpose.num_joints, 2), np.float32)
    joints[:, 0] = np.random.default_rng(0).uniform(0.2, 0.8, joints[:, 0].shape)
    joints[:3, 1] = 0.5  # a 3-frame body: a ghost in a Kinect file
    kinetics = SkeletonSequence(joints, None, openpose, 30.0, {"format": "kinetics"})
    assert _unchanged(kinetics)
    single = _ntu(_performers("wave left hand")[:5, :1], [A])  # one 5-frame body: nothing to denoise
    assert _unchanged(single)


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_prepare_denoises_ntu_files_and_logs_why(tmp_path):
    raw, out = tmp_path / "nturgb+d_skeletons", tmp_path / "prepared"
    raw.mkdir()
    performer = _performers("wave left hand")[:, 0]  # [T, 25, 3]
    frames = len(performer)
    names = {"switch": "S001C001P001R001A001", "ghost": "S001C001P002R001A002", "flat": "S001C001P003R001A003",
             "pair": "S001C001P004R001A050"}
    write(raw / f"{names['switch']}.skeleton", _ntu(_id_switch(performer, 30), [A, B]), "ntu")
    write(raw / f"{names['ghost']}.skeleton",
          _ntu(np.stack([performer, _ghost(performer, 12, 6)], axis=1), [A, B]), "ntu")
    write(raw / f"{names['flat']}.skeleton", _ntu(np.stack([_flat_body(frames), performer], axis=1), [A, B]), "ntu")
    write(raw / f"{names['pair']}.skeleton", _ntu(_performers("shake hands"), [A, B]), "ntu")
    for name in ("ghost", "flat"):  # what normalization alone would have kept
        assert normalize_sequence(read(raw / f"{names[name]}.skeleton")).joints.any(axis=(0, 2, 3)).sum() == 2

    manifest = prepare("ntu120", raw, out, workers=1)
    index = pd.read_parquet(out / "index.parquet").set_index("sample_id")
    assert index.loc[list(names.values()), "bodies"].tolist() == [1, 1, 1, 2]
    rows = _csv(out / "denoise.csv")
    assert [(row["sample_id"], row["source"], row["reason"]) for row in rows] == [
        (names["switch"], f"{names['switch']}.skeleton", "merged"),
        (names["ghost"], f"{names['ghost']}.skeleton", "ghost"),
        (names["flat"], f"{names['flat']}.skeleton", "flat noise"),
    ]
    switch, ghost, flat = rows
    assert {switch["body"], switch["detail"].split(":")[0].removeprefix("into ")} == {A, B}
    assert (ghost["body"], ghost["detail"]) == (B, "present in 6 frames (at most 10)")
    assert flat["body"] == A and "x spread above 0.8 of the y spread" in flat["detail"]
    assert manifest["counts"]["denoised_by_reason"] == {"flat noise": 1, "ghost": 1, "merged": 1}
    assert manifest["denoise"]["applied"] and manifest["denoise"]["bodies_by_reason"]["merged"] == 1
    assert json.loads((out / "manifest.json").read_text())["denoise"] == manifest["denoise"]

    single = tmp_path / "single.skeleton"  # the switched performer as one body id all along
    write(single, _ntu(performer[:, None], [A]), "ntu")
    poses = np.load(out / "poses.npy")
    row = index.loc[names["switch"]]
    np.testing.assert_array_equal(poses[row.offset : row.offset + row.length], normalize_sequence(read(single)).joints)


def test_prepare_pkummd_drops_a_flat_noise_second_body_per_segment(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "prepared"
    (raw / "PKU_Skeleton_Renew").mkdir(parents=True)
    (raw / "Train_Label_PKU_final").mkdir()
    performer = _performers("wave left hand")[:, 0]
    frames = 420
    values = np.zeros((frames, 2, 25, 3), np.float32)  # PKU-MMD: 2 fixed body slots, all-zero when absent
    values[:, 0] = np.concatenate([performer] * (frames // len(performer) + 1))[:frames]
    values[312:, 1] = _flat_body(frames - 312)  # flat noise from frame 312 on
    np.savetxt(raw / "PKU_Skeleton_Renew" / "0002-L.txt", values.reshape(frames, 150), fmt="%.6f")
    (raw / "Train_Label_PKU_final" / "0002-L.txt").write_text("1,0,150,1\n6,280,420,1\n")
    late = read(raw / "PKU_Skeleton_Renew" / "0002-L.txt")
    late = SkeletonSequence(late.joints[280:420], None, NTU, 30.0, late.meta)
    assert normalize_sequence(late).joints.any(axis=(0, 2, 3)).sum() == 2  # what normalization alone would keep

    prepare("pkummd", raw, out, workers=1)
    index = pd.read_parquet(out / "index.parquet")
    assert index[["sample_id", "frame_start", "bodies"]].values.tolist() == [["0002-L_001", 0, 1],
                                                                              ["0002-L_002", 280, 1]]
    (row,) = _csv(out / "denoise.csv")
    assert (row["sample_id"], row["source"], row["body"], row["reason"]) == (
        "0002-L_002", "PKU_Skeleton_Renew/0002-L.txt", "slot 2", "flat noise")
    assert "of its 108 frames" in row["detail"]
    poses = np.load(out / "poses.npy")
    assert not poses[:, 1].any()
