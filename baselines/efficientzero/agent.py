"""The registered agents ``efficientzero`` and ``efficientzero-l``: acting, training loops and checkpoints.

One process does everything: the vector env steps all its copies at once, their roots share one
batched MCTS, and every update reanalyses its batch with the target network. Online, updates
follow the agent's env steps at ``updates_per_env_step`` once the replay holds ``min_replay_size``
transitions, catching up at most two updates per env step; offline (``train_offline``) they draw
from a fixed dataset instead.

Everything random has its own generator, seeded from the agent's seed and saved in checkpoints:
replay draws, reanalysis, self-play, ``act`` and augmentation. A restored agent given a fresh env
therefore continues exactly as the saved one would have in that env, and acting for evaluation
never changes training.
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
from baselines.efficientzero.networks import build_network, env_to_head_actions, head_action_mask, head_to_env_actions
from baselines.efficientzero.offline import DatasetReplay
from baselines.efficientzero.reanalyze import search
from baselines.efficientzero.replay import PrioritizedReplay
from baselines.efficientzero.schedule import RunSchedule, visit_temperature
from baselines.efficientzero.selfplay import SelfPlay, select_actions
from baselines.efficientzero.timing import StageTimer
from baselines.efficientzero.updates import UpdateLoop
from xtra_bench.agents import Agent, EvalCallback, MetricsCallback, read_checkpoint_meta, write_checkpoint_meta
from xtra_bench.data import Dataset
from xtra_bench.envs import EnvSpec, VectorEnv, make_spec
from xtra_bench.errors import ConfigError

logger = logging.getLogger(__name__)

STATE_FILE = "state.pt"
RNG_STREAMS = ("replay", "offline", "reanalyze", "selfplay", "act", "augment")
"""The agent's independent random streams, spawned in this order from its seed."""


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
        seed: seeds the weights and every random stream (``RNG_STREAMS``).
        device: torch device string.
        config: a full config instead of the preset's (checkpoints and studies).
    """

    name = "efficientzero"
    description = "EfficientZero: MuZero with value prefix, SimSiam consistency and off-policy correction"
    variant: ClassVar[dict] = {}
    """Config overrides that define a variant of the agent (EfficientZero-L: four blocks per representation stage)."""

    def __init__(self, spec: EnvSpec, *, preset: str = "smoke", seed: int = 0, device: str = "cpu", config: EfficientZeroConfig | None = None):
        super().__init__(spec, preset=preset, seed=seed, device=device)
        cfg = self.cfg = config or self.default_configs(preset)["config"]
        check_spec(spec, cfg)
        self.torch_device = torch.device(device)
        self.action_space = cfg.multi_task_actions or spec.num_actions
        self.legal_row = head_action_mask(spec.action_set, self.action_space)
        self.head_to_env = head_to_env_actions(spec.action_set, self.action_space)
        self.env_to_head = env_to_head_actions(spec.action_set, self.action_space)
        # The weights come from a seeded copy of torch's generator; the global one is left as it was.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = build_network(spec.frame_shape, self.action_space, cfg, self.torch_device)
        self.target_net = copy.deepcopy(self.net)
        self.actor_net = copy.deepcopy(self.net)
        self._seeds = dict(zip(RNG_STREAMS, np.random.SeedSequence(seed).spawn(len(RNG_STREAMS))))
        self.learner = Learner(self.net, cfg, seed=int(self._seeds["augment"].generate_state(1)[0]))
        self.replay = PrioritizedReplay(spec.frame_shape, self.action_space, cfg.replay_capacity, clip_rewards=cfg.clip_rewards, **self._layout("replay"))
        self.reanalyze_rng = np.random.default_rng(self._seeds["reanalyze"])
        self.selfplay_rng = np.random.default_rng(self._seeds["selfplay"])
        self.act_rng = np.random.default_rng(self._seeds["act"])
        self.offline: DatasetReplay | None = None
        self._offline_state: dict | None = None  # restored from a checkpoint, applied when its dataset comes back
        self.timer = StageTimer()
        self.update_loop = UpdateLoop(self.learner, self.target_net, self.actor_net, self.legal_row, cfg, self.reanalyze_rng, self.timer)
        self.env_steps = 0
        self.last_metrics: dict[str, float] = {}
        self._selfplay: SelfPlay | None = None  # the running train() call's, whose statistics the logs drain

    @classmethod
    def default_configs(cls, preset: str) -> dict[str, object]:
        return {"config": preset_config(preset, **cls.variant)}

    def _layout(self, stream: str) -> dict:
        """The window layout and priority settings of a replay, seeded from ``stream``."""
        cfg = self.cfg
        return dict(
            frame_stack=cfg.frame_stack,
            num_unroll=cfg.num_unroll_steps,
            td_steps=cfg.td_steps,
            td_age_interval=1,  # set per run by ``train``; offline data has age 0
            min_td_steps=cfg.min_td_steps,
            alpha=cfg.priority_alpha,
            seed=self._seeds[stream],
        )

    def _generators(self) -> dict[str, np.random.Generator]:
        return {"reanalyze": self.reanalyze_rng, "selfplay": self.selfplay_rng, "act": self.act_rng}

    @property
    def num_envs(self) -> int:
        return self.cfg.num_envs

    # ---- acting ---------------------------------------------------------------------------------
    def act(self, obs: np.ndarray, *, greedy: bool = True) -> np.ndarray:
        legal = np.broadcast_to(self.legal_row, (len(obs), len(self.legal_row)))
        obs_t = torch.from_numpy(np.ascontiguousarray(obs)).to(self.torch_device)
        result = search(self.net, obs_t, legal, self.cfg, self.act_rng, add_noise=not greedy)
        temperature = 0.0 if greedy else visit_temperature(self.learner.steps, self.cfg, self.learner.run)
        return self.head_to_env[select_actions(result.visit_counts, temperature, self.act_rng)]

    # ---- learning -------------------------------------------------------------------------------
    def _after_update(self, metrics: dict[str, float], on_metrics: MetricsCallback | None, offline: bool) -> None:
        """Keeps the update's metrics; every ``log_interval`` updates adds throughput, logs and reports them.

        ``on_metrics`` gets the env steps so far online, the updates so far offline.
        """
        step = self.learner.steps
        self.last_metrics = {**metrics, "update": step, "env_steps": self.env_steps}
        if not self.cfg.log_interval or step % self.cfg.log_interval:
            return
        self.last_metrics.update(self.timer.report(step, self.env_steps))
        if not offline and self._selfplay is not None:
            self.last_metrics.update(self._selfplay.drain())
        logger.info("update %d: %s", step, {k: round(v, 4) for k, v in self.last_metrics.items()})
        if on_metrics:
            on_metrics(step if offline else self.env_steps, dict(self.last_metrics))

    def _train_online(self, updates: int, on_metrics: MetricsCallback | None, max_now: int | None = None) -> None:
        """Runs updates until ``updates`` are done (at most ``max_now`` now), once the replay is warm."""
        if len(self.replay) < self.cfg.min_replay_size:
            return
        todo = updates - self.learner.steps
        self.update_loop.run(
            self.replay,
            min(todo, max_now) if max_now is not None else todo,
            age_step=self.env_steps,
            reanalyze_ratio=self.cfg.reanalyze_ratio,
            after_update=lambda metrics: self._after_update(metrics, on_metrics, offline=False),
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
        """Learns online until ``steps`` env steps in all (see ``Agent.train``).

        The run is ``steps`` env steps long: its updates (``steps * updates_per_env_step``, plus the
        ``final_low_lr_steps`` tail) set every schedule, so call it with the whole budget (a resumed
        run calls it again with the same one). Until the first update the agent acts uniformly at
        random and stores uniform policies, as EfficientZero's self-play does before training
        starts. After its last env step it catches up on updates and runs the tail, before the
        last ``on_eval``. ``env`` is reset here: games running in a previous call's env are not
        continued.
        """
        if env.spec.game != self.spec.game or env.spec.action_set != self.spec.action_set:
            raise ConfigError(f"this agent learns {self.spec.game}, not {env.spec.game}")
        cfg = self.cfg
        run = self.learner.run = RunSchedule(int(cfg.updates_per_env_step * steps), cfg.final_low_lr_steps)
        self.replay.td_age_interval = max(1, int(cfg.td_age_fraction * steps))
        selfplay = self._selfplay = SelfPlay(env, self.replay, self.legal_row, self.head_to_env, cfg, self.selfplay_rng, self.timer)
        catch_up = max(1, int(np.ceil(2 * cfg.updates_per_env_step * env.num_envs)))
        self.timer.start(self.learner.steps, self.env_steps)
        while self.env_steps < steps:
            if self.learner.steps == 0:
                selfplay.step_uniform(self.env_steps)
            else:
                selfplay.step(self.actor_net, visit_temperature(self.learner.steps, cfg, run), self.env_steps)
            before, self.env_steps = self.env_steps, self.env_steps + env.num_envs
            self._train_online(int(cfg.updates_per_env_step * self.env_steps), on_metrics, catch_up)
            if self.env_steps >= steps:
                self._train_online(run.total_updates, on_metrics)
            if on_eval and eval_every and self.env_steps // eval_every > before // eval_every:
                on_eval(self.env_steps)

    def train_offline(self, dataset: Dataset, updates: int, *, on_metrics: MetricsCallback | None = None) -> None:
        """Learns from a fixed dataset of this agent's game until ``updates`` updates in all.

        EfficientZero's update on a dataset instead of its own replay: prioritised draws over the
        dataset's rows, value targets bootstrapped from the target network, every policy target
        from a new MCTS of the target network (the data has no search policies), clipped rewards
        and life-loss terminals as the config says. A restored agent continues with the
        priorities and generator it saved when it is given the same dataset file again (matched
        by sha256); another dataset starts with fresh priorities.

        Args:
            dataset: a view of a dataset of ``spec.game``.
            updates: the update count to reach (updates already done count).
            on_metrics: called every ``log_interval`` updates with (updates so far, metrics).

        Raises:
            ConfigError: the dataset is of another game, action set or frame shape.
        """
        replay = self._offline_replay(dataset)
        self.learner.run = RunSchedule(updates)
        self.timer.start(self.learner.steps, self.env_steps)
        self.update_loop.run(
            replay,
            updates - self.learner.steps,
            age_step=0,
            reanalyze_ratio=1.0,
            after_update=lambda metrics: self._after_update(metrics, on_metrics, offline=True),
        )

    def _offline_replay(self, dataset: Dataset) -> DatasetReplay:
        spec = self.spec
        if (dataset.game, tuple(dataset.action_set), tuple(dataset.frame_shape)) != (spec.game, spec.action_set, spec.frame_shape):
            raise ConfigError(
                f"dataset {dataset.dataset_id} holds {dataset.game} (actions {list(dataset.action_set)}, frames "
                f"{list(dataset.frame_shape)}); this agent learns {spec.game} (actions {list(spec.action_set)}, "
                f"frames {list(spec.frame_shape)})"
            )
        if dataset.total_steps == 0:
            raise ConfigError(f"dataset {dataset.dataset_id}: the view has no transition to learn from")
        if self.offline is not None and self.offline.dataset_sha256 == dataset.sha256:
            return self.offline
        cfg = self.cfg
        replay = DatasetReplay(
            dataset,
            self.env_to_head,
            self.action_space,
            clip_rewards=cfg.clip_rewards,
            life_loss_terminal=cfg.life_loss_terminal,
            **self._layout("offline"),
        )
        if self._offline_state is not None and self._offline_state["dataset"]["sha256"] == replay.dataset_sha256:
            replay.load_state_dict(self._offline_state)
        self.offline, self._offline_state = replay, None
        return replay

    @property
    def offline_dataset(self) -> dict[str, str] | None:
        """The dataset of the latest offline training, {"path", "sha256"}, or None."""
        if self.offline is not None:
            return self.offline.reference()
        return None if self._offline_state is None else dict(self._offline_state["dataset"])

    # ---- checkpoints ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        offline = self.offline.state_dict() if self.offline is not None else self._offline_state
        state = {
            "config": dataclasses.asdict(self.cfg),
            "net": self.net.state_dict(),
            "target_net": self.target_net.state_dict(),
            "next_target": self.update_loop.next_target,
            "actor_net": self.actor_net.state_dict(),
            "learner": self.learner.state_dict(),
            "replay": _to_torch(self.replay.state_dict()),
            "offline": None if offline is None else _to_torch(offline),
            "rngs": {name: rng.bit_generator.state for name, rng in self._generators().items()},
            "env_steps": self.env_steps,
        }
        # Written beside the final name and renamed, so a crash never leaves a half-written checkpoint.
        tmp = path / (STATE_FILE + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path / STATE_FILE)
        write_checkpoint_meta(path, self, env_steps=self.env_steps, updates=self.learner.steps, offline_dataset=self.offline_dataset)

    @classmethod
    def load(cls, path: Path, *, device: str = "cpu") -> EfficientZeroAgent:
        meta = read_checkpoint_meta(path)
        state = torch.load(Path(path) / STATE_FILE, map_location=device, weights_only=True)
        raw = dict(state["config"])
        raw["temperature_schedule"] = tuple(tuple(pair) for pair in raw["temperature_schedule"])
        agent = cls(make_spec(meta["game"]), preset=meta["preset"], seed=meta["seed"], device=device, config=EfficientZeroConfig(**raw))
        agent.net.load_state_dict(state["net"])
        agent.target_net.load_state_dict(state["target_net"])
        agent.update_loop.next_target = state["next_target"]
        agent.actor_net.load_state_dict(state["actor_net"])
        agent.learner.load_state_dict(state["learner"])
        agent.replay.load_state_dict(_to_numpy(state["replay"]))
        agent._offline_state = None if state["offline"] is None else _to_numpy(state["offline"])
        for name, rng in agent._generators().items():
            rng.bit_generator.state = state["rngs"][name]
        agent.env_steps = int(state["env_steps"])
        return agent


def _to_torch(state: dict) -> dict:
    """numpy arrays -> tensors, so that ``torch.load(weights_only=True)`` reads the state back."""
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in state.items()}


def _to_numpy(state: dict) -> dict:
    return {k: v.cpu().numpy() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


class EfficientZeroLAgent(EfficientZeroAgent):
    """EfficientZero-L: four residual blocks in every stage of the representation (the paper's larger baseline, as XTRA releases it)."""

    name = "efficientzero-l"
    description = "EfficientZero-L: EfficientZero with 4 residual blocks in every representation stage"
    variant: ClassVar[dict] = {"blocks_per_stage": 4}


class EfficientZeroL512Agent(EfficientZeroLAgent):
    """EfficientZero-L with a 512-row minibatch: XTRA's effective batch (256 target + 256 offline rows), the paper's Appendix L."""

    name = "efficientzero-l-512"
    description = "EfficientZero-L with batch size 512 (XTRA's effective batch; Appendix L)"
    variant: ClassVar[dict] = {"blocks_per_stage": 4, "batch_size": 512}
