"""Tile-culled PyTorch rasterizer for CPU: same maths as the dense reference, autograd through plain torch ops.

Each Gaussian is binned into the square tiles its opacity-aware bounding box touches (outside it alpha < 1/255, so
culling loses nothing). Per tile, the intersecting Gaussians keep their front-to-back order and are padded to a
power-of-two length; tiles with similar list lengths are evaluated together as [tiles, K, pixels] tensors.
"""

from __future__ import annotations

import torch

from skeletonllm.render.splat_math import Projected, composite, gaussian_alpha

TILE = 16


@torch.no_grad()
def bin_gaussians(projected: Projected, height: int, width: int, tile: int):
    """Tile lists. Returns (pair_gaussians [P] flat b*N+n ids grouped by tile, front to back within a tile;
    tiles [T] global tile ids b*tiles_per_frame + ty*tiles_x + tx; starts [T], counts [T] into pair_gaussians)."""
    batch, count = projected.opacities.shape
    tiles_x, tiles_y = -(-width // tile), -(-height // tile)
    means = projected.means2d.reshape(-1, 2)  # [B*N, 2]
    extents = projected.extents.reshape(-1, 2)  # [B*N, 2]
    low = torch.ceil(means - extents - 0.5).clamp(-1, max(width, height)).long()  # [B*N, 2] first pixel (x, y)
    high = torch.floor(means + extents - 0.5).clamp(-1, max(width, height)).long()  # [B*N, 2] last pixel
    limit = torch.tensor([width - 1, height - 1], device=means.device)
    visible = (extents[:, 0] > 0) & (high >= 0).all(1) & (low <= limit).all(1) & (low <= high).all(1)  # [B*N]
    low_tile = low.clamp_min(0) // tile  # [B*N, 2]
    high_tile = torch.minimum(high, limit) // tile  # [B*N, 2]
    span = (high_tile - low_tile + 1).clamp_min(0)  # [B*N, 2]
    per_gaussian = torch.where(visible, span[:, 0] * span[:, 1], torch.zeros_like(span[:, 0]))  # [B*N]
    gaussians = torch.repeat_interleave(torch.arange(batch * count, device=means.device), per_gaussian)  # [P]
    first = torch.cumsum(per_gaussian, 0) - per_gaussian  # [B*N]
    local = torch.arange(gaussians.numel(), device=means.device) - first[gaussians]  # [P]
    tile_x = low_tile[gaussians, 0] + local % span[gaussians, 0]  # [P]
    tile_y = low_tile[gaussians, 1] + local // span[gaussians, 0]  # [P]
    frame = gaussians // count  # [P]
    tile_ids = frame * (tiles_x * tiles_y) + tile_y * tiles_x + tile_x  # [P]
    tile_ids, order = torch.sort(tile_ids, stable=True)  # stable: keeps front-to-back order within a tile
    tiles, counts = torch.unique_consecutive(tile_ids, return_counts=True)  # [T], [T]
    starts = torch.cumsum(counts, 0) - counts  # [T]
    return gaussians[order], tiles, starts, counts


def _render_bucket(flat, pair_gaussians, tiles, starts, counts, length: int, tile: int, tiles_x: int,
                   tiles_per_frame: int):
    """Composite tiles whose lists fit `length`: returns rgb [T, tile*tile, 3] and transmittance [T, tile*tile]."""
    means2d, conics, colors, opacities = flat  # [B*N, 2], [B*N, 3], [B*N, 3], [B*N]
    slots = torch.arange(length, device=tiles.device)  # [K]
    used = slots[None, :] < counts[:, None]  # [T, K]
    index = pair_gaussians[(starts[:, None] + slots[None, :]).clamp_max(pair_gaussians.numel() - 1)]  # [T, K]
    in_frame = tiles % tiles_per_frame  # [T]
    lane = torch.arange(tile, dtype=means2d.dtype, device=means2d.device) + 0.5  # [tile]
    pixel_x = ((in_frame % tiles_x) * tile)[:, None, None].to(means2d.dtype) + lane[None, None, :]  # [T, 1, tile]
    pixel_y = ((in_frame // tiles_x) * tile)[:, None, None].to(means2d.dtype) + lane[None, :, None]  # [T, tile, 1]
    pixel_x = pixel_x.expand(-1, tile, tile).reshape(-1, 1, tile * tile)  # [T, 1, P]
    pixel_y = pixel_y.expand(-1, tile, tile).reshape(-1, 1, tile * tile)  # [T, 1, P]
    mean = means2d[index]  # [T, K, 2]
    conic = conics[index][..., None]  # [T, K, 3, 1]
    opacity = torch.where(used, opacities[index], torch.zeros_like(used, dtype=opacities.dtype))  # [T, K]
    dx = mean[..., 0:1] - pixel_x  # [T, K, P]
    dy = mean[..., 1:2] - pixel_y  # [T, K, P]
    alpha = gaussian_alpha(dx, dy, conic[:, :, 0], conic[:, :, 1], conic[:, :, 2], opacity[..., None])  # [T, K, P]
    return composite(alpha, colors[index][:, :, None, :], dim=1)


def rasterize_tiles(projected: Projected, height: int, width: int, background: torch.Tensor, tile: int = TILE):
    """Projected Gaussians of B frames -> rgb [B, H, W, 3], alpha [B, H, W]."""
    batch, count = projected.opacities.shape
    tiles_x, tiles_y = -(-width // tile), -(-height // tile)
    tiles_per_frame = tiles_x * tiles_y
    pair_gaussians, tiles, starts, counts = bin_gaussians(projected, height, width, tile)
    flat = (projected.means2d.reshape(-1, 2), projected.conics.reshape(-1, 3), projected.colors.reshape(-1, 3),
            projected.opacities.reshape(-1))
    dtype, device = projected.means2d.dtype, projected.means2d.device
    canvas_rgb = torch.zeros(batch * tiles_per_frame, tile * tile, 3, dtype=dtype, device=device)
    canvas_t = torch.ones(batch * tiles_per_frame, tile * tile, dtype=dtype, device=device)
    lengths = torch.pow(2, torch.ceil(torch.log2(counts.to(torch.float64)))).long()  # [T] bucket per tile
    rendered, placed = [], []
    for length in torch.unique(lengths).tolist() or [1]:  # no tiles: one empty bucket keeps the autograd graph
        chosen = lengths == length
        rendered.append(_render_bucket(flat, pair_gaussians, tiles[chosen], starts[chosen], counts[chosen],
                                       int(length), tile, tiles_x, tiles_per_frame))
        placed.append(tiles[chosen])
    placed_ids = torch.cat(placed)
    canvas_rgb = canvas_rgb.index_put((placed_ids,), torch.cat([r[0] for r in rendered]))
    canvas_t = canvas_t.index_put((placed_ids,), torch.cat([r[1] for r in rendered]))
    rgb = canvas_rgb.reshape(batch, tiles_y, tiles_x, tile, tile, 3).permute(0, 1, 3, 2, 4, 5)
    rgb = rgb.reshape(batch, tiles_y * tile, tiles_x * tile, 3)[:, :height, :width]  # [B, H, W, 3]
    transmittance = canvas_t.reshape(batch, tiles_y, tiles_x, tile, tile).permute(0, 1, 3, 2, 4)
    transmittance = transmittance.reshape(batch, tiles_y * tile, tiles_x * tile)[:, :height, :width]  # [B, H, W]
    return rgb + transmittance[..., None] * background, 1.0 - transmittance
