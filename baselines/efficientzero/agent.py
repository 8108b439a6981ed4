"""The registered agents ``efficientzero`` and ``efficientzero-l``: acting, training loop and checkpoints.

One process does everything: the vector env steps all its copies at once, their roots share one
batched MCTS, and every update reanalyses its batch with the target network. Updates follow the
agent's env steps at ``updates_per_env_step`` once the replay holds ``min_replay_size``
transitions, catching up at most two updates per env step.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig, preset_config
from baselines.efficientzero.learner import Learner
from baselines.efficientzero.networks import EfficientZeroNet, env_to_head_actions, head_action_mask, head_to_env_actions
from baselines.efficientzero.reanalyze import reanalyze, search
from baselines.efficientzero.replay import PrioritizedReplay
from baselines.efficientzero.selfplay import SelfPlay, select_actions, visit_temperature
from xtra_bench.agents import Agent, EvalCallback, MetricsCallback, read_checkpoint_meta, write_checkpoint_meta
from xtra_bench.envs import EnvSpec, VectorEnv, make_spec
from xtra_bench.errors import ConfigError

logger = logging.getLogger(__name__)

STATE_FILE = "state.pt"


def check_spec(spec: EnvSpec, cfg: EfficientZeroConfig) -> None:
    """Refuses an env whose observations differ from what the config was written for."""
    if spec.frame_stack != cfg.frame_stack:
        raise ConfigError(f"{spec.game} stacks {spec.frame_stack} frames but the config expects {cfg.frame_stack}")
    if spec.suite == "atari":
        expected = {"frameskip": cfg.frame_skip, "max_episode_frames": cfg.max_episode_frames}
        wrong = {k: v for k, v in expected.items() if k in spec.settings and spec.settings[k] != v}
        if wrong or spec.frame_shape[:2] != (cfg.frame_size, cfg.frame_size):
            raise ConfigError(f"{spec.game}'s env settings {spec.settings} or frames {spec.frame_shape} differ from the config's")
    if cfg.multi_task_actions and max(spec.action_set) >= cfg.multi_task_actions:
        raise ConfigError(f"{spec.game}'s actions do not fit a {cfg.multi_task_actions}-action head")


class EfficientZeroAgent(Agent):
    """EfficientZero (Ye et al., 2021) with the hyper-parameters of ``EfficientZeroConfig``.

    Args:
        spec: the target game's train-mode spec.
        preset: ``paper``, ``fast`` or ``smoke``.
        seed: seeds torch, the replay, search noise and action sampling.
        device: torch device string.
        config: a full config instead of the preset's (checkpoints and studies).
    """

    name = "efficientzero"
    description = "EfficientZero: MuZero with value prefix, SimSiam consistency and off-policy correction"
    variant: ClassVar[dict] = {}
    """Config overrides that define a variant of the agent (EfficientZero-L: four final blocks)."""

    def __init__(self, spec: EnvSpec, *, preset: str = "smoke", seed: int = 0, device: str = "cpu", config: EfficientZeroConfig | None = None):
        super().__init__(spec, preset=preset, seed=seed, device=device)
        cfg = self.cfg = config or preset_config(preset, **self.variant)
        check_spec(spec, cfg)
        self.torch_device = torch.device(device)
        torch.manual_seed(seed)
        action_space = cfg.multi_task_actions or spec.num_actions
        self.legal_row = head_action_mask(spec.action_set, action_space)
        self.head_to_env = head_to_env_actions(spec.action_set, action_space)
        self.env_to_head = env_to_head_actions(spec.action_set, action_space)
        self.net = EfficientZeroNet(spec.frame_shape, action_space, cfg).to(self.torch_device)
        if cfg.channels_last and self.torch_device.type == "cuda":
            self.net = self.net.to(memory_format=torch.channels_last)
        self.target_net = copy.deepcopy(self.net)
        self.actor_net = copy.deepcopy(self.net)
        self.learner = Learner(self.net, cfg)
        self.replay = PrioritizedReplay(
            spec.frame_shape,
            action_space,
            cfg.replay_capacity,
            frame_stack=cfg.frame_stack,
            num_unroll=cfg.num_unroll_steps,
            td_steps=cfg.td_steps,
            td_age_interval=cfg.td_age_interval,
            min_td_steps=cfg.min_td_steps,
            alpha=cfg.priority_alpha,
            clip_rewards=cfg.clip_rewards,
            seed=seed,
        )
        self.rng = np.random.default_rng(seed)
        self.env_steps = 0
        self.last_metrics: dict[str, float] = {}

    @property
    def num_envs(self) -> int:
        return self.cfg.num_envs

    # ---- acting ---------------------------------------------------------------------------------
    def act(self, obs: np.ndarray, *, greedy: bool = True) -> np.ndarray:
        legal = np.broadcast_to(self.legal_row, (len(obs), len(self.legal_row)))
        obs_t = torch.from_numpy(np.ascontiguousarray(obs)).to(self.torch_device)
        result = search(self.net, obs_t, legal, self.cfg, self.rng, add_noise=not greedy)
        temperature = 0.0 if greedy else visit_temperature(self.learner.steps, self.cfg)
        return self.head_to_env[select_actions(result.visit_counts, temperature, self.rng)]

    # ---- learning -------------------------------------------------------------------------------
    def _beta(self) -> float:
        progress = min(1.0, self.learner.steps / self.cfg.training_steps)
        return self.cfg.priority_beta_start + (1.0 - self.cfg.priority_beta_start) * progress

    def _update(self, on_metrics: MetricsCallback | None) -> None:
        cfg = self.cfg
        sample = self.replay.sample(cfg.batch_size, self._beta(), self.env_steps)
        batch = reanalyze(sample, self.target_net, self.legal_row, cfg, self.rng, self.torch_device)
        result = self.learner.update(batch)
        self.replay.update_priorities(sample.rows, result.priorities)
        step = self.learner.steps
        if step % cfg.target_refresh_interval == 0:
            self.target_net.load_state_dict(self.net.state_dict())
        if step % cfg.selfplay_refresh_interval == 0:
            self.actor_net.load_state_dict(self.net.state_dict())
        self.last_metrics = {**result.metrics, "update": step, "env_steps": self.env_steps}
        if cfg.log_interval and step % cfg.log_interval == 0:
            logger.info("update %d: %s", step, {k: round(v, 4) for k, v in result.metrics.items()})
            if on_metrics:
                on_metrics(self.env_steps, self.last_metrics)

    def _train_to(self, updates: int, on_metrics: MetricsCallback | None, max_now: int | None = None) -> None:
        """Runs updates until ``updates`` are done (at most ``max_now`` now), once the replay is warm."""
        if len(self.replay) < self.cfg.min_replay_size:
            return
        todo = updates - self.learner.steps
        for _ in range(min(todo, max_now) if max_now is not None else todo):
            self._update(on_metrics)

    def train(
        self,
        env: VectorEnv,
        steps: int,
        *,
        eval_every: int = 0,
        on_eval: EvalCallback | None = None,
        on_metrics: MetricsCallback | None = None,
    ) -> None:
        if env.spec.game != self.spec.game or env.spec.action_set != self.spec.action_set:
            raise ConfigError(f"this agent learns {self.spec.game}, not {env.spec.game}")
        cfg = self.cfg
        selfplay = SelfPlay(env, self.replay, self.legal_row, self.head_to_env, cfg, seed=int(self.rng.integers(2**31)))
        catch_up = max(1, int(np.ceil(2 * cfg.updates_per_env_step * env.num_envs)))
        while self.env_steps < steps:
            temperature = visit_temperature(self.learner.steps, cfg)
            selfplay.step(self.actor_net, temperature, self.env_steps)
            before, self.env_steps = self.env_steps, self.env_steps + env.num_envs
            self._train_to(int(cfg.updates_per_env_step * self.env_steps), on_metrics, catch_up)
            if on_eval and eval_every and self.env_steps // eval_every > before // eval_every:
                on_eval(self.env_steps)
        self._train_to(int(cfg.updates_per_env_step * steps) + cfg.final_low_lr_steps, on_metrics)

    # ---- checkpoints ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        replay = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in self.replay.state_dict().items()}
        state = {
            "config": dataclasses.asdict(self.cfg),
            "net": self.net.state_dict(),
            "target_net": self.target_net.state_dict(),
            "actor_net": self.actor_net.state_dict(),
            "learner": self.learner.state_dict(),
            "replay": replay,
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "env_steps": self.env_steps,
        }
        # Written beside the final name and renamed, so a crash never leaves a half-written checkpoint.
        tmp = path / (STATE_FILE + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path / STATE_FILE)
        write_checkpoint_meta(path, self, env_steps=self.env_steps, updates=self.learner.steps)

    @classmethod
    def load(cls, path: Path, *, device: str = "cpu") -> EfficientZeroAgent:
        meta = read_checkpoint_meta(path)
        state = torch.load(Path(path) / STATE_FILE, map_location=device, weights_only=True)
        raw = dict(state["config"])
        raw["temperature_schedule"] = tuple(tuple(pair) for pair in raw["temperature_schedule"])
        agent = cls(make_spec(meta["game"]), preset=meta["preset"], seed=meta["seed"], device=device, config=EfficientZeroConfig(**raw))
        agent.net.load_state_dict(state["net"])
        agent.target_net.load_state_dict(state["target_net"])
        agent.actor_net.load_state_dict(state["actor_net"])
        agent.learner.load_state_dict(state["learner"])
        agent.replay.load_state_dict({k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in state["replay"].items()})
        agent.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        agent.env_steps = int(state["env_steps"])
        return agent


class EfficientZeroLAgent(EfficientZeroAgent):
    """EfficientZero-L: four residual blocks at the end of the representation (the paper's larger baseline)."""

    name = "efficientzero-l"
    description = "EfficientZero-L: EfficientZero with 4 final representation blocks"
    variant: ClassVar[dict] = {"final_blocks": 4}
