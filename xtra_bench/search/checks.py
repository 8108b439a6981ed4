"""Input checks shared by the compiled and the reference tree, so both reject the same inputs alike."""

from __future__ import annotations

import numpy as np

SEED_MASK = (1 << 64) - 1
"""Seeds are taken modulo 2**64, the width of the trees' random generators."""


def legal_matrix(legal_actions: np.ndarray) -> np.ndarray:
    """Checks a legal-action mask.

    Args:
        legal_actions: bool-like [B, A], true where an action is legal.

    Returns:
        C-contiguous bool [B, A].

    Raises:
        ValueError: not two-dimensional, empty, or a root without a legal action.
    """
    legal = np.ascontiguousarray(legal_actions, dtype=bool)
    if legal.ndim != 2 or legal.shape[0] == 0 or legal.shape[1] == 0:
        raise ValueError(f"legal_actions must have shape [roots, actions] with both > 0, got {legal.shape}")
    empty = np.flatnonzero(~legal.any(axis=1))
    if empty.size:
        raise ValueError(f"root {empty[0]} has no legal action")
    return legal


def float_rows(array: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Checks the shape of a per-root input and converts it for the trees.

    Args:
        array: array-like of the given shape.
        shape: the expected shape, e.g. (B,) or (B, A).
        name: the argument's name, for the error message.

    Returns:
        C-contiguous float32 array of ``shape``.

    Raises:
        ValueError: on a different shape.
    """
    out = np.ascontiguousarray(array, dtype=np.float32)
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    return out


def check_finite(array: np.ndarray, name: str) -> None:
    """Raises ValueError unless every entry of ``array`` is finite (the C++ tree's own check)."""
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity")
