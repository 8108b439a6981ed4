"""Stratified bootstrap percentile intervals (rliable's scheme), vectorised over replicates.

Each replicate resamples, independently for every task, as many runs as there are, with
replacement: the uncertainty of repeating the experiment with new seeds on the same tasks (rliable's
``StratifiedBootstrap`` without task bootstrap). Replicates are drawn in chunks so memory stays
bounded, from a seeded ``numpy`` generator so a report is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

# Elements of one chunk of resampled scores (float64: 8 bytes each), about 64 MB.
_CHUNK_ELEMENTS = 8_000_000


def resample_indices(rng: np.random.Generator, reps: int, runs: int, tasks: int) -> np.ndarray:
    """Run indices of ``reps`` stratified replicates: int64 [reps, runs, tasks], each in [0, runs)."""
    return rng.integers(0, runs, size=(reps, runs, tasks))


def stratified_resamples(scores: np.ndarray, reps: int, rng: np.random.Generator, per_rep: int = 1) -> Iterator[np.ndarray]:
    """Yields the replicates of ``scores`` in chunks.

    Args:
        scores: float [runs, tasks, ...] (trailing axes, e.g. evaluation steps, travel with a run).
        reps: number of replicates in all.
        rng: the generator the run indices are drawn from.
        per_rep: memory a statistic needs per replicate element (e.g. thresholds of a profile),
            so the chunk shrinks accordingly.

    Yields:
        float [chunk, runs, tasks, ...]; the chunks add up to ``reps`` replicates.
    """
    runs, tasks = scores.shape[:2]
    chunk = max(1, _CHUNK_ELEMENTS // (scores.size * per_rep))
    task_index = np.arange(tasks)
    for start in range(0, reps, chunk):
        idx = resample_indices(rng, min(chunk, reps - start), runs, tasks)
        yield scores[idx, task_index]


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """Percentile interval of bootstrap replicates: float [reps, ...] -> [2, ...] (low, high)."""
    tail = 100 * (1 - confidence) / 2
    return np.percentile(replicates, [tail, 100 - tail], axis=0)


def interval(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    reps: int,
    rng: np.random.Generator,
    confidence: float = 0.95,
    per_rep: int = 1,
) -> np.ndarray:
    """Stratified bootstrap interval of a batched statistic.

    Args:
        scores: float [runs, tasks, ...].
        statistic: maps float [B, runs, tasks, ...] to float [B, ...].
        reps: bootstrap replicates.
        rng: random generator.
        confidence: coverage.
        per_rep: see ``stratified_resamples``.

    Returns:
        float [2, ...]: lower and upper bounds.
    """
    replicates = np.concatenate([statistic(chunk) for chunk in stratified_resamples(scores, reps, rng, per_rep)])
    return percentile_interval(replicates, confidence)


def paired_interval(
    x: np.ndarray,
    y: np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray], np.ndarray],
    reps: int,
    rng: np.random.Generator,
    confidence: float = 0.95,
) -> np.ndarray:
    """Interval of a statistic of two score sets, each resampled independently (rliable's
    ``StratifiedIndependentBootstrap``), e.g. the probability of improvement.

    Args:
        x: float [runs_x, tasks].
        y: float [runs_y, tasks].
        statistic: maps float [B, runs_x, tasks] and [B, runs_y, tasks] to float [B].
        reps: bootstrap replicates.
        rng: random generator.
        confidence: coverage.

    Returns:
        float [2]: lower and upper bounds.
    """
    chunk = max(1, _CHUNK_ELEMENTS // (x.size * y.shape[0]))  # every run of x meets every run of y
    replicates = []
    for start in range(0, reps, chunk):
        size = min(chunk, reps - start)
        a = x[resample_indices(rng, size, *x.shape), np.arange(x.shape[1])]
        b = y[resample_indices(rng, size, *y.shape), np.arange(y.shape[1])]
        replicates.append(statistic(a, b))
    return percentile_interval(np.concatenate(replicates), confidence)
