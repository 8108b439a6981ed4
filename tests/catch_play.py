"""Catch for learning tests: greedy play of a trained agent, and an offline Catch task for XTRA's learner."""

from pathlib import Path

import numpy as np

from baselines.xtra.offline import TaskFiles
from tests.xtra_fixtures import untrained_task
from xtra_bench.agents import RandomAgent
from xtra_bench.data.collect import play
from xtra_bench.data.writer import DatasetMeta, EpisodeWriter
from xtra_bench.envs.catch import CatchEnv, catch_spec


def greedy_return(agent, board: int, games: int = 40) -> float:
    """Mean return of ``games`` greedy games (new balls: seed 999); every game lasts board - 1 steps, so all end together."""
    env = CatchEnv(games, seed=999, board=board)
    obs, returns = env.reset(), []
    for _ in range(board - 1):
        batch = env.step(agent.act(obs))
        obs = batch.obs
        returns.extend(batch.reward[batch.done].tolist())
    assert len(returns) == games
    return float(np.mean(returns))


def random_catch_task(directory: Path, board: int, games: int = 200) -> TaskFiles:
    """An offline task of uniformly random Catch games, labelled by an untrained teacher's search (2 simulations)."""
    spec = catch_spec(board=board)
    data = directory / "catch-random.hdf5"
    meta = DatasetMeta.from_spec(spec, dataset_id="local/Catch/random-v1", collector={"agent": "random"}, description="random Catch games")
    writer = EpisodeWriter(data, meta)
    play(RandomAgent(spec, seed=3), CatchEnv(8, seed=3, board=board), writer, lambda: writer.num_episodes >= games)
    writer.finalise()
    return untrained_task("Catch-random", data, spec, "minatar", directory, roots=256)
