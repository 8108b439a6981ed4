"""CURL hyper-parameters: one frozen, typed config and its named presets.

``paper`` is CURL's Atari100k setting (Srinivas et al., 2020): data-efficient Rainbow (van Hasselt
et al., 2019) with the values of CURL's released Atari code, each noted on its field. ``fast``
keeps the algorithm with less pretraining and a 4-env actor; ``smoke`` is tiny so that pretraining
and a short run finish on a CPU in seconds.

Differences from the released code, all forced by the protocol or chosen for clarity:
- Frames are the protocol's 96x96 RGB (4 stacked: 12 channels) instead of 84x84 grayscale; the
  5x5 stride-5 convs still give a 3x3x64 = 576 feature map.
- Replay priorities are the distributional loss alone (the code adds the contrastive loss, a
  constant over the batch), and the contrastive loss is not importance-weighted.
- The replay holds complete learning episodes (an episode's transitions become sampleable when it
  ends) and a truncated episode bootstraps from its last frame instead of counting as terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

from xtra_bench.errors import ConfigError
from xtra_bench.presets import config_from_preset


@dataclass(frozen=True)
class CurlConfig:
    """Every CURL hyper-parameter; the defaults are the ``paper`` preset."""

    # --- environment (owned by the protocol; checked against the env spec) ---
    frame_stack: int = 4
    """Frames stacked into one observation (CURL: 4)."""

    # --- network (data-efficient Rainbow + CURL's contrastive head) ---
    conv_channels: tuple[int, int] = (32, 64)
    """Channels of the two convs: 5x5 stride 5 on Atari frames, 3x3 stride 1 on MinAtar's 10x10 ones (DER: 32, 64)."""
    hidden_size: int = 256
    """Width of the hidden noisy layer of the value and advantage streams, and of the contrastive head (DER: 256)."""
    contrastive_dim: int = 128
    """Size of the contrastive embedding z compared through W (CURL's code: 128)."""
    num_atoms: int = 51
    """Atoms of the C51 return distribution (Rainbow: 51)."""
    v_min: float = -10.0
    """Lowest atom (Rainbow: -10)."""
    v_max: float = 10.0
    """Highest atom (Rainbow: 10)."""
    noisy_std: float = 0.1
    """sigma_0 of the factorised noisy layers (DER: 0.1)."""
    multi_task_actions: int = 0
    """Width of a shared action head masked to each game's action set (18 for pretrained models); 0: the game's own."""

    # --- optimisation ---
    batch_size: int = 32
    """Minibatch size of online updates (DER: 32)."""
    lr: float = 1e-4
    """Adam learning rate (DER: 0.0001)."""
    adam_eps: float = 1.5e-4
    """Adam epsilon (DER: 0.00015)."""
    max_grad_norm: float = 10.0
    """Gradient norm clip (DER: 10)."""
    n_step: int = 20
    """Transitions in the multi-step return (DER and CURL: 20)."""
    discount: float = 0.99
    """Discount per agent step (DER: 0.99)."""
    clip_rewards: bool = True
    """Learn from sign-clipped rewards (DER: clip to [-1, 1], i.e. the sign for Atari's integer rewards)."""
    target_update_period: int = 2000
    """Updates between copies of the online network into the double-Q target network (CURL's code and DER: 2000)."""
    key_momentum: float = 0.999
    """EMA coefficient m of the key encoder, theta_k <- m theta_k + (1 - m) theta_q, after every update (CURL: tau 0.001)."""
    contrastive_weight: float = 1.0
    """Weight of the contrastive loss (CURL's code: 1; it uses 0.01 for Pong, Boxing, PrivateEye and Freeway)."""
    contrastive_logit_scale: float = 0.1
    """Bilinear logits are shifted by their row maximum and multiplied by this (CURL's code: 0.1)."""
    crop_margin: int = 4
    """CURL's random crop on frames of 64 px or more: a random crop smaller by this, replicate-padded by it, randomly cropped back (code: 84 -> 80 -> 88 -> 84)."""
    small_frame_crop_margin: int = 1
    """The same for MinAtar's 10x10 frames, where 4 px would crop away most of the board."""

    # --- replay ---
    replay_capacity: int = 100_000
    """Transitions kept (DER: 100k, the whole run)."""
    min_replay_size: int = 1600
    """Agent steps before the first update (DER: 1600)."""
    updates_per_step: float = 1.0
    """Updates per agent step once learning has started (DER: 1, replay period 1)."""
    priority_alpha: float = 0.5
    """Prioritised replay exponent omega (DER: 0.5)."""
    priority_beta_start: float = 0.4
    """Importance-sampling exponent at the first update, annealed linearly to 1 over the run (DER: 0.4 -> 1)."""
    priority_eps: float = 1e-6
    """Added to every priority so that no transition becomes unsampleable."""

    # --- multi-task pretraining (curl-pretrained; XTRA Appendix G gives no numbers: these are ours) ---
    pretrain_updates: int = 100_000
    """Updates of offline multi-task pretraining on the pretraining datasets."""
    pretrain_batch_per_task: int = 32
    """Rows of each pretraining task in a pretraining minibatch (an online batch per task)."""

    # --- acting and bookkeeping ---
    num_envs: int = 1
    """Environments stepped as one batch (DER: 1)."""
    log_interval: int = 100
    """Updates between metric reports."""

    def __post_init__(self) -> None:
        checks = {
            "batch_size": self.batch_size >= 2,
            "num_atoms": self.num_atoms >= 2,
            "v_max": self.v_max > self.v_min,
            "n_step": self.n_step >= 1,
            "discount": 0.0 < self.discount <= 1.0,
            "key_momentum": 0.0 <= self.key_momentum <= 1.0,
            "target_update_period": self.target_update_period >= 1,
            "updates_per_step": self.updates_per_step > 0,
            "priority_alpha": self.priority_alpha >= 0,
            "priority_beta_start": 0.0 <= self.priority_beta_start <= 1.0,
            "replay_capacity": self.replay_capacity >= self.min_replay_size >= 1,
            "crop_margin": self.crop_margin >= 0 and self.small_frame_crop_margin >= 0,
            "conv_channels": len(self.conv_channels) == 2 and min(self.conv_channels) >= 1,
            "pretrain_batch_per_task": self.pretrain_batch_per_task >= 2,
            "num_envs": self.num_envs >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid CURL setting(s): {', '.join(f'{n}={getattr(self, n)!r}' for n in bad)}")

    def learning_updates(self, steps: int) -> int:
        """Updates of a run of ``steps`` agent steps (the beta schedule's length): updates_per_step x steps after the replay warm-up."""
        return max(1, int(self.updates_per_step * (steps - self.min_replay_size)))


PRESETS: dict[str, dict] = {
    "paper": {},
    "fast": dict(pretrain_updates=20_000, num_envs=4),
    "minatar": dict(
        conv_channels=(16, 32),
        hidden_size=128,
        contrastive_dim=64,
        pretrain_updates=5_000,
        pretrain_batch_per_task=16,
    ),
    "smoke": dict(
        conv_channels=(8, 16),
        hidden_size=32,
        contrastive_dim=16,
        batch_size=8,
        lr=1e-3,
        target_update_period=20,
        replay_capacity=2_000,
        min_replay_size=32,
        pretrain_updates=20,
        pretrain_batch_per_task=8,
        num_envs=2,
        log_interval=10,
    ),
}
"""Overrides of the defaults per preset (``paper`` is the defaults themselves)."""


def preset_config(name: str, **overrides) -> CurlConfig:
    """Builds the config of preset ``name`` with ``overrides`` applied on top.

    Raises:
        UnknownNameError: ``name`` is not a preset.
        ConfigError: an override names no field, or a value is out of range.
    """
    return config_from_preset(CurlConfig, PRESETS, name, "CURL", **overrides)


def config_from_dict(raw: dict) -> CurlConfig:
    """Rebuilds a config saved with ``dataclasses.asdict`` (lists back to tuples)."""
    return CurlConfig(**{**raw, "conv_channels": tuple(raw["conv_channels"])})
