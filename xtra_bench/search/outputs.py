"""The named tuples that cross the search API: network outputs in, search results and leaf choices out."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class InferenceOutput(NamedTuple):
    """One network inference for a batch of B states, all tensors on the network's device.

    Attributes:
        latent: [B, ...] latent states.
        reward_state: the recurrent state of the value-prefix predictor; each tensor has the batch
            dimension where the network puts it (EfficientZero's LSTM (h, c): each [1, B, H]).
        value: [B] predicted values as scalars (not a support distribution).
        value_prefix: [B] predicted value prefixes as scalars.
        policy_logits: [B, A] policy logits over the whole action space.
    """

    latent: torch.Tensor
    reward_state: tuple[torch.Tensor, ...]
    value: torch.Tensor
    value_prefix: torch.Tensor
    policy_logits: torch.Tensor


class SearchResult(NamedTuple):
    """What one search returns for B roots over an action space of A actions.

    Attributes:
        visit_counts: int32 [B, A] visits of each root action, 0 on illegal actions.
        root_values: float32 [B] root values (value_sum / visits).
        policy: float32 [B, A] visit counts normalised per root.
    """

    visit_counts: np.ndarray
    root_values: np.ndarray
    policy: np.ndarray


class Traversal(NamedTuple):
    """The leaves one ``traverse()`` chose, one per root (B roots).

    Attributes:
        parent_slots: int64 [B] latent slot of each leaf's parent (0 is the root; the node
            expanded by simulation s has slot s + 1).
        actions: int64 [B] action (column of the action space) from the parent to the leaf.
        leaf_reset: bool [B] True where the leaf is a value-prefix reset point: its reward state
            must be zeroed before its children are inferred from it.
    """

    parent_slots: np.ndarray
    actions: np.ndarray
    leaf_reset: np.ndarray
