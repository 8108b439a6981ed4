"""Hand-worked small trees, run on both the compiled tree and the pure-Python reference.

Expected numbers are worked out by hand in the comments. EfficientZero's rules make the first
choice at every fresh node a tie (N = 0 zeroes the prior term and every child scores the same
mean Q), so the scenarios are built such that what they assert does not depend on how a tie falls.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from xtra_bench.search._ctree import Tree
from xtra_bench.search.reference import ReferenceTree

TREES = {"compiled": Tree, "reference": ReferenceTree}


@pytest.fixture(params=sorted(TREES))
def tree_cls(request):
    return TREES[request.param]


def run_with_branch_values(tree, priors, branch_value, num_simulations):
    """Drives a one-root tree whose leaf values depend only on the root action above the leaf.

    Returns the root's visit counts after each simulation, [S, A].
    """
    branch_of_slot = {}
    history = []
    tree.prepare(priors[None], None)
    for s in range(num_simulations):
        choice = tree.traverse()
        parent, action = int(choice.parent_slots[0]), int(choice.actions[0])
        branch = action if parent == 0 else branch_of_slot[parent]
        branch_of_slot[s + 1] = branch
        tree.backpropagate([branch_value[branch]], [0.0], priors[None])
        history.append(tree.visit_counts()[0])
    return np.array(history)


def test_chain_backs_up_value_prefixes_with_resets(tree_cls):
    # One legal action (column 1 of 2): each simulation extends a chain, leaf depth d = s + 1.
    # discount g = 0.5, horizon 2, so depth 0 (root) and depth 2 are reset points.
    # sim 1: leaf d1 v=2, prefix 1; reward r1 = 1 (root resets). d1: sum 2, n 1.
    #        root gets r1 + g*2 = 2 -> root sum 2, n 2 (the root starts at n = 1).
    # sim 2: leaf d2 v=4, prefix 3; r2 = 3 - 1 = 2. d2: sum 4, n 1; passes 2 + g*4 = 4 to d1.
    #        d1: sum 6, n 2; passes 1 + g*4 = 3 to the root: sum 5, n 3.
    # sim 3: leaf d3 v=8, prefix 1; d2 resets, so r3 = 1 (not 1 - 3). d3: sum 8, n 1; passes 5.
    #        d2: sum 9, n 2; passes 2 + g*5 = 4.5. d1: sum 10.5, n 3; passes 1 + g*4.5 = 3.25.
    #        root: sum 8.25, n 4 -> value 2.0625. Q(root, 1) = r1 + g * V(d1) = 1 + 0.5 * 3.5 = 2.75.
    tree = tree_cls(np.array([[False, True]]), num_simulations=3, discount=0.5, value_prefix_horizon=2)
    tree.prepare([[0.0, 1.0]])
    expected_traversals = [(0, 1, False), (1, 1, True), (2, 1, False)]  # (parent slot, action, leaf reset)
    for (slot, action, reset), value, prefix in zip(expected_traversals, [2, 4, 8], [1, 3, 1]):
        choice = tree.traverse()
        assert (choice.parent_slots[0], choice.actions[0], choice.leaf_reset[0]) == (slot, action, reset)
        tree.backpropagate([value], [prefix], [[0.0, 1.0]])
    np.testing.assert_array_equal(tree.visit_counts(), [[0, 3]])
    np.testing.assert_array_equal(tree.root_values(), [2.0625])
    np.testing.assert_array_equal(tree.q_values(), [[np.nan, 2.75]])


def test_first_choice_is_a_seeded_tie_over_legal_actions(tree_cls):
    # N = 0 at a fresh root: every legal action scores 0 + clip(0), a three-way tie.
    legal = np.array([[True, False, True, True]])
    priors = np.array([[0.7, 0.0, 0.2, 0.1]])
    first = {}
    for seed in range(40):
        picks = set()
        for _ in range(2):
            tree = tree_cls(legal, num_simulations=1, seed=seed)
            tree.prepare(priors)
            picks.add(int(tree.traverse().actions[0]))
        assert len(picks) == 1, "the same seed must give the same choice"
        first[seed] = picks.pop()
    assert set(first.values()) == {0, 2, 3}


def test_unvisited_sibling_then_the_higher_q(tree_cls):
    # Actions 0 and 2 legal, priors 1/2 each, g = 1, prefixes 0; leaves below action 0 are worth 1,
    # below action 2 worth 0.
    # sim 1: tie, some action x. sim 2 (N = 1): the visited x scores 0.5 E / 2 + clip(Q_x) and the
    #   unvisited y 0.5 E / 1 + clip(mean Q = Q_x) (one Q seen, so no normalisation): y wins.
    # sim 3 (N = 2): Qs seen are 1 and 0, so normalised Q(0) = 1, Q(2) = 0; equal prior terms: 0.
    # Visits [2, 0, 1]; root value = (1 + 0 + 1) / 4; Q = [1, -, 0].
    tree = tree_cls(np.array([[True, False, True]]), num_simulations=3, discount=1.0)
    history = run_with_branch_values(tree, np.array([0.5, 0.0, 0.5]), {0: 1.0, 2: 0.0}, 3)
    np.testing.assert_array_equal(history[1], [1, 0, 1])
    np.testing.assert_array_equal(history[2], [2, 0, 1])
    np.testing.assert_array_equal(tree.root_values(), [0.5])
    np.testing.assert_array_equal(tree.q_values(), [[1.0, np.nan, 0.0]])


def test_prior_term_overtakes_normalised_q(tree_cls):
    # Same tree as above. With n(2) = 1 and n(0) = N - 1, action 2 is chosen once
    # 0.5 E(N) / 2 - 0.5 E(N) / N > 1 - 0, where E(N) = (1.25 + log((N + 19653) / 19652)) sqrt(N):
    #   N = 13: E = 1.250712 * 3.605551 = 4.50951; 0.5 E (1/2 - 1/13) = 0.95393 < 1 -> action 0
    #   N = 14: E = 1.250763 * 3.741657 = 4.67993; 0.5 E (1/2 - 1/14) = 1.00284 > 1 -> action 2
    # so visits are [13, 0, 1] after 14 simulations and [13, 0, 2] after 15.
    for n, expected in [(13, 0.95393), (14, 1.00284)]:
        e = (1.25 + math.log((n + 19653) / 19652)) * math.sqrt(n)
        assert 0.5 * e * (0.5 - 1 / n) == pytest.approx(expected, abs=1e-5)
    tree = tree_cls(np.array([[True, False, True]]), num_simulations=15, discount=1.0)
    history = run_with_branch_values(tree, np.array([0.5, 0.0, 0.5]), {0: 1.0, 2: 0.0}, 15)
    np.testing.assert_array_equal(history[13], [13, 0, 1])
    np.testing.assert_array_equal(history[14], [13, 0, 2])


@pytest.mark.parametrize(
    ("noise", "expected"),
    [
        # Priors 0.4 / 0.6; leaves below action 0 are worth 0.001, below action 2 worth 0.
        # After one visit each (whatever the tie), N = 2, E = 1.250153 * sqrt(2) = 1.767983.
        # The Q range 0.001 is below 0.01, so normalised Q(0) = 0.001 / 0.01 = 0.1, Q(2) = 0:
        #   action 0: 0.4 E / 2 + 0.1 = 0.4536, action 2: 0.6 E / 2 = 0.5304 -> action 2.
        pytest.param(None, [1, 0, 2], id="q-range-floor"),
        # Noise [1, 0, 0] with fraction 0.25 makes the root priors 0.55 / 0.45:
        #   action 0: 0.55 E / 2 + 0.1 = 0.5862, action 2: 0.45 E / 2 = 0.3978 -> action 0.
        pytest.param([1.0, 0.0, 0.0], [2, 0, 1], id="root-noise"),
    ],
)
def test_min_q_range_and_root_noise(tree_cls, noise, expected):
    priors = np.array([[0.4, 0.0, 0.6]], dtype=np.float32)
    branch_value = {0: 0.001, 2: 0.0}
    tree = tree_cls(np.array([[True, False, True]]), num_simulations=3, discount=1.0)
    tree.prepare(priors, None if noise is None else np.array([noise]))
    branch_of_slot = {}
    for s in range(3):
        choice = tree.traverse()
        parent, action = int(choice.parent_slots[0]), int(choice.actions[0])
        branch_of_slot[s + 1] = action if parent == 0 else branch_of_slot[parent]
        tree.backpropagate([branch_value[branch_of_slot[s + 1]]], [0.0], priors)
        if s == 1:
            np.testing.assert_array_equal(tree.visit_counts(), [[1, 0, 1]])
    np.testing.assert_array_equal(tree.visit_counts(), [expected])


def test_roots_of_different_games_keep_to_their_actions(tree_cls):
    legal = np.array([[True, True, False, False], [False, False, True, True], [True, True, True, True]])
    priors = np.where(legal, 0.25, 0.0)
    tree = tree_cls(legal, num_simulations=20, seed=3)
    tree.prepare(priors)
    for _ in range(20):
        choice = tree.traverse()
        assert legal[np.arange(3), choice.actions].all()
        tree.backpropagate(np.linspace(-1, 1, 3), np.zeros(3), priors)
    visits = tree.visit_counts()
    np.testing.assert_array_equal(visits[~legal], 0)
    np.testing.assert_array_equal(visits.sum(axis=1), [20, 20, 20])
    assert tree.simulations_done == 20


def test_thread_count_does_not_change_results():
    legal = np.ones((37, 5), dtype=bool)
    rng = np.random.default_rng(0)
    priors = rng.dirichlet(np.ones(5), size=(11, 37)).astype(np.float32)
    outcomes = []
    for threads in (1, 2, 3):
        tree = Tree(legal, num_simulations=10, num_threads=threads, seed=9)
        tree.prepare(priors[0])
        for s in range(10):
            tree.traverse()
            tree.backpropagate(np.sin(np.arange(37) + s), np.zeros(37), priors[s + 1])
        outcomes.append((tree.visit_counts(), tree.root_values()))
    for visits, values in outcomes[1:]:
        np.testing.assert_array_equal(visits, outcomes[0][0])
        np.testing.assert_array_equal(values, outcomes[0][1])


@pytest.mark.parametrize(
    ("legal", "kwargs", "message"),
    [
        pytest.param(np.ones(3, bool), {}, r"legal_actions must have shape \[roots, actions\]", id="1-d mask"),
        pytest.param(np.array([[True], [False]]), {}, "root 1 has no legal action", id="empty root"),
        pytest.param(np.ones((1, 2), bool), {"num_simulations": 0}, "num_simulations must be >= 1", id="sims"),
        pytest.param(
            np.ones((1, 2), bool), {"value_prefix_horizon": 0}, "value_prefix_horizon must be >= 1", id="horizon"
        ),
    ],
)
def test_bad_construction_is_rejected(tree_cls, legal, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tree_cls(legal, **kwargs)


def test_bad_inputs_are_rejected(tree_cls):
    tree = tree_cls(np.ones((2, 3), bool), num_simulations=1)
    with pytest.raises(RuntimeError, match=r"traverse\(\) before prepare\(\)"):
        tree.traverse()
    with pytest.raises(ValueError, match=r"priors must have shape \(2, 3\), got \(3,\)"):
        tree.prepare(np.ones(3))
    with pytest.raises(ValueError, match="noise contains NaN or infinity"):
        tree.prepare(np.ones((2, 3)), np.full((2, 3), np.inf))
    tree.prepare(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"backpropagate\(\) without a traverse\(\)"):
        tree.backpropagate(np.zeros(2), np.zeros(2), np.ones((2, 3)))
    tree.traverse()
    with pytest.raises(RuntimeError, match=r"traverse\(\) twice"):
        tree.traverse()
    with pytest.raises(ValueError, match="values contains NaN or infinity"):
        tree.backpropagate([np.nan, 0.0], np.zeros(2), np.ones((2, 3)))
    tree.backpropagate(np.zeros(2), np.zeros(2), np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="all 1 simulations are done"):
        tree.traverse()
