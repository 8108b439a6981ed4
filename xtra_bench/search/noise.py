"""Root exploration noise: the caller draws it, so a search itself is deterministic given its seed."""

from __future__ import annotations

import numpy as np

from xtra_bench.search.checks import legal_matrix


def dirichlet_noise(legal_actions: np.ndarray, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Draws one Dirichlet(alpha) sample per root over that root's legal actions.

    Args:
        legal_actions: bool [B, A], True where an action is legal.
        alpha: concentration of the symmetric Dirichlet distribution (> 0).
        rng: the generator to draw from.

    Returns:
        float32 [B, A], each row summing to 1 over its legal actions, 0 on illegal ones.

    Raises:
        ValueError: on a bad mask or alpha <= 0.
    """
    legal = legal_matrix(legal_actions)
    if not alpha > 0.0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    # Normalised Gamma(alpha) draws are Dirichlet(alpha); this handles a different count per row.
    draws = np.where(legal, rng.standard_gamma(alpha, size=legal.shape), 0.0)
    totals = draws.sum(axis=1, keepdims=True)
    # With a tiny alpha every draw of a row can underflow to 0; fall back to uniform there.
    uniform = legal / legal.sum(axis=1, keepdims=True)
    noise = np.divide(draws, totals, out=uniform.copy(), where=totals > 0)
    return noise.astype(np.float32)
