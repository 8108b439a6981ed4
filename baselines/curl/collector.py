"""Online experience: each env's running learning episode, handed to the replay when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from baselines.curl.replay import EpisodeReplay
from xtra_bench.envs import StepBatch, VectorEnv


@dataclass
class RunningEpisode:
    """One env's learning episode so far; ``frames`` starts with the S - 1 history frames."""

    frames: list[np.ndarray]
    actions: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)


class EpisodeCollector:
    """Resets ``env`` and records its steps into ``replay``, one complete learning episode at a time.

    Args:
        env: the target's train-mode vector env.
        replay: where finished learning episodes go.
        clip_rewards: store sign-clipped rewards (the protocol's learning reward).
    """

    def __init__(self, env: VectorEnv, replay: EpisodeReplay, clip_rewards: bool):
        self.replay, self.clip_rewards = replay, clip_rewards
        self.obs = env.reset()
        self.episodes = [RunningEpisode(frames=list(self.obs[e])) for e in range(env.num_envs)]

    def record(self, head_actions: np.ndarray, step: StepBatch) -> None:
        """Adds one step of every env (``head_actions`` int [E], what the agent chose) and moves to its observations."""
        rewards = step.clipped_reward if self.clip_rewards else step.reward
        for e, episode in enumerate(self.episodes):
            episode.actions.append(int(head_actions[e]))
            episode.rewards.append(float(rewards[e]))
            if not step.done[e]:
                episode.frames.append(step.obs[e, -1])
                continue
            # A game that ended was reset in the same step: its last frame is in final_obs.
            game_over = step.terminated[e] or step.truncated[e]
            episode.frames.append((step.final_obs if game_over else step.obs)[e, -1])
            self.replay.add_episode(
                np.stack(episode.frames),
                np.asarray(episode.actions),
                np.asarray(episode.rewards, np.float32),
                terminal=bool(step.terminated[e] or step.life_loss[e]),
            )
            self.episodes[e] = RunningEpisode(frames=list(step.obs[e]))
        self.obs = step.obs
