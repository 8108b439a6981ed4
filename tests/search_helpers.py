"""Random tree problems (network outputs drawn in advance) and a loop driving a tree through one."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Problem(NamedTuple):
    """Everything a search of B roots x S simulations over A actions reads."""

    legal: np.ndarray  # bool [B, A]
    priors: np.ndarray  # float32 [S + 1, B, A]: the roots' first, then one row per simulation
    values: np.ndarray  # float32 [S, B]
    value_prefixes: np.ndarray  # float32 [S, B]
    noise: np.ndarray | None  # float32 [B, A]


def random_problem(
    rng: np.random.Generator,
    num_roots: int,
    num_actions: int,
    num_simulations: int,
    *,
    coarse: bool = False,
    uniform_priors: bool = False,
    noise: bool = False,
    jitter: float = 0.0,
) -> Problem:
    """Draws a problem.

    ``coarse`` values (a few integers) and uniform priors make exact ties frequent; a ``jitter``
    below the trees' tie tolerance (1e-6) added to values and priors turns them into near-ties.
    """
    legal = rng.random((num_roots, num_actions)) < 0.7
    legal[np.arange(num_roots), rng.integers(0, num_actions, num_roots)] = True
    shape = (num_simulations + 1, num_roots, num_actions)
    weights = np.ones(shape) if uniform_priors else rng.exponential(size=shape)
    weights = np.where(legal, weights + jitter * rng.uniform(-1, 1, shape), 0.0)
    priors = (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)
    if coarse:
        values = rng.integers(-1, 2, (num_simulations, num_roots)).astype(np.float32)
        prefixes = rng.integers(0, 3, (num_simulations, num_roots)).astype(np.float32)
    else:
        values = rng.normal(size=(num_simulations, num_roots)).astype(np.float32)
        prefixes = rng.normal(size=(num_simulations, num_roots)).astype(np.float32)
    values += jitter * rng.uniform(-1, 1, values.shape)
    prefixes += jitter * rng.uniform(-1, 1, prefixes.shape)
    root_noise = None
    if noise:
        root_noise = np.where(legal, rng.dirichlet(np.full(num_actions, 0.3), num_roots), 0.0).astype(np.float32)
    return Problem(legal, priors, values, prefixes, root_noise)


class Outcome(NamedTuple):
    traversals: np.ndarray  # int64 [S, 3, B]: parent slots, actions, reset flags
    visit_counts: np.ndarray
    root_values: np.ndarray
    q_values: np.ndarray


def drive(tree, problem: Problem) -> Outcome:
    """Runs a whole search on ``tree`` with the problem's precomputed network outputs."""
    tree.prepare(problem.priors[0], problem.noise)
    traversals = []
    for s in range(len(problem.values)):
        traversals.append(np.stack(tree.traverse()).astype(np.int64))
        tree.backpropagate(problem.values[s], problem.value_prefixes[s], problem.priors[s + 1])
    return Outcome(np.array(traversals), tree.visit_counts(), tree.root_values(), tree.q_values())
