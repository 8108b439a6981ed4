"""EfficientZero's loss: value prefix, value, policy and SimSiam temporal consistency over a K-step unroll.

Per sample: L = w_vp * sum_k CE(prefix_k) + w_v * sum_k CE(value_k) + w_p * sum_k CE(policy_k)
+ w_c * sum_k -cos(predictor(projection(s_k)), stopgrad(projection(h(o_{t+k})))), every term of
unroll step k >= 1 masked where position t + k lies past the episode's end; the batch loss is the
importance-weighted mean, its gradient scaled by ``loss_grad_scale`` (1/K), and the gradient
entering every dynamics output is halved (the value-prefix head's part included). The online
stack and the consistency targets are augmented with independent draws, as EfficientZero does.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F

from baselines.efficientzero.augment import augment
from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.networks import EfficientZeroNet, mask_logits, scale_gradient
from baselines.efficientzero.support import scalar_to_support, support_to_scalar


class TrainBatch(NamedTuple):
    """One minibatch on the training device (B windows, K unroll steps, A head actions).

    Attributes:
        frames: uint8 [B, stack + K, H, W, channels]: the stack ending at t, then frames t+1..t+K.
        actions: int64 [B, K] head indices of actions t..t+K-1 (random padding past an episode's end).
        target_value: float32 [B, K + 1].
        target_value_prefix: float32 [B, K].
        target_policy: float32 [B, K + 1, A] (all zero past an episode's end: no policy loss there).
        unroll_mask: float32 [B, K], 1 where unroll position k + 1 lies inside the episode.
        weights: float32 [B] importance-sampling weights (max-normalised).
        legal: bool [B, A] head entries of each sample's game (all True for a single-task head).
    """

    frames: torch.Tensor
    actions: torch.Tensor
    target_value: torch.Tensor
    target_value_prefix: torch.Tensor
    target_policy: torch.Tensor
    unroll_mask: torch.Tensor
    weights: torch.Tensor
    legal: torch.Tensor


class LossOutput(NamedTuple):
    """What one loss evaluation gives the learner.

    Attributes:
        loss: scalar to minimise (already weighted and gradient-scaled).
        priorities: float32 [B] new replay priorities |v_0 - z_0| + eps (detached).
        parts: float32 [5] batch means of value prefix, value, policy, consistency and total loss (detached).
        per_sample: float [B] each window's weighted sum of the four losses, before the importance
            weights and the gradient scale (graph attached: losses of subsets of the batch derive from it).
    """

    loss: torch.Tensor
    priorities: torch.Tensor
    parts: torch.Tensor
    per_sample: torch.Tensor


LOSS_PARTS = ("value_prefix_loss", "value_loss", "policy_loss", "consistency_loss", "total_loss")


def support_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between logits [B, S] and a target distribution [B, S] -> [B]."""
    return -(target * F.log_softmax(logits, dim=-1)).sum(-1)


def negative_cosine(online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SimSiam's loss: -cos(online, target) per row, [B, D] x [B, D] -> [B]."""
    return -(F.normalize(online, dim=-1) * F.normalize(target, dim=-1)).sum(-1)


def frames_to_input(frames: torch.Tensor) -> torch.Tensor:
    """uint8 [B, F, H, W, channels] -> float [B, F * channels, H, W] in [0, 1]."""
    b, n, height, width, channels = frames.shape
    return frames.permute(0, 1, 4, 2, 3).reshape(b, n * channels, height, width).float().div_(255.0)


def efficientzero_loss(
    net: EfficientZeroNet,
    batch: TrainBatch,
    cfg: EfficientZeroConfig,
    train_augment: bool = True,
    generator: torch.Generator | None = None,
) -> LossOutput:
    """The full EfficientZero loss of one minibatch (``net`` in train mode).

    Args:
        net: the network being trained.
        batch: the minibatch.
        cfg: loss weights, support, unroll and augmentation settings.
        train_augment: apply the random shift and intensity (off for deterministic checks).
        generator: draws the augmentation (on the batch's device; None: torch's default one).

    Returns:
        The loss, new priorities and the parts for logging.
    """
    size, eps, stack = cfg.support_size, cfg.value_transform_eps, cfg.frame_stack
    channels = batch.frames.shape[-1]
    x = frames_to_input(batch.frames)
    online, later = x[:, : stack * channels], x[:, channels:]
    if train_augment:
        # Two independent draws: the online stack and the frames of the consistency targets.
        online = augment(online, cfg.shift_pad, cfg.intensity_scale, generator)
        later = augment(later, cfg.shift_pad, cfg.intensity_scale, generator)
    num_unroll = batch.actions.shape[1]
    b = x.shape[0]
    mask = batch.unroll_mask

    # The targets of the consistency loss: representations of the true observations at t+1..t+K,
    # all K in one batched forward; the projection of the target branch is detached (stop-gradient).
    with torch.no_grad():
        stacks = torch.stack([later[:, (k - 1) * channels : (k - 1 + stack) * channels] for k in range(1, num_unroll + 1)], dim=1)
        target_latent = net.representation(stacks.flatten(0, 1))
        target_proj = net.project(target_latent, with_grad=False).view(b, num_unroll, -1)

    latent = net.representation(online)
    policy_logits, value_logits = net.prediction(latent)
    value_loss = support_cross_entropy(value_logits, scalar_to_support(batch.target_value[:, 0], size, eps))
    policy_loss = support_cross_entropy(mask_logits(policy_logits, batch.legal), batch.target_policy[:, 0])
    priorities = (support_to_scalar(value_logits.detach(), size, eps) - batch.target_value[:, 0]).abs() + cfg.priority_eps

    value_prefix_loss = torch.zeros_like(value_loss)
    consistency_loss = torch.zeros_like(value_loss)
    reward_state = net.initial_state(b, x.device)
    for k in range(1, num_unroll + 1):
        # The gradient reaching each dynamics output is halved, its value-prefix head's part included.
        latent, reward_state, prefix_logits = net.dynamics(latent, reward_state, batch.actions[:, k - 1], cfg.dynamics_grad_scale)
        policy_logits, value_logits = net.prediction(latent)
        online_proj = net.project(latent, with_grad=True)
        m = mask[:, k - 1]
        consistency_loss = consistency_loss + negative_cosine(online_proj, target_proj[:, k - 1]) * m
        policy_loss = policy_loss + support_cross_entropy(mask_logits(policy_logits, batch.legal), batch.target_policy[:, k]) * m
        value_loss = value_loss + support_cross_entropy(value_logits, scalar_to_support(batch.target_value[:, k], size, eps)) * m
        value_prefix_loss = value_prefix_loss + support_cross_entropy(
            prefix_logits, scalar_to_support(batch.target_value_prefix[:, k - 1], size, eps)
        ) * m
        if k % cfg.value_prefix_horizon == 0:
            reward_state = net.initial_state(b, x.device)

    per_sample = (
        cfg.value_prefix_loss_weight * value_prefix_loss
        + cfg.value_loss_weight * value_loss
        + cfg.policy_loss_weight * policy_loss
        + cfg.consistency_loss_weight * consistency_loss
    )
    loss = (batch.weights * per_sample).mean()
    parts = torch.stack([value_prefix_loss.mean(), value_loss.mean(), policy_loss.mean(), consistency_loss.mean(), loss]).detach()
    return LossOutput(scale_gradient(loss, cfg.loss_grad_scale), priorities, parts, per_sample)
