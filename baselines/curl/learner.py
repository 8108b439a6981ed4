"""One CURL update: n-step double-Q C51 loss plus the contrastive loss, Adam, then the key-encoder EMA.

Per sample, the distributional loss is the cross-entropy between the projected target
distribution (action chosen by the online network, distribution from the target network, both
with fresh noise) and the online distribution of the taken action; the batch loss is its
importance-weighted mean plus ``contrastive_weight`` times the contrastive loss. The per-sample
distributional losses are the new replay priorities.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np
import torch

from baselines.curl.config import CurlConfig
from baselines.curl.contrastive import contrastive_loss, crop_augment, momentum_update
from baselines.curl.networks import CurlNet
from baselines.curl.replay import Transitions
from baselines.curl.targets import project_distribution
from baselines.efficientzero.networks import DOWNSAMPLE_MIN_SIZE, obs_to_input

METRICS = ("distributional_loss", "contrastive_loss", "q_mean", "grad_norm")


class RainbowBatch(NamedTuple):
    """One minibatch on the training device (B samples, S stacked frames, A head entries).

    Attributes:
        obs: uint8 [B, S, H, W, C].
        actions: int64 [B] head indices.
        returns: float32 [B] n-step reward sums.
        bootstrap_discount: float32 [B] (0: no bootstrap).
        next_obs: uint8 [B, S, H, W, C] the bootstrap observations.
        weights: float32 [B] importance-sampling weights.
        legal: bool [B, A] head entries of each sample's game.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    returns: torch.Tensor
    bootstrap_discount: torch.Tensor
    next_obs: torch.Tensor
    weights: torch.Tensor
    legal: torch.Tensor

    @classmethod
    def from_host(cls, transitions: Transitions, legal: np.ndarray, device: torch.device) -> RainbowBatch:
        """Moves sampled transitions and their legal rows (bool [B, A]) to ``device``."""
        t = transitions
        fields = (t.obs, t.actions, t.returns, t.bootstrap_discount, t.next_obs, t.weights, legal)
        return cls(*(torch.from_numpy(np.ascontiguousarray(a)).to(device, non_blocking=True) for a in fields))


class UpdateResult(NamedTuple):
    """What one update reports.

    Attributes:
        losses: float32 [B] per-sample distributional losses (the new priorities).
        metrics: the means of ``METRICS``.
    """

    losses: np.ndarray
    metrics: dict[str, float]


class CurlLearner:
    """Owns the target network, the key encoder, the optimiser and the update counter.

    Args:
        net: the online network (already on its device).
        cfg: optimisation settings.
        frame_size: side of the frames, which picks the crop margin.
    """

    def __init__(self, net: CurlNet, cfg: CurlConfig, frame_size: int):
        self.net, self.cfg = net, cfg
        self.crop_margin = cfg.crop_margin if frame_size >= DOWNSAMPLE_MIN_SIZE else cfg.small_frame_crop_margin
        self.target_net = copy.deepcopy(net).requires_grad_(False)
        self.key_encoder = copy.deepcopy(net.encoder).requires_grad_(False)
        self.optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
        self.steps = 0

    def update(self, batch: RainbowBatch) -> UpdateResult:
        """Runs one Adam step on ``batch`` and returns its per-sample losses and metrics."""
        cfg, net = self.cfg, self.net
        index = torch.arange(len(batch.actions), device=batch.actions.device)
        obs, next_obs = obs_to_input(batch.obs), obs_to_input(batch.next_obs)
        net.train()
        net.reset_noise()
        log_probs = net.log_probs(obs, batch.legal)
        taken = log_probs[index, batch.actions]  # [B, N]
        with torch.no_grad():
            next_action = net.q_values(net.log_probs(next_obs, batch.legal), batch.legal).argmax(1)
            self.target_net.reset_noise()
            next_probs = self.target_net.log_probs(next_obs, batch.legal)[index, next_action].exp()
            target = project_distribution(next_probs, batch.returns, batch.bootstrap_discount, net.support)
            q_mean = net.q_values(log_probs, batch.legal)[index, batch.actions].mean()
        losses = -(target * taken).sum(1)
        queries = net.encoder(crop_augment(obs, self.crop_margin))
        with torch.no_grad():
            keys = self.key_encoder(crop_augment(obs, self.crop_margin))
        contrastive = contrastive_loss(queries, keys, net.W, cfg.contrastive_logit_scale)
        loss = (batch.weights * losses).mean() + cfg.contrastive_weight * contrastive
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        momentum_update(self.key_encoder, net.encoder, cfg.key_momentum)
        self.steps += 1
        if self.steps % cfg.target_update_period == 0:
            self.target_net.load_state_dict(net.state_dict())
        scalars = torch.stack([losses.mean(), contrastive, q_mean, grad_norm]).detach().float()
        host = torch.cat([scalars, losses.detach().float()]).cpu().numpy()
        return UpdateResult(host[len(METRICS) :], dict(zip(METRICS, host[: len(METRICS)].tolist())))

    def state_dict(self) -> dict:
        return {
            "steps": self.steps,
            "optimizer": self.optimizer.state_dict(),
            "target_net": self.target_net.state_dict(),
            "key_encoder": self.key_encoder.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state["steps"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.target_net.load_state_dict(state["target_net"])
        self.key_encoder.load_state_dict(state["key_encoder"])
