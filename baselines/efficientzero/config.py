"""EfficientZero hyper-parameters: one frozen, typed config and its named presets.

``paper`` is the paper's Table 8 (EfficientZero's settings), ``fast`` keeps the algorithm but
spends less compute (for quick studies), ``smoke`` is tiny so a run finishes on a CPU in a minute
or two. Build one with ``preset_config("paper")`` and override fields with keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from xtra_bench.errors import ConfigError
from xtra_bench.presets import config_from_preset


@dataclass(frozen=True)
class EfficientZeroConfig:
    """Every EfficientZero hyper-parameter; the defaults are the ``paper`` preset."""

    # --- environment (owned by the protocol; checked against the env spec, never changed by the agent) ---
    frame_size: int = 96
    """Side of the square, down-sampled Atari frame (pixels)."""
    frame_stack: int = 4
    """Frames stacked into one observation."""
    frame_skip: int = 4
    """Emulator frames per agent step."""
    max_episode_frames: int = 108_000
    """Emulator frames after which an episode is truncated."""
    clip_rewards: bool = True
    """Learn from sign-clipped rewards (the dataset and replay keep raw rewards)."""
    life_loss_terminal: bool = True
    """A life loss ends the learning episode: no bootstrapping across it."""

    # --- networks (Appendix J) ---
    channels: int = 64
    """Channels of the latent state (the representation's first conv and res block use half)."""
    reduced_channels: int = 16
    """Channels of the 1x1 convs that start the value, policy and value-prefix heads."""
    head_hidden: int = 32
    """Width of the hidden fully connected layer of the value, policy and value-prefix heads."""
    lstm_hidden: int = 512
    """Hidden size of the value-prefix LSTM."""
    blocks_per_stage: int = 1
    """Residual blocks in each of the representation's four stages (EfficientZero-L, XTRA's release: 4)."""
    projection_hidden: int = 1024
    """Width of the two hidden layers of the SimSiam projection (three linear layers, as released)."""
    projection_out: int = 1024
    """Output width of the SimSiam projection (and of the predictor)."""
    predictor_hidden: int = 512
    """Hidden width of the SimSiam predictor."""
    support_size: int = 300
    """Value and value-prefix supports are the integers in [-support_size, support_size] (601 bins)."""
    value_transform_eps: float = 0.001
    """The epsilon of h(x) = sign(x)(sqrt(|x|+1) - 1) + eps * x."""
    state_norm: bool = False
    """Min-max scale each latent state to [0, 1] after h and g (EfficientZero's Atari config leaves it off)."""
    multi_task_actions: int = 0
    """Width of a shared policy head masked to each game's action set (18 for multi-task models); 0: the game's own action count."""

    # --- optimisation ---
    batch_size: int = 256
    """Minibatch size (target task)."""
    lr: float = 0.2
    """Peak SGD learning rate."""
    lr_warmup_fraction: float = 0.01
    """Fraction of the run's updates over which the learning rate rises linearly from 0 to ``lr``."""
    lr_decay_rate: float = 0.1
    """Learning-rate factor once the run's main updates are done (0.2 -> 0.02 for the low-lr tail, as EfficientZero's 100k)."""
    momentum: float = 0.9
    """SGD momentum."""
    weight_decay: float = 1e-4
    """SGD weight decay."""
    max_grad_norm: float = 5.0
    """Gradient norm clip."""
    final_low_lr_steps: int = 0
    """Extra updates at the decayed learning rate after the last env step: a protocol setting (Table 2's 20k; 0 elsewhere, Appendix K)."""
    num_unroll_steps: int = 5
    """Dynamics unroll length K."""
    value_loss_weight: float = 0.25
    """Weight of the value loss."""
    value_prefix_loss_weight: float = 1.0
    """Weight of the value-prefix loss."""
    policy_loss_weight: float = 1.0
    """Weight of the policy loss."""
    consistency_loss_weight: float = 2.0
    """Weight of the SimSiam temporal-consistency loss."""
    dynamics_grad_scale: float = 0.5
    """Gradient scale applied to the latent state after every dynamics step (MuZero's half gradient)."""
    loss_grad_scale: float = 0.2
    """Gradient scale of the total loss (EfficientZero's 1 / unroll steps, which scales the unroll losses by 1/5)."""
    shift_pad: int = 4
    """Random-shift augmentation: replicate-padding in pixels (0 disables the shift)."""
    intensity_scale: float = 0.05
    """Intensity augmentation: frames scaled by 1 + scale * clip(N(0,1), -2, 2) (0 disables it)."""

    # --- replay and targets ---
    priority_alpha: float = 0.6
    """Prioritised replay exponent."""
    priority_beta_start: float = 0.4
    """Importance-sampling exponent at the first update, annealed linearly to 1 over all updates of the run."""
    priority_eps: float = 1e-6
    """Added to every priority so that no transition becomes unsampleable."""
    min_replay_size: int = 2000
    """Transitions collected before the first update."""
    replay_capacity: int = 100_000
    """Transitions kept in replay (oldest episodes dropped first); 100k keeps the whole Atari100k run."""
    history_length: int = 400
    """Self-play hands a running episode to the replay every this many steps (EfficientZero's history_length), each block
    with the next num_unroll_steps + td_steps steps that its windows reach into: a game longer than the run still trains."""
    discount: float = 0.997**4
    """Discount per agent step: EfficientZero's 0.997 per emulator frame raised to the frame skip (0.98806)."""
    td_steps: int = 5
    """Maximum n of the n-step value targets."""
    td_age_fraction: float = 0.3
    """Off-policy correction: n = clip(td_steps - age // interval, 1, td_steps), age in env steps, with the interval this
    fraction of the run's env steps (EfficientZero's auto_td_steps_ratio: 30k of its 100k)."""
    min_td_steps: int = 1
    """Lower clip of the off-policy corrected n."""
    value_prefix_horizon: int = 5
    """The value-prefix LSTM state (and the prefix target) resets every this many unroll steps."""
    reanalyze_ratio: float = 1.0
    """Fraction of sampled policy targets recomputed by MCTS with the target network (the rest use acting's search)."""
    reanalyze_noise: bool = True
    """Add root Dirichlet noise in reanalysis, as EfficientZero does."""
    target_refresh_interval: int = 200
    """Updates between copies of the trained weights into the target network."""
    selfplay_refresh_interval: int = 100
    """Updates between copies of the trained weights into the acting network."""

    # --- search ---
    num_simulations: int = 50
    """MCTS simulations per search (acting and reanalysis)."""
    dirichlet_alpha: float = 0.3
    """Root Dirichlet noise concentration."""
    exploration_fraction: float = 0.25
    """Share of the root prior replaced by Dirichlet noise."""
    pb_c_base: float = 19652.0
    """pUCT c2."""
    pb_c_init: float = 1.25
    """pUCT c1."""
    search_threads: int = 1
    """Threads of the C++ tree (roots are split across them)."""
    temperature_schedule: tuple[tuple[float, float], ...] = ((0.5, 1.0), (0.75, 0.5), (1.0, 0.25))
    """Visit-count softmax temperature for acting: (fraction of the run's updates done, temperature) pairs, first match wins."""

    # --- acting and bookkeeping ---
    num_envs: int = 4
    """Parallel environments stepped as one batch, their roots searched at once (EfficientZero's training script: p_mcts_num 4)."""
    updates_per_env_step: float = 1.0
    """Updates per agent step once the replay is warm (100k updates for 100k steps)."""
    log_interval: int = 100
    """Updates between metric log lines."""

    # --- speed (every flag falls back cleanly on a CPU; ``baselines.efficientzero.speed`` says which act where, and why) ---
    compile: bool = False
    """Run the training step under torch.compile on CUDA (on a CPU the first compiled update of even the smoke network took minutes: eager there)."""
    amp: bool = False
    """Mixed precision (bfloat16 autocast) of the training step on CUDA."""
    channels_last: bool = False
    """Channels-last memory format for the convolutions (CUDA and CPU; on a CPU one 3x3 conv of MinAtar latents ran 1.7x faster, a whole update within noise)."""
    overlap_reanalysis: bool = True
    """Reanalyse the next batch in a worker thread while the current one trains (one-update-stale priorities and target)."""
    cuda_graphs: bool = False
    """Replay the search's recurrent inference from CUDA graphs captured per batch bucket (CUDA only; ``graphs.py``)."""
    pin_memory: bool = False
    """Copy replay batches to the GPU through page-locked host memory without blocking the host (CUDA only)."""

    def __post_init__(self) -> None:
        checks = {
            "batch_size": self.batch_size >= 2,
            "num_unroll_steps": self.num_unroll_steps >= 1,
            "td_steps": self.td_steps >= self.min_td_steps >= 1,
            "reanalyze_ratio": 0.0 <= self.reanalyze_ratio <= 1.0,
            "lr_warmup_fraction": 0.0 <= self.lr_warmup_fraction < 1.0,
            "support_size": self.support_size >= 1,
            "num_simulations": self.num_simulations >= 1,
            "value_prefix_horizon": self.value_prefix_horizon >= 1,
            "temperature_schedule": len(self.temperature_schedule) > 0 and self.temperature_schedule[-1][0] >= 1.0,
            "num_envs": self.num_envs >= 1,
            "history_length": self.history_length >= 1,
            "updates_per_env_step": self.updates_per_env_step > 0,
            "blocks_per_stage": self.blocks_per_stage >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid EfficientZero setting(s): {', '.join(f'{n}={getattr(self, n)!r}' for n in bad)}")

    @property
    def support_bins(self) -> int:
        """Bins of the value and value-prefix supports (601 in the paper)."""
        return 2 * self.support_size + 1


_SMALL_NETWORK = dict(
    channels=16,
    reduced_channels=4,
    head_hidden=16,
    lstm_hidden=32,
    projection_hidden=64,
    projection_out=64,
    predictor_hidden=32,
)

_MINATAR_NETWORK = dict(
    channels=16,
    reduced_channels=4,
    head_hidden=32,
    lstm_hidden=64,
    projection_hidden=128,
    projection_out=128,
    predictor_hidden=64,
    support_size=10,
)
"""A network for MinAtar's 10x10 frames on two CPU cores: the architecture of Appendix J at MinAtar DQN's
16 channels; support [-10, 10] in h-space covers returns up to ~118, above any 5-step MinAtar target."""

PRESETS: dict[str, dict] = {
    "paper": {},
    "fast": dict(
        num_simulations=16,
        num_envs=8,
    ),
    # The algorithm of ``paper`` sized for MinAtar on two CPU cores (docs/presets.md: each choice and the runs behind it).
    "minatar": dict(
        **_MINATAR_NETWORK,
        discount=0.99,  # MinAtar has no frame skip: one step per frame (MinAtar's reference agents use 0.99)
        shift_pad=0,  # a 4-pixel shift moves a 10-pixel board by 40% and replicates its edge rows onto it
        batch_size=32,
        lr=0.1,
        num_simulations=8,
        num_envs=8,
        min_replay_size=500,
        updates_per_env_step=0.5,  # two cores: 10k updates in a 20k-step run fit a run in about 20 min
    ),
    "smoke": dict(
        **_SMALL_NETWORK,
        batch_size=16,
        num_simulations=4,
        lr=0.05,
        min_replay_size=64,
        replay_capacity=2_000,
        target_refresh_interval=20,
        selfplay_refresh_interval=10,
        num_envs=2,
        log_interval=20,
    ),
}
"""Overrides of the defaults per preset (``paper`` is the defaults themselves)."""


def preset_config(name: str, **overrides) -> EfficientZeroConfig:
    """Builds the config of preset ``name`` with ``overrides`` applied on top.

    Raises:
        UnknownNameError: ``name`` is not a preset.
        ConfigError: an override names no field, or a value is out of range.
    """
    return config_from_preset(EfficientZeroConfig, PRESETS, name, "EfficientZero", **overrides)
