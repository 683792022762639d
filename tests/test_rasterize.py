"""rasterize(): the torch backend matches the dense reference in images and gradients, passes gradcheck, culls
Gaussians behind the camera, composites front to back; gsplat matches dense on CUDA."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from skeletonllm.render.rasterize import rasterize


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
