"""Pure-Python MCTS with the compiled tree's semantics and API: the oracle its tests compare against.

Written for reading, not speed: one object per node, Q recomputed from the children when needed.
It evaluates every floating-point expression in the same order as ``ext/tree.cpp``, in double
precision, so both give bit-identical visit counts, values and tie-breaks.
"""

from __future__ import annotations

import math

import numpy as np

from xtra_bench.search.checks import SEED_MASK, check_finite, float_rows, legal_matrix
from xtra_bench.search.outputs import Traversal

TIE_TOLERANCE = 1e-6
"""Scores within this of the best one are ties, broken by the root's seeded generator."""
MIN_Q_RANGE = 0.01
"""Smallest Q range used to normalise Q."""
_GOLDEN = 0x9E3779B97F4A7C15


def _mix64(z: int) -> int:
    """SplitMix64's output function on a 64-bit integer."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & SEED_MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & SEED_MASK
    return z ^ (z >> 31)


class _SplitMix64:
    """One root's tie-breaking generator."""

    def __init__(self, seed: int, root: int):
        self.state = _mix64((seed + _mix64(root)) & SEED_MASK)

    def below(self, n: int) -> int:
        """Returns a number in [0, n)."""
        self.state = (self.state + _GOLDEN) & SEED_MASK
        return _mix64(self.state) % n


class _Node:
    """A node; ``children[k]`` follows the k-th legal action of the root and is None until visited."""

    __slots__ = ("slot", "value_prefix", "is_reset", "priors", "children", "value_sum", "visits")

    def __init__(self, slot: int, value_prefix: float, is_reset: bool, priors: list[float]):
        self.slot = slot
        self.value_prefix = value_prefix
        self.is_reset = is_reset
        self.priors = priors
        self.children: list[_Node | None] = [None] * len(priors)
        self.value_sum = 0.0
        self.visits = 0

    def reward(self, child: _Node) -> float:
        """The reward of the step to ``child``: a value-prefix difference unless this node resets it."""
        return child.value_prefix if self.is_reset else child.value_prefix - self.value_prefix

    def q(self, child: _Node, discount: float) -> float:
        return self.reward(child) + discount * (child.value_sum / child.visits)


class _Search:
    """The tree of one root and its min-max Q statistics."""

    def __init__(self, legal: list[int], priors: list[float], seed: int, index: int):
        self.legal = legal
        self.root = _Node(0, 0.0, True, priors)
        self.root.visits = 1  # as in EfficientZero: N at the root counts the finished simulations
        self.num_nodes = 1
        self.q_min = math.inf
        self.q_max = -math.inf
        self.rng = _SplitMix64(seed, index)
        self.path: list[tuple[_Node, int]] = []

    def normalise(self, q: float) -> float:
        q_range = self.q_max - self.q_min
        if q_range > 0.0:
            q = (q - self.q_min) / (q_range if q_range >= MIN_Q_RANGE else MIN_Q_RANGE)
        return min(max(q, 0.0), 1.0)


class ReferenceTree:
    """Batched MCTS over B roots; same constructor, methods and results as ``_ctree.Tree``.

    Args:
        legal_actions: bool [B, A], True where an action is legal; every root needs one.
        num_simulations: simulations per search.
        discount: discount per tree level.
        pb_c_base: pUCT c2.
        pb_c_init: pUCT c1.
        exploration_fraction: weight of the noise in the root priors.
        value_prefix_horizon: value prefixes restart at depths divisible by this.
        seed: seeds tie-breaking (taken modulo 2**64).

    Raises:
        ValueError: on a bad mask or setting.
    """

    def __init__(
        self,
        legal_actions: np.ndarray,
        *,
        num_simulations: int = 50,
        discount: float = 0.997,
        pb_c_base: float = 19652.0,
        pb_c_init: float = 1.25,
        exploration_fraction: float = 0.25,
        value_prefix_horizon: int = 5,
        seed: int = 0,
    ):
        legal = legal_matrix(legal_actions)
        if num_simulations < 1:
            raise ValueError("num_simulations must be >= 1")
        if value_prefix_horizon < 1:
            raise ValueError("value_prefix_horizon must be >= 1")
        self.num_roots, self.num_actions = legal.shape
        self._legal = [np.flatnonzero(row).tolist() for row in legal]
        self._num_simulations = num_simulations
        self._discount = float(discount)
        self._pb_c_base = float(pb_c_base)
        self._pb_c_init = float(pb_c_init)
        self._exploration_fraction = float(exploration_fraction)
        self._horizon = value_prefix_horizon
        self._seed = seed & SEED_MASK
        self._searches: list[_Search] | None = None
        self._awaiting_backup = False
        self.simulations_done = 0

    def prepare(self, priors: np.ndarray, noise: np.ndarray | None = None) -> None:
        """Starts a search; see ``_ctree.Tree.prepare``."""
        shape = (self.num_roots, self.num_actions)
        priors = float_rows(priors, shape, "priors")
        check_finite(priors, "priors")
        if noise is not None:
            noise = float_rows(noise, shape, "noise")
            check_finite(noise, "noise")
        f = self._exploration_fraction
        self._searches = []
        for b, legal in enumerate(self._legal):
            root_priors = [float(priors[b, a]) for a in legal]
            if noise is not None:
                root_priors = [p * (1.0 - f) + float(noise[b, a]) * f for p, a in zip(root_priors, legal)]
            self._searches.append(_Search(legal, root_priors, self._seed, b))
        self.simulations_done = 0
        self._awaiting_backup = False

    def traverse(self) -> Traversal:
        """Selects one leaf per root; see ``_ctree.Tree.traverse``."""
        searches = self._prepared("traverse")
        if self._awaiting_backup:
            raise RuntimeError("traverse() twice without backpropagate()")
        if self.simulations_done == self._num_simulations:
            raise RuntimeError(
                f"all {self._num_simulations} simulations are done; call prepare() to start a new search"
            )
        parent_slots = np.empty(self.num_roots, dtype=np.int64)
        actions = np.empty(self.num_roots, dtype=np.int64)
        leaf_reset = np.empty(self.num_roots, dtype=bool)
        for b, search in enumerate(searches):
            node, mean_q, search.path = search.root, 0.0, []
            while True:
                k, mean_q = self._select(search, node, not search.path, mean_q)
                search.path.append((node, k))
                if node.children[k] is None:
                    break
                node = node.children[k]
            parent_slots[b] = node.slot
            actions[b] = search.legal[k]
            leaf_reset[b] = len(search.path) % self._horizon == 0
        self._awaiting_backup = True
        return Traversal(parent_slots, actions, leaf_reset)

    def _select(self, search: _Search, node: _Node, is_root: bool, parent_mean_q: float) -> tuple[int, float]:
        """pUCT choice among ``node``'s children; returns the child's index and the node's mean Q."""
        qs = [None if child is None else node.q(child, self._discount) for child in node.children]
        q_sum, visited = 0.0, 0
        for q in qs:
            if q is not None:
                q_sum += q
                visited += 1
        if is_root:
            mean_q = q_sum / visited if visited > 0 else 0.0
        else:
            mean_q = (parent_mean_q + q_sum) / (visited + 1)

        n = node.visits - 1
        exploration = (self._pb_c_init + math.log((n + self._pb_c_base + 1.0) / self._pb_c_base)) * math.sqrt(n)
        best, ties = -math.inf, []
        for k, (prior, child, q) in enumerate(zip(node.priors, node.children, qs)):
            child_visits = 0 if child is None else child.visits
            value = search.normalise(mean_q if q is None else q)
            score = prior * exploration / (1.0 + child_visits) + value
            if score > best:
                best, ties = score, [k]
            elif score >= best - TIE_TOLERANCE:
                ties.append(k)
        k = ties[0] if len(ties) == 1 else ties[search.rng.below(len(ties))]
        return k, mean_q

    def backpropagate(self, values: np.ndarray, value_prefixes: np.ndarray, priors: np.ndarray) -> None:
        """Expands the last traversed leaves and backs their values up; see ``_ctree.Tree.backpropagate``."""
        if not self._awaiting_backup:
            raise RuntimeError("backpropagate() without a traverse() before it")
        values = float_rows(values, (self.num_roots,), "values")
        value_prefixes = float_rows(value_prefixes, (self.num_roots,), "value_prefixes")
        priors = float_rows(priors, (self.num_roots, self.num_actions), "priors")
        for array, name in ((values, "values"), (value_prefixes, "value_prefixes"), (priors, "priors")):
            check_finite(array, name)
        for b, search in enumerate(self._searches):
            parent, k = search.path[-1]
            leaf = _Node(
                search.num_nodes,
                float(value_prefixes[b]),
                len(search.path) % self._horizon == 0,
                [float(priors[b, a]) for a in search.legal],
            )
            search.num_nodes += 1
            parent.children[k] = leaf

            v, node = float(values[b]), leaf
            for parent, k in reversed(search.path):
                node.value_sum += v
                node.visits += 1
                q = parent.q(node, self._discount)
                search.q_min, search.q_max = min(search.q_min, q), max(search.q_max, q)
                v = parent.reward(node) + self._discount * v
                node = parent
            node.value_sum += v
            node.visits += 1
        self._awaiting_backup = False
        self.simulations_done += 1

    def visit_counts(self) -> np.ndarray:
        """Returns int32 [B, A] visits of each root action (0 on illegal actions)."""
        out = np.zeros((self.num_roots, self.num_actions), dtype=np.int32)
        for b, search in enumerate(self._prepared("visit_counts")):
            for a, child in zip(search.legal, search.root.children):
                out[b, a] = 0 if child is None else child.visits
        return out

    def root_values(self) -> np.ndarray:
        """Returns float32 [B] root values, value_sum / visits."""
        searches = self._prepared("root_values")
        return np.array([s.root.value_sum / s.root.visits for s in searches], dtype=np.float32)

    def q_values(self) -> np.ndarray:
        """Returns float32 [B, A] Q of each root action (NaN where illegal or unvisited)."""
        out = np.full((self.num_roots, self.num_actions), np.nan, dtype=np.float32)
        for b, search in enumerate(self._prepared("q_values")):
            for a, child in zip(search.legal, search.root.children):
                if child is not None:
                    out[b, a] = search.root.q(child, self._discount)
        return out

    def _prepared(self, what: str) -> list[_Search]:
        if self._searches is None:
            raise RuntimeError(f"{what}() before prepare()")
        return self._searches
