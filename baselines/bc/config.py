"""Multi-task behaviour cloning hyper-parameters (XTRA, Appendix O): one frozen, typed config and its presets.

The network is XTRA's student without dynamics: EfficientZero-L's representation and the
prediction network, with an 18-action policy head masked to each game's action set. The paper
gives no training settings for BC; ours train it as XTRA trains the student's policy (EfficientZero's
SGD, augmentation and equal task shares per minibatch) and are marked as our choices.
``paper`` is the defaults, ``fast`` trains shorter, ``smoke`` is tiny so that a run finishes on a
CPU in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.efficientzero.config import EfficientZeroConfig
from xtra_bench.errors import ConfigError
from xtra_bench.presets import config_from_preset


@dataclass(frozen=True)
class BCConfig:
    """Every BC hyper-parameter; the defaults are the ``paper`` preset."""

    # --- network (XTRA's representation + prediction, EfficientZero-L sizes) ---
    frame_stack: int = 4
    """Frames stacked into one observation."""
    channels: int = 64
    """Channels of the latent state (EfficientZero: 64)."""
    reduced_channels: int = 16
    """Channels of the 1x1 convs that start the policy and value heads (EfficientZero: 16)."""
    head_hidden: int = 32
    """Width of the hidden layer of the policy and value heads (EfficientZero: 32)."""
    blocks_per_stage: int = 4
    """Residual blocks in each representation stage (EfficientZero-L, XTRA's student: 4)."""
    support_size: int = 300
    """Support of the prediction's value head, kept so the weights have XTRA's layout (BC does not train it)."""

    # --- optimisation (EfficientZero's SGD, as XTRA's student is trained) ---
    batch_size: int = 256
    """Rows per update, split equally across the tasks (exact on every step)."""
    lr: float = 0.2
    """Peak SGD learning rate (EfficientZero: 0.2)."""
    lr_warmup_fraction: float = 0.01
    """Fraction of a stage's updates over which the learning rate rises linearly from 0 (EfficientZero: 1%)."""
    momentum: float = 0.9
    """SGD momentum."""
    weight_decay: float = 1e-4
    """SGD weight decay."""
    max_grad_norm: float = 5.0
    """Gradient norm clip."""
    shift_pad: int = 4
    """Random-shift augmentation: replicate-padding in pixels (EfficientZero's; 0 disables it)."""
    intensity_scale: float = 0.05
    """Intensity augmentation: frames scaled by 1 + scale * clip(N(0,1), -2, 2) (0 disables it)."""
    pretrain_updates: int = 100_000
    """Updates of multi-task cloning on the pretraining datasets (our choice; the paper gives none)."""
    finetune_updates: int = 20_000
    """Updates of offline cloning on the target's own dataset (bc-finetuned; our choice)."""

    # --- data ---
    use_teacher_targets: bool = True
    """Clone the teacher's search policy where a targets file lies beside a dataset; otherwise (or when False) its actions."""
    teacher_id: str = ""
    """Which teacher's targets file to use; empty accepts the only one beside each dataset."""
    target_dataset: str = ""
    """bc-finetuned: an id or path of the target's dataset; empty: the registry's newest of ``target_dataset_source``."""
    target_dataset_source: str = "ez-checkpoints"
    """bc-finetuned: the source part of the registry id searched for the target's dataset."""

    # --- bookkeeping ---
    log_interval: int = 100
    """Updates between metric reports."""

    def __post_init__(self) -> None:
        checks = {
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "lr_warmup_fraction": 0.0 <= self.lr_warmup_fraction < 1.0,
            "blocks_per_stage": self.blocks_per_stage >= 1,
            "pretrain_updates": self.pretrain_updates >= 0,
            "finetune_updates": self.finetune_updates >= 0,
            "shift_pad": self.shift_pad >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid BC setting(s): {', '.join(f'{n}={getattr(self, n)!r}' for n in bad)}")

    def network_config(self) -> EfficientZeroConfig:
        """The EfficientZero settings that size the representation and prediction networks."""
        return EfficientZeroConfig(
            frame_stack=self.frame_stack,
            channels=self.channels,
            reduced_channels=self.reduced_channels,
            head_hidden=self.head_hidden,
            blocks_per_stage=self.blocks_per_stage,
            support_size=self.support_size,
        )


PRESETS: dict[str, dict] = {
    "paper": {},
    "fast": dict(pretrain_updates=20_000, finetune_updates=5_000),
    "minatar": dict(
        channels=16,
        reduced_channels=4,
        head_hidden=32,
        support_size=10,
        batch_size=64,
        pretrain_updates=5_000,
        finetune_updates=2_000,
    ),
    "smoke": dict(
        channels=16,
        reduced_channels=4,
        head_hidden=16,
        support_size=10,
        batch_size=16,
        lr=0.05,
        pretrain_updates=20,
        finetune_updates=10,
        target_dataset_source="random-sample",
        log_interval=10,
    ),
}
"""Overrides of the defaults per preset (``paper`` is the defaults themselves)."""


def preset_config(name: str, **overrides) -> BCConfig:
    """Builds the config of preset ``name`` with ``overrides`` applied on top.

    Raises:
        UnknownNameError: ``name`` is not a preset.
        ConfigError: an override names no field, or a value is out of range.
    """
    return config_from_preset(BCConfig, PRESETS, name, "BC", **overrides)
