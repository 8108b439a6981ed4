"""The compiled tree against the pure-Python reference on many random problems: identical everything."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from search_helpers import drive, random_problem
from xtra_bench.search._ctree import Tree
from xtra_bench.search.reference import ReferenceTree


@st.composite
def searches(draw):
    """A random problem plus the settings both trees are built with."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    num_simulations = draw(st.integers(1, 25))
    problem = random_problem(
        rng,
        num_roots=draw(st.integers(1, 5)),
        num_actions=draw(st.integers(1, 7)),
        num_simulations=num_simulations,
        coarse=draw(st.booleans()),
        uniform_priors=draw(st.booleans()),
        noise=draw(st.booleans()),
        jitter=draw(st.sampled_from([0.0, 3e-7, 3e-6])),
    )
    settings_ = dict(
        num_simulations=num_simulations,
        discount=draw(st.floats(0.5, 1.0)),
        value_prefix_horizon=draw(st.integers(1, 6)),
        exploration_fraction=draw(st.sampled_from([0.0, 0.25, 0.5])),
        seed=draw(st.integers(0, 2**64 - 1)),
    )
    return problem, settings_, draw(st.integers(1, 3))


@settings(max_examples=500, deadline=None)
@given(searches())
def test_compiled_tree_matches_reference(search):
    problem, tree_settings, num_threads = search
    compiled = drive(Tree(problem.legal, num_threads=num_threads, **tree_settings), problem)
    reference = drive(ReferenceTree(problem.legal, **tree_settings), problem)
    np.testing.assert_array_equal(compiled.traversals, reference.traversals)
    np.testing.assert_array_equal(compiled.visit_counts, reference.visit_counts)
    np.testing.assert_array_equal(compiled.root_values, reference.root_values)
    np.testing.assert_array_equal(compiled.q_values, reference.q_values)
    assert (compiled.visit_counts.sum(axis=1) == tree_settings["num_simulations"]).all()
    assert (compiled.visit_counts[~problem.legal] == 0).all()


def test_seeded_ties_and_resets_agree():
    """Ties decide the visits of coarse problems (the seed changes them) and both trees break them alike."""
    problem = random_problem(np.random.default_rng(1), 4, 5, 25, coarse=True, uniform_priors=True)
    visits = []
    for seed in range(5):
        tree_settings = dict(num_simulations=25, value_prefix_horizon=2, seed=seed)
        reference = drive(ReferenceTree(problem.legal, **tree_settings), problem)
        compiled = drive(Tree(problem.legal, **tree_settings), problem)
        np.testing.assert_array_equal(compiled.traversals, reference.traversals)
        assert reference.traversals[:, 2].any(), "some leaves sit at reset depths"
        visits.append(reference.visit_counts)
    assert any(not np.array_equal(v, visits[0]) for v in visits[1:])
