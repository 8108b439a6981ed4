"""CURL's network: data-efficient Rainbow's encoder and noisy dueling C51 head, plus the contrastive head.

Shapes below use B for the batch, F for the flattened conv features (576 on Atari frames), A for
the action head's width (the game's actions, or 18 for multi-task models masked to each game's
action set), N for the atoms (51) and D for the contrastive embedding (128).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from baselines.curl.config import CurlConfig
from baselines.efficientzero.networks import DOWNSAMPLE_MIN_SIZE, ILLEGAL_LOGIT

DER_KERNEL = 5
"""Data-efficient Rainbow's conv kernel and stride on Atari frames (96 -> 19 -> 3)."""
SMALL_KERNEL = 3
"""Kernel of both convs on small (MinAtar) frames, stride 1 and no padding (10 -> 8 -> 6)."""


class NoisyLinear(nn.Module):
    """A linear layer with factorised Gaussian noise on its weights (Fortunato et al., 2018).

    In training mode the layer uses mu + sigma * epsilon with the noise last drawn by
    ``reset_noise``; in eval mode it uses mu alone (greedy evaluation).
    """

    def __init__(self, in_features: int, out_features: int, std_init: float):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), std_init / math.sqrt(in_features)))
        self.bias_mu = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), std_init / math.sqrt(out_features)))
        self.register_buffer("weight_epsilon", torch.zeros(out_features, in_features))
        self.register_buffer("bias_epsilon", torch.zeros(out_features))
        self.reset_noise()

    @staticmethod
    def _scaled_noise(size: int, device: torch.device) -> torch.Tensor:
        x = torch.randn(size, device=device)
        return x.sign() * x.abs().sqrt()

    @torch.no_grad()
    def reset_noise(self) -> None:
        """Draws new factorised noise: epsilon_w = f(e_out) f(e_in)^T, epsilon_b = f(e_out), f(x) = sign(x) sqrt|x|."""
        device = self.weight_mu.device
        eps_in = self._scaled_noise(self.in_features, device)
        eps_out = self._scaled_noise(self.out_features, device)
        self.weight_epsilon.copy_(torch.outer(eps_out, eps_in))
        self.bias_epsilon.copy_(eps_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.linear(x, self.weight_mu, self.bias_mu)
        return F.linear(x, self.weight_mu + self.weight_sigma * self.weight_epsilon, self.bias_mu + self.bias_sigma * self.bias_epsilon)


class Encoder(nn.Module):
    """Conv encoder plus CURL's contrastive head; the query encoder, and (as an EMA copy) the key encoder.

    Args:
        in_channels: stacked input channels (frame_stack x frame channels).
        frame_size: side of the square frame; frames under ``DOWNSAMPLE_MIN_SIZE`` use small convs.
        cfg: widths.
    """

    def __init__(self, in_channels: int, frame_size: int, cfg: CurlConfig):
        super().__init__()
        c1, c2 = cfg.conv_channels
        kernel, stride = (DER_KERNEL, DER_KERNEL) if frame_size >= DOWNSAMPLE_MIN_SIZE else (SMALL_KERNEL, 1)
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel, stride=stride),
            nn.ReLU(),
            nn.Conv2d(c1, c2, kernel, stride=stride),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            self.feature_size = self.convs(torch.zeros(1, in_channels, frame_size, frame_size)).shape[1]
        # CURL's code normalises without learned gain or bias (its LayerNorms are built inside forward).
        self.contrastive = nn.Sequential(
            nn.Linear(self.feature_size, cfg.hidden_size),
            nn.LayerNorm(cfg.hidden_size, elementwise_affine=False),
            nn.ReLU(),
            nn.Linear(cfg.hidden_size, cfg.contrastive_dim),
            nn.LayerNorm(cfg.contrastive_dim, elementwise_affine=False),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Stacked frames float [B, C, H, W] in [0, 1] -> conv features [B, F]."""
        return self.convs(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Stacked frames float [B, C, H, W] in [0, 1] -> contrastive embedding z [B, D]."""
        return self.contrastive(self.convs(x))


class CurlNet(nn.Module):
    """Encoder, noisy dueling distributional head and the bilinear matrix W of the contrastive loss.

    Args:
        frame_shape: one frame (H, W, channels) as in ``EnvSpec.frame_shape``.
        action_space: A, width of the action head.
        cfg: the hyper-parameters.
    """

    def __init__(self, frame_shape: tuple[int, int, int], action_space: int, cfg: CurlConfig):
        super().__init__()
        height, _, channels = frame_shape
        self.action_space, self.num_atoms = action_space, cfg.num_atoms
        self.encoder = Encoder(cfg.frame_stack * channels, height, cfg)
        features, hidden, std = self.encoder.feature_size, cfg.hidden_size, cfg.noisy_std
        self.value_hidden = NoisyLinear(features, hidden, std)
        self.value_out = NoisyLinear(hidden, cfg.num_atoms, std)
        self.advantage_hidden = NoisyLinear(features, hidden, std)
        self.advantage_out = NoisyLinear(hidden, action_space * cfg.num_atoms, std)
        # CURL's code draws W uniformly from [0, 1).
        self.W = nn.Parameter(torch.rand(cfg.contrastive_dim, cfg.contrastive_dim))
        self.register_buffer("support", torch.linspace(cfg.v_min, cfg.v_max, cfg.num_atoms))

    def noisy_layers(self) -> list[NoisyLinear]:
        return [self.value_hidden, self.value_out, self.advantage_hidden, self.advantage_out]

    def reset_noise(self) -> None:
        """Draws new noise in every noisy layer."""
        for layer in self.noisy_layers():
            layer.reset_noise()

    def log_probs(self, x: torch.Tensor, legal: torch.Tensor | None = None) -> torch.Tensor:
        """Log return distributions of every action: stacked frames float [B, C, H, W] -> [B, A, N].

        The dueling streams combine as v + a - mean(a), the mean taken over the legal actions of
        each sample (``legal`` bool [B, A] or [A]; None: all), so that a game's distributions do not
        depend on head entries it never uses.
        """
        h = self.encoder.features(x)
        value = self.value_out(F.relu(self.value_hidden(h))).view(-1, 1, self.num_atoms)
        advantage = self.advantage_out(F.relu(self.advantage_hidden(h))).view(-1, self.action_space, self.num_atoms)
        if legal is None:
            mean = advantage.mean(1, keepdim=True)
        else:
            weight = legal.to(advantage.dtype).expand(advantage.shape[0], -1).unsqueeze(-1)
            mean = (advantage * weight).sum(1, keepdim=True) / weight.sum(1, keepdim=True)
        return F.log_softmax(value + advantage - mean, dim=-1)

    def q_values(self, log_probs: torch.Tensor, legal: torch.Tensor | None = None) -> torch.Tensor:
        """Expected returns [B, A] of distributions [B, A, N]; illegal entries get ``ILLEGAL_LOGIT``."""
        q = (log_probs.exp() * self.support).sum(-1)
        return q if legal is None else q.masked_fill(~legal, ILLEGAL_LOGIT)
