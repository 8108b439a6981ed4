"""CURL's contrastive auxiliary task: random crops, bilinear InfoNCE, and the momentum key encoder.

Two independent random crops of the same observations make queries (online encoder) and keys
(the EMA key encoder, no gradient); the bilinear score q_i^T W k_j of every pair gives B logits per
query whose positive is its own key (the diagonal).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _crop_coordinates(batch: int, size: int, margin: int, device: torch.device) -> torch.Tensor:
    """Source coordinates along one axis of CURL's crop-pad-crop, per sample: int64 [B, size].

    A first crop of side size - margin starts at a random offset a in [0, margin]; replicate padding
    by margin then a second crop of side size at a random offset b in [0, margin] reads padded
    position b + i, i.e. the first crop's coordinate clamp(b + i - margin, 0, size - margin - 1).
    """
    first = torch.randint(0, margin + 1, (batch, 1), device=device)
    second = torch.randint(0, margin + 1, (batch, 1), device=device)
    inner = (second + torch.arange(size, device=device) - margin).clamp(0, size - margin - 1)
    return first + inner


def crop_augment(x: torch.Tensor, margin: int) -> torch.Tensor:
    """CURL's Atari augmentation: a random crop ``margin`` px smaller, replicate-padded by ``margin``, randomly cropped back.

    The three steps compose into one gather of source pixels (much faster than cropping and padding
    in turn), each sample with its own offsets.

    Args:
        x: float [B, C, H, H] square frames.
        margin: pixels (0 returns ``x``).

    Returns:
        float [B, C, H, H].
    """
    if margin == 0:
        return x
    b, c, size, _ = x.shape
    rows = _crop_coordinates(b, size, margin, x.device)
    cols = _crop_coordinates(b, size, margin, x.device)
    index = (rows[:, :, None] * size + cols[:, None, :]).view(b, 1, size * size)
    return x.flatten(2).gather(2, index.expand(b, c, -1)).view_as(x)


def contrastive_loss(queries: torch.Tensor, keys: torch.Tensor, W: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """InfoNCE with bilinear similarity, as CURL's Atari code computes it.

    logits_ij = q_i^T W k_j, shifted by each row's maximum (for stable exponentials) and multiplied
    by ``logit_scale``; the loss is the cross-entropy of each row against its diagonal entry.

    Args:
        queries: float [B, D] embeddings of the first crops (online encoder).
        keys: float [B, D] embeddings of the second crops (key encoder; detached by the caller).
        W: float [D, D] the bilinear matrix.
        logit_scale: multiplies the shifted logits.

    Returns:
        Scalar mean loss over the B rows.
    """
    logits = queries @ (W @ keys.T)
    logits = (logits - logits.max(dim=1, keepdim=True).values) * logit_scale
    return F.cross_entropy(logits, torch.arange(len(queries), device=queries.device))


@torch.no_grad()
def momentum_update(key_encoder: nn.Module, query_encoder: nn.Module, momentum: float) -> None:
    """theta_k <- m theta_k + (1 - m) theta_q for every parameter of the key encoder."""
    for key, query in zip(key_encoder.parameters(), query_encoder.parameters()):
        key.mul_(momentum).add_(query, alpha=1 - momentum)
