"""EfficientZero's networks (Appendix J): representation, dynamics with the value-prefix LSTM, prediction.

Shapes below use B for the batch, C for the latent channels (64), (h, w) for the latent's spatial
size (6x6 from 96x96 Atari frames; MinAtar's small frames skip the down-sampling), A for the policy
head's width (the game's actions, or 18 for multi-task models masked to each game's action set)
and S for the support size (601 bins = 2 * 300 + 1).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.speed import flag_active
from baselines.efficientzero.support import support_to_scalar
from xtra_bench.search import InferenceOutput

ILLEGAL_LOGIT = -1e9
"""Logit given to actions outside a game's action set: exp() underflows to exactly 0."""

DOWNSAMPLE_MIN_SIZE = 64
"""Frames at least this large (Atari's 96x96) go through the down-sampling stem; smaller ones (MinAtar's 10x10) do not."""


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


class ResidualBlock(nn.Module):
    """Two 3x3 convs with batch norm; a strided block projects the skip path with a strided conv."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.skip = conv3x3(in_channels, out_channels, stride) if stride != 1 or in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.skip is None else self.skip(x)))


def mlp_head(in_features: int, hidden: int, out_features: int) -> nn.Sequential:
    """FC -> BN -> ReLU -> FC, the output layer zero-initialised so that every head starts uniform."""
    out = nn.Linear(hidden, out_features)
    nn.init.zeros_(out.weight)
    nn.init.zeros_(out.bias)
    return nn.Sequential(nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), out)


def scale_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Identity forward; the backward multiplies the gradient by ``scale`` (graph-friendly, no hook)."""
    if scale == 1.0:
        return x
    return x * scale + x.detach() * (1.0 - scale)


def normalize_latent(latent: torch.Tensor) -> torch.Tensor:
    """Min-max scales each sample's latent to [0, 1], as EfficientZero does after h and g: [B, C, h, w] -> same."""
    flat = latent.flatten(1)
    low = flat.min(dim=1, keepdim=True).values
    high = flat.max(dim=1, keepdim=True).values
    scale = (high - low).clamp_min(1e-5)
    return ((flat - low) / scale).view_as(latent)


class Representation(nn.Module):
    """h: stacked frames [B, stack * channels, H, W] in [0, 1] -> latent [B, C, h, w].

    Atari frames pass four stages of ``blocks_per_stage`` residual blocks each: at C/2 channels
    after the first strided conv, at C after the strided residual block, after the first and after
    the second average pooling (EfficientZero: 1 per stage; EfficientZero-L as XTRA releases it: 4).
    MinAtar's small frames skip the down-sampling and get the last stage only.
    """

    def __init__(self, in_channels: int, frame_size: int, cfg: EfficientZeroConfig):
        super().__init__()
        c, n = cfg.channels, cfg.blocks_per_stage

        def stage(channels: int) -> list[nn.Module]:
            return [ResidualBlock(channels, channels) for _ in range(n)]

        if frame_size >= DOWNSAMPLE_MIN_SIZE:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, c // 2, kernel_size=3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c // 2),
                nn.ReLU(),
                *stage(c // 2),
                ResidualBlock(c // 2, c, stride=2),
                *stage(c),
                nn.AvgPool2d(kernel_size=3, stride=2, padding=1),
                *stage(c),
                nn.AvgPool2d(kernel_size=3, stride=2, padding=1),
            )
        else:
            self.stem = nn.Sequential(conv3x3(in_channels, c), nn.BatchNorm2d(c), nn.ReLU())
        self.blocks = nn.Sequential(*stage(c))
        self.state_norm = cfg.state_norm

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        latent = self.blocks(self.stem(obs))
        return normalize_latent(latent) if self.state_norm else latent


class Dynamics(nn.Module):
    """g: (latent, LSTM state, action) -> (next latent, next LSTM state, value-prefix logits [B, S])."""

    def __init__(self, latent_hw: int, action_space: int, cfg: EfficientZeroConfig):
        super().__init__()
        c = cfg.channels
        self.action_space = action_space
        self.conv = conv3x3(c + 1, c)
        self.bn = nn.BatchNorm2d(c)
        self.block = ResidualBlock(c, c)
        self.reward_conv = nn.Conv2d(c, cfg.reduced_channels, kernel_size=1, bias=False)
        self.reward_bn = nn.BatchNorm2d(cfg.reduced_channels)
        self.lstm = nn.LSTM(cfg.reduced_channels * latent_hw, cfg.lstm_hidden)
        self.lstm_bn = nn.BatchNorm1d(cfg.lstm_hidden)
        self.value_prefix_head = mlp_head(cfg.lstm_hidden, cfg.head_hidden, cfg.support_bins)
        self.state_norm = cfg.state_norm

    def forward(
        self,
        latent: torch.Tensor,
        reward_state: tuple[torch.Tensor, torch.Tensor],
        actions: torch.Tensor,
        grad_scale: float = 1.0,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Args: latent [B, C, h, w]; reward_state (h, c) each [1, B, lstm_hidden]; actions long [B] head indices;
        grad_scale: multiplies every gradient that reaches the next latent, the value-prefix head's included
        (EfficientZero hooks the dynamics' output tensor, which also feeds that head)."""
        # The action enters as one constant plane a / |A| (EfficientZero's encoding).
        plane = (actions.to(latent.dtype) / self.action_space).view(-1, 1, 1, 1).expand(-1, 1, *latent.shape[2:])
        x = self.bn(self.conv(torch.cat([latent, plane], dim=1)))
        next_latent = self.block(F.relu(x + latent))
        if self.state_norm:
            next_latent = normalize_latent(next_latent)
        next_latent = scale_gradient(next_latent, grad_scale)
        r = F.relu(self.reward_bn(self.reward_conv(next_latent))).flatten(1)
        out, next_state = self.lstm(r.unsqueeze(0), reward_state)
        value_prefix_logits = self.value_prefix_head(F.relu(self.lstm_bn(out.squeeze(0))))
        return next_latent, next_state, value_prefix_logits


class Prediction(nn.Module):
    """f: latent [B, C, h, w] -> (policy logits [B, A], value logits [B, S])."""

    def __init__(self, latent_hw: int, action_space: int, cfg: EfficientZeroConfig):
        super().__init__()
        c, r = cfg.channels, cfg.reduced_channels
        self.block = ResidualBlock(c, c)
        self.value_conv = nn.Sequential(nn.Conv2d(c, r, kernel_size=1, bias=False), nn.BatchNorm2d(r), nn.ReLU())
        self.policy_conv = nn.Sequential(nn.Conv2d(c, r, kernel_size=1, bias=False), nn.BatchNorm2d(r), nn.ReLU())
        self.value_head = mlp_head(r * latent_hw, cfg.head_hidden, cfg.support_bins)
        self.policy_head = mlp_head(r * latent_hw, cfg.head_hidden, action_space)

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.block(latent)
        return self.policy_head(self.policy_conv(x).flatten(1)), self.value_head(self.value_conv(x).flatten(1))


class EfficientZeroNet(nn.Module):
    """The three functions plus the SimSiam projection/predictor used by the consistency loss.

    Args:
        frame_shape: one frame (H, W, channels) as in ``EnvSpec.frame_shape``.
        action_space: width A of the policy head and of the action encoding.
        cfg: the hyper-parameters (widths, supports, residual blocks per representation stage).
    """

    def __init__(self, frame_shape: tuple[int, int, int], action_space: int, cfg: EfficientZeroConfig):
        super().__init__()
        height, width, frame_channels = frame_shape
        self.cfg = cfg
        self.action_space = action_space
        self.representation = Representation(cfg.frame_stack * frame_channels, height, cfg)
        self.latent_shape = self._latent_shape(cfg.frame_stack * frame_channels, height, width)
        latent_hw = self.latent_shape[1] * self.latent_shape[2]
        self.dynamics = Dynamics(latent_hw, action_space, cfg)
        self.prediction = Prediction(latent_hw, action_space, cfg)
        self.projection = nn.Sequential(
            nn.Linear(cfg.channels * latent_hw, cfg.projection_hidden),
            nn.BatchNorm1d(cfg.projection_hidden),
            nn.ReLU(),
            nn.Linear(cfg.projection_hidden, cfg.projection_hidden),
            nn.BatchNorm1d(cfg.projection_hidden),
            nn.ReLU(),
            nn.Linear(cfg.projection_hidden, cfg.projection_out),
            nn.BatchNorm1d(cfg.projection_out),
        )
        self.predictor = nn.Sequential(
            nn.Linear(cfg.projection_out, cfg.predictor_hidden),
            nn.BatchNorm1d(cfg.predictor_hidden),
            nn.ReLU(),
            nn.Linear(cfg.predictor_hidden, cfg.projection_out),
        )

    def _latent_shape(self, in_channels: int, height: int, width: int) -> tuple[int, int, int]:
        with torch.no_grad():
            was_training = self.representation.training
            self.representation.eval()
            shape = self.representation(torch.zeros(1, in_channels, height, width)).shape[1:]
            self.representation.train(was_training)
        return tuple(shape)

    def initial_state(self, batch: int, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        """A zeroed LSTM state (h, c), each [1, batch, lstm_hidden]."""
        zeros = torch.zeros(1, batch, self.cfg.lstm_hidden, device=device)
        return zeros, zeros.clone()

    def project(self, latent: torch.Tensor, with_grad: bool) -> torch.Tensor:
        """SimSiam branch: latent [B, C, h, w] -> [B, projection_out]; the target branch (no predictor) is detached."""
        proj = self.projection(latent.flatten(1))
        return self.predictor(proj) if with_grad else proj.detach()

    def initial_inference(self, obs: torch.Tensor) -> InferenceOutput:
        """Root inference for search: obs float [B, stack * channels, H, W] in [0, 1] -> scalars and latent."""
        latent = self.representation(obs)
        policy_logits, value_logits = self.prediction(latent)
        batch = obs.shape[0]
        return InferenceOutput(
            latent=latent,
            reward_state=self.initial_state(batch, obs.device),
            value=support_to_scalar(value_logits, self.cfg.support_size, self.cfg.value_transform_eps),
            value_prefix=torch.zeros(batch, device=obs.device),
            policy_logits=policy_logits.float(),
        )

    def recurrent_inference(
        self, latent: torch.Tensor, reward_state: tuple[torch.Tensor, torch.Tensor], actions: torch.Tensor
    ) -> InferenceOutput:
        """One imagined step for search: (latent [B, C, h, w], (h, c), actions long [B]) -> scalars and next latent."""
        next_latent, next_state, prefix_logits = self.dynamics(latent, reward_state, actions)
        policy_logits, value_logits = self.prediction(next_latent)
        size, eps = self.cfg.support_size, self.cfg.value_transform_eps
        return InferenceOutput(
            latent=next_latent,
            reward_state=next_state,
            value=support_to_scalar(value_logits, size, eps),
            value_prefix=support_to_scalar(prefix_logits, size, eps),
            policy_logits=policy_logits.float(),
        )


def build_network(frame_shape: tuple[int, int, int], action_space: int, cfg: EfficientZeroConfig, device: torch.device | str) -> EfficientZeroNet:
    """An ``EfficientZeroNet`` on ``device``, in the memory format ``cfg.channels_last`` asks for."""
    device = torch.device(device)
    net = EfficientZeroNet(frame_shape, action_space, cfg).to(device)
    return net.to(memory_format=torch.channels_last) if flag_active(cfg, "channels_last", device) else net


def head_action_mask(action_set: tuple[int, ...], action_space: int) -> np.ndarray:
    """Which policy-head entries a game may use: bool [action_space].

    A single-task head (width = number of game actions) is all legal; an 18-wide multi-task head
    allows the game's full-action ids only.
    """
    if action_space == len(action_set):
        return np.ones(action_space, dtype=bool)
    mask = np.zeros(action_space, dtype=bool)
    mask[list(action_set)] = True
    return mask


def head_to_env_actions(action_set: tuple[int, ...], action_space: int) -> np.ndarray:
    """The env action index of every policy-head entry: int64 [action_space] (-1 where the game lacks it)."""
    if action_space == len(action_set):
        return np.arange(action_space, dtype=np.int64)
    table = np.full(action_space, -1, dtype=np.int64)
    table[list(action_set)] = np.arange(len(action_set))
    return table


def env_to_head_actions(action_set: tuple[int, ...], action_space: int) -> np.ndarray:
    """The policy-head entry of every env action: int64 [len(action_set)]."""
    if action_space == len(action_set):
        return np.arange(action_space, dtype=np.int64)
    return np.asarray(action_set, dtype=np.int64)


def mask_logits(logits: torch.Tensor, legal: torch.Tensor | None) -> torch.Tensor:
    """Sets the logits of illegal actions to ``ILLEGAL_LOGIT``: logits [B, A], legal bool [B, A] or [A] (None: all legal)."""
    return logits if legal is None else logits.masked_fill(~legal, ILLEGAL_LOGIT)


def obs_to_input(obs: torch.Tensor) -> torch.Tensor:
    """Stacked uint8 frames [B, stack, H, W, channels] -> float [B, stack * channels, H, W] in [0, 1]."""
    b, stack, height, width, channels = obs.shape
    return obs.permute(0, 1, 4, 2, 3).reshape(b, stack * channels, height, width).float().div_(255.0)
