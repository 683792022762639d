"""Protocols and open-vocabulary class splits checked against the issue's lists; `skeletonllm splits` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skeletonllm.cli import main
from skeletonllm.data import protocols as P
from skeletonllm.data.classes import NTU60_UNSEEN_SPLITS, NTU120_CLASSES, NTU120_UNSEEN_SPLITS
from skeletonllm.data.datasets import SYNTH_UNSEEN, get_dataset
from skeletonllm.data.splits import class_splits
from skeletonllm.data.synth.actions import CONFUSABLE_PAIRS, SYNTH_CLASSES
from skeletonllm.formats import SkeletonSequence, get_topology, write

# Issue 2, section 5, verbatim (1-based NTU action ids).
ISSUE_NTU60_UNSEEN = {
    "s55u5": "11 12 20 27 57",
    "s48u12": "4 6 10 13 16 41 43 48 52 57 59 60",
    "s40u20": "1 13 14 15 16 17 18 23 24 27 30 31 32 36 37 43 44 49 57 58",
    "s30u30": "1 2 3 7 8 9 11 13 14 16 17 19 21 22 26 27 28 32 33 34 40 43 46 48 49 52 53 56 59 60",
}
# reference/splits.md, section 1 (1-based).
REFERENCE_NTU120_UNSEEN = {
    "s110u10": "5 14 38 44 50 66 89 96 100 107",
    "s96u24": "6 10 12 17 19 21 23 30 36 40 46 50 60 69 71 82 85 88 94 95 105 114 115 120",
}
ISSUE_NTU60_TRAIN_SUBJECTS = "1 2 4 5 8 9 13 14 15 16 17 18 19 25 27 28 31 34 35 38"
ISSUE_NTU120_EXTRA_TRAIN_SUBJECTS = (
    "45 46 47 49 50 52 53 54 55 56 57 58 59 70 74 78 80 81 82 83 84 85 86 89 91 92 93 94 95 97 98 100 103"
)


def _ids(text: str) -> list[int]:
    return [int(token) - 1 for token in text.split()]


@pytest.mark.parametrize("name", sorted(ISSUE_NTU60_UNSEEN))
def test_ntu60_unseen_classes_are_the_issues(name):
    assert list(NTU60_UNSEEN_SPLITS[name]) == _ids(ISSUE_NTU60_UNSEEN[name])
    splits = class_splits(get_dataset("ntu60"), list(NTU120_CLASSES[:60]))
    assert splits[name] == tuple(_ids(ISSUE_NTU60_UNSEEN[name]))


@pytest.mark.parametrize("name", sorted(REFERENCE_NTU120_UNSEEN))
def test_ntu120_unseen_classes_are_the_references(name):
    assert list(NTU120_UNSEEN_SPLITS[name]) == _ids(REFERENCE_NTU120_UNSEEN[name])


def test_ntu_class_splits_cover_the_named_sizes_and_names():
    ntu60 = class_splits(get_dataset("ntu60"), list(NTU120_CLASSES[:60]))
    assert sorted(ntu60) == ["closed", "s30u30", "s40u20", "s48u12", "s55u5"]
    ntu120 = class_splits(get_dataset("ntu120"), list(NTU120_CLASSES))
    assert sorted(ntu120) == ["closed", "s110u10", "s96u24"]
    assert [NTU120_CLASSES[i] for i in ntu60["s55u5"]] == [
        "reading", "writing", "put on a hat/cap", "jump up", "touch other person's pocket"]
    assert NTU120_CLASSES[119] == "finger-guessing game (playing rock-paper-scissors)"


def test_cross_subject_training_subjects_are_the_issues():
    subjects = np.arange(1, 107)
    train60, test60 = P.NTU60_XSUB.masks(subjects)
    assert subjects[train60].tolist() == sorted(int(s) for s in ISSUE_NTU60_TRAIN_SUBJECTS.split())
    assert not (train60 & test60).any() and (train60 | test60).all()
    train120, _ = P.NTU120_XSUB.masks(subjects)
    expected = ISSUE_NTU60_TRAIN_SUBJECTS + " " + ISSUE_NTU120_EXTRA_TRAIN_SUBJECTS
    assert subjects[train120].tolist() == sorted(int(s) for s in expected.split())


def test_view_and_setup_protocols():
    cameras = np.array([1, 2, 3])
    assert [m.tolist() for m in P.NTU_XVIEW.masks(cameras)] == [[False, True, True], [True, False, False]]
    assert [m.tolist() for m in P.NWUCLA_XVIEW.masks(cameras)] == [[True, True, False], [False, False, True]]
    setups = np.arange(1, 33)
    train, test = P.NTU120_XSET.masks(setups)
    assert setups[train].tolist() == list(range(2, 33, 2)) and setups[test].tolist() == list(range(1, 33, 2))
    assert P.NTU120_XSET.masks(np.array([-1]))[0].tolist() == [False]  # unknown values are on neither side


def test_humanml3d_tests_on_its_test_list_and_keeps_val_out():
    partitions = np.array(["train", "val", "test", ""])
    assert get_dataset("humanml3d").protocols == (P.HUMANML3D_OFFICIAL,)
    train, test = P.HUMANML3D_OFFICIAL.masks(partitions)
    assert train.tolist() == [True, False, False, False] and test.tolist() == [False, False, True, False]
    assert P.OFFICIAL.masks(partitions)[1].tolist() == [False, True, True, False]  # Kinetics tests on its val


def test_synth_default_unseen_is_about_a_fifth_and_confusable():
    splits = class_splits(get_dataset("synth"), SYNTH_CLASSES)
    (name,) = [n for n in splits if n != "closed"]
    unseen = [SYNTH_CLASSES[i] for i in splits[name]]
    assert sorted(unseen) == sorted(SYNTH_UNSEEN)
    assert name == f"s{len(SYNTH_CLASSES) - len(unseen)}u{len(unseen)}"
    assert 0.15 <= len(unseen) / len(SYNTH_CLASSES) <= 0.25
    twins = {a: b for pair in CONFUSABLE_PAIRS for a, b in (pair, pair[::-1])}
    assert any(twins.get(cls) in SYNTH_CLASSES and twins[cls] not in unseen for cls in unseen)


def test_unknown_unseen_class_is_a_clear_error():
    with pytest.raises(ValueError, match="not a class of this dataset"):
        class_splits(get_dataset("synth"), SYNTH_CLASSES, unseen="fly away")


def _tiny_ntu(path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    joints = rng.normal(0, 0.3, size=(3, 1, 25, 3)).astype(np.float32) + np.float32(2.0)
    write(path, SkeletonSequence(joints, None, get_topology("ntu25"), 30.0, {}), "ntu")


@pytest.fixture(scope="module")
def prepared_ntu60(tmp_path_factory):
    """A small NTU-60-named raw set: 12 actions x 4 subjects x 3 cameras, prepared."""
    raw = tmp_path_factory.mktemp("raw")
    actions = [1, 4, 11, 12, 20, 27, 30, 43, 52, 57, 59, 60]
    for k, (action, subject, camera) in enumerate(
        (a, s, c) for a in actions for s in (1, 3, 4, 7) for c in (1, 2, 3)
    ):
        _tiny_ntu(raw / f"S001C{camera:03d}P{subject:03d}R001A{action:03d}.skeleton", k)
    data = tmp_path_factory.mktemp("prepared")
    assert main(["prepare", "--dataset", "ntu60", "--raw", str(raw), "--out", str(data), "--workers", "1"]) == 0
    return data


def test_splits_command_writes_every_protocol_and_class_split(prepared_ntu60, tmp_path):
    out = tmp_path / "splits"
    assert main(["splits", "--dataset", "ntu60", "--data", str(prepared_ntu60), "--out", str(out)]) == 0
    listing = json.loads((out / "index.json").read_text())
    assert sorted(e["path"] for e in listing["splits"]) == sorted(
        f"{p}/{s}.json" for p in ("xsub", "xview") for s in ("closed", "s55u5", "s48u12", "s40u20", "s30u30"))
    split = json.loads((out / "xsub" / "s55u5.json").read_text())
    assert split["unseen"]["ids"] == _ids(ISSUE_NTU60_UNSEEN["s55u5"])
    assert split["unseen"]["names"][0] == "reading" and len(split["seen"]["ids"]) == 55
    # Sample ids encode subject and action: check every list against the rules.
    def decode(sample_id):
        return int(sample_id[9:12]), int(sample_id[17:20]) - 1  # subject, label
    train_subjects = set(int(s) for s in ISSUE_NTU60_TRAIN_SUBJECTS.split())
    unseen = set(split["unseen"]["ids"])
    assert split["train"] and split["test_unseen"] and split["test_seen"]
    assert all(decode(i)[0] in train_subjects and decode(i)[1] not in unseen for i in split["train"])
    assert all(decode(i)[0] not in train_subjects and decode(i)[1] in unseen for i in split["test_unseen"])
    assert all(decode(i)[0] not in train_subjects and decode(i)[1] not in unseen for i in split["test_seen"])
    assert split["counts"] == {k: len(split[k]) for k in ("train", "test_unseen", "test_seen")}
    # unseen actions 11, 12, 20, 27, 57 x test subjects 3, 7 (1 and 4 train) x 3 cameras
    assert split["counts"]["test_unseen"] == 5 * 2 * 3
    closed = json.loads((out / "xview" / "closed.json").read_text())
    assert closed["unseen"]["ids"] == [] and closed["test_unseen"] == []
    assert closed["counts"] == {"train": 12 * 4 * 2, "test_unseen": 0, "test_seen": 12 * 4}
    assert all(i[4:8] in ("C002", "C003") for i in closed["train"])
    assert all(i[4:8] == "C001" for i in closed["test_seen"])


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "ntu120"], "holds the prepared dataset 'ntu60', not 'ntu120'"),
    (["--dataset", "ntu6O"], "unknown dataset 'ntu6O'; known: ["),
    (["--dataset", "ntu60", "--unseen", "fly away"], "unseen class 'fly away' is not a class of this dataset"),
    (["--dataset", "ntu60", "--unseen", "3,3"], "unseen class ids [3, 3] must be distinct"),
    (["--dataset", "ntu60", "--data", "{out}"], "is not a prepared dataset (missing poses.npy"),
    (["--dataset", "ntu60", "--out", "{file}"], "Not a directory"),
])
def test_splits_errors_are_one_line(prepared_ntu60, tmp_path, capsys, argv, message):
    (tmp_path / "file").write_text("")
    defaults = {"--data": str(prepared_ntu60), "--out": str(tmp_path / "splits")}
    given = dict(zip(argv[::2], argv[1::2]))
    options = {**defaults, **given}
    options = {key: value.format(out=tmp_path, file=tmp_path / "file") for key, value in options.items()}
    assert main(["splits", *(part for item in options.items() for part in item)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("skeletonllm splits: error: ") and message in error and "Traceback" not in error


def test_synthetic_archive_downloads_prepares_and_splits(tmp_path):
    """The embedded default's data path: synth archive -> download -> prepare -> splits (default unseen set)."""
    from skeletonllm.data.synth.dataset import generate_dataset, write_archive

    generate_dataset(tmp_path / "gen", seed=1, subjects=2, repetitions=1, cameras=1, formats=("ntu",))
    archive, _ = write_archive(tmp_path / "gen")
    raw, data, splits = tmp_path / "raw", tmp_path / "data", tmp_path / "splits"
    assert main(["download", "--source", str(archive), "--sha256-file", f"{archive}.sha256", "--out", str(raw)]) == 0
    assert main(["prepare", "--dataset", "synth", "--raw", str(raw), "--out", str(data), "--workers", "2"]) == 0
    assert main(["splits", "--dataset", "synth", "--data", str(data), "--out", str(splits)]) == 0
    name = f"s{len(SYNTH_CLASSES) - len(SYNTH_UNSEEN)}u{len(SYNTH_UNSEEN)}"
    split = json.loads((splits / "xsub" / f"{name}.json").read_text())
    assert sorted(split["unseen"]["names"]) == sorted(SYNTH_UNSEEN)
    # subject 1 (odd) trains, subject 2 tests; every sample of the unseen classes tests, none trains
    assert all(i[8:12] == "P001" for i in split["train"]) and all(i[8:12] == "P002" for i in split["test_unseen"])
    assert split["counts"] == {"train": len(SYNTH_CLASSES) - len(SYNTH_UNSEEN), "test_unseen": len(SYNTH_UNSEEN),
                               "test_seen": len(SYNTH_CLASSES) - len(SYNTH_UNSEEN)}
    listing = json.loads((splits / "index.json").read_text())
    assert {(e["protocol"], e["class_split"]) for e in listing["splits"]} == {
        (p, s) for p in ("xsub", "xview") for s in ("closed", name)}
