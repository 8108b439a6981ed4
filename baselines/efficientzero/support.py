"""Scalar transforms: the invertible squashing h(x) and the categorical (two-hot) support.

Values and value prefixes are learned as distributions over the integers [-S, S] (S = 300: 601
bins) of the squashed scale h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps * x (Pohlen et al., 2018).
"""

from __future__ import annotations

import torch


def h_transform(x: torch.Tensor, eps: float = 0.001) -> torch.Tensor:
    """Squashes returns: h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps * x, elementwise (any shape)."""
    return torch.sign(x) * (torch.sqrt(torch.abs(x) + 1.0) - 1.0) + eps * x


def h_inverse(y: torch.Tensor, eps: float = 0.001) -> torch.Tensor:
    """The exact inverse of ``h_transform`` (solves the quadratic in sqrt(|x| + 1)), elementwise."""
    root = (torch.sqrt(1.0 + 4.0 * eps * (torch.abs(y) + 1.0 + eps)) - 1.0) / (2.0 * eps)
    return torch.sign(y) * (root * root - 1.0)


def scalar_to_support(x: torch.Tensor, support_size: int, eps: float = 0.001) -> torch.Tensor:
    """Encodes scalars as two-hot distributions over the squashed support.

    h(x) is clipped to [-S, S] and split between its two neighbouring integers in proportion to
    closeness, so that the distribution's mean is exactly h(x).

    Args:
        x: float [...] scalars (raw scale).
        support_size: S.
        eps: the epsilon of h.

    Returns:
        float [..., 2S + 1] probabilities; bin i stands for the integer i - S.
    """
    y = h_transform(x.float(), eps).clamp(-support_size, support_size)
    low = torch.floor(y)
    upper_weight = y - low
    index = (low + support_size).long()
    out = torch.zeros(*x.shape, 2 * support_size + 1, dtype=torch.float32, device=x.device)
    out.scatter_(-1, index.unsqueeze(-1), (1.0 - upper_weight).unsqueeze(-1))
    # At y == S the upper neighbour does not exist, but its weight is 0 there: clamp keeps the index valid.
    upper_index = (index + 1).clamp(max=2 * support_size)
    out.scatter_add_(-1, upper_index.unsqueeze(-1), upper_weight.unsqueeze(-1))
    return out


def support_to_scalar(logits: torch.Tensor, support_size: int, eps: float = 0.001) -> torch.Tensor:
    """Decodes support logits into scalars: h^-1 of the softmax's mean over the support.

    Args:
        logits: float [..., 2S + 1] unnormalised log-probabilities.
        support_size: S.
        eps: the epsilon of h.

    Returns:
        float [...] scalars (raw scale).
    """
    support = torch.arange(-support_size, support_size + 1, dtype=torch.float32, device=logits.device)
    probs = torch.softmax(logits.float(), dim=-1)
    return h_inverse((probs * support).sum(-1), eps)
