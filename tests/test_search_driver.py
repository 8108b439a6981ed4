"""The torch driver with tiny fake networks: results, device residency of latents, reward-state resets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xtra_bench.errors import UnknownNameError
from xtra_bench.search import InferenceOutput, ReferenceTree, SearchConfig, run_search

NUM_ACTIONS = 4
LEGAL = np.array([[True, True, True, True], [True, False, True, False], [False, True, True, True]])


class ToyNetwork:
    """A deterministic network whose value prefix accumulates a recurrent state, so resets matter.

    Latents are [B, 4], the reward state is (h,) with h [1, B, 3] (EfficientZero's layout), or
    [B, 3] when ``batch_first``.
    """

    def __init__(self, seed: int = 0, batch_first: bool = False):
        g = torch.Generator().manual_seed(seed)
        self.transition = torch.randn(4, 4, generator=g) / 2
        self.action_embedding = torch.randn(NUM_ACTIONS, 4, generator=g)
        self.reward_weights = torch.randn(4, 3, generator=g)
        self.value_weights = torch.randn(4, generator=g)
        self.policy_weights = torch.randn(4, NUM_ACTIONS, generator=g)
        self.batch_first = batch_first

    def heads(self, latent, h):
        value_prefix = (h if self.batch_first else h[0]).sum(dim=-1)
        plain = torch.Tensor.as_subclass  # outputs meant for the host are ordinary tensors
        return InferenceOutput(
            latent,
            (h,),
            plain(latent @ self.value_weights, torch.Tensor),
            plain(value_prefix, torch.Tensor),
            plain(latent @ self.policy_weights, torch.Tensor),
        )

    def initial(self, observations: torch.Tensor) -> InferenceOutput:
        latent = torch.tanh(observations)
        h = torch.ones(latent.shape[0], 3) if self.batch_first else torch.ones(1, latent.shape[0], 3)
        return self.heads(latent, h)  # a non-zero root state: the driver must zero it (depth 0)

    def recurrent(self, latent, reward_state, actions) -> InferenceOutput:
        (h,) = reward_state
        child = torch.tanh(latent @ self.transition + self.action_embedding[actions])
        step = torch.tanh(child @ self.reward_weights)
        return self.heads(child, h + (step if self.batch_first else step[None]))


def search_by_hand(network, observations, legal, config, noise, seed):
    """Drives the reference tree with per-node states in a dict: the driver's job, written plainly."""
    settings = dict(
        num_simulations=config.num_simulations,
        discount=config.discount,
        value_prefix_horizon=config.value_prefix_horizon,
        seed=seed,
    )
    tree = ReferenceTree(legal, **settings)
    mask = torch.as_tensor(legal)

    def priors(logits):
        return torch.softmax(logits.masked_fill(~mask, -torch.inf), dim=1).numpy()

    root = network.initial(observations)
    tree.prepare(priors(root.policy_logits), noise)
    states = {(b, 0): (root.latent[b], torch.zeros(3)) for b in range(len(legal))}  # the root resets
    for simulation in range(config.num_simulations):
        choice = tree.traverse()
        parents = [states[b, int(slot)] for b, slot in enumerate(choice.parent_slots)]
        latent = torch.stack([p[0] for p in parents])
        h = torch.stack([p[1] for p in parents])[None]
        out = network.recurrent(latent, (h,), torch.as_tensor(choice.actions))
        for b in range(len(legal)):
            child_h = torch.zeros(3) if choice.leaf_reset[b] else out.reward_state[0][0, b]
            states[b, simulation + 1] = (out.latent[b], child_h)
        tree.backpropagate(out.value.numpy(), out.value_prefix.numpy(), priors(out.policy_logits))
    return tree.visit_counts(), tree.root_values()


@pytest.fixture
def observations():
    return torch.linspace(-2, 2, 12).reshape(3, 4)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("with_noise", [False, True], ids=["no-noise", "noise"])
def test_driver_matches_driving_the_reference_by_hand(observations, backend, with_noise):
    network = ToyNetwork()
    config = SearchConfig(num_simulations=12, value_prefix_horizon=2, discount=0.9)
    noise = np.where(LEGAL, 0.25, 0.0).astype(np.float32) if with_noise else None
    result = run_search(network.initial(observations), network.recurrent, LEGAL, config, noise, seed=5, backend=backend)
    visits, root_values = search_by_hand(network, observations, LEGAL, config, noise, seed=5)
    np.testing.assert_array_equal(result.visit_counts, visits)
    np.testing.assert_array_equal(result.root_values, root_values)
    np.testing.assert_allclose(result.policy, visits / 12)
    assert result.visit_counts.dtype == np.int32 and result.root_values.dtype == np.float32


def test_reward_state_batch_dimension_is_configurable(observations):
    config = SearchConfig(num_simulations=10, value_prefix_horizon=3)
    results = []
    for batch_first, dim in [(False, 1), (True, 0)]:
        network = ToyNetwork(batch_first=batch_first)
        results.append(
            run_search(network.initial(observations), network.recurrent, LEGAL, config, reward_state_batch_dim=dim)
        )
    np.testing.assert_array_equal(results[0].visit_counts, results[1].visit_counts)
    np.testing.assert_array_equal(results[0].root_values, results[1].root_values)


class DeviceOnly(torch.Tensor):
    """Stands in for a tensor on an accelerator: any copy of it to host memory fails the test."""

    HOST_COPIES = {torch.Tensor.cpu, torch.Tensor.numpy, torch.Tensor.tolist, torch.Tensor.item, torch.Tensor.to}

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in cls.HOST_COPIES or func is torch.Tensor.__array__:
            raise AssertionError(f"a latent or reward state went to the host through {func.__name__}")
        return super().__torch_function__(func, types, args, kwargs or {})


def test_latents_and_reward_states_stay_on_the_device(observations):
    network = ToyNetwork()
    seen_types = set()

    def recurrent(latent, reward_state, actions):
        seen_types.update({type(latent), type(reward_state[0])})
        return network.recurrent(latent, reward_state, actions)

    root = network.initial(observations)
    guarded = root._replace(
        latent=root.latent.as_subclass(DeviceOnly), reward_state=(root.reward_state[0].as_subclass(DeviceOnly),)
    )
    config = SearchConfig(num_simulations=8, value_prefix_horizon=2)
    result = run_search(guarded, recurrent, LEGAL, config)
    assert seen_types == {DeviceOnly}
    plain = run_search(root, network.recurrent, LEGAL, config)
    np.testing.assert_array_equal(result.visit_counts, plain.visit_counts)


def test_zero_network_spreads_visits_over_legal_actions():
    # All outputs 0: uniform priors over the legal actions, every Q is 0. After the first
    # (tied) visit, an unvisited action's prior term 1/k * E beats a visited one's 1/k * E / 2,
    # so the first k simulations visit each legal action once: k = 4, 2, 3 for the three roots.
    def zeros(batch):
        latent, state, scalar = torch.zeros(batch, 2), torch.zeros(1, batch, 2), torch.zeros(batch)
        return InferenceOutput(latent, (state,), scalar, scalar, torch.zeros(batch, NUM_ACTIONS))

    def recurrent(latent, reward_state, actions):
        return zeros(len(actions))

    result = run_search(zeros(3), recurrent, LEGAL, SearchConfig(num_simulations=2))
    np.testing.assert_array_equal(result.visit_counts[1], [1, 0, 1, 0])
    for sims in (4, 9):
        result = run_search(zeros(3), recurrent, LEGAL, SearchConfig(num_simulations=sims))
        np.testing.assert_array_equal(result.visit_counts.sum(axis=1), [sims] * 3)
        np.testing.assert_array_equal(result.visit_counts[~LEGAL], 0)
        assert (result.visit_counts[LEGAL] >= 1).all()
        np.testing.assert_array_equal(result.root_values, 0.0)
        np.testing.assert_allclose(result.policy.sum(axis=1), 1.0)


def test_bad_network_outputs_and_backend_are_named(observations):
    network = ToyNetwork()
    root = network.initial(observations)
    with pytest.raises(ValueError, match=r"root gave policy_logits of shape \(3, 4\), expected \(3, 5\)"):
        run_search(root, network.recurrent, np.ones((3, 5), bool), SearchConfig(num_simulations=2))

    def short_values(latent, reward_state, actions):
        return network.recurrent(latent, reward_state, actions)._replace(value=torch.zeros(2))

    with pytest.raises(ValueError, match=r"recurrent_fn gave value of shape \(2,\), expected \(3,\)"):
        run_search(root, short_values, LEGAL, SearchConfig(num_simulations=2))
    with pytest.raises(UnknownNameError, match="unknown search backend 'compiler'.*Did you mean 'compiled'"):
        run_search(root, network.recurrent, LEGAL, SearchConfig(), backend="compiler")
