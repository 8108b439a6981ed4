"""The registered agents ``bc-zero-shot`` and ``bc-finetuned`` (XTRA, Appendix O).

Both clone the pretraining datasets' teacher policies (their actions where a dataset has no
targets file) with one multi-task network in ``pretrain``. Neither learns from the target's
environment: ``bc-zero-shot`` is evaluated as pretrained, so its ``train`` returns at once;
``bc-finetuned``'s ``train`` clones the target's own offline dataset, found through the dataset
registry, without taking an environment step.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from baselines.bc.config import BCConfig, preset_config
from baselines.bc.learner import train_stage
from baselines.bc.networks import BCNet
from baselines.efficientzero.networks import head_action_mask, head_to_env_actions, mask_logits, obs_to_input
from baselines.offline import find_targets, open_target_dataset, open_tasks
from baselines.pretrain_cache import load_pretrained, pretrain_key, save_pretrained
from xtra_bench.agents import Agent, EvalCallback, MetricsCallback, read_checkpoint_meta, write_checkpoint_meta
from xtra_bench.data import SamplerConfig
from xtra_bench.envs import FULL_ACTION_COUNT, EnvSpec, VectorEnv, make_spec
from xtra_bench.errors import ConfigError

logger = logging.getLogger(__name__)

STATE_FILE = "state.pt"


class BCZeroShotAgent(Agent):
    """Multi-task behaviour cloning evaluated zero-shot on the target.

    Args:
        spec: the target game's train-mode spec.
        preset: ``paper``, ``fast`` or ``smoke``.
        seed: seeds torch (weights, augmentation), the dataset draws and sampled actions.
        device: torch device string.
        config: a full config instead of the preset's (checkpoints and studies).
    """

    name = "bc-zero-shot"
    description = (
        "multi-task behaviour cloning of the pretraining datasets' teacher policies (XTRA's h + f, 18-action head),"
        " evaluated zero-shot: train() takes no step and learns nothing"
    )

    def __init__(self, spec: EnvSpec, *, preset: str = "smoke", seed: int = 0, device: str = "cpu", config: BCConfig | None = None):
        super().__init__(spec, preset=preset, seed=seed, device=device)
        cfg = self.cfg = config or self.default_configs(preset)["config"]
        if spec.frame_stack != cfg.frame_stack:
            raise ConfigError(f"{spec.game} stacks {spec.frame_stack} frames but the config expects {cfg.frame_stack}")
        if max(spec.action_set) >= FULL_ACTION_COUNT:
            raise ConfigError(f"{spec.game}'s actions do not fit a {FULL_ACTION_COUNT}-action head")
        self.torch_device = torch.device(device)
        torch.manual_seed(seed)
        self.legal_row = head_action_mask(spec.action_set, FULL_ACTION_COUNT)
        self.head_to_env = head_to_env_actions(spec.action_set, FULL_ACTION_COUNT)
        self._legal = torch.from_numpy(self.legal_row).to(self.torch_device)
        self.net = BCNet(spec.frame_shape, cfg).to(self.torch_device)
        self.rng = np.random.default_rng(seed)
        self.pretrained_from: list[str] = []
        self.finetuned_on = ""

    @classmethod
    def default_configs(cls, preset: str) -> dict[str, object]:
        return {"config": preset_config(preset)}

    def _sampler_config(self, offset: int) -> SamplerConfig:
        # One unroll step so that each draw carries the action taken at its row.
        return SamplerConfig(frame_stack=self.cfg.frame_stack, unroll_steps=1, n_step=1, seed=self.seed + offset)

    # ---- stage 1 ------------------------------------------------------------------------------
    def pretrain(self, datasets: Sequence[Path], workdir: Path) -> None:
        """Clones every dataset at once, or loads the result of an identical earlier pretraining from ``workdir``.

        Raises:
            ConfigError: no dataset, frames unlike the target's, two datasets of one game, an
                ambiguous or missing teacher.
            DatasetError: an unreadable dataset or targets file.
        """
        cfg = self.cfg
        if not datasets:
            raise ConfigError(f"{self.name} needs at least one pretraining dataset")
        targets = [find_targets(Path(p), cfg.teacher_id) for p in datasets] if cfg.use_teacher_targets else []
        key = pretrain_key("bc", dataclasses.asdict(cfg), self.seed, datasets, [t for t in targets if t is not None])
        # Both BC agents share one pretraining: it is cached under "bc", not the agent's name.
        cached = load_pretrained(workdir, "bc", key, self.device)
        if cached is None:
            tasks = open_tasks(
                datasets,
                frame_shape=self.spec.frame_shape,
                head_width=FULL_ACTION_COUNT,
                sampler_config=self._sampler_config(0),
                use_targets=cfg.use_teacher_targets,
                teacher_id=cfg.teacher_id,
            )
            logger.info("pretraining BC on %s", tasks)
            games = [t.game for t in tasks]
            metrics = train_stage(self.net, tasks, cfg.pretrain_updates, cfg, self.torch_device, "pretrain")
            save_pretrained(workdir, "bc", key, {"net": self.net.state_dict(), "games": games}, {"games": games, "metrics": metrics})
        else:
            self.net.load_state_dict(cached["net"])
            games = list(cached["games"])
        self.pretrained_from = games
        # Finetuning draws the same augmentations whether the pretraining ran now or came from the cache.
        torch.manual_seed(self.seed)

    # ---- stage 2 ------------------------------------------------------------------------------
    def train(
        self,
        env: VectorEnv,
        steps: int,
        *,
        eval_every: int = 0,
        on_eval: EvalCallback | None = None,
        on_metrics: MetricsCallback | None = None,
    ) -> None:
        """Zero-shot: no learning on the target, so this returns at once without stepping ``env``."""
        if env.spec.game != self.spec.game or env.spec.action_set != self.spec.action_set:
            raise ConfigError(f"this agent plays {self.spec.game}, not {env.spec.game}")

    # ---- acting ---------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: np.ndarray, *, greedy: bool = True) -> np.ndarray:
        """The policy's most likely action (greedy) or a draw from it, among the game's actions."""
        self.net.eval()
        x = obs_to_input(torch.from_numpy(np.ascontiguousarray(obs)).to(self.torch_device))
        logits = mask_logits(self.net(x), self._legal)
        if greedy:
            head = logits.argmax(1).cpu().numpy()
        else:
            probs = torch.softmax(logits.double(), dim=1).cpu().numpy()
            head = (probs.cumsum(1) < self.rng.random((len(probs), 1))).sum(1).clip(max=probs.shape[1] - 1)
        return self.head_to_env[head]

    # ---- checkpoints ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {
            "config": dataclasses.asdict(self.cfg),
            "net": self.net.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "pretrained_from": list(self.pretrained_from),
            "finetuned_on": self.finetuned_on,
        }
        # Written beside the final name and renamed, so a crash never leaves a half-written checkpoint.
        tmp = path / (STATE_FILE + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path / STATE_FILE)
        write_checkpoint_meta(path, self, pretrained_from=self.pretrained_from, finetuned_on=self.finetuned_on)

    @classmethod
    def load(cls, path: Path, *, device: str = "cpu") -> BCZeroShotAgent:
        meta = read_checkpoint_meta(path)
        state = torch.load(Path(path) / STATE_FILE, map_location=device, weights_only=True)
        agent = cls(make_spec(meta["game"]), preset=meta["preset"], seed=meta["seed"], device=device, config=BCConfig(**state["config"]))
        agent.net.load_state_dict(state["net"])
        agent.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        agent.pretrained_from = list(state["pretrained_from"])
        agent.finetuned_on = str(state["finetuned_on"])
        return agent


class BCFinetunedAgent(BCZeroShotAgent):
    """Multi-task behaviour cloning, then cloning of the target's own offline dataset (offline finetuning)."""

    name = "bc-finetuned"
    description = (
        "multi-task behaviour cloning, then finetuned offline on the target's own dataset (from the dataset"
        " registry); train() takes no environment step"
    )

    def train(
        self,
        env: VectorEnv,
        steps: int,
        *,
        eval_every: int = 0,
        on_eval: EvalCallback | None = None,
        on_metrics: MetricsCallback | None = None,
    ) -> None:
        """Clones the target's dataset for ``finetune_updates`` updates (once; a finetuned agent returns at once).

        No environment step is taken, so ``steps`` and ``eval_every`` do not apply; metrics are
        reported with 0 environment steps.

        Raises:
            ConfigError: the registry has no dataset of the target (set ``target_dataset``).
            DatasetError: the dataset cannot be downloaded or read.
        """
        super().train(env, steps)
        if self.finetuned_on:
            return
        cfg = self.cfg
        path = open_target_dataset(self.spec.game, cfg.target_dataset, cfg.target_dataset_source)
        tasks = open_tasks(
            [path],
            frame_shape=self.spec.frame_shape,
            head_width=FULL_ACTION_COUNT,
            sampler_config=self._sampler_config(1),
            use_targets=cfg.use_teacher_targets,
            teacher_id=cfg.teacher_id,
        )
        report = (lambda metrics: on_metrics(0, metrics)) if on_metrics else None
        train_stage(self.net, tasks, cfg.finetune_updates, cfg, self.torch_device, "finetune", report)
        self.finetuned_on = tasks[0].dataset.dataset_id
