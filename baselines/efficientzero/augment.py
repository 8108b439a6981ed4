"""EfficientZero's image augmentation: random shift (replicate pad, random crop) and random intensity.

Every frame of one sample (its stack and its unroll targets) gets the same shift and intensity, so
the consistency loss compares views of the same augmented sequence. Randomness comes from the
generator passed in (the learner's own, seeded and checkpointed; torch's default one when None).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def random_shift(x: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shifts each sample by up to ``pad`` pixels in each direction, filling with the edge pixels.

    Args:
        x: float [B, C, H, W].
        pad: the largest shift (0 returns ``x``).
        generator: draws the shifts (on ``x``'s device).

    Returns:
        float [B, C, H, W].
    """
    if pad == 0:
        return x
    b, _, height, width = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (b, 1), device=x.device, generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b, 1), device=x.device, generator=generator)
    rows = (torch.arange(height, device=x.device)[None, :] + dy)[:, None, :, None]  # [B, 1, H, 1]
    cols = (torch.arange(width, device=x.device)[None, :] + dx)[:, None, None, :]  # [B, 1, 1, W]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def random_intensity(x: torch.Tensor, scale: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scales each sample by 1 + scale * clip(N(0, 1), -2, 2): x float [B, ...] -> same (scale 0 returns ``x``)."""
    if scale == 0:
        return x
    noise = torch.randn((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, generator=generator).clamp_(-2.0, 2.0)
    return x * (1.0 + scale * noise)


def augment(x: torch.Tensor, pad: int, intensity_scale: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift then intensity, EfficientZero's order: x float [B, C, H, W] -> same."""
    return random_intensity(random_shift(x, pad, generator), intensity_scale, generator)
