"""The registered agents ``curl`` (from scratch) and ``curl-pretrained`` (multi-task pretraining, then online finetuning).

Acting draws fresh noisy weights every step and takes the action of highest expected return (noisy
nets are Rainbow's exploration); greedy acting, for evaluation, uses the noise-free weights.
Learning starts after ``min_replay_size`` agent steps and runs ``updates_per_step`` updates per
agent step, catching up at most two steps' worth of updates per env step when the replay had no
finished episode to learn from.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from baselines.curl.collector import EpisodeCollector
from baselines.curl.config import CurlConfig, config_from_dict, preset_config
from baselines.curl.learner import CurlLearner, RainbowBatch
from baselines.curl.networks import CurlNet
from baselines.curl.pretrain import pretrain_network, sampler_config
from baselines.curl.replay import EpisodeReplay
from baselines.efficientzero.networks import head_action_mask, head_to_env_actions, obs_to_input
from baselines.offline import open_tasks
from baselines.pretrain_cache import load_pretrained, pretrain_key, save_pretrained
from xtra_bench.agents import Agent, EvalCallback, MetricsCallback, read_checkpoint_meta, write_checkpoint_meta
from xtra_bench.envs import FULL_ACTION_COUNT, EnvSpec, VectorEnv, make_spec
from xtra_bench.errors import ConfigError
from xtra_bench.monitor import EpisodeReturns

logger = logging.getLogger(__name__)

STATE_FILE = "state.pt"


class CurlAgent(Agent):
    """CURL (Srinivas et al., 2020): data-efficient Rainbow with a contrastive auxiliary loss, from scratch.

    Args:
        spec: the target game's train-mode spec.
        preset: ``paper``, ``fast`` or ``smoke``.
        seed: seeds torch (weights, noise, crops) and the replay.
        device: torch device string.
        config: a full config instead of the preset's (checkpoints and studies).
    """

    name = "curl"
    description = "CURL: data-efficient Rainbow (C51, dueling, noisy nets, 20-step, prioritised) + contrastive loss"
    variant: ClassVar[dict] = {}
    """Config overrides that define a variant of the agent (curl-pretrained: the 18-action head)."""

    def __init__(self, spec: EnvSpec, *, preset: str = "smoke", seed: int = 0, device: str = "cpu", config: CurlConfig | None = None):
        super().__init__(spec, preset=preset, seed=seed, device=device)
        cfg = self.cfg = config or self.default_configs(preset)["config"]
        if spec.frame_stack != cfg.frame_stack:
            raise ConfigError(f"{spec.game} stacks {spec.frame_stack} frames but the config expects {cfg.frame_stack}")
        action_space = cfg.multi_task_actions or spec.num_actions
        if cfg.multi_task_actions and max(spec.action_set) >= cfg.multi_task_actions:
            raise ConfigError(f"{spec.game}'s actions do not fit a {cfg.multi_task_actions}-action head")
        self.torch_device = torch.device(device)
        torch.manual_seed(seed)
        self.legal_row = head_action_mask(spec.action_set, action_space)
        self.head_to_env = head_to_env_actions(spec.action_set, action_space)
        self._legal = torch.from_numpy(self.legal_row).to(self.torch_device)
        self.net = CurlNet(spec.frame_shape, action_space, cfg).to(self.torch_device)
        self.learner = CurlLearner(self.net, cfg, spec.frame_shape[0])
        self.replay = EpisodeReplay.for_config(cfg, spec.frame_shape, cfg.replay_capacity, seed=seed)
        self.env_steps = 0
        self.run_updates = 1  # updates of the running train() call's run: the beta schedule's length
        self.returns: EpisodeReturns | None = None
        self.pretrained_from: list[str] = []
        self.last_metrics: dict[str, float] = {}

    @classmethod
    def default_configs(cls, preset: str) -> dict[str, object]:
        return {"config": preset_config(preset, **cls.variant)}

    # ---- acting ---------------------------------------------------------------------------------
    @torch.no_grad()
    def _choose(self, obs: np.ndarray, greedy: bool) -> np.ndarray:
        """Head indices int64 [B] of the best actions, under fresh noise unless ``greedy``."""
        self.net.train(not greedy)
        if not greedy:
            self.net.reset_noise()
        x = obs_to_input(torch.from_numpy(np.ascontiguousarray(obs)).to(self.torch_device))
        q = self.net.q_values(self.net.log_probs(x, self._legal), self._legal)
        return q.argmax(1).cpu().numpy()

    def act(self, obs: np.ndarray, *, greedy: bool = True) -> np.ndarray:
        return self.head_to_env[self._choose(obs, greedy)]

    # ---- learning -------------------------------------------------------------------------------
    def _beta(self) -> float:
        progress = min(1.0, self.learner.steps / self.run_updates)
        return self.cfg.priority_beta_start + (1.0 - self.cfg.priority_beta_start) * progress

    def _update(self, on_metrics: MetricsCallback | None) -> None:
        cfg = self.cfg
        sample = self.replay.sample(cfg.batch_size, self._beta())
        legal = np.broadcast_to(self.legal_row, (cfg.batch_size, len(self.legal_row)))
        result = self.learner.update(RainbowBatch.from_host(sample, legal, self.torch_device))
        self.replay.update_priorities(sample.rows, result.losses)
        step = self.learner.steps
        self.last_metrics = {**result.metrics, "update": step, "env_steps": self.env_steps}
        if cfg.log_interval and step % cfg.log_interval == 0:
            if self.returns is not None:
                self.last_metrics.update(self.returns.drain())
            logger.info("update %d: %s", step, {k: round(v, 4) for k, v in result.metrics.items()})
            if on_metrics:
                on_metrics(self.env_steps, self.last_metrics)

    def _updates_due(self, env_steps: int) -> int:
        return max(0, int(self.cfg.updates_per_step * (env_steps - self.cfg.min_replay_size)))

    def _learn(self, on_metrics: MetricsCallback | None, max_now: int | None = None) -> None:
        """Runs the updates due at ``env_steps`` (at most ``max_now`` now) once the replay holds a transition."""
        if len(self.replay) == 0:
            return
        todo = self._updates_due(self.env_steps) - self.learner.steps
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
        collector = EpisodeCollector(env, self.replay, self.cfg.clip_rewards)
        catch_up = max(1, int(np.ceil(2 * self.cfg.updates_per_step * env.num_envs)))
        # The run is ``steps`` long: beta anneals over its updates, whatever the preset.
        self.run_updates = self.cfg.learning_updates(steps)
        self.returns = EpisodeReturns(env.num_envs)
        while self.env_steps < steps:
            head = self._choose(collector.obs, greedy=False)
            step = env.step(self.head_to_env[head])
            self.returns.record(step)
            collector.record(head, step)
            before, self.env_steps = self.env_steps, self.env_steps + env.num_envs
            self._learn(on_metrics, catch_up)
            if on_eval and eval_every and self.env_steps // eval_every > before // eval_every:
                on_eval(self.env_steps)
        self._learn(on_metrics)

    # ---- checkpoints ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        replay = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in self.replay.state_dict().items()}
        state = {
            "config": dataclasses.asdict(self.cfg),
            "net": self.net.state_dict(),
            "learner": self.learner.state_dict(),
            "replay": replay,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "env_steps": self.env_steps,
            "run_updates": self.run_updates,
            "pretrained_from": list(self.pretrained_from),
        }
        # Written beside the final name and renamed, so a crash never leaves a half-written checkpoint.
        tmp = path / (STATE_FILE + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path / STATE_FILE)
        write_checkpoint_meta(path, self, env_steps=self.env_steps, updates=self.learner.steps, pretrained_from=self.pretrained_from)

    @classmethod
    def load(cls, path: Path, *, device: str = "cpu") -> CurlAgent:
        meta = read_checkpoint_meta(path)
        state = torch.load(Path(path) / STATE_FILE, map_location=device, weights_only=True)
        config = config_from_dict(state["config"])
        agent = cls(make_spec(meta["game"]), preset=meta["preset"], seed=meta["seed"], device=device, config=config)
        agent.net.load_state_dict(state["net"])
        agent.learner.load_state_dict(state["learner"])
        agent.replay.load_state_dict({k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in state["replay"].items()})
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        agent.env_steps = int(state["env_steps"])
        agent.run_updates = int(state["run_updates"])
        agent.pretrained_from = list(state["pretrained_from"])
        return agent


class CurlPretrainedAgent(CurlAgent):
    """CURL pretrained multi-task on the pretraining datasets (18-action head masked per game), then finetuned online."""

    name = "curl-pretrained"
    description = "CURL pretrained offline on the pretraining datasets (multi-task, 18-action head), then finetuned online"
    variant: ClassVar[dict] = {"multi_task_actions": FULL_ACTION_COUNT}

    def pretrain(self, datasets: Sequence[Path], workdir: Path) -> None:
        """Trains on every dataset at once, or loads the result of an identical earlier pretraining from ``workdir``.

        Finetuning then starts from the pretrained weights with a fresh optimiser, target network
        and key encoder (copies of the pretrained weights) and an empty replay.

        Raises:
            ConfigError: no dataset, a dataset of frames unlike the target's, two of one game.
            DatasetError: an unreadable dataset.
        """
        cfg = self.cfg
        if not datasets:
            raise ConfigError("curl-pretrained needs at least one pretraining dataset")
        key = pretrain_key(self.name, dataclasses.asdict(cfg), self.seed, datasets)
        cached = load_pretrained(workdir, self.name, key, self.device)
        if cached is None:
            tasks = open_tasks(
                datasets,
                frame_shape=self.spec.frame_shape,
                head_width=self.net.action_space,
                sampler_config=sampler_config(cfg, self.seed),
            )
            logger.info("pretraining %s on %s", self.name, tasks)
            learner = CurlLearner(self.net, cfg, self.spec.frame_shape[0])
            metrics = pretrain_network(learner, tasks, cfg, self.torch_device)
            games = [t.game for t in tasks]
            save_pretrained(workdir, self.name, key, {"net": self.net.state_dict(), "games": games}, {"games": games, "metrics": metrics})
        else:
            self.net.load_state_dict(cached["net"])
            games = list(cached["games"])
        self.learner = CurlLearner(self.net, cfg, self.spec.frame_shape[0])
        self.pretrained_from = games
        # Finetuning draws the same noise and crops whether the pretraining ran now or came from the cache.
        torch.manual_seed(self.seed)
