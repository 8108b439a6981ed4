"""Batched MCTS with EfficientZero's semantics: a compiled tree (ext/), its pure-Python reference and a torch driver.

Usage::

    result = run_search(network.initial_inference(obs), network.recurrent_inference, legal_actions, SearchConfig())
    result.visit_counts  # int32 [B, A]
"""

from xtra_bench.search.config import SearchConfig
from xtra_bench.search.driver import BACKENDS, RecurrentFn, make_tree, run_search
from xtra_bench.search.noise import dirichlet_noise
from xtra_bench.search.outputs import InferenceOutput, SearchResult, Traversal
from xtra_bench.search.reference import ReferenceTree

__all__ = [
    "BACKENDS",
    "InferenceOutput",
    "RecurrentFn",
    "ReferenceTree",
    "SearchConfig",
    "SearchResult",
    "Traversal",
    "dirichlet_noise",
    "make_tree",
    "run_search",
]
