"""EfficientZero learns a task with a known optimum to near-optimal play: Catch on a 7x7 board.

Slow (10-14 minutes beside a running study, at the lowest priority). The ball falls for 6 steps, one
more than the 5-step value targets reach, so catching it means predicting the reward through the
value prefix, the bootstrapped values and the search, and acting on it. Every policy blind to the
ball scores exactly -5/7 (-0.71); a MuZero with a broken target, mask, gradient, search or action
alignment stays near there. Measured (training seeds 0; 40 new games): greedy return 1.00 after
4k steps, 0.60 after 3k.
"""

import pytest

from baselines.efficientzero.agent import EfficientZeroAgent
from baselines.efficientzero.config import preset_config
from tests.catch_play import greedy_return
from xtra_bench.envs.catch import CatchEnv, blind_return

BOARD = 7


@pytest.mark.slow
def test_efficientzero_learns_catch_to_near_optimal(one_torch_thread):
    # The minatar preset's algorithm and optimiser; Catch's short games need less warm-up and refresh.
    cfg = preset_config(
        "minatar", min_replay_size=200, target_refresh_interval=100, selfplay_refresh_interval=50, updates_per_env_step=1.0, log_interval=0
    )
    env = CatchEnv(cfg.num_envs, seed=0, board=BOARD)
    agent = EfficientZeroAgent(env.spec, preset="minatar", seed=0, config=cfg)
    assert greedy_return(agent, BOARD) < blind_return(BOARD) + 0.35  # an untrained agent is blind to the ball
    agent.train(env, 4000)
    assert greedy_return(agent, BOARD) >= 0.8  # at least 90% of the balls caught; optimal play scores 1
