"""The synthetic dataset: kinematic bodies, class list, real-format files read back by the real readers, a
byte-deterministic archive that `download` consumes, classes separable by motion, confusable pairs confusable."""

from __future__ import annotations

import csv
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from skeletonllm import formats
from skeletonllm.data.download import download, read_sha256_file, sha256_file
from skeletonllm.data.normalize import normalize_sequence
from skeletonllm.data.synth.actions import (
    CONFUSABLE_PAIRS, INTERACTION_CLASSES, SINGLE_PERSON_CLASSES, SYNTH_CLASSES, action_class,
    is_interaction,
)
from skeletonllm.data.synth.body import J, NTU, forward_kinematics, make_body
from skeletonllm.data.synth.captions import PHRASES, WHO
from skeletonllm.data.synth.scene import Sample, perform
from skeletonllm.data.synth.dataset import generate_dataset, write_archive

SUBJECTS, CAMERAS = 3, 2  # the shared test tree: every class x 3 subjects x 1 repetition x 2 cameras
NTU_NAME = re.compile(r"S001C00([12])P00([123])R001A0(\d\d)\.skeleton")
UCLA_NAME = re.compile(r"a(\d\d)_s0([123])_e01_v0([12])\.json")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """The raw synthetic tree, small: all classes and formats, 3 subjects, 1 repetition, 2 cameras."""
    return generate_dataset(tmp_path_factory.mktemp("synth"), seed=0, subjects=SUBJECTS, repetitions=1,
                            cameras=CAMERAS)


def test_class_list_has_the_required_classes_and_interactions():
    required = {"wave right hand", "wave left hand", "kick with left leg", "kick with right leg", "sit down",
                "stand up", "put on hat", "take off hat"}
    assert len(SYNTH_CLASSES) >= 20 and len(set(SYNTH_CLASSES)) == len(SYNTH_CLASSES)
    assert required <= set(SYNTH_CLASSES)
    assert len(INTERACTION_CLASSES) >= 3
    assert set(INTERACTION_CLASSES) | set(SINGLE_PERSON_CLASSES) == set(SYNTH_CLASSES)
    assert all(is_interaction(name) for name in INTERACTION_CLASSES)
    assert not is_interaction("sit down") and is_interaction(SYNTH_CLASSES.index("shake hands") + 1)
    assert all(a in SYNTH_CLASSES and b in SYNTH_CLASSES for a, b in CONFUSABLE_PAIRS)
    assert set(PHRASES) == set(SINGLE_PERSON_CLASSES)  # every single-person class has captions
    with pytest.raises(KeyError, match="unknown synthetic class"):
        action_class("fly away")
    with pytest.raises(KeyError, match="ids run from 1"):
        action_class(0)


def test_subjects_have_their_own_proportions_fixed_by_seed_and_id():
    bodies = [make_body(0, subject) for subject in range(1, 11)]
    heights = [b.height for b in bodies]
    assert len(set(np.round(heights, 3))) == 10 and max(heights) - min(heights) > 0.15
    legs = [b.thigh / b.height for b in bodies]  # proportions differ, not only the size
    assert max(legs) / min(legs) > 1.05
    assert make_body(0, 7) == bodies[6] and make_body(1, 7) != bodies[6]
    with pytest.raises(ValueError, match="1-based"):
        make_body(0, 0)


@pytest.mark.parametrize("name", ["sit down", "jump up", "walk towards each other", "throw"])
def test_motion_keeps_bone_lengths_and_stands_on_the_floor(name):
    sample = Sample(SYNTH_CLASSES.index(name) + 1, 2, 1)
    people = perform(0, sample, 10, 30.0)
    assert len(people) == action_class(name).actors
    for kinematics in people:
        joints = kinematics.joints  # [T, 25, 3]
        assert 40 <= joints.shape[0] <= 100
        bones = np.linalg.norm(joints[:, list(range(25))] - joints[:, [max(p, 0) for p in NTU.parents]], axis=-1)
        assert np.ptp(bones, axis=0).max() < 1e-9  # rigid segments in every frame
        feet = joints[:, [J["left foot"], J["right foot"]], 1].min(axis=1)  # [T]
        assert feet.min() == pytest.approx(0.025, abs=1e-6)  # the toes touch the floor
        moving = np.linalg.norm(np.diff(joints, axis=0), axis=-1).sum(axis=0).max()
        assert moving > 0.5  # some joint travels more than half a metre
    if name == "jump up":
        assert people[0].joints[:, J["left foot"], 1].max() > 0.15  # both feet leave the floor
    if name == "walk towards each other":
        gap = np.linalg.norm(people[0].joints[:, 0] - people[1].joints[:, 0], axis=-1)
        assert gap[0] - gap[-1] > 1.2


def test_forward_kinematics_rejects_unknown_angles():
    with pytest.raises(ValueError, match="unknown pose keys"):
        forward_kinematics(make_body(0, 1), {"tail_wag": np.zeros(3)})


def test_files_are_named_and_counted_like_the_real_datasets(tree):
    singles = len(SINGLE_PERSON_CLASSES)
    ntu = sorted(p.name for p in (tree / "ntu").iterdir())
    assert len(ntu) == len(SYNTH_CLASSES) * SUBJECTS * CAMERAS and all(NTU_NAME.fullmatch(n) for n in ntu)
    assert {int(NTU_NAME.fullmatch(n).group(3)) for n in ntu} == set(range(1, len(SYNTH_CLASSES) + 1))
    ucla = sorted(p.name for p in (tree / "ucla").iterdir())
    assert len(ucla) == singles * SUBJECTS * CAMERAS and all(UCLA_NAME.fullmatch(n) for n in ucla)
    assert {action_class(int(UCLA_NAME.fullmatch(n).group(1))).actors for n in ucla} == {1}
    kinetics = sorted(p.name for p in (tree / "kinetics").iterdir())
    assert kinetics == [n.replace(".skeleton", ".json") for n in ntu]
    with open(tree / "humanml3d" / "index.csv", newline="") as handle:
        index = list(csv.DictReader(handle))
    assert len(index) == singles * SUBJECTS and list(index[0]) == ["id", "action", "subject", "rep"]
    assert {action_class(int(row["action"])).actors for row in index} == {1}
    ids = sorted(p.stem for p in (tree / "humanml3d" / "new_joints").glob("*.npy"))
    assert ids == sorted(row["id"] for row in index)
    assert sorted(p.stem for p in (tree / "humanml3d" / "texts").glob("*.txt")) == ids
    info = json.loads((tree / "classes.json").read_text())
    assert [c["name"] for c in info["classes"]] == SYNTH_CLASSES
    assert [c["id"] for c in info["classes"]] == list(range(1, len(SYNTH_CLASSES) + 1))
    assert {c["name"] for c in info["classes"] if c["interaction"]} == set(INTERACTION_CLASSES)


def test_real_readers_read_every_ntu_file_back(tree):
    inferred = []
    for path in sorted((tree / "ntu").iterdir()):
        seq = formats.read(path)
        action = int(NTU_NAME.fullmatch(path.name).group(3))
        assert seq.meta["format"] == "ntu" and seq.topology.name == "ntu25" and seq.fps == 30.0
        assert all(re.fullmatch(r"\d{17}", body_id) for body_id in seq.meta["body_ids"])
        bodies = seq.bodies_per_frame()
        assert np.median(bodies) == action_class(action).actors  # a noisy extra body is short-lived
        present = seq.joints[..., 2] > 0  # [T, M, J] depth in front of the camera
        assert 1.5 < np.median(seq.joints[..., 2][present]) < 5.0
        inferred.append(np.mean(seq.scores[present] == 0.5))
        extra = seq.meta["joint_extra"]  # depth x/y, colour x/y, orientation quaternion
        x, y, z = (seq.joints[..., c][present] for c in range(3))  # pinhole projection into the depth image
        assert np.allclose(extra[..., 0][present], 256 + 365.5 * x / z, atol=0.01)
        assert np.allclose(extra[..., 1][present], 212 - 365.5 * y / z, atol=0.01)
        assert np.mean((extra[..., 2][present] > 0) & (extra[..., 2][present] < 1920)) > 0.99  # colour image
        quaternion_norm = np.linalg.norm(extra[..., 4:], axis=-1)[present]
        assert np.allclose(quaternion_norm[quaternion_norm > 0], 1.0, atol=1e-5) and (quaternion_norm == 0).any()
    assert 0.03 <= np.mean(inferred) <= 0.18  # like NTU's 3-18% inferred joints


def test_real_readers_read_every_other_format_back(tree):
    for path in sorted((tree / "ucla").iterdir()):
        seq = formats.read(path)
        assert seq.meta["format"] == "ucla" and seq.topology.name == "ucla20" and seq.num_bodies == 1
        assert seq.meta["label"] == int(path.name[1:3]) and seq.meta["file_name"] == path.stem
    empty_runs = 0
    for path in sorted((tree / "kinetics").iterdir()):
        seq = formats.read(path)
        action = int(path.stem[-3:])
        assert seq.meta["format"] == "kinetics" and seq.topology.name == "openpose18"
        assert seq.meta["label"] == SYNTH_CLASSES[action - 1] and seq.meta["label_index"] == action - 1
        assert seq.num_bodies == action_class(action).actors
        assert (seq.joints >= 0).all() and (seq.joints <= 1).all()
        assert (seq.scores[(seq.joints == 0).all(axis=-1)] == 0).all()  # missing keypoints are (0, 0), score 0
        empty_runs += int((seq.bodies_per_frame() == 0).any())
    assert empty_runs > 0  # some clips have frames where nobody was detected
    for path in sorted((tree / "humanml3d" / "new_joints").glob("*.npy")):
        seq = formats.read(path)
        assert seq.meta["format"] == "humanml3d" and seq.topology.name == "smpl22" and seq.fps == 20.0
        joints = seq.joints[:, 0]  # [T, 22, 3]
        assert joints[..., 1].min() == pytest.approx(0.0, abs=1e-6)  # floor at 0
        assert np.allclose(joints[0, 0, [0, 2]], 0.0, atol=1e-6)  # the root starts above the origin
        assert joints[:, 0, 1].max() > 0.7  # the pelvis is up at standing height (Y up)
        assert len(seq.meta["captions"]) == 3


def test_captions_are_templated_with_word_pos_tokens(tree):
    with open(tree / "humanml3d" / "index.csv", newline="") as handle:
        action_of = {row["id"]: int(row["action"]) for row in csv.DictReader(handle)}
    for path in sorted((tree / "humanml3d" / "texts").glob("*.txt")):
        lines = path.read_text().splitlines()
        assert len(lines) == 3 and len(set(lines)) == 3
        name = SYNTH_CLASSES[action_of[path.stem] - 1]
        for line in lines:
            caption, tokens, start, end = line.split("#")
            who = next(w for w in WHO if caption.startswith(w + " "))
            assert caption[len(who) + 1 : -1] in PHRASES[name] and caption.endswith(".")
            assert (start, end) == ("0.0", "0.0")
            pairs = [token.split("/") for token in tokens.split(" ")]
            assert len(pairs) == len(caption[:-1].split()) and all(len(p) == 2 and p[1].isupper() for p in pairs)
            assert "VERB" in {pos for _, pos in pairs}


def test_same_seed_gives_a_byte_identical_archive_that_download_unpacks(tmp_path):
    small = dict(subjects=2, repetitions=1, cameras=1, classes=["wave right hand", "stand up", "shake hands"])
    first = generate_dataset(tmp_path / "a", seed=3, **small).parent
    second = generate_dataset(tmp_path / "b", seed=3, workers=2, **small).parent  # workers change nothing
    other = generate_dataset(tmp_path / "c", seed=4, **small).parent
    (archive_a, sha_a), (archive_b, sha_b), (_, sha_c) = map(write_archive, (first, second, other))
    assert archive_a.read_bytes() == archive_b.read_bytes() and sha_a == sha_b
    assert sha_c != sha_a  # the seed matters
    assert sha256_file(archive_a) == sha_a
    assert read_sha256_file(first / "synth.tar.gz.sha256", "synth.tar.gz") == sha_a
    with tarfile.open(archive_a) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" for m in members)
    record = download(str(archive_a), sha_a, tmp_path / "raw")
    written = sorted(p.relative_to(first).as_posix() for p in (first / "synth").rglob("*") if p.is_file())
    assert record["files"] == written
    for name in written:
        assert (tmp_path / "raw" / name).read_bytes() == (first / name).read_bytes()


def test_existing_foreign_directory_is_not_overwritten(tmp_path):
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a synthetic dataset tree"):
        generate_dataset(tmp_path, subjects=1, repetitions=1, cameras=1, classes=["bow"])
    assert (tmp_path / "synth" / "thesis.tex").read_text() == "precious"
    with pytest.raises(ValueError, match="subjects must be at least 1"):
        generate_dataset(tmp_path / "x", subjects=0)
    with pytest.raises(ValueError, match="unknown or no formats"):
        generate_dataset(tmp_path / "x", formats=("bvh",))


# --- separability: a nearest class-mean classifier on per-joint motion statistics, cross-subject -----------------

_MAIN = [J[n] for n in ("spine base", "spine mid", "spine shoulder", "head", "left shoulder", "left elbow",
                        "left wrist", "right shoulder", "right elbow", "right wrist", "left hip", "left knee",
                        "left ankle", "right hip", "right knee", "right ankle")]


def _motion_features(seq) -> tuple[np.ndarray, np.ndarray]:
    """(order-blind, directional) features of a prepared sequence [T, 2, 25, 3], seen from the first body.

    order-blind: per joint the spread of positions, the mean speed and the mean posture (relative to the root);
    directional: per joint the displacement from the first to the last fifth, and how the two bodies' distance and
    relative place change. A second body present in under half the frames (a misdetection) counts as absent.
    """
    x = seq.joints.astype(np.float64)  # [T, 2, 25, 3]
    hips = x[0, 0, J["left hip"]] - x[0, 0, J["right hip"]]
    angle = np.arctan2(hips[2], hips[0])  # turn about the vertical so the first body's hips lie along x
    c, s = np.cos(angle), np.sin(angle)
    x = x @ np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]).T
    x /= np.median(np.linalg.norm(x[:, 0, J["spine shoulder"]] - x[:, 0, J["spine base"]], axis=-1))  # torso units
    if x[:, 1].any(axis=(1, 2)).mean() < 0.5:
        x[:, 1] = 0.0
    fifth = max(len(x) // 5, 1)
    blind, directional = [], []
    for body in (x[:, 0, _MAIN], x[:, 1, _MAIN]):  # [T, 16, 3]
        speed = np.linalg.norm(np.diff(body, axis=0), axis=-1).mean(axis=0) * 10
        blind += [body.std(axis=0).ravel(), speed, (body - body[:, :1]).mean(axis=0).ravel()]
        directional.append((body[-fifth:].mean(axis=0) - body[:fifth].mean(axis=0)).ravel())
    relative = x[:, 1, 0] - x[:, 0, 0] if x[:, 1].any() else np.zeros((len(x), 3))  # [T, 3]
    gap = np.linalg.norm(relative, axis=-1)
    blind.append([gap.mean()])
    directional += [[gap[-fifth:].mean() - gap[:fifth].mean()], relative.mean(axis=0)]
    return np.concatenate(blind), np.concatenate(directional)


@pytest.fixture(scope="module")
def motion_table(tree):
    """Features of every NTU file as read by the real reader and normalized by prepare's real normalization."""
    blind, directional, labels, subjects = [], [], [], []
    for path in sorted((tree / "ntu").iterdir()):
        match = NTU_NAME.fullmatch(path.name)
        b, d = _motion_features(normalize_sequence(formats.read(path)))
        blind.append(b)
        directional.append(d)
        labels.append(int(match.group(3)) - 1)
        subjects.append(int(match.group(2)))
    return np.array(blind), np.array(directional), np.array(labels), np.array(subjects)


def _class_means(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.stack([features[labels == c].mean(axis=0) for c in range(len(SYNTH_CLASSES))])  # [K, F]


def test_classes_are_separable_by_motion_across_subjects(motion_table):
    blind, directional, labels, subjects = motion_table
    features = np.concatenate([blind, directional], axis=1)
    correct, pair_correct = [], []
    for held_out in range(1, SUBJECTS + 1):  # leave one subject out
        train = subjects != held_out
        means = _class_means(features[train], labels[train])  # [K, F]
        distance = ((features[~train, None] - means[None]) ** 2).sum(axis=-1)  # [N, K]
        correct += list(distance.argmin(axis=1) == labels[~train])
        for a, b in CONFUSABLE_PAIRS:  # between the two twins, the direction of the motion decides
            i, j = SYNTH_CLASSES.index(a), SYNTH_CLASSES.index(b)
            twins = np.isin(labels[~train], [i, j])
            pair_correct += list(np.where(distance[twins, i] < distance[twins, j], i, j) == labels[~train][twins])
    chance = 1 / len(SYNTH_CLASSES)
    assert np.mean(correct) >= 0.6 > 10 * chance, f"cross-subject accuracy {np.mean(correct):.2f}"
    assert np.mean(pair_correct) >= 0.8, f"twins told apart in {np.mean(pair_correct):.2f} of cases"


def test_confusable_pairs_are_nearer_each_other_than_any_other_class(motion_table):
    blind, _, labels, _ = motion_table
    means = _class_means(blind, labels)
    distance = np.linalg.norm(means[:, None] - means[None], axis=-1)  # [K, K]
    for a, b in CONFUSABLE_PAIRS:
        i, j = SYNTH_CLASSES.index(a), SYNTH_CLASSES.index(b)
        others = [k for k in range(len(SYNTH_CLASSES)) if k not in (i, j)]
        assert distance[i, j] < distance[i, others].min() and distance[i, j] < distance[j, others].min(), (a, b)
    unpaired = [k for k in range(len(SYNTH_CLASSES)) if SYNTH_CLASSES[k] not in {c for p in CONFUSABLE_PAIRS for c in p}]
    nearest = np.sort(distance + np.eye(len(SYNTH_CLASSES)) * 1e9, axis=1)[:, 0]
    twin_gap = max(distance[SYNTH_CLASSES.index(a), SYNTH_CLASSES.index(b)] for a, b in CONFUSABLE_PAIRS)
    assert twin_gap < np.median(nearest[unpaired])  # twins are closer than typical neighbouring classes


def test_cli_writes_archive_and_checksum(tmp_path, capsys):
    from skeletonllm.cli import main

    assert main(["synth", "--out", str(tmp_path), "--subjects", "1", "--repetitions", "1", "--cameras", "1",
                 "--classes", "bow,20", "--formats", "ntu,kinetics"]) == 0
    assert "synth.tar.gz" in capsys.readouterr().out
    assert not (tmp_path / "synth").exists()  # the unpacked tree is removed unless --keep-raw
    with tarfile.open(tmp_path / "synth.tar.gz") as tar:
        names = sorted(m.name for m in tar.getmembers() if m.isfile())
    bow = SYNTH_CLASSES.index("bow") + 1
    assert names == sorted(["synth/classes.json", f"synth/ntu/S001C001P001R001A{bow:03d}.skeleton",
                            "synth/ntu/S001C001P001R001A020.skeleton", f"synth/kinetics/S001C001P001R001A{bow:03d}.json",
                            "synth/kinetics/S001C001P001R001A020.json"])
    assert read_sha256_file(tmp_path / "synth.tar.gz.sha256", "synth.tar.gz") == sha256_file(tmp_path / "synth.tar.gz")
    assert main(["synth", "--out", str(tmp_path / "bad"), "--subjects", "0"]) == 1
    assert "subjects must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "--help"])
    help_text = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert all(option in help_text for option in ("--seed", "--subjects", "--repetitions", "--cameras", "--keep-raw"))
    assert all(name in help_text for name in SYNTH_CLASSES)  # the class list is part of the help
