"""XTRA's cross-task learner on a task with a known optimum: Catch on a 5x5 board.

Slow. ``xtra-no-pretraining`` (EfficientZero-L with the shared 18-action head, randomly initialised)
finetunes online on Catch with one offline task attached: random Catch games labelled by an
untrained teacher, so the offline rows' policy and value targets are noise. Every update adds the
offline task's weighted loss, and from 2k updates the gradient-cosine rule sets its weight; the
target must still be learnt. Every policy blind to the ball scores exactly -0.6.

It fails today, and is marked so (strict: it reports when it starts to pass). EfficientZero with
its 3-wide head reaches 0.85-1.00 here in 3k steps; the same agent with the 18-wide head reaches
-0.90, and XTRA's learner -0.80 to 0.00 with or without the offline task (docs/presets.md, runs
K2-K6). Most of the gap is the dynamics' action plane, full-action id / 18, which is the rule of
XTRA's release (docs/presets.md): the test keeps the release's rule and waits for a budget or a
setting, chosen on training returns, under which the learner passes.
"""

import pytest

from baselines.xtra.agent import XtraNoPretrainingAgent
from baselines.xtra.config import student_config
from baselines.xtra.stage1 import Stage1Result
from tests.catch_play import greedy_return, random_catch_task
from xtra_bench.envs.catch import CatchEnv, blind_return

BOARD = 5


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=AssertionError, reason="the 18-wide action head does not learn Catch in 3k steps (docs/presets.md, K4-K6)")
def test_xtra_learner_learns_catch_to_near_optimal_beside_an_offline_task(tmp_path, one_torch_thread):
    task = random_catch_task(tmp_path, BOARD)
    cfg = student_config(
        "minatar", min_replay_size=200, target_refresh_interval=100, selfplay_refresh_interval=50, updates_per_env_step=1.0, log_interval=50
    )
    env = CatchEnv(cfg.num_envs, seed=0, board=BOARD)
    agent = XtraNoPretrainingAgent(env.spec, preset="minatar", seed=0, config=cfg)
    agent.use_stage1(Stage1Result((task,), None), initialise=False)  # a stage 1 of one labelled task, no student
    assert greedy_return(agent, BOARD) < blind_return(BOARD) + 0.35
    cosines = []  # logged when the rule sets the weights (from 2k updates, every 1k)
    agent.train(env, 3000, on_metrics=lambda step, m: cosines.append(m["cos/Catch-random"]) if "cos/Catch-random" in m else None)
    assert cosines, "the task-weight rule never ran"
    assert greedy_return(agent, BOARD) >= 0.7  # at least 85% of the balls caught; optimal play scores 1
