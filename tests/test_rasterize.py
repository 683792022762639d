"""rasterize(): the torch backend matches the dense reference in images and gradients, passes gradcheck, culls
Gaussians behind the camera, composites front to back; the EWA projection is the linearized pinhole projection
off axis (numerical Jacobian, Monte Carlo) with gsplat's clamping; "auto" falls back to torch on CUDA without
gsplat; gsplat matches dense on CUDA."""

from __future__ import annotations

import importlib.util
import math
import sys
import types
import warnings

import pytest
import torch

from skeletonllm.render.rasterize import rasterize, resolve_backend
from skeletonllm.render.splat_math import LOW_PASS, project


def random_scene(frames=2, count=24, height=24, width=32, dtype=torch.float64, seed=0, rotate=True):
    """Random Gaussians 1.5-3 m in front of random cameras, as rasterize() arguments (world space)."""
    generator = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.rand(*shape, generator=generator, dtype=dtype)  # noqa: E731
    cam = torch.stack([(rand(frames, count) - 0.5) * 1.2, (rand(frames, count) - 0.5) * 0.9,
                       1.5 + 1.5 * rand(frames, count)], -1)  # [B, N, 3] camera space
    factors = (rand(frames, count, 3, 3) - 0.5) * 0.12  # [B, N, 3, 3]
    covs = factors @ factors.transpose(-1, -2) + 1e-4 * torch.eye(3, dtype=dtype)  # [B, N, 3, 3]
    viewmat = torch.eye(4, dtype=dtype).repeat(frames, 1, 1)  # [B, 4, 4]
    if rotate:  # a random rotation + translation so world != camera space
        q, _ = torch.linalg.qr(torch.randn(frames, 3, 3, generator=generator, dtype=dtype))
        q = q * torch.linalg.det(q)[:, None, None]  # proper rotations
        viewmat[:, :3, :3], viewmat[:, :3, 3] = q, rand(frames, 3) - 0.5
    rotation, shift = viewmat[:, None, :3, :3], viewmat[:, None, :3, 3]
    means = (rotation.transpose(-1, -2) @ (cam - shift)[..., None])[..., 0]  # [B, N, 3] world
    covs = rotation.transpose(-1, -2) @ covs @ rotation  # world covariances
    K = torch.tensor([[1.1 * width, 0, width / 2], [0, 1.1 * width, height / 2], [0, 0, 1]], dtype=dtype)
    return (means, covs, rand(frames, count, 3), 0.2 + 0.75 * rand(frames, count), K.repeat(frames, 1, 1), viewmat,
            height, width)


def render_with_grads(scene, backend, background=None):
    """rgb, alpha and the gradients of a fixed weighted loss w.r.t. means, covs, colors, opacities."""
    leaves = [tensor.clone().requires_grad_() for tensor in scene[:4]]
    rgb, alpha = rasterize(*leaves, *scene[4:], backend=backend, background=background)
    weights = torch.linspace(-1, 1, rgb.numel(), dtype=rgb.dtype).reshape(rgb.shape)
    ((rgb * weights).sum() + (alpha * weights[..., 0]).sum()).backward()
    return rgb.detach(), alpha.detach(), [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_backend_matches_dense_images_and_gradients(dtype):
    scene = random_scene(frames=2, count=40, height=40, width=48, dtype=dtype, seed=1)
    background = torch.tensor([0.2, 0.1, 0.3], dtype=dtype)
    dense_rgb, dense_alpha, dense_grads = render_with_grads(scene, "dense", background)
    tiles_rgb, tiles_alpha, tiles_grads = render_with_grads(scene, "torch", background)
    assert dense_alpha.max() > 0.5 and (dense_alpha < 1e-6).any()  # the scene has covered and empty pixels
    assert (dense_rgb - tiles_rgb).abs().max() <= 1e-4
    assert (dense_alpha - tiles_alpha).abs().max() <= 1e-4
    for name, dense_grad, tiles_grad in zip(("means", "covs", "colors", "opacities"), dense_grads, tiles_grads):
        assert dense_grad.abs().max() > 0, name
        tolerance = 1e-4 * (1 + dense_grad.abs().max()) * (1 if dtype == torch.float64 else 10)
        assert (dense_grad - tiles_grad).abs().max() <= tolerance, name


def test_torch_backend_matches_dense_on_a_skeleton_clip_with_odd_image_size():
    from skeletonllm.bench.render import skeleton_clip

    clip = skeleton_clip(frames=2, size=72)
    dense_rgb, dense_alpha = rasterize(*clip, 70, 75, backend="dense")  # not a multiple of the tile size
    tiles_rgb, tiles_alpha = rasterize(*clip, 70, 75, backend="torch")
    assert dense_alpha.max() > 0.9
    assert (dense_rgb - tiles_rgb).abs().max() <= 1e-4 and (dense_alpha - tiles_alpha).abs().max() <= 1e-4


def test_gradcheck_torch_backend():
    means, covs, colors, opacities, K, viewmat, height, width = random_scene(frames=1, count=4, height=8, width=8,
                                                                           seed=3)
    covs = covs * 4  # a few pixels wide at 8x8, so every Gaussian overlaps several pixels and its neighbours

    def render(means, covs, colors, opacities):
        rgb, alpha = rasterize(means, covs, colors, opacities, K, viewmat, height, width, backend="torch")
        return rgb, alpha

    inputs = tuple(t.clone().requires_grad_() for t in (means, covs, colors, opacities))
    assert render(*inputs)[1].max() > 0.3
    assert torch.autograd.gradcheck(render, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("backend", ["dense", "torch"])
def test_gaussians_behind_the_camera_contribute_nothing(backend):
    means, covs, colors, opacities, K, viewmat, height, width = random_scene(frames=1, count=12, rotate=False)
    rgb, alpha = rasterize(means, covs, colors, opacities, K, viewmat, height, width, backend=backend)
    behind = means.clone()
    behind[..., 2] = -behind[..., 2]  # mirrored behind the camera: would project onto the same pixels
    extra_means, extra_covs = torch.cat([means, behind], 1), torch.cat([covs, covs], 1)
    extra_colors, extra_opacities = torch.cat([colors, torch.ones_like(colors)], 1), opacities.repeat(1, 2)
    leaves = [t.clone().requires_grad_() for t in (extra_means, extra_covs, extra_colors, extra_opacities)]
    rgb2, alpha2 = rasterize(*leaves, K, viewmat, height, width, backend=backend)
    assert torch.equal(rgb, rgb2.detach()) and torch.equal(alpha, alpha2.detach())
    (rgb2.sum() + alpha2.sum()).backward()
    assert all(leaf.grad[:, 12:].abs().max() == 0 for leaf in leaves)
    only_behind = rasterize(behind, covs, colors, opacities, K, viewmat, height, width, backend=backend)
    assert only_behind[1].abs().max() == 0


@pytest.mark.parametrize("backend", ["dense", "torch"])
def test_compositing_is_front_to_back(backend):
    dtype = torch.float64
    covs = torch.eye(3, dtype=dtype).repeat(1, 2, 1, 1) * 0.3**2  # two big Gaussians on the same axis
    means = torch.tensor([[[0.0, 0.0, 2.0], [0.0, 0.0, 4.0]]], dtype=dtype)  # [1, 2, 3]: red near, green far
    colors = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=dtype)
    opacities = torch.tensor([[0.6, 0.9]], dtype=dtype)
    K = torch.tensor([[[20.0, 0, 8], [0, 20.0, 8], [0, 0, 1]]], dtype=dtype)
    viewmat = torch.eye(4, dtype=dtype)[None]
    for order in ([0, 1], [1, 0]):  # the input order must not matter, only depth
        rgb, alpha = rasterize(means[:, order], covs[:, order], colors[:, order], opacities[:, order], K, viewmat,
                               16, 16, backend=backend)
        centre = rgb[0, 7, 7]  # pixel centre (7.5, 7.5), next to the principal point
        a_near = 0.6 * math.exp(-0.5 * 2 * 0.5**2 / (0.3**2 * 100 + 0.3))  # 2D variance (f/z)^2 s^2 + 0.3
        a_far = 0.9 * math.exp(-0.5 * 2 * 0.5**2 / (0.3**2 * 25 + 0.3))
        assert centre[0].item() == pytest.approx(a_near, rel=1e-9)
        assert centre[1].item() == pytest.approx((1 - a_near) * a_far, rel=1e-9)
        assert alpha[0, 7, 7].item() == pytest.approx(1 - (1 - a_near) * (1 - a_far), rel=1e-9)


def test_rasterize_rejects_bad_shapes_and_backends():
    scene = list(random_scene(frames=1, count=3))
    with pytest.raises(ValueError, match="covs must be"):
        rasterize(scene[0], scene[1][..., :2], *scene[2:])
    with pytest.raises(ValueError, match="unknown rasterizer backend"):
        rasterize(*scene, backend="opengl")
    with pytest.raises(ValueError, match="the gsplat backend needs CUDA tensors"):
        rasterize(*scene, backend="gsplat")


@pytest.mark.parametrize("backend, cuda, gsplat_imports, expected", [
    ("auto", False, False, "torch"),
    ("auto", False, True, "torch"),
    ("auto", True, True, "gsplat"),
    ("gsplat", True, True, "gsplat"),
    ("torch", True, False, "torch"),
    ("dense", True, False, "dense"),
])
def test_backend_choice(backend, cuda, gsplat_imports, expected, monkeypatch):
    monkeypatch.setitem(sys.modules, "gsplat", types.ModuleType("gsplat") if gsplat_imports else None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_backend(backend, cuda) == expected


def test_auto_falls_back_to_torch_on_cuda_without_gsplat_and_explicit_gsplat_fails(monkeypatch):
    monkeypatch.setitem(sys.modules, "gsplat", None)  # the import machinery's "not importable"
    with pytest.warns(RuntimeWarning, match="'auto' falls back to the torch backend on CUDA: gsplat does not import"):
        assert resolve_backend("auto", cuda=True) == "torch"
    with pytest.raises(ImportError, match=r"does not import .*; install it with pip install 'skeletonllm\[gpu\]'"):
        resolve_backend("gsplat", cuda=True)
    with pytest.raises(ValueError, match="the gsplat backend needs CUDA tensors"):
        resolve_backend("gsplat", cuda=False)


# ---- the EWA projection, off axis, against the pinhole camera it linearizes ----------------------------------

WIDTH, HEIGHT = 48, 40
CAMERA = torch.tensor([[60.0, 0, 20.0], [0, 50.0, 18.0], [0, 0, 1]], dtype=torch.float64)  # fx != fy, off-centre
# gsplat's limits on x/z and y/z in the Jacobian: the image border plus 0.3 half fields of view
LIMITS = {"x": (-(20 / 60 + 0.3 * 24 / 60), (WIDTH - 20) / 60 + 0.3 * 24 / 60),
          "y": (-(18 / 50 + 0.3 * 20 / 50), (HEIGHT - 18) / 50 + 0.3 * 20 / 50)}


def one_gaussian_per_frame(directions, depths, scale, seed, rotate=True):
    """rasterize() arguments for B frames of one Gaussian each (so `project`'s depth sort keeps the order): the
    Gaussian sits at camera-space (x/z, y/z) = directions [B, 2] and depth `depths` [B], with a random covariance
    of about `scale` m; the cameras are random rotations + translations of the world (or the identity)."""
    generator = torch.Generator().manual_seed(seed)
    frames = len(depths)
    cam = torch.cat([directions * depths[:, None], depths[:, None]], -1)[:, None]  # [B, 1, 3]
    factors = torch.randn(frames, 1, 3, 3, generator=generator, dtype=torch.float64) * scale
    cam_covs = factors @ factors.transpose(-1, -2) + (0.1 * scale) ** 2 * torch.eye(3, dtype=torch.float64)
    viewmat = torch.eye(4, dtype=torch.float64).repeat(frames, 1, 1)  # [B, 4, 4]
    if rotate:
        q, _ = torch.linalg.qr(torch.randn(frames, 3, 3, generator=generator, dtype=torch.float64))
        viewmat[:, :3, :3] = q * torch.linalg.det(q)[:, None, None]
        viewmat[:, :3, 3] = torch.rand(frames, 3, generator=generator, dtype=torch.float64) - 0.5
    rotation, shift = viewmat[:, None, :3, :3], viewmat[:, None, :3, 3]
    means = (rotation.transpose(-1, -2) @ (cam - shift)[..., None])[..., 0]  # [B, 1, 3] world
    covs = rotation.transpose(-1, -2) @ cam_covs @ rotation  # [B, 1, 3, 3] world
    colors, opacities = torch.ones(frames, 1, 3, dtype=torch.float64), torch.ones(frames, 1, dtype=torch.float64)
    return means, covs, colors, opacities, CAMERA.repeat(frames, 1, 1), viewmat, HEIGHT, WIDTH


def off_axis_directions(count, seed, reach=0.95):
    """[count, 2] random (x/z, y/z) up to `reach` of the Jacobian limits, many of them outside the image."""
    generator = torch.Generator().manual_seed(seed)
    low = torch.tensor([LIMITS["x"][0], LIMITS["y"][0]], dtype=torch.float64)
    high = torch.tensor([LIMITS["x"][1], LIMITS["y"][1]], dtype=torch.float64)
    return reach * (low + (high - low) * torch.rand(count, 2, generator=generator, dtype=torch.float64))


def pinhole(points, K, viewmat):
    """Pixel coordinates [..., 2] of world points [..., 3]: K (R p + t), divided by the camera depth."""
    image = (points @ viewmat[:3, :3].T + viewmat[:3, 3]) @ K.T
    return image[..., :2] / image[..., 2:]


def numerical_jacobian(point, K, viewmat, step=1e-6):
    """d pinhole / d point [2, 3] at one world point [3], by central differences."""
    offsets = step * torch.eye(3, dtype=point.dtype)
    columns = [(pinhole(point + offset, K, viewmat) - pinhole(point - offset, K, viewmat)) / (2 * step)
               for offset in offsets]
    return torch.stack(columns, -1)


def projected_covariances(scene):
    """`project`'s means2d [B, 2] and 2D covariances [B, 2, 2] (its conics inverted, the low-pass taken off)."""
    projected = project(*scene)
    a, b, c = projected.conics[:, 0].unbind(-1)
    conic = torch.stack([torch.stack([a, b], -1), torch.stack([b, c], -1)], -2)  # [B, 2, 2]
    return projected.means2d[:, 0], torch.linalg.inv(conic) - LOW_PASS * torch.eye(2, dtype=conic.dtype)


def test_ewa_projection_is_the_linearized_pinhole_projection_off_axis():
    directions = off_axis_directions(64, seed=11)
    depths = 1.0 + 3.0 * torch.rand(64, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    scene = one_gaussian_per_frame(directions, depths, 0.05, seed=12)
    means, covs, _, _, K, viewmat, _, _ = scene
    means2d, cov2d = projected_covariances(scene)
    outside = (means2d[:, 0] < 0) | (means2d[:, 0] > WIDTH) | (means2d[:, 1] < 0) | (means2d[:, 1] > HEIGHT)
    assert 5 <= outside.sum() < 60  # off axis, on both sides of the image border
    for b in range(len(directions)):
        jacobian = numerical_jacobian(means[b, 0], K[b], viewmat[b])  # [2, 3], w.r.t. the world point
        expected = jacobian @ covs[b, 0] @ jacobian.T
        torch.testing.assert_close(means2d[b], pinhole(means[b, 0], K[b], viewmat[b]), rtol=0, atol=1e-9)
        torch.testing.assert_close(cov2d[b], expected, rtol=0, atol=1e-6 * expected.abs().max().item())


def test_ewa_covariance_is_the_spread_of_projected_samples():
    directions = torch.tensor([[LIMITS["x"][0], LIMITS["y"][1]], [LIMITS["x"][1], LIMITS["y"][0]],
                               [0.7 * LIMITS["x"][1], 0.7 * LIMITS["y"][1]], [0.0, 0.0]], dtype=torch.float64) * 0.9
    scene = one_gaussian_per_frame(directions, torch.tensor([1.2, 2.0, 3.5, 2.5], dtype=torch.float64), 0.02, seed=13)
    means, covs, _, _, K, viewmat, _, _ = scene
    _, cov2d = projected_covariances(scene)
    generator = torch.Generator().manual_seed(14)
    for b in range(len(directions)):
        noise = torch.randn(200_000, 3, generator=generator, dtype=torch.float64)
        samples = means[b, 0] + noise @ torch.linalg.cholesky(covs[b, 0]).T  # [S, 3] world points
        spread = torch.cov(pinhole(samples, K[b], viewmat[b]).T)  # [2, 2]
        assert torch.linalg.norm(spread - cov2d[b]) <= 0.02 * torch.linalg.norm(cov2d[b]), b


def test_ewa_jacobian_is_clamped_beyond_the_field_of_view_as_in_gsplat():
    directions = torch.tensor([[2.0 * LIMITS["x"][1], 0.1], [2.0 * LIMITS["x"][0], 2.0 * LIMITS["y"][1]],
                               [0.2, 3.0 * LIMITS["y"][0]]], dtype=torch.float64)
    depths = torch.tensor([1.5, 2.0, 3.0], dtype=torch.float64)
    scene = one_gaussian_per_frame(directions, depths, 0.05, seed=15, rotate=False)  # world = camera space
    means, covs, _, _, K, viewmat, _, _ = scene
    means2d, cov2d = projected_covariances(scene)
    clamped = torch.stack([directions[:, 0].clamp(*LIMITS["x"]), directions[:, 1].clamp(*LIMITS["y"])], -1)
    for b in range(len(directions)):
        torch.testing.assert_close(means2d[b], pinhole(means[b, 0], K[b], viewmat[b]), rtol=0, atol=1e-9)
        at_limit = torch.cat([clamped[b] * depths[b], depths[b:b + 1]])  # the point moved onto the limit
        jacobian = numerical_jacobian(at_limit, K[b], viewmat[b])
        expected = jacobian @ covs[b, 0] @ jacobian.T
        torch.testing.assert_close(cov2d[b], expected, rtol=0, atol=1e-6 * expected.abs().max().item())


def test_ewa_projection_matches_gsplats_torch_reference():
    reference = pytest.importorskip("gsplat.cuda._torch_impl", reason="gsplat (the gpu extra) is not installed")
    directions = torch.cat([off_axis_directions(32, seed=16, reach=1.5), off_axis_directions(32, seed=17)])
    depths = 0.5 + 3.0 * torch.rand(64, generator=torch.Generator().manual_seed(18), dtype=torch.float64)
    scene = one_gaussian_per_frame(directions, depths, 0.05, seed=18)
    means, covs, _, _, K, viewmat, height, width = scene
    projected = project(*scene)
    _, means2d, depths, conics, _ = reference._fully_fused_projection(
        means, covs, viewmat[:, None], K[:, None], width, height, eps2d=LOW_PASS)  # [B, 1 camera, 1 Gaussian, ...]
    torch.testing.assert_close(projected.means2d, means2d[:, 0], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(projected.depths, depths[:, 0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(projected.conics, conics[:, 0], rtol=1e-9, atol=1e-12)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or importlib.util.find_spec("gsplat") is None,
                    reason="needs CUDA and gsplat")
def test_gsplat_matches_dense_on_cuda():
    scene = random_scene(frames=2, count=40, height=40, width=48, dtype=torch.float32, seed=5)
    cuda_scene = [t.cuda() if torch.is_tensor(t) else t for t in scene]
    dense_rgb, dense_alpha, dense_grads = render_with_grads(cuda_scene, "dense")
    gsplat_rgb, gsplat_alpha, gsplat_grads = render_with_grads(cuda_scene, "gsplat")
    assert (dense_rgb - gsplat_rgb).abs().max() <= 1e-4 and (dense_alpha - gsplat_alpha).abs().max() <= 1e-4
    for dense_grad, gsplat_grad in zip(dense_grads, gsplat_grads):
        assert (dense_grad - gsplat_grad).abs().max() <= 1e-3 * (1 + dense_grad.abs().max())


@pytest.mark.parametrize("backend", ["dense", "torch"])
def test_an_empty_image_still_backpropagates_zero_gradients(backend):
    means, covs, colors, opacities, K, viewmat, height, width = random_scene(frames=1, count=5, rotate=False)
    leaves = [t.clone().requires_grad_() for t in (means + torch.tensor([50.0, 0, 0], dtype=means.dtype), covs,
                                                   colors, opacities)]  # far off to the right of the image
    rgb, alpha = rasterize(*leaves, K, viewmat, height, width, backend=backend, background=torch.ones(3))
    assert torch.equal(rgb, torch.ones_like(rgb)) and alpha.abs().max() == 0
    (rgb.sum() + alpha.sum()).backward()
    assert all(leaf.grad is not None and leaf.grad.abs().max() == 0 for leaf in leaves)
