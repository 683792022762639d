"""`skeletonllm bench render`: the JSON contract keys with positive figures, dense as its own reference, and
the text table."""

from __future__ import annotations

import json

from skeletonllm.cli import main


def test_bench_render_json_reports_positive_figures_relative_to_dense(capsys):
    assert main(["bench", "render", "--json", "--size", "32", "--frames", "2", "--repeats", "1",
                 "--backends", "torch,dense"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {"torch", "dense"}
    for backend in figures.values():
        assert set(backend) == {"fwd_ms", "fwdbwd_ms", "peak_mb", "speedup_fwd", "speedup_fwdbwd"}
        assert all(backend[key] > 0 for key in ("fwd_ms", "fwdbwd_ms", "speedup_fwd", "speedup_fwdbwd"))
        assert backend["peak_mb"] >= 0


def test_bench_render_table_and_dense_requirement(capsys):
    assert main(["bench", "render", "--size", "24", "--frames", "1", "--repeats", "1", "--backends", "dense,torch"]) == 0
    out = capsys.readouterr().out
    assert "24x24" in out and "530 Gaussians" in out and "ru_maxrss" in out
    assert out.count("cpu") == 2
    assert main(["bench", "render", "--backends", "torch"]) == 1
    assert "skeletonllm bench: error: --backends must include dense" in capsys.readouterr().err


def test_skeleton_clip_has_265_gaussians_per_body_in_front_of_the_camera():
    from skeletonllm.bench.render import skeleton_clip

    means, covs, colors, opacities, K, viewmat = skeleton_clip(frames=3, size=64)
    assert means.shape == (3, 530, 3) and covs.shape == (3, 530, 3, 3) and K.shape == (3, 3, 3)
    assert (means[..., 2] > 2.5).all() and (colors >= 0).all() and (colors <= 1).all()
    pixels = (means[..., :2] / means[..., 2:]) * K[:, None, 0, 0, None] + 32  # [B, N, 2] projected
    assert ((pixels > 0) & (pixels < 64)).all()  # every Gaussian lands in the image
