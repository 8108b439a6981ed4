"""Self-play: batched MCTS acting in a vector env, learning episodes handed to the replay in blocks.

Besides the replay's data it keeps what a researcher checks first when an agent does not learn
(``SelfPlay.drain``, logged with the update metrics): the training games' returns
(``xtra_bench.monitor``), the entropy of acting's visit distributions and the share of the most
visited action, and the search's root values against the discounted returns the episodes then
realised (clipped rewards, no bootstrap: compared on episodes that ended in a terminal state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.efficientzero.reanalyze import search
from baselines.efficientzero.replay import PrioritizedReplay
from baselines.efficientzero.timing import StageTimer
from xtra_bench.envs import StepBatch, VectorEnv
from xtra_bench.monitor import EpisodeReturns


def select_actions(visit_counts: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Samples from visits^(1/T) per root (T = 0: argmax); int [B, A] -> int64 [B]."""
    counts = visit_counts.astype(np.float64)
    if temperature == 0:
        return counts.argmax(axis=1)
    # Scaling by the row maximum first keeps visits^(1/T) finite for small T.
    weights = (counts / counts.max(axis=1, keepdims=True)) ** (1.0 / temperature)
    cdf = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((len(counts), 1))
    return np.minimum((cdf < draws).sum(axis=1), counts.shape[1] - 1).astype(np.int64)


@dataclass
class EpisodeBuffer:
    """One env's running learning episode since its last block went to the replay.

    ``frames`` include the S - 1 history frames of the first step held; ``episode_rewards`` and
    ``root_values`` cover the whole episode (the value check compares them at its end).
    """

    frames: list[np.ndarray]
    actions: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    policies: list[np.ndarray] = field(default_factory=list)
    env_steps: list[int] = field(default_factory=list)
    episode_rewards: list[float] = field(default_factory=list)
    root_values: list[float] = field(default_factory=list)

    def drop_first(self, steps: int) -> None:
        """Forgets the first ``steps`` steps held, keeping the frames that the next step's stack needs."""
        del self.frames[:steps], self.actions[:steps], self.rewards[:steps], self.policies[:steps], self.env_steps[:steps]


class SelfPlay:
    """Steps ``env`` with the acting network's MCTS and fills ``replay`` with its episodes.

    An episode goes to the replay when it ends, and before that every ``history_length`` steps as a
    block that also holds the ``num_unroll_steps + td_steps`` steps after it (which start no window
    of the block and are held again as the start of the next).

    Args:
        env: the target's train-mode vector env.
        replay: where finished learning episodes go.
        legal_row: bool [A] legal head entries of the game.
        head_to_env: int [A] the env action of each head entry (the identity for a single-task head).
        cfg: search and temperature settings.
        rng: draws root noise, search tie-break seeds and actions (the agent's, so that it
            carries over from one ``train`` call to the next and into checkpoints).
        timer: where acting's search and env time are counted.
    """

    def __init__(
        self,
        env: VectorEnv,
        replay: PrioritizedReplay,
        legal_row: np.ndarray,
        head_to_env: np.ndarray,
        cfg: EfficientZeroConfig,
        rng: np.random.Generator,
        timer: StageTimer,
    ):
        self.env, self.replay, self.cfg = env, replay, cfg
        self.legal = np.broadcast_to(legal_row, (env.num_envs, len(legal_row)))
        self.head_to_env = np.asarray(head_to_env)
        self.rng, self.timer = rng, timer
        self.obs = env.reset()
        self.buffers = [EpisodeBuffer(frames=list(self.obs[e])) for e in range(env.num_envs)]
        self.returns = EpisodeReturns(env.num_envs)
        self._entropy: list[float] = []
        self._top_share: list[float] = []
        self._predicted: list[float] = []
        self._realised: list[float] = []
        self._block_reach = cfg.num_unroll_steps + cfg.td_steps

    def step(self, net: EfficientZeroNet, temperature: float, env_step: int) -> None:
        """Plays one step in every env; ``env_step`` is the agent's counter before this step."""
        device = next(net.parameters()).device
        with self.timer.stage("search"):
            result = search(net, torch.from_numpy(self.obs).to(device), self.legal, self.cfg, self.rng, add_noise=True)
            head = select_actions(result.visit_counts, temperature, self.rng)
        policy = result.policy.astype(np.float64)
        self._entropy.extend((-(policy * np.log(np.where(policy > 0, policy, 1.0))).sum(axis=1)).tolist())
        self._top_share.extend(policy.max(axis=1).tolist())
        with self.timer.stage("env"):
            self._record(self.env.step(self.head_to_env[head]), head, result.policy, env_step, result.root_values)

    def step_uniform(self, env_step: int) -> None:
        """Plays one uniformly random legal action in every env and records uniform policies (no search)."""
        legal = self.legal[0]
        policy = np.where(legal, 1.0 / legal.sum(), 0.0).astype(np.float32)
        head = np.flatnonzero(legal)[self.rng.integers(legal.sum(), size=self.env.num_envs)]
        with self.timer.stage("env"):
            self._record(self.env.step(self.head_to_env[head]), head, np.broadcast_to(policy, self.legal.shape), env_step)

    def drain(self) -> dict[str, float]:
        """The statistics of the steps since the last call (see the module's docstring), then forgets them."""
        out = self.returns.drain()
        if self._entropy:
            out["search/visit_entropy"] = float(np.mean(self._entropy))
            out["search/top_visit_share"] = float(np.mean(self._top_share))
        if self._predicted:
            predicted, realised = np.asarray(self._predicted), np.asarray(self._realised)
            out["value/root_value"] = float(predicted.mean())
            out["value/realised_return"] = float(realised.mean())
            out["value/abs_error"] = float(np.abs(predicted - realised).mean())
        self._entropy, self._top_share, self._predicted, self._realised = [], [], [], []
        return out

    def _value_check(self, buf: EpisodeBuffer, terminal: bool) -> None:
        """Pairs each searched step's root value with the discounted return that followed it (terminal episodes only)."""
        if not terminal or len(buf.root_values) != len(buf.episode_rewards):
            return
        rewards = np.asarray(buf.episode_rewards)
        rewards = np.sign(rewards) if self.cfg.clip_rewards else rewards
        to_go = np.zeros(len(rewards))
        running = 0.0
        for i in range(len(rewards) - 1, -1, -1):
            running = rewards[i] + self.cfg.discount * running
            to_go[i] = running
        self._predicted.extend(buf.root_values)
        self._realised.extend(to_go.tolist())

    def _record(self, batch: StepBatch, head: np.ndarray, policies: np.ndarray, env_step: int, root_values: np.ndarray | None = None) -> None:
        """Appends one step to every env's running episode; hands full blocks and finished episodes to the replay."""
        self.returns.record(batch)
        for e, buf in enumerate(self.buffers):
            if root_values is not None:
                buf.root_values.append(float(root_values[e]))
            buf.actions.append(int(head[e]))
            buf.rewards.append(float(batch.reward[e]))
            buf.episode_rewards.append(float(batch.reward[e]))
            buf.policies.append(policies[e])
            buf.env_steps.append(env_step)
            if not batch.done[e]:
                buf.frames.append(batch.obs[e, -1])
                if len(buf.actions) == self.cfg.history_length + self._block_reach:
                    self._add(buf, terminal=False, startable=self.cfg.history_length)
                    buf.drop_first(self.cfg.history_length)
                continue
            game_over = batch.terminated[e] or batch.truncated[e]
            buf.frames.append((batch.final_obs if game_over else batch.obs)[e, -1])
            terminal = bool(batch.terminated[e] or batch.life_loss[e])
            self._value_check(buf, terminal)
            self._add(buf, terminal=terminal)
            self.buffers[e] = EpisodeBuffer(frames=list(batch.obs[e]))
        self.obs = batch.obs

    def _add(self, buf: EpisodeBuffer, *, terminal: bool, startable: int | None = None) -> None:
        self.replay.add_episode(
            np.stack(buf.frames),
            np.asarray(buf.actions),
            np.asarray(buf.rewards, dtype=np.float32),
            np.stack(buf.policies),
            np.asarray(buf.env_steps),
            terminal=terminal,
            startable=startable,
        )
