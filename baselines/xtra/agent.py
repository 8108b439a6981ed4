"""The registered XTRA agents: one implementation, each ablation a configuration of it.

``XtraAgent`` is EfficientZero-L with the shared 18-action head (masked to the target's actions)
whose learner is ``CrossTaskLearner``: ``pretrain`` runs (or reuses) stage 1 and initialises the
network from the student; ``train`` is EfficientZero's online loop with the offline tasks' losses
added to every update. The ablations differ only in ``XtraConfig`` overrides (``xtra_variant``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from baselines.efficientzero.agent import EfficientZeroAgent
from baselines.efficientzero.config import EfficientZeroConfig
from baselines.xtra.config import COMPONENTS, XtraConfig, student_config, teacher_config, xtra_config
from baselines.xtra.finetune import CrossTaskLearner
from baselines.xtra.offline import OfflineTasks
from baselines.xtra.stage1 import Stage1Result, run_stage1
from baselines.xtra.student import load_student, transfer
from xtra_bench.agents import EvalCallback, MetricsCallback
from xtra_bench.envs import EnvSpec, VectorEnv
from xtra_bench.errors import ConfigError

XTRA_STATE_FILE = "xtra.json"


class XtraAgent(EfficientZeroAgent):
    """XTRA (Hansen et al., 2023): multi-task pretraining by distillation, then cross-task finetuning with task weights.

    Args:
        spec: the target game's train-mode spec.
        preset: ``paper``, ``fast`` or ``smoke`` (for both ``EfficientZeroConfig`` and ``XtraConfig``).
        seed: seeds stage 2 (stage 1 has its own ``XtraConfig.stage1_seed``: it is shared across seeds).
        device: torch device string.
        config: the network and loss settings instead of the preset's EfficientZero-L.
        xtra: the XTRA settings instead of the preset's (with the variant's overrides).
    """

    name = "xtra"
    description = "XTRA: teachers distilled into a multi-task EfficientZero-L, finetuned with weighted offline tasks"
    xtra_variant: ClassVar[dict] = {}
    """``XtraConfig`` overrides that define an ablation."""
    network_variant: ClassVar[dict] = {}
    """``EfficientZeroConfig`` overrides of the student's and the finetuned network (the default-size ablation)."""
    stage1_group = "xtra"  # every ablation shares the stage-1 directory; its artifacts are keyed by content

    def __init__(
        self,
        spec: EnvSpec,
        *,
        preset: str = "smoke",
        seed: int = 0,
        device: str = "cpu",
        config: EfficientZeroConfig | None = None,
        xtra: XtraConfig | None = None,
    ):
        super().__init__(spec, preset=preset, seed=seed, device=device, config=config or student_config(preset, **self.network_variant))
        if not self.cfg.multi_task_actions:
            raise ConfigError("XTRA's network needs the shared action head (multi_task_actions=18)")
        self.xcfg = xtra or xtra_config(preset, **self.xtra_variant)
        # Replaces EfficientZero's learner, with the same augmentation stream.
        augment_seed = int(self._seeds["augment"].generate_state(1)[0])
        self.learner = self.update_loop.learner = CrossTaskLearner(
            self.net, self.cfg, self.xcfg, report=self._report_window, seed=augment_seed
        )
        self.stage1: Stage1Result | None = None
        self._on_metrics: MetricsCallback | None = None

    @classmethod
    def default_configs(cls, preset: str) -> dict[str, object]:
        return {"config": student_config(preset), "xtra": xtra_config(preset, **cls.xtra_variant)}

    # ---- stage 1 --------------------------------------------------------------------------------
    def teacher_config(self) -> EfficientZeroConfig:
        """The teachers' settings: the preset's EfficientZero (its schedules span the teacher's own offline run)."""
        return teacher_config(self.preset, final_low_lr_steps=0)

    def pretrain(self, datasets: Sequence[Path], workdir: Path) -> None:
        """Builds or reuses stage 1 for ``datasets`` under ``workdir``, then initialises stage 2 from it."""
        result = run_stage1(
            datasets,
            workdir,
            preset=self.preset,
            xcfg=self.xcfg,
            teacher_cfg=self.teacher_config(),
            student_cfg=self.cfg,
            device=self.device,
            need_student=self.xcfg.needs_student,
            need_targets=self.xcfg.needs_targets,
        )
        self.use_stage1(result, initialise=True)

    def use_stage1(self, result: Stage1Result, *, initialise: bool) -> None:
        """Takes stage 1's output: with ``initialise``, the student's weights (the variant's components);
        the offline tasks' targets files for the cross-task learner. ``pretrain`` and ``load`` call it; so
        can a stage 1 made some other way (e.g. targets files labelled by hand-picked teachers)."""
        frame_shapes = {OfflineTasks.frame_shape_of(t) for t in result.tasks}
        if frame_shapes - {tuple(self.spec.frame_shape)}:
            raise ConfigError(f"pretraining frames {sorted(frame_shapes)} differ from {self.spec.game}'s {self.spec.frame_shape}")
        self.stage1 = result
        if initialise and self.xcfg.needs_student:
            student = load_student(result.student, device=self.device)
            # Zero-shot evaluation uses the student as it is; finetuning transfers the configured components.
            transfer(self.net, student["net"], COMPONENTS if not self.xcfg.online else self.xcfg.transfer)
            self.target_net.load_state_dict(self.net.state_dict())
            self.actor_net.load_state_dict(self.net.state_dict())
        if self.xcfg.freeze_representation:
            self.net.representation.requires_grad_(False)
        if self.xcfg.needs_targets:
            self.learner.attach(OfflineTasks(result.tasks, self.cfg, seed=self.seed, device=self.device, prioritised=self.xcfg.offline_prioritised))

    def _report_window(self, metrics: dict[str, float]) -> None:
        if self._on_metrics:
            self._on_metrics(self.env_steps, metrics)

    # ---- stage 2 --------------------------------------------------------------------------------
    def train(
        self,
        env: VectorEnv,
        steps: int,
        *,
        eval_every: int = 0,
        on_eval: EvalCallback | None = None,
        on_metrics: MetricsCallback | None = None,
    ) -> None:
        if self.stage1 is None and (self.xcfg.needs_student or self.xcfg.needs_targets):
            raise ConfigError(f"{self.name} needs stage 1 first: call pretrain(datasets, workdir) (`xtra-bench run` does)")
        if not self.xcfg.online:
            return
        self._on_metrics = on_metrics
        try:
            super().train(env, steps, eval_every=eval_every, on_eval=on_eval, on_metrics=on_metrics)
        finally:
            self._on_metrics = None

    # ---- checkpoints ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        super().save(path)
        state = {"xtra_config": dataclasses.asdict(self.xcfg), "stage1": None if self.stage1 is None else self.stage1.to_json()}
        tmp = Path(path) / (XTRA_STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(Path(path) / XTRA_STATE_FILE)

    @classmethod
    def load(cls, path: Path, *, device: str = "cpu") -> XtraAgent:
        agent = super().load(path, device=device)
        state = json.loads((Path(path) / XTRA_STATE_FILE).read_text())
        raw = dict(state["xtra_config"], transfer=tuple(state["xtra_config"]["transfer"]))
        agent.xcfg = agent.learner.xcfg = XtraConfig(**raw)
        # Attaching the tasks restores the learner's saved task weights and offline draws.
        if state["stage1"] is not None:
            agent.use_stage1(Stage1Result.from_json(state["stage1"]), initialise=False)
        return agent


class XtraNoCrossTaskAgent(XtraAgent):
    name = "xtra-no-cross-task"
    description = "XTRA ablation: finetune the student on the target alone (no offline tasks)"
    xtra_variant: ClassVar[dict] = {"cross_task": False}


class XtraNoPretrainingAgent(XtraAgent):
    name = "xtra-no-pretraining"
    description = "XTRA ablation: random initialisation, cross-task finetuning with task weights"
    xtra_variant: ClassVar[dict] = {"pretrained": False}


class XtraConstantWeightsAgent(XtraAgent):
    name = "xtra-constant-weights"
    description = "XTRA ablation: every offline task weighted 1 throughout (no gradient-cosine rule)"
    xtra_variant: ClassVar[dict] = {"adaptive_weights": False}


class XtraFrozenRepresentationAgent(XtraAgent):
    name = "xtra-frozen-representation"
    description = "XTRA ablation: the student's representation h stays fixed during finetuning"
    xtra_variant: ClassVar[dict] = {"freeze_representation": True}


class XtraTransferHAgent(XtraAgent):
    name = "xtra-transfer-h"
    description = "XTRA ablation: transfer only the representation h; g and f start random"
    xtra_variant: ClassVar[dict] = {"transfer": ("representation",)}


class XtraTransferHGAgent(XtraAgent):
    name = "xtra-transfer-hg"
    description = "XTRA ablation: transfer the representation h and dynamics g; f starts random"
    xtra_variant: ClassVar[dict] = {"transfer": ("representation", "dynamics")}


class XtraTransferHGFAgent(XtraAgent):
    name = "xtra-transfer-hgf"
    description = "XTRA ablation: transfer h, g and f; the SimSiam projection and predictor start random"
    xtra_variant: ClassVar[dict] = {"transfer": ("representation", "dynamics", "prediction")}


class XtraZeroShotAgent(XtraAgent):
    name = "xtra-zero-shot"
    description = "XTRA's student evaluated on the target zero-shot (no learning on it)"
    xtra_variant: ClassVar[dict] = {"online": False}


class XtraDefaultSizeAgent(XtraAgent):
    name = "xtra-default-size"
    description = "XTRA with EfficientZero's default-size network for the student and the finetuned model (Fig. 6c)"
    network_variant: ClassVar[dict] = {"blocks_per_stage": 1}


class XtraOfflineRLStudentAgent(XtraAgent):
    name = "xtra-offline-rl-student"
    description = "A multi-game EfficientZero-L trained by offline RL on every pretraining dataset (no teachers), evaluated zero-shot (Appendix C)"
    xtra_variant: ClassVar[dict] = {"student_source": "offline_rl", "online": False}
