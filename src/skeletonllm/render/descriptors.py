"""Per-Gaussian descriptors of where each Gaussian sits on the body: the inputs of DrAction's appearance head.

They are the same for every topology, so no learned parameter depends on the joint layout: a Gaussian is described
by its body part (one-hot over body_parts.PARTS), its side (one-hot over SIDES), its position along its bone
(0 at the parent joint, 1 at the child; joint Gaussians 0, with an is-joint flag) and its height and lateral
offset in the rest pose (the clip's canonical template), relative to the root and in units of the body's height.
Heights grow upwards and lateral offsets towards the body's right, for 3D poses (y up, facing the camera, so the
right is +x) and 2D image poses (y down; a person facing the camera has their right on the image's left).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from skeletonllm.formats.body_parts import PARTS, SIDES, joint_labels, needs_geometry
from skeletonllm.render.gaussians import GaussianLayout

DESCRIPTOR_DIM = len(PARTS) + len(SIDES) + 4  # part, side, position along the bone, is-joint, height, lateral
MIN_SPAN = 1e-6


def label_indices(layout: GaussianLayout, rest: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(part long [N], side long [N]): each Gaussian takes the part and side of the joint its bone ends at."""
    parts, sides = joint_labels(layout.topology, rest)
    part = torch.tensor([PARTS.index(p) for p in parts])[layout.end]  # [N]
    side = torch.tensor([SIDES.index(s) for s in sides])[layout.end]  # [N]
    return part, side


def rest_frame(canonical: torch.Tensor, planar: bool) -> torch.Tensor:
    """canonical [..., J, 3] as (right, up, back): 3D poses stay, 2D image poses (y down) turn half a turn about z."""
    return canonical * canonical.new_tensor([-1.0, -1.0, 1.0]) if planar else canonical


def gaussian_descriptors(layout: GaussianLayout, canonical: torch.Tensor, planar: bool) -> torch.Tensor:
    """float [B, M, N, DESCRIPTOR_DIM] for the canonical (rest) poses canonical [B, M, J, 3] of a clip batch.

    Part and side come from the joint names; where the names say nothing (an unknown BVH rig) they come from each
    body's rest pose. No gradient flows into the descriptors.
    """
    with torch.no_grad():
        layout = layout.to(canonical.device)
        rest = rest_frame(canonical, planar)  # [B, M, J, 3] right, up, back
        batch, bodies, count = canonical.shape[0], canonical.shape[1], layout.num_gaussians
        if needs_geometry(layout.topology):
            labels = [label_indices(layout, body.cpu().double().numpy()) for body in rest.flatten(0, 1)]
            part = torch.stack([p for p, _ in labels]).reshape(batch, bodies, count)  # [B, M, N]
            side = torch.stack([s for _, s in labels]).reshape(batch, bodies, count)  # [B, M, N]
        else:
            part, side = (index.expand(batch, bodies, count) for index in label_indices(layout))  # [B, M, N]
        t = layout.t.to(canonical)  # [N]
        template = torch.lerp(rest[..., layout.start, :], rest[..., layout.end, :], t[:, None])  # [B, M, N, 3]
        root = rest[..., layout.topology.root, None, :]  # [B, M, 1, 3]
        heights = rest[..., 1]  # [B, M, J]
        span = (heights.amax(-1) - heights.amin(-1)).clamp_min(MIN_SPAN)[..., None]  # [B, M, 1]
        height = (template[..., 1] - root[..., 1]) / span  # [B, M, N]
        lateral = (template[..., 0] - root[..., 0]) / span  # [B, M, N]
        is_joint = (layout.bone < 0).to(canonical).expand(batch, bodies, count)  # [B, M, N]
        return torch.cat([F.one_hot(part.to(canonical.device), len(PARTS)).to(canonical),
                          F.one_hot(side.to(canonical.device), len(SIDES)).to(canonical),
                          torch.stack([t.expand(batch, bodies, count), is_joint, height, lateral], -1)], -1)
