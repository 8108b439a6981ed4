"""XTRA's own hyper-parameters (stage 1 and stage 2) and their presets.

The networks and the EfficientZero loss come from ``EfficientZeroConfig``: the student and the
finetuned model use the EfficientZero-L preset with an 18-action head (``student_config``), the
teachers the plain EfficientZero preset of the same name (``teacher_config``). ``XtraConfig`` adds
what XTRA itself decides: how long teachers and the student train, the relabelling search, the
offline batch, which components transfer and the task-weight rule of DESIGN.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.efficientzero.config import EfficientZeroConfig, preset_config
from xtra_bench.envs import FULL_ACTION_COUNT
from xtra_bench.errors import ConfigError
from xtra_bench.presets import config_from_preset

LOSS_NORMALISATIONS = ("release", "eq1")
"""How stage 2 combines the target's and the offline tasks' losses (``XtraConfig.loss_normalisation``)."""

COMPONENTS = ("representation", "dynamics", "prediction", "projection")
"""Parts of the network that can be transferred from the student: h, g, f and the SimSiam projection/predictor."""


@dataclass(frozen=True)
class XtraConfig:
    """Every XTRA setting beyond EfficientZero's; the defaults are the ``paper`` preset."""

    # --- stage 1: teachers, relabelling, distillation ---
    teacher_updates: int = 100_000
    """Offline EfficientZero updates of each teacher on its dataset (the paper does not state it; EZ's 100k)."""
    relabel_simulations: int = 50
    """MCTS simulations of the teacher's search that labels its dataset (no root noise)."""
    relabel_roots: int = 1024
    """Roots searched together while relabelling."""
    relabel_chunk_rows: int = 16_384
    """Rows labelled per resumable chunk (a killed relabelling restarts at the first missing chunk)."""
    distill_updates: int = 100_000
    """Updates of the multi-task student (the paper does not state it; EZ's 100k)."""
    distill_batch_size: int = 256
    """Student minibatch, split equally over the pretraining tasks (rounded down to a multiple of their count)."""
    student_source: str = "distill"
    """"distill": the student learns the teachers' targets; "offline_rl": no teachers, the student learns every
    dataset by multi-game offline EfficientZero (the paper's Appendix C alternative)."""
    stage1_seed: int = 0
    """Seeds teachers, relabelling and the student: stage 1 is shared by every seed of stage 2."""

    # --- stage 2: finetuning on the target ---
    online: bool = True
    """Learn on the target at all (False: the student is evaluated zero-shot)."""
    pretrained: bool = True
    """Start stage 2 from the student (False: random initialisation)."""
    transfer: tuple[str, ...] = COMPONENTS
    """Components copied from the student when ``pretrained`` (a subset of ``COMPONENTS``); the rest start random."""
    freeze_representation: bool = False
    """Keep the representation h fixed during finetuning (weights and batch-norm statistics)."""
    cross_task: bool = True
    """Add the offline tasks' losses (teacher targets) to the target's loss while finetuning."""
    offline_batch_size: int = 256
    """Offline rows per update, split equally over the pretraining tasks (rounded down to a multiple of their count)."""
    loss_normalisation: str = "release"
    """"release": the target and offline rows in one forward pass (batch norm sees both) and the loss the mean
    over all rows of row weight x row loss (0.5 L_T + 0.5/K sum eta_i L_i at 256 + 256 rows), as XTRA's code does;
    "eq1": the paper's Eq. 1 literally, L_T + sum eta_i L_i, the target and the offline rows in separate passes."""
    offline_prioritised: bool = True
    """Draw offline rows by priority (EfficientZero's alpha and annealed beta) and update their priorities from
    the finetuned model's value errors, as XTRA's code does; False: uniform draws, unit weights."""

    # --- task weights (DESIGN.md, "Task weights") ---
    adaptive_weights: bool = True
    """Set eta_i by the gradient-cosine rule; False keeps every eta at ``initial_weight``."""
    initial_weight: float = 1.0
    """eta of every offline task until the first window ends (and always without adaptive weights)."""
    weights_start: int = 10_000
    """Update at which the first gradient-cosine window opens."""
    weights_cycle: int = 5_000
    """Updates between the openings of two windows."""
    weights_window: int = 500
    """Updates at the start of each cycle whose gradient cosines are counted."""
    cosine_threshold: float = 0.1
    """A window step counts for task i when cos(grad target, grad task i) exceeds this."""
    weight_decimals: int = 2
    """eta_i = round((count_start + count_i) / (count_start + window), weight_decimals)."""
    count_start: int = 1
    """Both window counters start here, not at 0 (XTRA's code: 1, so eta = (1 + count) / 501)."""
    cosine_grad_clamp: float = 5.0
    """Each task's gradient is clamped element-wise to +-this before the cosine (XTRA's code: its max_grad_norm, 5); 0: no clamp."""

    def __post_init__(self) -> None:
        checks = {
            "teacher_updates": self.teacher_updates >= 1,
            "relabel_simulations": self.relabel_simulations >= 1,
            "relabel_roots": self.relabel_roots >= 1,
            "relabel_chunk_rows": self.relabel_chunk_rows >= 1,
            "distill_updates": self.distill_updates >= 1,
            "distill_batch_size": self.distill_batch_size >= 2,
            "offline_batch_size": self.offline_batch_size >= 1,
            "transfer": set(self.transfer) <= set(COMPONENTS),
            "initial_weight": self.initial_weight >= 0,
            "weights_start": self.weights_start >= 0,
            "weights_window": 1 <= self.weights_window <= self.weights_cycle,
            "weight_decimals": self.weight_decimals >= 0,
            "loss_normalisation": self.loss_normalisation in LOSS_NORMALISATIONS,
            "student_source": self.student_source in ("distill", "offline_rl"),
            "count_start": self.count_start >= 0,
            "cosine_grad_clamp": self.cosine_grad_clamp >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid XTRA setting(s): {', '.join(f'{n}={getattr(self, n)!r}' for n in bad)}")

    @property
    def needs_student(self) -> bool:
        """Stage 2 starts from the student (or evaluates it zero-shot)."""
        return self.pretrained or not self.online

    @property
    def needs_targets(self) -> bool:
        """Stage 2 uses the teachers' targets of the offline tasks."""
        return self.online and self.cross_task


PRESETS: dict[str, dict] = {
    "paper": {},
    "fast": dict(
        teacher_updates=20_000,
        relabel_simulations=16,
        distill_updates=20_000,
        # fast trains 50k updates on the target: the paper's schedule (10k / 5k / 500 of 100k) halved.
        weights_start=5_000,
        weights_cycle=2_500,
        weights_window=250,
    ),
    # The paper's stage-1 lengths cut to a 20k-step MinAtar run, and its task-weight schedule
    # (10k / 5k / 500 of 100k) scaled by 20k / 100k.
    "minatar": dict(
        teacher_updates=5_000,
        relabel_simulations=8,
        distill_updates=5_000,
        distill_batch_size=64,
        # As many offline rows as the target's 32, as the release has 256 + 256: the target's share of the loss stays 1/2.
        offline_batch_size=32,
        weights_start=2_000,
        weights_cycle=1_000,
        weights_window=100,
    ),
    "smoke": dict(
        teacher_updates=20,
        relabel_simulations=4,
        relabel_roots=256,
        relabel_chunk_rows=256,
        distill_updates=20,
        distill_batch_size=16,
        offline_batch_size=16,
        weights_start=20,
        weights_cycle=20,
        weights_window=5,
    ),
}
"""Overrides of the defaults per preset (``paper`` is the defaults themselves)."""


def xtra_config(name: str, **overrides) -> XtraConfig:
    """The XTRA settings of preset ``name`` with ``overrides`` applied on top.

    Raises:
        UnknownNameError: ``name`` is not a preset.
        ConfigError: an override names no field, or a value is out of range.
    """
    return config_from_preset(XtraConfig, PRESETS, name, "XTRA", **overrides)


def student_config(preset: str, **overrides) -> EfficientZeroConfig:
    """EfficientZero-L with the shared 18-action head: the student's and the finetuned model's network and loss."""
    return preset_config(preset, **{"blocks_per_stage": 4, "multi_task_actions": FULL_ACTION_COUNT, **overrides})


def teacher_config(preset: str, **overrides) -> EfficientZeroConfig:
    """A teacher: plain single-task EfficientZero of the same preset."""
    return preset_config(preset, **overrides)


def equal_share(total: int, tasks: int) -> int:
    """Rows each of ``tasks`` tasks gets from a batch of ``total``: the same for all, ``total // tasks``.

    Raises:
        ConfigError: fewer rows than tasks.
    """
    if tasks < 1 or total < tasks:
        raise ConfigError(f"a batch of {total} rows cannot give each of {tasks} tasks a row; raise the batch size")
    return total // tasks
