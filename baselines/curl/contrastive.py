"""CURL's contrastive auxiliary task: random crops, bilinear InfoNCE, and the momentum key encoder.

Two independent random crops of the same observations make queries (online encoder) and keys
(the EMA key encoder, no gradient); the bilinear score q_i^T W k_j of every pair gives B logits per
query whose positive is its own key (the diagonal).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def random_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """A square crop of side ``size`` at a random position per sample: float [B, C, H, W] -> [B, C, size, size]."""
    b, c, height, width = x.shape
    top = torch.randint(0, height - size + 1, (b, 1), device=x.device)
    left = torch.randint(0, width - size + 1, (b, 1), device=x.device)
    rows = (top + torch.arange(size, device=x.device))[:, None, :, None]  # [B, 1, size, 1]
    cols = (left + torch.arange(size, device=x.device))[:, None, None, :]  # [B, 1, 1, size]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return x[batch, channel, rows, cols]


def crop_augment(x: torch.Tensor, margin: int) -> torch.Tensor:
    """CURL's Atari augmentation: crop ``margin`` px smaller, replicate-pad by ``margin``, crop back to size.

    Args:
        x: float [B, C, H, H] square frames.
        margin: pixels (0 returns ``x``).

    Returns:
        float [B, C, H, H].
    """
    if margin == 0:
        return x
    size = x.shape[-1]
    padded = F.pad(random_crop(x, size - margin), (margin, margin, margin, margin), mode="replicate")
    return random_crop(padded, size)


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
