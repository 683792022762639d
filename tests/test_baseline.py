"""The feature baseline (skeletonllm.baseline) on real prepared data: the shared-joint mapping of every format, the
training, the four evaluation tasks with their metrics.json contract, and the command's errors."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skeletonllm.baseline import cli
from skeletonllm.baseline.joints import SHARED_NAMES, MissingJointsError, shared_joint_map, to_shared
from skeletonllm.data.prepared import PreparedDataset
from skeletonllm.errors import CommandError
from skeletonllm.formats.topology import Topology, get_topology

FORMATS = {"synth": "ntu25", "synth_ucla": "ucla20", "synth_kinetics": "openpose18", "synth_humanml3d": "smpl22"}
CONTRACT = {"method": "feature baseline", "dataset": "synth", "split": "xsub/s19u5", "variant": "baseline",
            "seed": 0, "stage": None}


def baseline(*argv: str) -> dict:
    """Run `skeletonllm baseline ARGV` as the CLI will; returns what it printed, parsed."""
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args([str(arg) for arg in argv]))


@pytest.fixture(scope="session")
def synth_formats(train_inputs) -> Path:
    """The small synthetic archive of train_inputs prepared in all four synthetic formats, with their splits:
    <root>/data/<dataset>/ and <root>/splits/<dataset>/."""
    return train_inputs / "results"


@pytest.fixture(scope="session")
def trained(synth_formats, tmp_path_factory) -> Path:
    """The baseline trained with its defaults on synth xsub/s19u5."""
    out = tmp_path_factory.mktemp("baseline_model")
    baseline("train", "--data", synth_formats / "data/synth", "--split", synth_formats / "splits/synth/xsub/s19u5.json",
             "--out", out)
    return out


def evaluate(root: Path, model: Path, task: str, out: Path, *extra: str) -> dict:
    """Evaluate the model on synth xsub/s19u5; returns metrics.json as written."""
    baseline("evaluate", "--model", model, "--data", root / "data/synth", "--split",
             root / "splits/synth/xsub/s19u5.json", "--task", task, "--out", out, *extra)
    return json.loads((out / "metrics.json").read_text())


def read_predictions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- the shared joints ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("topology", sorted(set(FORMATS.values()) | {"coco17"}))
def test_every_format_maps_onto_the_shared_joints_by_side_and_kind(topology):
    topo = get_topology(topology)
    indices = shared_joint_map(topo)
    assert len(indices) == len(SHARED_NAMES) == len(set(indices))
    names = dict(zip(SHARED_NAMES, (topo.joint_names[i] for i in indices)))
    for shared, name in names.items():
        if shared == "head":
            assert name in ("head", "nose")
        else:  # these formats name their limb joints like the shared set: "left wrist" is "left wrist"
            assert name == shared
    assert topo.joint_names.index("left wrist") == indices[SHARED_NAMES.index("left wrist")]
    assert topo.joint_names.index("right ankle") == indices[SHARED_NAMES.index("right ankle")]


def test_a_rig_naming_no_wrist_or_ankle_maps_its_hand_and_foot_and_the_deepest_shoulder():
    # A CMU-style BVH hierarchy: the clavicle is "LeftShoulder", the arm starts at "LeftArm"; "LeftHand" and
    # "LeftFoot" are the wrist and ankle joints.
    names = ["Hips", "LHipJoint", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase",
             "RHipJoint", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase",
             "Spine", "Neck", "Head", "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftHandIndex1",
             "RightShoulder", "RightArm", "RightForeArm", "RightHand", "RightHandIndex1"]
    parents = [-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 11, 14, 15, 16, 17, 11, 19, 20, 21, 22]
    rig = Topology("cmu_rig_test", tuple(names), tuple(parents), 3, 0, (0, 11, 12, 13), (15, 20), (2, 7), ())
    mapped = {shared: names[i] for shared, i in zip(SHARED_NAMES, shared_joint_map(rig))}
    assert mapped == {"head": "Head", "left shoulder": "LeftArm", "right shoulder": "RightArm",
                      "left elbow": "LeftForeArm", "right elbow": "RightForeArm", "left wrist": "LeftHand",
                      "right wrist": "RightHand", "left hip": "LeftUpLeg", "right hip": "RightUpLeg",
                      "left knee": "LeftLeg", "right knee": "RightLeg", "left ankle": "LeftFoot",
                      "right ankle": "RightFoot"}


def test_a_topology_without_hips_is_refused_naming_the_missing_joints():
    names = ("pelvis", "spine", "neck", "head", "left shoulder", "left elbow", "left wrist", "right shoulder",
             "right elbow", "right wrist", "left knee", "left ankle", "right knee", "right ankle")
    parents = (-1, 0, 1, 2, 2, 4, 5, 2, 7, 8, 0, 10, 0, 12)
    hipless = Topology("hipless_test", names, parents, 3, 0, (0, 1, 2, 3), (4, 7), (0, 0), ())
    with pytest.raises(MissingJointsError) as raised:
        shared_joint_map(hipless)
    message = str(raised.value)
    assert isinstance(raised.value, CommandError)
    assert "hipless_test" in message and "left hip, right hip" in message
    assert "left knee," not in message.split("(")[0]  # only the missing joints are named as missing
    with pytest.raises(MissingJointsError):
        to_shared(np.zeros((4, 2, len(names), 3), dtype=np.float32), hipless)


def test_every_format_lands_in_one_body_frame(synth_formats):
    """Upright (head above the hips), left-to-right along +x, unit torso, 2D formats with zero depth, and absent
    bodies all-zero: the conventions that let one model read every format."""
    head, left, right = (SHARED_NAMES.index(name) for name in ("head", "left shoulder", "right shoulder"))
    hips = [SHARED_NAMES.index("left hip"), SHARED_NAMES.index("right hip")]
    for dataset, topology in FORMATS.items():
        data = PreparedDataset(synth_formats / "data" / dataset)
        assert data.topology.name == topology
        ids = [i for i, bodies in zip(data.index["sample_id"], data.index["bodies"]) if bodies == 1][:20]
        clips = [to_shared(data.joints(sample_id), data.topology) for sample_id in ids]  # [T, 2, S, 3] each
        for clip in clips:
            body = clip[:, 0]  # [T, S, 3]
            assert clip.shape[1:] == (2, len(SHARED_NAMES), 3) and clip.dtype == np.float32
            assert not clip[:, 1].any()  # the absent second body stays zero
            assert (body[:, head, 1] - body[:, hips, 1].mean(axis=1)).mean() > 0.8, dataset
            torso = np.linalg.norm(body[:, [left, right]].mean(axis=1) - body[:, hips].mean(axis=1), axis=-1)
            assert np.median(torso) == pytest.approx(1.0, abs=0.1), dataset
            if data.topology.dims == 2:
                assert not body[..., 2].any()
        facing = np.mean([(clip[:, 0, right, 0] - clip[:, 0, left, 0]).mean() for clip in clips])
        assert facing > 0.2, dataset


# ---- training and the tasks -------------------------------------------------------------------------------------


def test_training_lowers_the_loss_and_writes_the_model(trained):
    history = json.loads((trained / "history.json").read_text())
    config = json.loads((trained / "config.json").read_text())
    assert len(history) == config["training"]["epochs"] == 40
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert history[-1]["accuracy"] > 0.8
    assert config["topology"] == "ntu25" and config["shared_joints"] == list(SHARED_NAMES)
    assert len(config["classes_seen"]) == 19 and config["split"] == "xsub/s19u5" and config["seed"] == 0
    assert (trained / "model.pt").is_file()


def test_closed_set_accuracy_is_far_above_chance(synth_formats, trained, tmp_path):
    metrics = evaluate(synth_formats, trained, "closed", tmp_path)
    assert metrics.items() >= {**CONTRACT, "task": "closed"}.items()
    assert metrics["chance"] == pytest.approx(1 / 19) and metrics["candidates"] == 19 and "top5" in metrics
    assert metrics["accuracy"] >= 0.5  # chance is 0.05
    assert set(metrics["per_class"]) <= set(json.loads((trained / "config.json").read_text())["classes_seen"])
    rows = read_predictions(tmp_path / "predictions.jsonl")
    assert len(rows) == metrics["samples"] > 0
    assert np.mean([row["correct"] for row in rows]) == pytest.approx(metrics["accuracy"])
    assert all(row["correct"] == (row["truth"] == row["predicted"]) for row in rows)
    assert is_png(tmp_path / "confusion.png") and is_png(tmp_path / "per_class.png")


def test_openvocab_and_gzsl_follow_the_metrics_contract(synth_formats, trained, tmp_path):
    split = json.loads((synth_formats / "splits/synth/xsub/s19u5.json").read_text())
    openvocab = evaluate(synth_formats, trained, "openvocab", tmp_path / "openvocab")
    assert openvocab.items() >= {**CONTRACT, "task": "openvocab"}.items()
    assert openvocab["chance"] == pytest.approx(1 / 5) and "top5" not in openvocab  # k = 5: no top-5
    assert openvocab["samples"] == len(split["test_unseen"])
    assert set(openvocab["per_class"]) == set(split["unseen"]["names"])
    rows = read_predictions(tmp_path / "openvocab/predictions.jsonl")
    assert {row["sample"] for row in rows} == set(split["test_unseen"])
    assert all(row["predicted"] in split["unseen"]["names"] for row in rows)

    gzsl = evaluate(synth_formats, trained, "gzsl", tmp_path / "gzsl")
    assert gzsl.items() >= {**CONTRACT, "task": "gzsl"}.items()
    assert gzsl["samples"] == len(split["test_seen"]) + len(split["test_unseen"])
    assert gzsl["chance"] == pytest.approx(1 / 24)
    seen, unseen = gzsl["seen"], gzsl["unseen"]
    assert gzsl["harmonic_mean"] == pytest.approx(2 * seen * unseen / (seen + unseen) if seen + unseen else 0.0)
    rows = read_predictions(tmp_path / "gzsl/predictions.jsonl")
    unseen_rows = [row["correct"] for row in rows if row["truth"] in split["unseen"]["names"]]
    assert np.mean(unseen_rows) == pytest.approx(unseen) and len(unseen_rows) == len(split["test_unseen"])


def test_crossformat_runs_from_synth_to_the_three_other_formats(synth_formats, trained, tmp_path):
    targets = [synth_formats / "data" / name for name in ("synth_ucla", "synth_kinetics", "synth_humanml3d")]
    metrics = evaluate(synth_formats, trained, "crossformat", tmp_path,
                       *(part for target in targets for part in ("--target", str(target))))
    assert metrics.items() >= {**CONTRACT, "task": "crossformat", "source_topology": "ntu25"}.items()
    assert set(metrics["targets"]) == {"synth_ucla", "synth_kinetics", "synth_humanml3d"}
    seen = json.loads((trained / "config.json").read_text())["classes_seen"]
    rows = read_predictions(tmp_path / "predictions.jsonl")
    for name, result in metrics["targets"].items():
        data = PreparedDataset(synth_formats / "data" / name)
        assert result["topology"] == FORMATS[name]
        present = set(data.index["label_name"])  # the classes the target has samples of, not all it names
        assert result["classes"] == [c for c in seen if c in present]
        assert result["chance"] == pytest.approx(1 / len(result["classes"]))
        held = [c for c in data.index["label_name"] if c in result["classes"]]
        assert result["samples"] == len(held) > 0
        assert result["accuracy"] > 3 * result["chance"], name  # the mapping carries the model across formats
        mine = [row for row in rows if row["target"] == name]
        assert len(mine) == result["samples"]
        assert np.mean([row["correct"] for row in mine]) == pytest.approx(result["accuracy"])
        assert is_png(tmp_path / name / "confusion.png")
    assert metrics["accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in metrics["targets"].values()]))
    assert metrics["chance"] == pytest.approx(np.mean([r["chance"] for r in metrics["targets"].values()]))
    assert metrics["samples"] == sum(r["samples"] for r in metrics["targets"].values()) == len(rows)


def test_samples_picks_the_clips_that_skeletonllm_evaluate_picks(synth_formats, trained, tmp_path):
    from skeletonllm.eval.samples import evenly as skeletonllm_evenly

    for items, count, expected in ((list("abcdefghij"), 4, list("adgj")), (list("abc"), 0, list("abc")),
                                   (list("abc"), 5, list("abc")), (list("abcdefg"), 1, list("a"))):
        assert skeletonllm_evenly(items, count) == expected
    split = json.loads((synth_formats / "splits/synth/xsub/s19u5.json").read_text())
    metrics = evaluate(synth_formats, trained, "closed", tmp_path, "--samples", "7")
    assert metrics["samples"] == 7
    rows = read_predictions(tmp_path / "predictions.jsonl")
    assert [row["sample"] for row in rows] == skeletonllm_evenly(split["test_seen"], 7)


def test_training_is_deterministic_from_the_seed(synth_formats, tmp_path):
    import torch

    split = synth_formats / "splits/synth/xsub/s19u5.json"
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        baseline("train", "--data", synth_formats / "data/synth", "--split", split, "--out", tmp_path / name,
                 "--epochs", "2", "--seed", seed)
        runs[name] = torch.load(tmp_path / name / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(runs["a"][key], runs["b"][key]) for key in runs["a"])
    assert not all(torch.equal(runs["a"][key], runs["c"][key]) for key in runs["a"])


# ---- the command ------------------------------------------------------------------------------------------------


def test_help_is_fast_to_import_and_names_the_options(capsys):
    code = "import sys, skeletonllm.baseline.cli; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
    assert cli.__doc__.strip().splitlines()[0].startswith("Feature baseline without images")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    for action, options in (("train", ("--data", "--split", "--out", "--seed", "--epochs", "--depth-dropout")),
                            ("evaluate", ("--model", "--task", "--target", "crossformat", "openvocab"))):
        with pytest.raises(SystemExit):
            parser.parse_args([action, "--help"])
        text = capsys.readouterr().out
        assert all(option in text for option in options), action


def test_bad_inputs_are_command_errors(synth_formats, trained, tmp_path):
    split = synth_formats / "splits/synth/xsub/s19u5.json"
    data = synth_formats / "data/synth"
    cases = [
        (("evaluate", "--model", tmp_path / "nothing", "--data", data, "--split", split, "--task", "closed"),
         "no model.pt"),
        (("evaluate", "--model", trained, "--data", data, "--split", split, "--task", "crossformat"), "--target"),
        (("evaluate", "--model", trained, "--data", data, "--split", split, "--task", "closed", "--target", data),
         "--target is for --task crossformat"),
        (("evaluate", "--model", trained, "--data", data, "--split", synth_formats / "splits/synth/xsub/closed.json",
          "--task", "openvocab"), "other seen classes"),
        (("evaluate", "--model", trained, "--data", synth_formats / "data/synth_ucla", "--split", split,
          "--task", "closed"), "does not hold"),
        (("train", "--data", data, "--split", tmp_path / "missing.json"), "no such split file"),
        (("train", "--data", tmp_path, "--split", split), "not a prepared dataset"),
        (("train", "--data", data, "--split", split, "--epochs", "0"), "epochs >= 1"),
        (("evaluate", "--model", trained, "--data", data, "--split", split, "--task", "gzsl", "--samples", "1"),
         "gzsl needs samples of seen and of unseen classes"),
    ]
    for argv, message in cases:
        argv = [*argv, "--out", tmp_path / "out"]
        with pytest.raises(CommandError, match=message.replace(".", r"\.")):
            baseline(*argv)
