"""Binding of the C++ search tree (tree.h), compiled to ``xtra_bench.search._ctree``.

``Tree`` owns one ``Forest``; its methods check shapes, convert arrays and release the GIL while
the C++ code works. ``xtra_bench.search.reference.ReferenceTree`` is its pure-Python twin with
the same API and the same results.
"""

import numpy as np

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

from ctree cimport Forest, TreeConfig

from xtra_bench.search.checks import SEED_MASK, float_rows, legal_matrix
from xtra_bench.search.outputs import Traversal


cdef class Tree:
    """Batched MCTS over B roots with EfficientZero's semantics (DESIGN.md, MCTS).

    Args:
        legal_actions: bool [B, A], True where an action is legal; every root needs one, and
            every node of a root's tree has that root's legal actions.
        num_simulations: simulations per search.
        discount: discount per tree level.
        pb_c_base: pUCT c2.
        pb_c_init: pUCT c1.
        exploration_fraction: weight of the noise in the root priors.
        value_prefix_horizon: value prefixes restart at depths divisible by this.
        num_threads: threads splitting the roots; results do not depend on it.
        seed: seeds tie-breaking (taken modulo 2**64).

    Raises:
        ValueError: on a bad mask or setting.
    """

    cdef Forest* forest
    cdef readonly int num_roots
    """B, the number of roots."""
    cdef readonly int num_actions
    """A, the size of the action space."""

    def __cinit__(self, legal_actions, *, int num_simulations=50, double discount=0.997,
                  double pb_c_base=19652.0, double pb_c_init=1.25,
                  double exploration_fraction=0.25, int value_prefix_horizon=5,
                  int num_threads=1, seed=0):
        cdef const uint8_t[:, ::1] legal = legal_matrix(legal_actions).view(np.uint8)
        cdef TreeConfig config
        config.num_simulations = num_simulations
        config.discount = discount
        config.pb_c_base = pb_c_base
        config.pb_c_init = pb_c_init
        config.exploration_fraction = exploration_fraction
        config.value_prefix_horizon = value_prefix_horizon
        config.num_threads = num_threads
        self.num_roots = legal.shape[0]
        self.num_actions = legal.shape[1]
        self.forest = new Forest(self.num_roots, self.num_actions, &legal[0, 0], config,
                                 <uint64_t>(seed & SEED_MASK))

    def __dealloc__(self):
        del self.forest

    @property
    def simulations_done(self):
        """Simulations backed up since the last ``prepare``."""
        return self.forest.simulations_done()

    def prepare(self, priors, noise=None):
        """Starts a search: resets the trees and the tie-breaking, and expands the roots.

        Args:
            priors: float [B, A] root priors, read on legal actions only (softmax over them).
            noise: float [B, A] or None; root priors become (1 - f) * priors + f * noise.

        Raises:
            ValueError: on a bad shape or a non-finite entry.
        """
        shape = (self.num_roots, self.num_actions)
        cdef const float[:, ::1] p = float_rows(priors, shape, "priors")
        cdef const float[:, ::1] n
        cdef const float* noise_ptr = NULL
        if noise is not None:
            n = float_rows(noise, shape, "noise")
            noise_ptr = &n[0, 0]
        with nogil:
            self.forest.prepare(&p[0, 0], noise_ptr)

    def traverse(self):
        """Selects one leaf per root.

        Returns:
            Traversal of int64 [B] parent latent slots, int64 [B] actions and bool [B] reset flags.

        Raises:
            RuntimeError: out of turn (before ``prepare``, twice in a row, or after the last
                simulation).
        """
        parent_slots = np.empty(self.num_roots, dtype=np.int64)
        actions = np.empty(self.num_roots, dtype=np.int64)
        leaf_reset = np.empty(self.num_roots, dtype=np.uint8)
        cdef int64_t[::1] s = parent_slots
        cdef int64_t[::1] a = actions
        cdef uint8_t[::1] r = leaf_reset
        with nogil:
            self.forest.traverse(&s[0], &a[0], &r[0])
        return Traversal(parent_slots, actions, leaf_reset.view(bool))

    def backpropagate(self, values, value_prefixes, priors):
        """Expands the last traversed leaves and backs their values up to the roots.

        Args:
            values: float [B] predicted values of the leaves.
            value_prefixes: float [B] predicted value prefixes of the leaves.
            priors: float [B, A] leaf priors, read on legal actions only.

        Raises:
            ValueError: on a bad shape or a non-finite entry.
            RuntimeError: without a ``traverse`` before it.
        """
        cdef const float[::1] v = float_rows(values, (self.num_roots,), "values")
        cdef const float[::1] vp = float_rows(value_prefixes, (self.num_roots,), "value_prefixes")
        shape = (self.num_roots, self.num_actions)
        cdef const float[:, ::1] p = float_rows(priors, shape, "priors")
        with nogil:
            self.forest.backpropagate(&v[0], &vp[0], &p[0, 0])

    def visit_counts(self):
        """Returns int32 [B, A] visits of each root action (0 on illegal actions)."""
        out = np.empty((self.num_roots, self.num_actions), dtype=np.int32)
        cdef int32_t[:, ::1] o = out
        self.forest.visit_counts(&o[0, 0])
        return out

    def root_values(self):
        """Returns float32 [B] root values, value_sum / visits."""
        out = np.empty(self.num_roots, dtype=np.float32)
        cdef float[::1] o = out
        self.forest.root_values(&o[0])
        return out

    def q_values(self):
        """Returns float32 [B, A] Q of each root action (NaN where illegal or unvisited)."""
        out = np.empty((self.num_roots, self.num_actions), dtype=np.float32)
        cdef float[:, ::1] o = out
        self.forest.q_values(&o[0, 0])
        return out
