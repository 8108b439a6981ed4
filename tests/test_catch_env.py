"""Catch's known returns: an oracle that follows the ball scores +1, ball-blind policies score (2 - board) / board."""

import numpy as np
import pytest

from xtra_bench.envs.catch import MOVES, OPTIMAL_RETURN, CatchEnv, blind_return


def play(env: CatchEnv, policy, games: int) -> np.ndarray:
    obs, returns = env.reset(), []
    while len(returns) < games:
        batch = env.step(policy(obs))
        obs = batch.obs
        returns.extend(batch.reward[batch.done].tolist())
    return np.array(returns[:games])


def oracle(obs: np.ndarray) -> np.ndarray:
    """Moves the paddle toward the ball's column, read from the newest frame."""
    frame = obs[:, -1]
    ball = frame[..., 0].max(axis=1).argmax(axis=1)
    paddle = frame[:, -1, :, 1].argmax(axis=1)
    return np.select([ball < paddle, ball > paddle], [1, 2], 0)  # action indices: no-op, left, right


@pytest.mark.parametrize("board", [5, 10])
def test_known_returns(board):
    assert MOVES.tolist() == [0, -1, 1]
    env = CatchEnv(16, seed=board, board=board)
    assert env.spec.frame_shape[:2] == (board, board) and env.spec.settings["board"] == board
    assert np.all(play(env, oracle, 160) == OPTIMAL_RETURN)
    rng = np.random.default_rng(0)
    blind = play(CatchEnv(16, seed=1, board=board), lambda obs: rng.integers(0, 3, len(obs)), 4000)
    # 4000 games: the standard error of the mean is below 0.02 for either board.
    assert blind.mean() == pytest.approx(blind_return(board), abs=0.06)
    assert blind_return(10) == pytest.approx(-0.8) and blind_return(5) == pytest.approx(-0.6)


def test_game_lasts_board_minus_one_steps():
    env = CatchEnv(3, board=4)
    env.reset()
    dones = [env.step(np.zeros(3, np.int64)).done.all() for _ in range(3)]
    assert dones == [False, False, True]
    with pytest.raises(ValueError, match="at least 3"):
        CatchEnv(1, board=2)
