"""10,000 searches on the compiled tree leave the process's memory where it was."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from search_helpers import random_problem
from xtra_bench.search._ctree import Tree

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads the resident set size from /proc")


def resident_kib() -> int:
    """The process's current resident set size in KiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    import resource

    return pages * resource.getpagesize() // 1024


def search_many(problem, count: int) -> None:
    """Runs ``count`` full searches, each on a new tree; every 20th has a worker thread."""
    num_simulations = len(problem.values)
    for i in range(count):
        tree = Tree(problem.legal, num_simulations=num_simulations, num_threads=2 if i % 20 == 0 else 1, seed=i)
        tree.prepare(problem.priors[0], problem.noise)
        for s in range(num_simulations):
            tree.traverse()
            tree.backpropagate(problem.values[s], problem.value_prefixes[s], problem.priors[s + 1])
        tree.visit_counts(), tree.root_values(), tree.q_values()


def test_no_memory_growth_over_10000_searches():
    problem = random_problem(np.random.default_rng(0), num_roots=8, num_actions=6, num_simulations=8, noise=True)
    search_many(problem, 500)  # warm-up: allocator pools, interned objects
    before = resident_kib()
    search_many(problem, 10_000)
    growth = resident_kib() - before
    # A leak of even one tree per search (about 5 KiB here) would add about 50 MiB.
    assert growth < 2048, f"resident memory grew by {growth} KiB over 10,000 searches"
