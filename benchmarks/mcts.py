"""Speed of the search tree alone: microseconds per root-simulation, the network replaced by arrays.

One search is what ``run_search`` asks of the tree: build it, prepare the roots, then per
simulation traverse and back up precomputed values, value prefixes and priors, and read the
results. Reported: the compiled tree on one thread and on ``--threads`` threads (best of
``--repeats`` searches each, the two alternating), and the pure-Python reference on the same
problem (one search).

Usage::

    python benchmarks/mcts.py            # 256 roots x 50 simulations x 18 actions
    python benchmarks/mcts.py --json     # one JSON object on stdout
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from typing import NamedTuple

import numpy as np

from xtra_bench.search import ReferenceTree
from xtra_bench.search._ctree import Tree


class Problem(NamedTuple):
    legal: np.ndarray  # bool [B, A]
    priors: np.ndarray  # float32 [S + 1, B, A]: the roots' first
    values: np.ndarray  # float32 [S, B]
    value_prefixes: np.ndarray  # float32 [S, B]
    noise: np.ndarray  # float32 [B, A]


def make_problem(num_roots: int, num_simulations: int, num_actions: int, seed: int = 0) -> Problem:
    """Network outputs for every simulation, drawn once: softmax priors, values and prefixes in [-1, 1]."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(num_simulations + 1, num_roots, num_actions))
    priors = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return Problem(
        legal=np.ones((num_roots, num_actions), dtype=bool),
        priors=priors.astype(np.float32),
        values=rng.uniform(-1, 1, (num_simulations, num_roots)).astype(np.float32),
        value_prefixes=rng.uniform(-1, 1, (num_simulations, num_roots)).astype(np.float32),
        noise=rng.dirichlet(np.full(num_actions, 0.3), num_roots).astype(np.float32),
    )


def time_search(make_tree, problem: Problem) -> float:
    """Seconds for one whole search on a tree from ``make_tree()``."""
    start = time.perf_counter()
    tree = make_tree()
    tree.prepare(problem.priors[0], problem.noise)
    for s in range(len(problem.values)):
        tree.traverse()
        tree.backpropagate(problem.values[s], problem.value_prefixes[s], problem.priors[s + 1])
    tree.visit_counts()
    tree.root_values()
    return time.perf_counter() - start


def measure(num_roots: int, num_simulations: int, num_actions: int, threads: int, repeats: int) -> dict:
    """Runs the benchmark; returns microseconds per root-simulation and the ratios between them."""
    problem = make_problem(num_roots, num_simulations, num_actions)
    root_sims = num_roots * num_simulations

    def compiled(num_threads: int):
        return lambda: Tree(problem.legal, num_simulations=num_simulations, num_threads=num_threads)

    # Alternated, so that both see the same conditions on a machine shared with other jobs.
    single, threaded = [], []
    for _ in range(repeats):
        single.append(time_search(compiled(1), problem) / root_sims * 1e6)
        threaded.append(time_search(compiled(threads), problem) / root_sims * 1e6)
    single, threaded = min(single), min(threaded)
    reference = time_search(lambda: ReferenceTree(problem.legal, num_simulations=num_simulations), problem)
    reference = reference / root_sims * 1e6
    return {
        "us_per_root_sim": round(single, 4),
        "threads": threads,
        "us_per_root_sim_threaded": round(threaded, 4),
        "speedup_vs_reference": round(reference / single, 1),
        "thread_speedup": round(single / threaded, 2),
        "reference_us_per_root_sim": round(reference, 2),
        "roots": num_roots,
        "simulations": num_simulations,
        "actions": num_actions,
        "repeats": repeats,
        "cpu_count": os.cpu_count(),
    }


def thread_scaling(num_roots: int, num_simulations: int, num_actions: int, thread_counts: list[int], repeats: int) -> dict:
    """Microseconds per root-simulation of the compiled tree at each thread count, and the speed-up over one thread.

    Rounds of every thread count alternate (best of ``repeats`` each), as in ``measure``.
    """
    problem = make_problem(num_roots, num_simulations, num_actions)
    counts = sorted({1, *thread_counts})
    best = dict.fromkeys(counts, float("inf"))
    for _ in range(repeats):
        for n in counts:
            make_tree = functools.partial(Tree, problem.legal, num_simulations=num_simulations, num_threads=n)
            best[n] = min(best[n], time_search(make_tree, problem) / (num_roots * num_simulations) * 1e6)
    return {
        "us_per_root_sim": {str(n): round(us, 4) for n, us in best.items()},
        "speedup": {str(n): round(best[1] / us, 2) for n, us in best.items()},
        "roots": num_roots,
        "simulations": num_simulations,
        "actions": num_actions,
        "repeats": repeats,
        "cpu_count": os.cpu_count(),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roots", type=int, default=256, help="roots per search")
    parser.add_argument("--simulations", type=int, default=50, help="simulations per search")
    parser.add_argument("--actions", type=int, default=18, help="actions, all legal")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads of the threaded run")
    parser.add_argument("--repeats", type=int, default=20, help="searches per compiled run; the best counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args()
    for name in ("roots", "simulations", "actions", "threads", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    return args


def main() -> None:
    args = parse_args()
    result = measure(args.roots, args.simulations, args.actions, args.threads, args.repeats)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.roots} roots x {args.simulations} simulations x {args.actions} actions (tree work only)")
    print(f"  compiled, 1 thread:    {result['us_per_root_sim']:.3f} us per root-simulation")
    print(
        f"  compiled, {args.threads} threads:   {result['us_per_root_sim_threaded']:.3f} us per root-simulation"
        f" ({result['thread_speedup']:.2f}x)"
    )
    print(
        f"  Python reference:      {result['reference_us_per_root_sim']:.2f} us per root-simulation"
        f" (compiled is {result['speedup_vs_reference']:.0f}x faster)"
    )


if __name__ == "__main__":
    main()
