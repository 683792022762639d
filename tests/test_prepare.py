"""normalize_sequence and `skeletonllm prepare` on NTU files written by our writer: selection, rejection, store."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skeletonllm.bench.prepare import realistic_sequence
from skeletonllm.cli import main
from skeletonllm.data.datasets import missing_samples
from skeletonllm.data.denoise import denoise_bodies
from skeletonllm.data.normalize import EmptySequenceError, normalize_sequence
from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.formats import SkeletonSequence, get_topology, read, write

NTU = get_topology("ntu25")


def _moving_body(rng, frames: int, amplitude: float, offset: float) -> np.ndarray:
    """[T, 25, 3] a body swaying with the given amplitude, placed `offset` metres to the side."""
    rest = rng.normal(0, 0.3, size=(NTU.num_joints, 3)) + np.array([offset, 0.0, 3.0])
    wave = np.sin(np.linspace(0, 3 * np.pi, frames))[:, None, None]  # [T, 1, 1]
    sway = amplitude * wave * rng.normal(size=(1, NTU.num_joints, 3))
    return (rest + sway).astype(np.float32)


def test_normalize_keeps_the_two_most_active_bodies_and_drops_empty_frames():
    rng = np.random.default_rng(0)
    joints = np.zeros((10, 3, NTU.num_joints, 3), dtype=np.float32)  # [T, M, J, C]
    joints[2:, 0] = _moving_body(rng, 8, 0.01, 0.0)  # nearly still noise body
    joints[2:, 1] = _moving_body(rng, 8, 0.30, 1.0)  # most active
    joints[2:9, 2] = _moving_body(rng, 7, 0.10, -1.0)
    seq = SkeletonSequence(joints, np.ones(joints.shape[:3], np.float32), NTU, 30.0, {"source": "x"})
    out = normalize_sequence(seq, canonical=False)  # random bodies: compare the captured axes
    assert out.joints.shape == (8, 2, NTU.num_joints, 3)  # frames 0 and 1 held no body
    assert out.meta["normalization"]["kept_bodies"] == [1, 2]
    origin = joints[2, [1, 2], NTU.root].mean(axis=0)
    np.testing.assert_allclose(out.joints[:, 0], joints[2:, 1] - origin, atol=1e-5)
    np.testing.assert_allclose(out.joints[:7, 1], joints[2:9, 2] - origin, atol=1e-5)
    np.testing.assert_allclose(out.joints[0, :, NTU.root].mean(axis=0), 0.0, atol=1e-5)
    assert not out.joints[7, 1].any()  # body 2 left after frame 8: still all-zero, not shifted by the origin
    assert out.scores.shape == (8, 2, NTU.num_joints)


def test_normalize_pads_a_single_body_and_keeps_missing_joints_zero():
    rng = np.random.default_rng(1)
    joints = _moving_body(rng, 5, 0.2, 0.0)[:, None]  # [T, 1, J, C]
    joints[:, 0, 7] = 0.0  # a joint the sensor lost
    out = normalize_sequence(SkeletonSequence(joints, None, NTU, 30.0, {}))
    assert out.joints.shape == (5, 2, NTU.num_joints, 3)
    assert not out.joints[:, 1].any()
    assert not out.joints[:, 0, 7].any()
    assert out.scores is None


def test_normalize_scales_2d_to_unit_torso():
    coco = get_topology("coco17")
    rng = np.random.default_rng(2)
    joints = rng.uniform(0.3, 0.7, size=(6, 1, coco.num_joints, 2)).astype(np.float32)
    joints[:, 0, 3] = 0.0  # a missing keypoint
    out = normalize_sequence(SkeletonSequence(joints, None, coco, 30.0, {}))
    shoulders = out.joints[:, 0, list(coco.shoulders)].mean(axis=1)
    hips = out.joints[:, 0, list(coco.hips)].mean(axis=1)
    assert np.median(np.linalg.norm(shoulders - hips, axis=-1)) == pytest.approx(1.0, rel=1e-5)
    assert not out.joints[:, 0, 3].any()
    assert out.meta["normalization"]["scale"] > 0


def test_normalize_rejects_a_sequence_without_bodies():
    with pytest.raises(EmptySequenceError):
        normalize_sequence(SkeletonSequence(np.zeros((4, 1, 25, 3), np.float32), None, NTU, 30.0, {}))


def _write_ntu(path: Path, seed: int, frames: int = 6, bodies: int = 1) -> Path:
    write(path, realistic_sequence(np.random.default_rng(seed), frames, bodies), "ntu")
    return path


def _edit_line(path: Path, line: int, new: str | None) -> None:
    """Replace (or with None delete) a 1-based line of a CRLF text file."""
    lines = path.read_bytes().split(b"\r\n")
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new.encode()
    path.write_bytes(b"\r\n".join(lines))


def _first_joint_line(path: Path) -> list[str]:
    return path.read_bytes().split(b"\r\n")[4].decode().split()


@pytest.fixture()
def mixed_raw(tmp_path):
    """Good NTU files among corrupt ones; returns (raw dir, {file name: expected (line, reason fragment)})."""
    raw = tmp_path / "raw" / "nturgb+d_skeletons"
    raw.mkdir(parents=True)
    for k in range(6):
        _write_ntu(raw / f"S001C00{k % 3 + 1}P00{k + 1}R001A00{k % 4 + 1}.skeleton", k, bodies=1 + k % 2)
    bad: dict[str, tuple[int | None, str]] = {}

    def corrupt(name: str, seed: int) -> Path:
        return _write_ntu(raw / name, seed)

    path = corrupt("S002C001P001R001A001.skeleton", 10)
    _edit_line(path, 5, " ".join(["nan", *_first_joint_line(path)[1:]]))
    bad[path.name] = (5, "non-finite")
    path = corrupt("S002C001P001R001A002.skeleton", 11)
    _edit_line(path, 6, " ".join(["1.2.3", *_first_joint_line(path)[1:]]))
    bad[path.name] = (6, "unparsable number")
    path = corrupt("S002C001P001R001A003.skeleton", 12)
    _edit_line(path, 4, "24")
    _edit_line(path, 5, None)
    bad[path.name] = (4, "24 joints")
    path = corrupt("S002C001P001R001A004.skeleton", 13)
    _edit_line(path, 2, "2")  # the body count says 2, one body follows
    bad[path.name] = (30, "disagrees")
    path = corrupt("S002C001P001R001A005.skeleton", 14)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2].rsplit(b"\r\n", 1)[0] + b"\r\n")
    bad[path.name] = (None, "truncated")
    path = corrupt("not_an_ntu_name.skeleton", 15)
    bad[path.name] = (None, "does not follow the S###C###P###R###A### naming")
    empty = SkeletonSequence(np.zeros((3, 1, 25, 3), np.float32), None, NTU, 30.0, {})
    write(raw / "S002C001P001R001A006.skeleton", empty, "ntu")
    bad["S002C001P001R001A006.skeleton"] = (None, "no body")
    return raw.parent, bad


def _rejected(out: Path) -> list[dict]:
    with open(out / "rejected.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_prepare_rejects_bad_files_with_line_and_reason_and_keeps_the_rest(mixed_raw, tmp_path):
    raw, bad = mixed_raw
    out = tmp_path / "prepared"
    assert main(["prepare", "--dataset", "ntu120", "--raw", str(raw), "--out", str(out), "--workers", "2"]) == 0
    rejected = {Path(row["source"]).name: row for row in _rejected(out)}
    assert sorted(rejected) == sorted(bad)
    for name, (line, fragment) in bad.items():
        assert fragment in rejected[name]["reason"], (name, rejected[name])
        if line is not None:
            assert rejected[name]["line"] == str(line), (name, rejected[name])
    index = pd.read_parquet(out / "index.parquet")
    assert len(index) == 6
    sources = {p.relative_to(raw).as_posix() for p in raw.rglob("*.skeleton")}
    assert set(index["source"]) | {row["source"] for row in _rejected(out)} == sources
    assert set(index["source"]).isdisjoint(row["source"] for row in _rejected(out))
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["files_seen"] == len(sources) == counts["files_kept"] + counts["files_rejected"]
    assert counts["files_kept"] == counts["samples_kept"] == 6
    assert sum(counts["rejected_by_reason"].values()) == counts["rejections"] == len(bad)
    assert counts["rejected_by_reason"]["format error"] == 5


def test_prepare_store_is_memory_mappable_and_matches_normalized_files(mixed_raw, tmp_path):
    raw, _ = mixed_raw
    out = tmp_path / "prepared"
    assert main(["prepare", "--dataset", "ntu120", "--raw", str(raw), "--out", str(out), "--workers", "1"]) == 0
    poses = np.load(out / "poses.npy", mmap_mode="r")
    assert isinstance(poses, np.memmap) and poses.dtype == np.float32
    index = pd.read_parquet(out / "index.parquet")
    assert poses.shape == (index["length"].sum(), 2, 25, 3)
    assert index["offset"].tolist() == np.concatenate([[0], np.cumsum(index["length"])[:-1]]).tolist()
    for row in index.itertuples():
        expected = normalize_sequence(denoise_bodies(read(raw / row.source))[0]).joints
        np.testing.assert_array_equal(poses[row.offset : row.offset + row.length], expected)
        assert row.bodies == int(expected.any(axis=(0, 2, 3)).sum())
    first = index.iloc[0]
    assert (first.sample_id, first.setup, first.camera, first.subject, first.replication, first.label) == (
        "S001C001P001R001A001", 1, 1, 1, 1, 0)
    assert first.label_name == "drink water"
    manifest = json.loads((out / "manifest.json").read_text())
    for source, digest in manifest["sources"]["sha256"].items():
        assert hashlib.sha256((raw / source).read_bytes()).hexdigest() == digest
    assert manifest["topology"]["name"] == "ntu25" and manifest["poses"]["shape"] == list(poses.shape)
    assert manifest["fps"] == 30.0 and (index["fps"] == 30.0).all()
    assert "origin" in manifest["normalization"] and manifest["normalization"]["max_bodies"] == 2


def test_parallel_and_serial_prepare_agree(mixed_raw, tmp_path):
    raw, _ = mixed_raw
    for workers in ("1", "2"):
        assert main(["prepare", "--dataset", "ntu120", "--raw", str(raw), "--out", str(tmp_path / workers),
                     "--workers", workers]) == 0
    for name in ("poses.npy", "index.parquet", "rejected.csv", "denoise.csv"):  # byte for byte, build ids too:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name  # DVC sees no change
    manifests = [json.loads((tmp_path / workers / "manifest.json").read_text()) for workers in "12"]
    assert manifests[0]["build_id"] == manifests[1]["build_id"]
    assert manifests[0]["build_id"] == (tmp_path / "1/poses.npy").read_bytes()[-32:].decode()


def test_official_missing_skeleton_lists_and_dataset_membership(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    names = {
        "S001C002P005R002A008": "official missing-skeleton list",  # first entry of both official lists
        "S018C001P008R001A061": "NTU-60 is actions A001-A060",  # an NTU-120 sample
        "S001C001P001R001A061": "NTU-60 is actions A001-A060",
        "S001C001P001R001A001": None,
    }
    for seed, name in enumerate(names):
        _write_ntu(raw / f"{name}.skeleton", seed)
    out60, out120 = tmp_path / "ntu60", tmp_path / "ntu120"
    assert main(["prepare", "--dataset", "ntu60", "--raw", str(raw), "--out", str(out60), "--workers", "1"]) == 0
    rejected = {Path(r["source"]).stem: r["reason"] for r in _rejected(out60)}
    assert {name for name, reason in names.items() if reason} == set(rejected)
    for name, reason in rejected.items():
        assert names[name] in reason
    assert pd.read_parquet(out60 / "index.parquet")["sample_id"].tolist() == ["S001C001P001R001A001"]
    assert main(["prepare", "--dataset", "ntu120", "--raw", str(raw), "--out", str(out120), "--workers", "1"]) == 0
    assert [r["reason"] for r in _rejected(out120)] == ["official missing-skeleton list"]
    kept = pd.read_parquet(out120 / "index.parquet")
    assert sorted(kept["sample_id"]) == ["S001C001P001R001A001", "S001C001P001R001A061", "S018C001P008R001A061"]
    assert kept.set_index("sample_id").loc["S018C001P008R001A061", "label_name"] == "put on headphone"


def test_the_official_missing_skeleton_lists_ship_with_the_package():
    ntu60 = missing_samples("NTU_RGBD_samples_with_missing_skeletons.txt")
    ntu120 = missing_samples("NTU_RGBD120_samples_with_missing_skeletons.txt")
    assert (len(ntu60), len(ntu120)) == (302, 535)
    assert ntu60 < ntu120 and all(int(name[1:4]) >= 18 for name in ntu120 - ntu60)


def test_duplicate_sample_ids_are_rejected_not_overwritten(tmp_path):
    raw = tmp_path / "raw"
    for folder in ("a", "b"):
        (raw / folder).mkdir(parents=True)
        _write_ntu(raw / folder / "S001C001P001R001A001.skeleton", 0)
    out = tmp_path / "out"
    assert main(["prepare", "--dataset", "ntu120", "--raw", str(raw), "--out", str(out), "--workers", "1"]) == 0
    (row,) = _rejected(out)
    assert row["source"] == "b/S001C001P001R001A001.skeleton" and "duplicate sample id" in row["reason"]
    assert pd.read_parquet(out / "index.parquet")["source"].tolist() == ["a/S001C001P001R001A001.skeleton"]


def test_prepare_without_matching_files_is_a_clear_error(tmp_path, capsys):
    assert main(["prepare", "--dataset", "ntu60", "--raw", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err.startswith(f"skeletonllm prepare: error: no ntu60 files under {tmp_path}")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("out, message", [("file/o", "File exists"), ("file", "the store's place is taken by a file")])
def test_prepare_into_an_unwritable_place_is_a_clear_error(mixed_raw, tmp_path, capsys, out, message):
    raw, _ = mixed_raw
    (tmp_path / "file").write_text("")
    assert main(["prepare", "--dataset", "ntu120", "--raw", str(raw), "--out", str(tmp_path / out)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("skeletonllm prepare: error: ") and message in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file", "raw"]  # no build folder left behind


@pytest.fixture(scope="module")
def small_synth(tmp_path_factory):
    """The synthetic raw tree for 4 classes (one confusable pair, one interaction), 2 subjects, 2 cameras."""
    from skeletonllm.data.synth.dataset import generate_dataset

    out = tmp_path_factory.mktemp("synth")
    generate_dataset(out, seed=3, subjects=2, repetitions=1, cameras=2,
                     classes=["sit down", "stand up", "wave left hand", "shake hands"])
    return out


@pytest.mark.parametrize("dataset, topology, files", [
    ("synth", "ntu25", "ntu/*.skeleton"),
    ("synth_ucla", "ucla20", "ucla/*.json"),
    ("synth_kinetics", "openpose18", "kinetics/*.json"),
    ("synth_humanml3d", "smpl22", "humanml3d/new_joints/*.npy"),
])
def test_every_synthetic_format_prepares_with_consistent_labels(small_synth, tmp_path, dataset, topology, files):
    from skeletonllm.data.synth.actions import SYNTH_CLASSES

    out = tmp_path / dataset
    assert main(["prepare", "--dataset", dataset, "--raw", str(small_synth), "--out", str(out), "--workers", "2"]) == 0
    index = pd.read_parquet(out / "index.parquet")
    raw_files = sorted((small_synth / "synth").glob(files))
    assert len(index) == len(raw_files) > 0 and not _rejected(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["topology"]["name"] == topology and manifest["classes"] == SYNTH_CLASSES
    wanted = {"sit down", "stand up", "wave left hand", "shake hands"}
    if dataset in ("synth_ucla", "synth_humanml3d"):
        wanted -= {"shake hands"}  # these formats hold single-person classes only
    assert set(index["label_name"]) == wanted
    assert (index["label_name"] == [SYNTH_CLASSES[label] for label in index["label"]]).all()
    assert set(index["subject"]) == {1, 2}
    poses = np.load(out / "poses.npy", mmap_mode="r")
    dims = get_topology(topology).dims
    assert poses.shape == (index["length"].sum(), 2, get_topology(topology).num_joints, dims)
    first = poses[index["offset"].to_numpy()]  # [N, 2, J, C] first kept frame of every sample
    root = get_topology(topology).root
    if dims == 3:
        present = first.reshape(len(first), 2, -1).any(axis=-1)  # [N, 2] bodies in the first kept frame
        centre = (first[:, :, root] * present[..., None]).sum(axis=1) / present.sum(axis=1)[:, None]  # [N, C]
        assert (np.abs(centre) < 1e-5).all(axis=1).mean() > 0.9  # the rest lost their root joint in that frame
    else:
        assert "unit length" in manifest["normalization"]["scale"]
    for row in index.iloc[:: max(1, len(index) // 5)].itertuples():
        expected = normalize_sequence(denoise_bodies(read(small_synth / row.source))[0]).joints
        np.testing.assert_array_equal(poses[row.offset : row.offset + row.length], expected)
    if dataset == "synth":
        interaction = index[index["label_name"] == "shake hands"]
        assert (interaction["bodies"] == 2).all()
        assert set(index["camera"]) == {1, 2}
    fps = 20.0 if dataset == "synth_humanml3d" else 30.0  # HumanML3D's new_joints are 20 fps
    assert manifest["fps"] == fps and (index["fps"] == fps).all()
    if dataset == "synth_humanml3d":
        assert index["caption"].str.len().gt(0).all()
        assert all(len(captions) >= 1 for captions in index["captions"])
        texts = [source for source in manifest["sources"]["sha256"] if "/texts/" in source]
        assert len(texts) == len(index)  # captions files are checksummed with their joints


def test_nwucla_label_comes_from_the_file_not_the_name(tmp_path):
    raw = tmp_path / "all_sqe"
    raw.mkdir()
    ucla = get_topology("ucla20")
    rng = np.random.default_rng(4)
    for name, label in (("a08_s01_e00_v03", 7), ("a12_s02_e01_v01", 10)):
        joints = rng.normal(0, 0.3, size=(5, 1, ucla.num_joints, 3)).astype(np.float32) + np.float32(2)
        write(raw / f"{name}.json", SkeletonSequence(joints, None, ucla, 30.0, {"label": label, "file_name": name}),
              "ucla")
    out = tmp_path / "out"
    assert main(["prepare", "--dataset", "nwucla", "--raw", str(tmp_path), "--out", str(out), "--workers", "1"]) == 0
    index = pd.read_parquet(out / "index.parquet").set_index("sample_id")
    assert index.loc["a08_s01_e00_v03", ["label", "label_name", "subject", "camera", "replication"]].tolist() == [
        6, "donning", 1, 3, 0]
    assert index.loc["a12_s02_e01_v01", ["label", "label_name", "camera"]].tolist() == [9, "carry", 1]


def test_kinetics_classes_and_partition_come_from_the_files(tmp_path):
    openpose = get_topology("openpose18")
    rng = np.random.default_rng(5)
    clips = (("kinetics_train", "aaa", "jogging", 3), ("kinetics_val", "bbb", "abseiling", 0),
             ("kinetics_train", "ccc", "jogging", 3))
    for folder, name, label, index_ in clips:
        (tmp_path / "raw" / folder).mkdir(parents=True, exist_ok=True)
        joints = rng.uniform(0.2, 0.8, size=(4, 2, openpose.num_joints, 2)).astype(np.float32)
        scores = np.full(joints.shape[:3], 0.8, np.float32)
        meta = {"label": label, "label_index": index_}
        write(tmp_path / "raw" / folder / f"{name}.json", SkeletonSequence(joints, scores, openpose, 30.0, meta),
              "kinetics")
    (tmp_path / "raw" / "kinetics_train_label.json").write_text("{}")  # the label listing is not a sample
    out = tmp_path / "out"
    assert main(["prepare", "--dataset", "kinetics", "--raw", str(tmp_path / "raw"), "--out", str(out)]) == 0
    index = pd.read_parquet(out / "index.parquet").set_index("sample_id")
    assert index.loc[["aaa", "bbb"], "partition"].tolist() == ["train", "val"]
    assert index.loc[["aaa", "bbb"], "label_name"].tolist() == ["jogging", "abseiling"]
    assert json.loads((out / "manifest.json").read_text())["classes"] == ["abseiling", "", "", "jogging"]
    assert PreparedDataset(out).class_names() == ["abseiling", "", "", "jogging"]  # the manifest, not the rows
    assert main(["splits", "--dataset", "kinetics", "--data", str(out), "--out", str(tmp_path / "splits")]) == 0
    closed = json.loads((tmp_path / "splits" / "official" / "closed.json").read_text())
    assert closed["train"] == ["aaa", "ccc"] and closed["test_seen"] == ["bbb"]


def test_pkummd_segments_are_cut_from_the_long_sequence(tmp_path):
    raw = tmp_path / "raw"
    (raw / "PKU_Skeleton_Renew").mkdir(parents=True)
    (raw / "Train_Label_PKU_final").mkdir()
    rng = np.random.default_rng(6)
    values = np.zeros((60, 150))  # [T, 2 bodies x 25 joints x 3]; the second body absent
    values[:, :75] = rng.normal(0, 0.3, size=(60, 75)) + 2.0
    for name in ("0002-L", "0003-M"):
        np.savetxt(raw / "PKU_Skeleton_Renew" / f"{name}.txt", values, fmt="%.6f")
    (raw / "Train_Label_PKU_final" / "0002-L.txt").write_text("3,0,20,1\n12,25,50,2\n5,40,70,1\n")
    out = tmp_path / "out"
    assert main(["prepare", "--dataset", "pkummd", "--raw", str(raw), "--out", str(out), "--workers", "1"]) == 0
    index = pd.read_parquet(out / "index.parquet")
    columns = ["sample_id", "label", "label_name", "camera", "length", "frame_start", "frame_end"]
    assert index[columns].values.tolist() == [
        ["0002-L_001", 2, "brushing teeth", 1, 20, 0, 20],
        ["0002-L_002", 11, "giving something to other person", 1, 25, 25, 50],
    ]
    poses = np.load(out / "poses.npy")
    segment = values[25:50, :75].reshape(25, 25, 3)  # the second segment's first body [T, J, 3]
    rotation = np.asarray(index["rotation"].iloc[1], dtype=np.float64).reshape(3, 3)  # into the canonical frame
    np.testing.assert_allclose(np.linalg.det(rotation), 1.0, atol=1e-6)
    np.testing.assert_allclose(poses[20:45, 0], (segment - segment[0, 0]) @ rotation.T, atol=1e-5)
    rejected = _rejected(out)
    assert [(r["source"], r["line"]) for r in rejected] == [
        ("Train_Label_PKU_final/0002-L.txt", "3"), ("PKU_Skeleton_Renew/0003-M.txt", "")]
    assert "outside the 60 frames" in rejected[0]["reason"] and "no label file" in rejected[1]["reason"]
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert [counts[k] for k in ("files_seen", "files_kept", "files_rejected", "samples_kept")] == [2, 1, 1, 2]
