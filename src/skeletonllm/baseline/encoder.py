"""The topology-aware skeleton encoder and its CLIP-style alignment loss.

Input: shared-joint clips [B, F, M, S, 3] (baseline.clips). Each present body's joint positions and velocities
(6 channels) pass a data batch norm and three ST-GCN-style blocks: a spatial graph convolution over the shared
skeleton (its normalized adjacency plus a learned joint mixing that starts at zero, as 2s-AGCN's adaptive graph)
and a temporal convolution (kernel 9; strides 2, 2 and 1 over the 32 input frames), with residuals; 32, 64
and 64 channels, about 120k parameters, sized for a CPU. The features are averaged over frames and joints, then over
the bodies present, projected to the 384 dimensions of the MiniLM class-name embeddings and L2-normalized.

Scores are cosine similarities to class-name embeddings divided by a fixed temperature; training minimizes their
cross-entropy over the seen classes (the text side of CLIP's loss, with the text encoder frozen).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from skeletonllm.baseline.joints import SHARED_NAMES, shared_adjacency
from skeletonllm.baseline.text import TEXT_DIMS


@dataclass(frozen=True)
class EncoderConfig:
    """The encoder's shape: channels of its blocks, their temporal strides, the temporal kernel, the output size and
    the temperature of the cosine softmax."""

    channels: tuple[int, ...] = (32, 64, 64)
    strides: tuple[int, ...] = (2, 2, 1)
    kernel: int = 9
    out_dims: int = TEXT_DIMS
    temperature: float = 0.1

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> EncoderConfig:
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in data.items()})


class GraphBlock(nn.Module):
    """Spatial graph convolution over the joints, then a temporal convolution; residual connection."""

    def __init__(self, adjacency: torch.Tensor, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        joints = adjacency.shape[0]
        self.register_buffer("adjacency", adjacency)  # [S, S]
        self.mixing = nn.Parameter(torch.zeros(joints, joints))  # [S, S] learned joint mixing
        self.spatial = nn.Conv2d(cin, cout, 1)
        self.spatial_norm = nn.BatchNorm2d(cout)
        self.temporal = nn.Conv2d(cout, cout, (kernel, 1), padding=(kernel // 2, 0), stride=(stride, 1))
        self.temporal_norm = nn.BatchNorm2d(cout)
        if cin == cout and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=(stride, 1)), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, Cin, F, S] -> [N, Cout, F / stride, S]."""
        mixed = torch.einsum("ncfs,sv->ncfv", x, self.adjacency + self.mixing)  # [N, Cin, F, S]
        y = F.relu(self.spatial_norm(self.spatial(mixed)))  # [N, Cout, F, S]
        y = self.temporal_norm(self.temporal(y))  # [N, Cout, F', S]
        return F.relu(y + self.residual(x))


def motion_features(clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """clips [B, F, M, S, 3] -> (features [B, M, 6, F, S]: positions and velocities (frame differences, 0 where a
    joint is absent in either frame), bodies bool [B, M]: whether a body appears in any frame)."""
    present = clips.ne(0).any(dim=-1)  # [B, F, M, S]
    velocity = torch.zeros_like(clips)  # [B, F, M, S, 3]
    moving = (present[:, 1:] & present[:, :-1]).unsqueeze(-1)  # [B, F-1, M, S, 1]
    velocity[:, 1:] = (clips[:, 1:] - clips[:, :-1]) * moving
    features = torch.cat([clips, velocity], dim=-1)  # [B, F, M, S, 6]
    return features.permute(0, 2, 4, 1, 3), present.any(dim=1).any(dim=-1)


class SkeletonEncoder(nn.Module):
    """Shared-joint clips -> unit embeddings in the class-name embedding space."""

    def __init__(self, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        self.config = config
        adjacency = torch.from_numpy(shared_adjacency())  # [S, S]
        joints, channels = len(SHARED_NAMES), 6
        self.data_norm = nn.BatchNorm1d(channels * joints)
        blocks, cin = [], channels
        for cout, stride in zip(config.channels, config.strides):
            blocks.append(GraphBlock(adjacency, cin, cout, config.kernel, stride))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.project = nn.Linear(cin, config.out_dims)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """clips [B, F, M, S, 3] -> unit embeddings [B, D]; a clip without any body embeds to zeros."""
        features, bodies = motion_features(clips)  # [B, M, 6, F, S], [B, M]
        batch, _, channels, frames, joints = features.shape
        x = features[bodies]  # [N, 6, F, S]: the present bodies only
        x = self.data_norm(x.permute(0, 1, 3, 2).reshape(-1, channels * joints, frames))  # [N, 6*S, F]
        x = x.reshape(-1, channels, joints, frames).permute(0, 1, 3, 2)  # [N, 6, F, S]
        for block in self.blocks:
            x = block(x)  # [N, C, F', S]
        pooled = x.mean(dim=(2, 3))  # [N, C]
        per_body = pooled.new_zeros(batch, bodies.shape[1], pooled.shape[1])  # [B, M, C]
        per_body[bodies] = pooled
        counts = bodies.sum(dim=1, keepdim=True).clamp(min=1)  # [B, 1]
        body_mean = per_body.sum(dim=1) / counts  # [B, C]
        return F.normalize(self.project(body_mean), dim=-1)  # [B, D]


def cosine_logits(embeddings: torch.Tensor, class_embeddings: torch.Tensor, temperature: float) -> torch.Tensor:
    """embeddings [B, D] and unit class_embeddings [K, D] -> logits [B, K] = cosine / temperature."""
    return embeddings @ F.normalize(class_embeddings, dim=-1).T / temperature


def alignment_loss(embeddings: torch.Tensor, class_embeddings: torch.Tensor, labels: torch.Tensor,
                   temperature: float) -> torch.Tensor:
    """Cross-entropy of the cosine softmax over the classes: embeddings [B, D], class_embeddings [K, D],
    labels long [B] (indices into the classes)."""
    return F.cross_entropy(cosine_logits(embeddings, class_embeddings, temperature), labels)
