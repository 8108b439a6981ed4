"""Runs one batched search: network steps in torch on the network's device, tree work in a tree.

Latent and reward states never leave the device. They live in pools preallocated for every node
a search can expand ([num_simulations + 1, B, ...]); the tree names each leaf's parent by its slot,
so a simulation gathers the parents' states by (slot, root) on the device. Per simulation, only
the slots, actions and reset flags go to the device and only values, value prefixes and priors
come back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from xtra_bench.errors import UnknownNameError, closest_match_hint
from xtra_bench.search.checks import legal_matrix
from xtra_bench.search.config import SearchConfig
from xtra_bench.search.outputs import InferenceOutput, SearchResult
from xtra_bench.search.reference import ReferenceTree

RecurrentFn = Callable[[torch.Tensor, tuple[torch.Tensor, ...], torch.Tensor], InferenceOutput]
"""(parent latents [B, ...], parent reward states, actions int64 [B]) -> the children's InferenceOutput."""

BACKENDS = ("compiled", "reference")
"""Tree implementations: the C++ tree (ext/) and the pure-Python reference."""


def make_tree(backend: str, legal_actions: np.ndarray, config: SearchConfig, seed: int):
    """Builds a search tree for B roots.

    Args:
        backend: one of ``BACKENDS``.
        legal_actions: bool [B, A], True where an action is legal.
        config: the search settings.
        seed: seeds tie-breaking.

    Returns:
        A ``_ctree.Tree`` or a ``ReferenceTree`` (same API).

    Raises:
        UnknownNameError: an unknown backend.
        ImportError: the compiled tree is not built.
    """
    settings = dict(
        num_simulations=config.num_simulations,
        discount=config.discount,
        pb_c_base=config.pb_c_base,
        pb_c_init=config.pb_c_init,
        exploration_fraction=config.exploration_fraction,
        value_prefix_horizon=config.value_prefix_horizon,
        seed=seed,
    )
    if backend == "compiled":
        try:
            from xtra_bench.search._ctree import Tree
        except ImportError as error:
            raise ImportError(
                "the compiled search tree xtra_bench.search._ctree is not built; reinstall the package "
                "or run `python setup.py build_ext --inplace` in the source tree"
            ) from error
        return Tree(legal_actions, num_threads=config.num_threads, **settings)
    if backend == "reference":
        return ReferenceTree(legal_actions, **settings)
    hint = closest_match_hint(backend, list(BACKENDS))
    raise UnknownNameError(f"unknown search backend {backend!r}; choose one of {', '.join(BACKENDS)}.{hint}")


def run_search(
    root: InferenceOutput,
    recurrent_fn: RecurrentFn,
    legal_actions: np.ndarray,
    config: SearchConfig,
    noise: np.ndarray | None = None,
    seed: int = 0,
    *,
    reward_state_batch_dim: int = 1,
    backend: str = "compiled",
) -> SearchResult:
    """Runs ``config.num_simulations`` simulations from B roots.

    Args:
        root: the initial inference of the B root observations ([B, A] logits over the whole
            action space). The root is a value-prefix reset point, so its reward state is zeroed.
        recurrent_fn: one dynamics + prediction step; called once per simulation with the B
            parents' latents and reward states (on the network's device) and int64 [B] actions.
        legal_actions: bool [B, A], True where an action is legal for that root; priors are the
            softmax of the logits over the legal actions.
        config: the search settings.
        noise: float [B, A] root noise (e.g. from ``dirichlet_noise``) or None for none.
        seed: seeds tie-breaking; the same inputs and seed give the same result.
        reward_state_batch_dim: the batch dimension of every reward-state tensor (1 for
            EfficientZero's LSTM state [1, B, H]).
        backend: tree implementation, one of ``BACKENDS``.

    Returns:
        SearchResult with int32 [B, A] visit counts, float32 [B] root values and float32 [B, A]
        normalised visit counts.

    Raises:
        ValueError: inputs or network outputs of the wrong shape, or non-finite numbers.
        UnknownNameError: an unknown backend.
    """
    legal = legal_matrix(legal_actions)
    num_roots, num_actions = legal.shape
    _check_output(root, num_roots, num_actions, "root")
    tree = make_tree(backend, legal, config, seed)
    device = root.latent.device
    # A broadcast (read-only) mask is copied: torch refuses to wrap non-writable arrays without a warning.
    legal_on_device = torch.as_tensor(np.require(legal, requirements="W"), device=device)
    with torch.no_grad():
        tree.prepare(_masked_softmax(root.policy_logits, legal_on_device).cpu().numpy(), noise)
        slots = config.num_simulations + 1
        latents = _SlotPool("latent", root.latent, slots, batch_dim=0)
        states = [
            _SlotPool(f"reward_state[{i}]", torch.zeros_like(state), slots, batch_dim=reward_state_batch_dim)
            for i, state in enumerate(root.reward_state)
        ]
        for simulation in range(config.num_simulations):
            # Selection: one leaf per root, named by its parent's slot and the action.
            choice = tree.traverse()
            index = torch.from_numpy(np.stack(choice)).to(device)  # one transfer for all three
            parent_slots, actions, leaf_reset = index[0], index[1], index[2].bool()

            # Expansion: one network step from the parents' states, kept on the device.
            out = recurrent_fn(latents.gather(parent_slots), tuple(s.gather(parent_slots) for s in states), actions)
            _check_output(out, num_roots, num_actions, "recurrent_fn")
            if len(out.reward_state) != len(states):
                raise ValueError(
                    f"recurrent_fn returned {len(out.reward_state)} reward-state tensors, the root had {len(states)}"
                )
            latents.store(simulation + 1, out.latent)
            for pool, state in zip(states, out.reward_state):
                pool.store(simulation + 1, state, zero_rows=leaf_reset)

            # Backup: only these few numbers per leaf leave the device.
            host = torch.cat(
                [
                    out.value.reshape(num_roots, 1).float(),
                    out.value_prefix.reshape(num_roots, 1).float(),
                    _masked_softmax(out.policy_logits, legal_on_device),
                ],
                dim=1,
            ).cpu().numpy()
            tree.backpropagate(host[:, 0], host[:, 1], host[:, 2:])
    visits = tree.visit_counts()
    policy = (visits / visits.sum(axis=1, keepdims=True)).astype(np.float32)
    return SearchResult(visits, tree.root_values(), policy)


class _SlotPool:
    """Preallocated per-node states on the device: [slots, B, ...] with the batch dimension moved first.

    Args:
        name: what the states are, for error messages.
        first: the roots' states, which fill slot 0; their batch dimension is ``batch_dim``.
        num_slots: nodes per root a search can hold.
        batch_dim: where the batch dimension sits in the tensors given and returned.
    """

    def __init__(self, name: str, first: torch.Tensor, num_slots: int, batch_dim: int):
        self._name = name
        self._batch_dim = batch_dim
        first = first.movedim(batch_dim, 0)
        self._data = first.new_empty((num_slots, *first.shape))
        self._data[0] = first
        self._rows = torch.arange(first.shape[0], device=first.device)

    def gather(self, slots: torch.Tensor) -> torch.Tensor:
        """Returns the state at ``slots[b]`` of each root b, in the caller's layout."""
        return self._data[slots, self._rows].movedim(0, self._batch_dim).contiguous()

    def store(self, slot: int, state: torch.Tensor, zero_rows: torch.Tensor | None = None) -> None:
        """Stores the B new nodes' states in ``slot``, zeroed for the roots where ``zero_rows`` [B] is True."""
        state = state.movedim(self._batch_dim, 0)
        if state.shape != self._data.shape[1:]:
            raise ValueError(
                f"recurrent_fn gave {self._name} of shape {tuple(state.shape)} (batch first), "
                f"expected {tuple(self._data.shape[1:])}"
            )
        if zero_rows is not None:
            state = state.masked_fill(zero_rows.view(-1, *([1] * (state.dim() - 1))), 0)
        self._data[slot] = state


def _masked_softmax(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """float32 [B, A] softmax of ``logits`` [B, A] over the legal actions, 0 elsewhere."""
    return logits.float().masked_fill(~legal, -torch.inf).softmax(dim=1)


def _check_output(out: InferenceOutput, num_roots: int, num_actions: int, source: str) -> None:
    """Raises ValueError naming the first field of ``out`` whose shape does not fit B roots and A actions."""
    if out.latent.dim() == 0 or out.latent.shape[0] != num_roots:
        raise ValueError(f"{source} gave latent of shape {tuple(out.latent.shape)}, expected ({num_roots}, ...)")
    expected = {"value": (num_roots,), "value_prefix": (num_roots,), "policy_logits": (num_roots, num_actions)}
    for name, shape in expected.items():
        actual = tuple(getattr(out, name).shape)
        if actual != shape:
            raise ValueError(f"{source} gave {name} of shape {actual}, expected {shape}")
