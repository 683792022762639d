"""The prepared store as one unit: a re-prepare killed at any step leaves the old store or the new one, the reader
refuses a store mixed from different runs, and PreparedDataset is the one reader (fps, class names, splits, mining)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skeletonllm.bench.prepare import realistic_sequence
from skeletonllm.cli import main
from skeletonllm.data.prepare import BASE_COLUMNS
from skeletonllm.data.prepared import DatasetError, PreparedDataset
from skeletonllm.data.store import STORE_FILES, TRAILER_SIZE, PoseWriter, StoreBuild, write_index, write_manifest
from skeletonllm.formats import write

# Runs `skeletonllm ARGS` after patching functions as argv[1] (JSON [[module, attribute, action], ...]) says:
# kill-before / kill-after: SIGKILL this process just before or just after the call (after: only a call that
# returned); fail-einval: raise OSError EINVAL, as a filesystem without RENAME_EXCHANGE does.
PATCHED_CLI = """
import errno, importlib, json, os, signal, sys

def patched(original, action):
    def call(*args, **kwargs):
        if action == "fail-einval":
            raise OSError(errno.EINVAL, "Invalid argument")
        if action == "kill-before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return result
    return call

for module, attribute, action in json.loads(sys.argv[1]):
    owner = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    setattr(owner, name, patched(getattr(owner, name), action))
from skeletonllm.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _write_raw(folder: Path, seeds: range) -> Path:
    """NTU files S001C001P001R001A<seed+1>.skeleton of 6 to 9 frames, one body."""
    folder.mkdir(parents=True)
    for seed in seeds:
        sequence = realistic_sequence(np.random.default_rng(seed), 6 + seed % 4, 1)
        write(folder / f"S001C001P001R001A{seed + 1:03d}.skeleton", sequence, "ntu")
    return folder


def _prepare(raw: Path, out: Path, workers: int = 1) -> None:
    assert main(["prepare", "--dataset", "ntu120", "--raw", str(raw), "--out", str(out),
                 "--workers", str(workers)]) == 0


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Raw trees A (4 files) and B (6 other files) and their prepared stores: {"raw_a", "raw_b", "a", "b"}."""
    root = tmp_path_factory.mktemp("stores")
    paths = {"raw_a": _write_raw(root / "raw_a", range(4)), "raw_b": _write_raw(root / "raw_b", range(10, 16))}
    for name in ("a", "b"):
        _prepare(paths[f"raw_{name}"], root / name)
    return {**paths, "a": root / "a", "b": root / "b"}


def _store_at_rates(out: Path, rates: dict[str, float]) -> Path:
    """A store of one 5-frame NTU sample per {sample_id: fps} entry, written with prepare's own writers (no raw
    dataset mixes frame rates)."""
    joints = np.ones((5, 2, 25, 3), np.float32)  # [T, 2, J, C]
    with StoreBuild(out) as build:
        with PoseWriter(build.folder / "poses.npy", joints.shape[1:]) as writer:
            rows = [{"sample_id": sample_id, "label": label, "label_name": "", "subject": -1, "camera": -1,
                     "setup": -1, "replication": -1, "partition": "", "offset": writer.append(joints),
                     "length": len(joints), "fps": fps, "bodies": 2, "rotation": [], "source": ""}
                    for label, (sample_id, fps) in enumerate(rates.items())]
        write_index(build.folder / "index.parquet", rows, BASE_COLUMNS, writer.build_id, writer.frames)
        write_manifest(build.folder / "manifest.json", {
            "dataset": "ntu120", "build_id": writer.build_id, "topology": {"name": "ntu25"}, "classes": list(rates),
            "fps": None, "poses": {"shape": [writer.frames, *joints.shape[1:]]}, "counts": {"samples_kept": len(rows)},
        })
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in STORE_FILES if (folder / name).exists()}


def _manifest_without_build(folder: Path) -> dict:
    return {key: value for key, value in json.loads((folder / "manifest.json").read_text()).items()
            if key != "build_id"}


def _state(out: Path, old: dict[str, bytes], new: Path) -> str:
    """"old" when out holds exactly the old store's files, "new" when it holds a store the reader accepts and equal
    to the reference store new but for its build id, "none" when it holds no store file; anything else fails."""
    files = _files(out)
    if not files:
        return "none"
    if files == old:
        return "old"
    PreparedDataset(out)  # a mixed store raises DatasetError here
    assert sorted(files) == sorted(STORE_FILES)
    reference = _files(new)
    assert files["poses.npy"][:-TRAILER_SIZE] == reference["poses.npy"][:-TRAILER_SIZE]
    assert (files["rejected.csv"], files["denoise.csv"]) == (reference["rejected.csv"], reference["denoise.csv"])
    pd.testing.assert_frame_equal(pd.read_parquet(out / "index.parquet"), pd.read_parquet(new / "index.parquet"))
    assert _manifest_without_build(out) == _manifest_without_build(new)
    return "new"


def _leftovers(out: Path) -> list[str]:
    return sorted(path.name for path in out.parent.iterdir() if path.name.startswith(f".{out.name}."))


@pytest.mark.parametrize("patches, expected", [
    ([("skeletonllm.data.store", "PoseWriter.append", "kill-after")], "old"),  # poses half written
    ([("skeletonllm.data.store", "PoseWriter.close", "kill-after")], "old"),  # poses complete
    ([("skeletonllm.data.prepare", "write_index", "kill-after")], "old"),
    ([("skeletonllm.data.prepare", "write_rejected", "kill-after")], "old"),
    ([("skeletonllm.data.prepare", "write_denoised", "kill-after")], "old"),
    ([("skeletonllm.data.prepare", "write_manifest", "kill-after")], "old"),  # every file built, none swapped
    ([("skeletonllm.data.store", "_carry_over", "kill-after")], "old"),  # .gitignore linked into the new folder
    ([("skeletonllm.data.store", "_exchange", "kill-before")], "old"),
    ([("skeletonllm.data.store", "_exchange", "kill-after")], "new"),  # swapped, the old store not yet removed
    # a filesystem without RENAME_EXCHANGE: out is renamed aside, then the new folder takes its place
    ([("skeletonllm.data.store", "_exchange", "fail-einval"), ("os", "rename", "kill-after")], "none"),
    ([("skeletonllm.data.store", "_exchange", "fail-einval")], "new"),  # not killed: the fallback completes
])
def test_a_killed_re_prepare_leaves_the_old_store_or_the_new_one(stores, tmp_path, patches, expected):
    out = tmp_path / "data" / "ntu120"
    shutil.copytree(stores["a"], out)
    (out / ".gitignore").write_text("/poses.npy\n")  # as DVC writes next to its outputs
    old = _files(out)
    argv = ["prepare", "--dataset", "ntu120", "--raw", str(stores["raw_b"]), "--out", str(out), "--workers", "1"]
    run = subprocess.run([sys.executable, "-c", PATCHED_CLI, json.dumps(patches), *argv], capture_output=True,
                         text=True, timeout=120)
    killed = any(action.startswith("kill") for _, _, action in patches)
    assert run.returncode == (-9 if killed else 0), run.stderr
    assert _state(out, old, stores["b"]) == expected
    if expected == "none":  # the old store waits, whole, beside out
        (retired,) = [out.parent / name for name in _leftovers(out) if ".retired-" in name]
        assert _files(retired) == old
        with pytest.raises(DatasetError, match="is not a prepared dataset"):
            PreparedDataset(out)
    else:
        assert (out / ".gitignore").read_text() == "/poses.npy\n"
    _prepare(stores["raw_b"], out)  # the next run completes and removes what the killed one left
    assert _state(out, old, stores["b"]) == "new" and _leftovers(out) == []


def test_a_failed_re_prepare_leaves_the_old_store_and_no_build_folder(stores, tmp_path, monkeypatch):
    out = tmp_path / "ntu120"
    shutil.copytree(stores["a"], out)
    old = _files(out)

    def full_disk(path, manifest):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("skeletonllm.data.prepare.write_manifest", full_disk)
    assert main(["prepare", "--dataset", "ntu120", "--raw", str(stores["raw_b"]), "--out", str(out)]) == 1
    assert _files(out) == old and _leftovers(out) == []


def test_prepare_into_a_new_or_empty_folder(stores, tmp_path):
    (tmp_path / "empty").mkdir()  # as Snakemake creates the output folder before the job
    for name in ("empty", "new/nested"):
        _prepare(stores["raw_b"], tmp_path / name)
        assert _state(tmp_path / name, {}, stores["b"]) == "new" and _leftovers(tmp_path / name) == []


@pytest.mark.parametrize("taken", ["poses.npy", "index.parquet", "manifest.json"])
def test_a_store_mixed_by_hand_is_refused(stores, tmp_path, capsys, taken):
    mixed = tmp_path / "mixed"
    shutil.copytree(stores["a"], mixed)
    shutil.copy(stores["b"] / taken, mixed / taken)
    with pytest.raises(DatasetError, match="mixes files of different prepare runs"):
        PreparedDataset(mixed)
    assert main(["splits", "--dataset", "ntu120", "--data", str(mixed), "--out", str(tmp_path / "splits")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("skeletonllm splits: error: ") and "mixes files" in error and "Traceback" not in error


def test_stores_whose_files_disagree_are_refused(stores, tmp_path):
    def copy(name: str) -> Path:
        return Path(shutil.copytree(stores["a"], tmp_path / name))

    truncated = copy("truncated")
    data = (truncated / "poses.npy").read_bytes()
    (truncated / "poses.npy").write_bytes(data[:-TRAILER_SIZE - 100])
    with pytest.raises(DatasetError, match="truncated"):
        PreparedDataset(truncated)
    recounted = copy("recounted")
    manifest = json.loads((recounted / "manifest.json").read_text())
    manifest["poses"]["shape"][0] += 1
    (recounted / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"frame totals disagree \(poses.npy \d+, index.parquet \d+, manifest"):
        PreparedDataset(recounted)
    legacy = tmp_path / "legacy"  # the files as an older prepare (or a hand) wrote them
    legacy.mkdir()
    dataset = PreparedDataset(stores["a"])
    np.save(legacy / "poses.npy", np.asarray(dataset.poses))
    dataset.index.to_parquet(legacy / "index.parquet")
    (legacy / "manifest.json").write_text(json.dumps(_manifest_without_build(stores["a"])))
    with pytest.raises(DatasetError, match="no build id in poses.npy, index.parquet, manifest.json"):
        PreparedDataset(legacy)


def test_the_reader_gives_fps_class_names_and_frames(stores, tmp_path):
    dataset = PreparedDataset(stores["a"])
    assert dataset.fps == 30.0 and dataset.row("S001C001P001R001A002")["fps"] == 30.0
    assert dataset.class_names() == json.loads((stores["a"] / "manifest.json").read_text())["classes"]
    assert dataset.class_name(1) == "eat meal/snack" and dataset.class_name(-1) == ""
    walked = {label: np.array(joints) for label, joints in dataset.samples("label")}
    assert sorted(walked) == [0, 1, 2, 3]
    np.testing.assert_array_equal(walked[2], dataset.joints("S001C001P001R001A003"))  # [T, 2, 25, 3]
    mixed = _store_at_rates(tmp_path / "rates", {"slow": 20.0, "fast": 120.0})
    rates = PreparedDataset(mixed)
    assert rates.row("slow")["fps"] == 20.0 and rates.row("fast")["fps"] == 120.0
    with pytest.raises(DatasetError, match=r"no single frame rate \(samples at \[20.0, 120.0\] fps\)"):
        rates.fps


def test_a_20_fps_dataset_keeps_its_rate(tmp_path):
    from skeletonllm.data.synth.dataset import generate_dataset

    raw = generate_dataset(tmp_path / "raw", seed=2, subjects=1, repetitions=1, cameras=1, formats=("humanml3d",),
                           classes=["sit down", "wave left hand"])
    assert main(["prepare", "--dataset", "synth_humanml3d", "--raw", str(raw), "--out", str(tmp_path / "data"),
                 "--workers", "1"]) == 0
    dataset = PreparedDataset(tmp_path / "data")
    assert dataset.fps == 20.0 and (dataset.index["fps"] == 20.0).all()


def test_mining_reads_class_names_through_the_reader(stores, tmp_path, capsys):
    from skeletonllm.mining.classes import resolve_classes

    classes = resolve_classes(str(stores["a"]))
    assert classes.dataset == "ntu120" and classes.names == tuple(PreparedDataset(stores["a"]).class_names())
    mixed = tmp_path / "mixed"
    shutil.copytree(stores["a"], mixed)
    shutil.copy(stores["b"] / "poses.npy", mixed / "poses.npy")
    with pytest.raises(DatasetError, match="mixes files"):
        resolve_classes(str(mixed))


def test_a_store_replaced_while_open_is_refused_not_mixed(stores, tmp_path):
    out = tmp_path / "ntu120"
    shutil.copytree(stores["a"], out)
    read, unread_index, unread_poses = PreparedDataset(out), PreparedDataset(out), PreparedDataset(out)
    read.index  # maps poses.npy as well: this view stays whole on the old store
    _prepare(stores["raw_b"], out)
    sample_id = "S001C001P001R001A002"
    np.testing.assert_array_equal(read.joints(sample_id), PreparedDataset(stores["a"]).joints(sample_id))
    with pytest.raises(DatasetError, match="was replaced by another prepare run since it was opened"):
        unread_index.index
    with pytest.raises(DatasetError, match=r"poses.npy is of build \w+, not"):
        unread_poses.poses
    assert len(PreparedDataset(out).index) == 6
