"""`skeletonllm render` and its pieces: image writing (PNG frames, GIF, contact sheet), loading raw files and
prepared samples, preview sample choice, the CLI on real files of every kind, and the render_preview rule."""

from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from conftest import REPO, write_config
from skeletonllm.bench.prepare import realistic_sequence
from skeletonllm.cli import main
from skeletonllm.data.normalize import normalize_sequence
from skeletonllm.formats import read, write
from skeletonllm.render.images import (
    GIF_NAME, PROGRESS_BAR_ROWS, SHEET_NAME, contact_sheet, frame_names, rendered_frames, to_uint8_frames,
    write_clip_images,
)
from skeletonllm.data.prepared import DatasetError
from skeletonllm.render.samples import ClipLoader, PreparedDataset, load_raw_clip, preview_sample_ids

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SYNTH_CLASSES = ["wave right hand", "sit down", "stand up", "kick with left leg", "shake hands"]


def _normalized(frames: np.ndarray) -> np.ndarray:
    """float32 [F, 3, H, W] normalized images from uint8 [F, H, W, 3] (what a renderer returns)."""
    rgb = frames.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    return (rgb - np.array(MEAN, np.float32)[:, None, None]) / np.array(STD, np.float32)[:, None, None]


def _gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as gif:
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(np.asarray(gif.convert("RGB")))
        return frames


@pytest.fixture(scope="module")
def ntu_file(tmp_path_factory):
    """A two-body NTU .skeleton file written by our writer."""
    path = tmp_path_factory.mktemp("ntu") / "S001C001P001R001A050.skeleton"
    write(path, realistic_sequence(np.random.default_rng(5), 40, 2), "ntu")
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A tiny synthetic raw tree in every written format (5 classes, one subject, two cameras) and the prepared
    store of its NTU files: (prepared dir, raw dir)."""
    from skeletonllm.data.synth.dataset import generate_dataset

    root = tmp_path_factory.mktemp("synth")
    raw = generate_dataset(root / "raw", seed=4, subjects=1, repetitions=1, cameras=2, classes=SYNTH_CLASSES)
    out = root / "data"
    assert main(["prepare", "--dataset", "synth", "--raw", str(raw), "--out", str(out), "--workers", "1"]) == 0
    return out, raw


# ---- images -------------------------------------------------------------------------------------------------


def test_to_uint8_frames_undoes_the_normalization():
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 5, 7, 3), dtype=np.uint8)  # [F, H, W, 3]
    back = to_uint8_frames(_normalized(frames), MEAN, STD)
    assert back.dtype == np.uint8 and back.shape == frames.shape
    np.testing.assert_array_equal(back, frames)
    saturated = to_uint8_frames(np.full((1, 3, 2, 2), 50.0, np.float32), MEAN, STD)  # far above white
    assert (saturated == 255).all()


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 4, 4, 3), np.float32), r"\[F, 3, H, W\]"),
    (np.full((1, 3, 2, 2), np.nan, np.float32), "non-finite"),
])
def test_to_uint8_frames_rejects_bad_images(images, message):
    with pytest.raises(ValueError, match=message):
        to_uint8_frames(images, MEAN, STD)


def test_frame_names_sort_in_frame_order():
    assert frame_names(3) == ["frame_00.png", "frame_01.png", "frame_02.png"]
    names = frame_names(120)
    assert names[0] == "frame_000.png" and names == sorted(names)


def test_clip_images_hold_every_frame_even_when_frames_repeat(tmp_path):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(5, 6, 8, 3), dtype=np.uint8)  # [F, H, W, 3]
    frames[2] = frames[1]  # a still pose: pillow would merge these two GIF frames without the progress bar
    (tmp_path / "frame_07.png").write_bytes(b"stale")  # from an earlier, longer render
    written = write_clip_images(frames, tmp_path, frame_ms=120)
    assert sorted(p.name for p in tmp_path.glob("frame_*.png")) == frame_names(5)
    for frame, path in zip(frames, written["frames"]):
        np.testing.assert_array_equal(np.asarray(Image.open(path)), frame)
    with Image.open(tmp_path / GIF_NAME) as gif:
        assert gif.n_frames == 5 and gif.info["loop"] == 0 and gif.info["duration"] == 120
        assert gif.size == (8, 6 + PROGRESS_BAR_ROWS)
    gif_frames = _gif_frames(tmp_path / GIF_NAME)
    bar_fill = [int((frame[-1].sum(axis=-1) > 0).sum()) for frame in gif_frames]
    assert bar_fill == [2, 4, 5, 7, 8]  # ceil(8 * (i + 1) / 5) columns of the 8
    sheet = np.asarray(Image.open(tmp_path / SHEET_NAME))
    assert sheet.shape == (2 * 6 + 2, 3 * 8 + 2 * 2, 3)  # 3 columns x 2 rows, 2-pixel gaps
    np.testing.assert_array_equal(sheet[8:14, 10:18], frames[4])  # row 1, column 1


def test_contact_sheet_columns():
    frames = np.ones((4, 2, 3, 3), dtype=np.uint8)
    assert contact_sheet(frames, columns=4, gap=1).shape == (2, 4 * 3 + 3, 3)
    with pytest.raises(ValueError, match="uint8 frames"):
        contact_sheet(frames.astype(np.float32))


# ---- clips --------------------------------------------------------------------------------------------------


def test_a_raw_file_is_normalized_like_prepare(ntu_file):
    clip = load_raw_clip(ntu_file)
    expected = normalize_sequence(read(ntu_file)).joints
    assert clip.joints.shape == (40, 2, 25, 3) and clip.topology.name == "ntu25"
    np.testing.assert_array_equal(clip.joints, expected)
    assert clip.name == "S001C001P001R001A050" and clip.source == str(ntu_file)


def test_a_prepared_sample_is_its_slice_of_the_store(prepared):
    out, raw = prepared
    dataset = PreparedDataset(out)
    index = pd.read_parquet(out / "index.parquet")
    row = index.iloc[3]
    clip = dataset.clip(row["sample_id"])
    poses = np.load(out / "poses.npy")
    np.testing.assert_array_equal(clip.joints, poses[row["offset"] : row["offset"] + row["length"]])
    np.testing.assert_array_equal(clip.joints, load_raw_clip(raw / row["source"]).joints)  # same as the raw file
    assert clip.label == row["label_name"] and clip.topology.name == "ntu25"
    assert isinstance(dataset.poses, np.memmap)


def test_preview_samples_come_from_classes_spread_over_the_labels():
    index = pd.DataFrame({"sample_id": [f"s{i}" for i in range(12)], "label": [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]})
    assert preview_sample_ids(index, 1) == ["s0"]
    assert preview_sample_ids(index, 3) == ["s0", "s4", "s10"]  # labels 0, 2 (2.5 rounds to even) and 5
    assert preview_sample_ids(index, 6) == ["s0", "s2", "s4", "s6", "s8", "s10"]
    assert preview_sample_ids(index, 8) == ["s0", "s2", "s4", "s6", "s8", "s10", "s1", "s3"]
    with pytest.raises(ValueError, match="at least 1"):
        preview_sample_ids(index, 0)


def test_the_loader_resolves_every_kind_of_clip_argument(prepared, ntu_file):
    out, _ = prepared
    sample_id = pd.read_parquet(out / "index.parquet")["sample_id"].iloc[0]
    loader = ClipLoader(data=out)
    assert loader.load(str(ntu_file)).source == str(ntu_file)
    assert loader.load(sample_id).name == sample_id
    assert ClipLoader().load(f"{out}:{sample_id}").source == f"{out}:{sample_id}"


@pytest.mark.parametrize("argument, message", [
    ("missing.skeleton", "neither a skeleton file nor PREPARED_DIR:SAMPLE_ID"),
    ("{data}:S999C001P001R001A001", "no sample 'S999C001P001R001A001' in index.parquet"),
    ("{raw}:S001C001P001R001A001", "is not a prepared dataset (missing poses.npy, index.parquet, manifest.json)"),
    ("{raw}/nowhere:S001", "is no directory"),
])
def test_the_loader_explains_a_bad_clip_argument(prepared, argument, message):
    out, raw = prepared
    with pytest.raises(DatasetError) as raised:  # ClipError, or the dataset's own error
        ClipLoader().load(argument.format(data=out, raw=raw))
    assert message in str(raised.value)


# ---- the CLI ------------------------------------------------------------------------------------------------


def render(*args) -> int:
    return main(["render", *map(str, args)])


def assert_rendered(out, frames: int, size: int) -> list[np.ndarray]:
    """out holds exactly frame_00..frame_{frames-1}.png of size x size, a GIF of `frames` frames and a contact sheet,
    and the frames show something (a lit figure on the black background) that moves; returns the frames."""
    assert sorted(p.name for p in out.glob("*.png")) == sorted(frame_names(frames) + [SHEET_NAME])
    images = [np.asarray(Image.open(out / name)) for name in frame_names(frames)]
    for image in images:
        assert image.shape == (size, size, 3)
        lit = (image.max(axis=-1) > 40).mean()
        assert 0.003 < lit < 0.9, f"{lit:.4f} of the pixels lit"
    assert any(not np.array_equal(images[0], image) for image in images[1:])
    with Image.open(out / GIF_NAME) as gif:
        assert gif.n_frames == frames and gif.size == (size, size + PROGRESS_BAR_ROWS)
    return images


@pytest.mark.parametrize("renderer", ["draction", "draction_no_nfm", "3d_velocity", "2d_projection", "jtm"])
def test_every_renderer_draws_a_written_ntu_file(renderer, ntu_file, tmp_path, capsys):
    out = tmp_path / renderer
    assert render(ntu_file, "--renderer", renderer, "--frames", 5, "--size", 48, "--out", out) == 0
    assert_rendered(out, 5, 48)
    assert f"{ntu_file}: 5 frames -> {out}" in capsys.readouterr().out


BVH_CLIP = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 5 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 3 0
      }
    }
  }
  JOINT LeftUpLeg
  {
    OFFSET 2 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 -8 0
    }
  }
}
MOTION
Frames: 6
Frame Time: 0.0333333
"""


def raw_file_of(kind: str, raw, tmp_path):
    """A raw file of one format: from the synthetic tree (written by our writers), or written here (PKU-MMD
    lines of 150 values, a small BVH) for the formats without a writer."""
    if kind in ("ucla", "kinetics", "humanml3d"):
        return sorted(raw.glob({"ucla": "ucla/*.json", "kinetics": "kinetics/*.json",
                                "humanml3d": "humanml3d/new_joints/*.npy"}[kind]))[0]
    if kind == "pku":
        joints = realistic_sequence(np.random.default_rng(2), 30, 2).joints  # [T, 2, 25, 3]
        path = tmp_path / "0002-L.txt"
        np.savetxt(path, joints.reshape(len(joints), -1), fmt="%.6f")
        return path
    motion = [f"{0.5 * t} 0 0 {10 * t} 0 0 {15 * t} 0 0 0 0 0 {-20 * t} 0 0" for t in range(6)]
    path = tmp_path / "clip.bvh"
    path.write_text(BVH_CLIP + "\n".join(motion) + "\n")
    return path


@pytest.mark.parametrize("kind", ["ucla", "kinetics", "humanml3d", "pku", "bvh"])
def test_raw_files_of_every_format_render(kind, prepared, tmp_path):
    path = raw_file_of(kind, prepared[1], tmp_path)
    assert render(path, "--renderer", "draction", "--frames", 4, "--size", 40, "--out", tmp_path / "out") == 0
    assert_rendered(tmp_path / "out", 4, 40)


def test_a_prepared_sample_renders_like_its_raw_file(prepared, tmp_path):
    out, raw = prepared
    row = pd.read_parquet(out / "index.parquet").iloc[2]
    by_id, by_file = tmp_path / "id", tmp_path / "file"
    assert render(f"{out}:{row['sample_id']}", "--renderer", "3d_velocity", "--frames", 6, "--size", 40,
                  "--out", by_id) == 0
    assert render(raw / row["source"], "--renderer", "3d_velocity", "--frames", 6, "--size", 40, "--out", by_file) == 0
    for first, second in zip(assert_rendered(by_id, 6, 40), assert_rendered(by_file, 6, 40)):
        np.testing.assert_array_equal(first, second)


def test_preview_renders_samples_of_different_classes_into_their_folders(prepared, tmp_path, capsys):
    out, _ = prepared
    index = pd.read_parquet(out / "index.parquet")
    extra = index["sample_id"].iloc[-1]
    picked = preview_sample_ids(index, 2)[0]  # named as well as picked: rendered once
    assert render("--data", out, extra, f"{out}:{picked}", "--preview", 2, "--renderer", "jtm", "--frames", 3, "--size", 32,
                  "--threads", 1, "--out", tmp_path) == 0
    chosen = preview_sample_ids(index, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([extra, *chosen])
    assert len(set(index.set_index("sample_id").loc[chosen, "label"])) == 2
    for name in (extra, *chosen):
        assert_rendered(tmp_path / name, 3, 32)
    printed = capsys.readouterr().out
    assert all(f"{out}:{name}" in printed for name in chosen)
    # a single preview sample still gets its own folder, as the render_preview rule's layout promises
    assert render("--data", out, "--preview", 1, "--renderer", "jtm", "--frames", 2, "--size", 24,
                  "--out", tmp_path / "one") == 0
    assert_rendered(tmp_path / "one" / preview_sample_ids(index, 1)[0], 2, 24)


def test_weights_are_rendered_as_saved(ntu_file, tmp_path):
    from skeletonllm.render.renderers import make_renderer

    model = make_renderer("draction_no_nfm", frames=8, size=32, seed=7)
    model.save(tmp_path / "weights")
    assert render(ntu_file, "--renderer", "draction_no_nfm", "--weights", tmp_path / "weights", "--out",
                  tmp_path / "saved") == 0
    expected = rendered_frames(model, load_raw_clip(ntu_file).joints, "ntu25")  # the weights in memory
    np.testing.assert_array_equal(np.stack(assert_rendered(tmp_path / "saved", 8, 32)), expected)
    # frames and size are not learned: the same weights render at another size
    assert render(ntu_file, "--renderer", "draction_no_nfm", "--weights", tmp_path / "weights", "--size", 24,
                  "--out", tmp_path / "small") == 0
    assert_rendered(tmp_path / "small", 8, 24)



@pytest.mark.parametrize("make_args, message", [
    (lambda d: ["{ntu}", "--renderer", "draction", "--weights", "{weights}"], "holds weights of draction_no_nfm"),
    (lambda d: ["{ntu}", "--renderer", "jtm", "--weights", "{weights}"], "renderer 'jtm' has no weights"),
    (lambda d: ["{ntu}", "--renderer", "draction", "--weights", "{out}"], "draction.json: missing"),
])
def test_weights_that_do_not_fit_are_refused(make_args, message, ntu_file, prepared, tmp_path, capsys):
    from skeletonllm.render.renderers import make_renderer

    make_renderer("draction_no_nfm", frames=2, size=16).save(tmp_path / "weights")
    ucla = sorted(prepared[1].glob("ucla/*.json"))[0]
    args = [a.format(ntu=ntu_file, ucla=ucla, weights=tmp_path / "weights", out=tmp_path) for a in make_args(None)]
    assert render(*args, "--size", 16, "--frames", 2, "--out", tmp_path / "out") == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bad_input_is_a_clear_error(ntu_file, prepared, tmp_path, capsys):
    truncated = tmp_path / "S001C001P001R001A001.skeleton"
    truncated.write_bytes(b"\n".join(ntu_file.read_bytes().splitlines()[:40]))
    namesake = tmp_path / "copy" / ntu_file.name  # another file with the same stem
    namesake.parent.mkdir()
    namesake.write_bytes(ntu_file.read_bytes())
    cases = [
        ([tmp_path / "absent.skeleton", "--renderer", "jtm"], "is neither a skeleton file nor PREPARED_DIR:SAMPLE_ID"),
        ([truncated, "--renderer", "jtm"], f"{truncated}:"),
        ([ntu_file, "--renderer", "gaussians"], "unknown renderer 'gaussians'; choose one of draction, draction_no_nfm"),
        (["--preview", 2, "--renderer", "jtm"], "--preview needs --data PREPARED_DIR"),
        (["--renderer", "jtm"], "name at least one CLIP"),
        ([ntu_file, "--renderer", "jtm", "--frames", 0], "--frames must be at least 1"),
        ([ntu_file, "--renderer", "jtm", "--frame-ms", 5], "--frame-ms must be at least 10"),
        ([ntu_file, "--renderer", "jtm", "--backend", "opengl"], "unknown backend 'opengl'; choose one of"),
        ([ntu_file, "--renderer", "jtm", "--backend", "gsplat"], "--backend gsplat renders on CUDA only"),
        (["--data", tmp_path, "x", "--renderer", "jtm"], "is not a prepared dataset"),
        ([ntu_file, namesake, "--renderer", "jtm"], "share the output folder(s) ['S001C001P001R001A050']"),
    ]
    for args, message in cases:
        assert render(*args, "--out", tmp_path / "out") == 1, args
        err = capsys.readouterr().err
        assert err.startswith("skeletonllm render: error: ") and message in err, (args, err)
    assert not (tmp_path / "out").exists()


def test_backend_gsplat_without_gsplat_is_a_one_line_error(ntu_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gsplat", None)  # gsplat unimportable, whether or not it is installed
    assert render(ntu_file, "--renderer", "jtm", "--backend", "gsplat", "--device", "cuda", "--out", tmp_path) == 1
    err = capsys.readouterr().err
    assert err.startswith("skeletonllm render: error: --backend gsplat: gsplat does not import (")
    assert err.endswith("install it with pip install 'skeletonllm[gpu]'\n") and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a machine without CUDA")
def test_device_cuda_without_cuda_is_a_one_line_error(ntu_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gsplat", None)
    for backend in ("auto", "torch"):
        assert render(ntu_file, "--renderer", "jtm", "--backend", backend, "--device", "cuda", "--out", tmp_path) == 1
        err = capsys.readouterr().err
        assert err == "skeletonllm render: error: --device cuda: CUDA is not available on this machine\n"
    assert not any(tmp_path.iterdir())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_on_cuda_without_gsplat_renders_with_the_torch_backend(ntu_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gsplat", None)
    with pytest.warns(RuntimeWarning, match="falls back to the torch backend on CUDA: gsplat does not import"):
        assert render(ntu_file, "--renderer", "3d_velocity", "--frames", 4, "--size", 40, "--device", "cuda",
                      "--out", tmp_path / "cuda") == 0
    assert render(ntu_file, "--renderer", "3d_velocity", "--frames", 4, "--size", 40, "--out", tmp_path / "cpu") == 0
    for on_cuda, on_cpu in zip(assert_rendered(tmp_path / "cuda", 4, 40), assert_rendered(tmp_path / "cpu", 4, 40)):
        assert np.abs(on_cuda.astype(int) - on_cpu.astype(int)).max() <= 1  # float rounding may differ by one level


def test_help_names_every_renderer(capsys):
    from skeletonllm.render.renderers import RENDERERS

    with pytest.raises(SystemExit):
        main(["render", "--help"])
    text = capsys.readouterr().out
    for name in RENDERERS:
        assert name in text
    assert "PREPARED_DIR:SAMPLE_ID" in text and "render.gif" in text


# ---- the render_preview rule --------------------------------------------------------------------------------


def _preview_jobs(output: str) -> list[dict]:
    """rule, wildcards and shell command of each render_preview job of `snakemake -n -p` output."""
    jobs = []
    for block in re.split(r"\n(?=\[[^\]]+\]\nrule )", output):
        if re.search(r"^rule render_preview:", block, re.M):
            jobs.append({"output": re.search(r"^\s+output: (.*)$", block, re.M)[1],
                         "log": re.search(r"^\s+log: (.*)$", block, re.M)[1],
                         "shell": re.search(r"^Shell command: (.*)$", block, re.M)[1]})
    return jobs


def test_dry_run_renders_previews_with_every_configured_renderer(tmp_path, snakemake):
    from skeletonllm.render.renderers import RENDERERS

    result = snakemake(tmp_path, "-n", "-p", "--cores", "2", "all")
    assert result.returncode == 0, result.stdout
    jobs = _preview_jobs(result.stdout)
    assert sorted(job["output"] for job in jobs) == sorted(f"results/plots/render/{name}" for name in RENDERERS)
    for job in jobs:
        renderer = job["output"].rsplit("/", 1)[1]
        assert job["shell"] == (
            f"skeletonllm render --data results/data/synth --preview 3 --renderer {renderer} --frames 12 --size 112"
            f" --backend auto --device cpu --threads 1 --out results/plots/render/{renderer} > {job['log']} 2>&1"
        )


def test_render_config_reaches_the_preview_flags(tmp_path, snakemake):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["render"].update(renderers=["jtm"], dataset="synth_ucla", preview_samples=2, size=64, frames=6,
                            device="cuda")
    configfile = write_config(tmp_path / "render.yaml", config)
    result = snakemake(tmp_path, "-n", "-p", "all", "--configfile", str(configfile))
    assert result.returncode == 0, result.stdout
    [job] = _preview_jobs(result.stdout)
    assert "--data results/data/synth_ucla --preview 2 --renderer jtm --frames 6 --size 64 " in job["shell"]
    assert " --backend auto --device cuda " in job["shell"]

    del config["render"]["dataset"]  # default: the first of datasets
    config["datasets"] = {name: config["datasets"][name] for name in ("synth_kinetics", "synth")}
    config["eval"].update(crossformat_targets=["synth_kinetics"], tasks=["openvocab", "crossformat"])
    config["train"]["refine_tasks"] = ["qa"]  # no HumanML3D-style dataset to learn captions from
    config["ablation"]["tasks"] = ["openvocab"]  # ablation runs are evaluated on tasks of eval.tasks
    result = snakemake(tmp_path, "-n", "-p", "all", "--configfile", str(write_config(tmp_path / "first.yaml", config)))
    assert result.returncode == 0, result.stdout
    assert "--data results/data/synth_kinetics --preview 2 " in _preview_jobs(result.stdout)[0]["shell"]

    config["render"]["dataset"] = "ntu60"
    result = snakemake(tmp_path, "-n", "all", "--configfile", str(write_config(tmp_path / "bad.yaml", config)))
    assert result.returncode != 0
    assert "render.dataset is 'ntu60', which is not one of datasets" in result.stdout


def test_schema_renderer_and_backend_names_are_the_registries():
    from skeletonllm.render.rasterize import BACKENDS
    from skeletonllm.render.renderers import RENDERERS

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    render_keys = schema["properties"]["render"]["properties"]
    assert render_keys["renderers"]["items"]["enum"] == list(RENDERERS) == render_keys["renderers"]["default"]
    assert sorted(render_keys["backend"]["enum"]) == sorted(BACKENDS)
    for name in ("config.yaml", "paper.yaml"):
        assert yaml.safe_load((REPO / "config" / name).read_text())["render"]["renderers"] == list(RENDERERS)
