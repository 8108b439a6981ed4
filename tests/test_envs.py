"""The protocol's preprocessing, checked against facts computed independently of the wrapper."""

import numpy as np
import pytest
from ale_py import ALEInterface, LoggerMode, roms

from xtra_bench.envs import make_env, make_spec
from xtra_bench.errors import ConfigError, UnknownNameError


def area_resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Exact area-weighted downscaling (what OpenCV's INTER_AREA computes), written out in numpy."""

    def weights(n_in: int, n_out: int) -> np.ndarray:
        scale = n_in / n_out
        m = np.zeros((n_out, n_in))
        for o in range(n_out):
            lo, hi = o * scale, (o + 1) * scale
            for i in range(int(np.floor(lo)), int(np.ceil(hi))):
                m[o, i] = min(hi, i + 1) - max(lo, i)
        return m / scale

    rows, cols = weights(img.shape[0], height), weights(img.shape[1], width)
    return np.stack([rows @ img[..., c].astype(np.float64) @ cols.T for c in range(img.shape[-1])], axis=-1)


def play(env, actions):
    return [env.step(np.array([a] * env.num_envs)) for a in actions]


def test_frames_are_max_pool_of_last_two_raw_frames_resized_to_96x96_rgb():
    # MsPacman flickers, so the max-pool and the last frame alone differ a lot.
    env = make_env("MsPacman", 1, seed=0, noop_max=0)
    obs = env.reset()
    assert obs.shape == (1, 4, 96, 96, 3) and obs.dtype == np.uint8
    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.setFloat("repeat_action_probability", 0.0)
    ale.setInt("frame_skip", 1)
    ale.loadROM(roms.get_rom_path("ms_pacman"))
    ale.reset_game()
    assert np.abs(obs[0, -1] - area_resize(ale.getScreenRGB(), 96, 96)).max() <= 0.5
    rng = np.random.default_rng(0)
    far_from_last = 0
    for _ in range(40):
        a = int(rng.integers(env.spec.num_actions))
        raw = []
        for _ in range(4):  # frame skip 4
            ale.act(env.spec.action_set[a])
            raw.append(ale.getScreenRGB())
        frame = env.step(np.array([a])).obs[0, -1].astype(np.float64)
        assert np.abs(frame - area_resize(np.maximum(raw[2], raw[3]), 96, 96)).max() <= 0.5
        far_from_last += np.abs(frame - area_resize(raw[3], 96, 96)).max() > 10
    assert far_from_last > 10
    env.close()


def test_stack_repeats_first_frame_at_game_start_and_shifts_by_one():
    env = make_env("Breakout", 2, seed=3)
    obs = env.reset()
    assert all((obs[:, i] == obs[:, 3]).all() for i in range(3))
    nxt = env.step(np.array([1, 1])).obs
    assert (nxt[:, :3] == obs[:, 1:]).all()
    env.close()


def test_noop_starts_are_bounded_by_30_and_vary_with_the_seed():
    env = make_env("Pong", 16, seed=0)
    env.reset()
    frames = env.episode_frames
    assert frames.max() <= 30 * 4 and len(set(frames.tolist())) > 3
    env.close()
    with make_env("Pong", 4, seed=0, noop_max=0) as env:
        env.reset()
        assert (env.episode_frames == 0).all()


def test_frame_cap_truncates_a_game_and_is_108k_by_default():
    assert make_spec("Pong").settings["max_episode_frames"] == 108_000
    with make_env("Pong", 2, seed=0, max_episode_frames=400, noop_max=0) as env:
        env.reset()
        steps = play(env, [0] * 100)
    assert not any(s.truncated.any() for s in steps[:-1])
    assert steps[-1].truncated.all() and not steps[-1].terminated.any() and steps[-1].done.all()


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_life_loss_ends_a_train_episode_but_not_an_eval_one(mode):
    with make_env("Breakout", 2, mode=mode, seed=7) as env:
        env.reset()
        steps = play(env, np.random.default_rng(0).integers(0, 4, 400))
    life_loss = np.array([s.life_loss for s in steps])
    over = np.array([s.game_over for s in steps])
    done = np.array([s.done for s in steps])
    assert (life_loss & ~over).any()
    if mode == "train":
        assert (done == (life_loss | over)).all()
    else:
        assert (done == over).all()


def test_rewards_are_raw_and_clipping_is_offered_for_learning():
    with make_env("Alien", 4, seed=0) as env:
        env.reset()
        steps = play(env, np.random.default_rng(1).integers(0, 18, 200))
    rewards = np.concatenate([s.reward for s in steps])
    clipped = np.concatenate([s.clipped_reward for s in steps])
    assert rewards.max() >= 10  # Alien's eggs are worth 10 points
    assert set(np.unique(clipped)) <= {0.0, 1.0} and (clipped == np.sign(rewards)).all()


# Breakout's paddle moves right (action 2) so the capped game's last frame differs from a new game's.
@pytest.mark.parametrize("game, action, settings", [("MinAtar-Breakout", 0, {}), ("Breakout", 2, {"max_episode_frames": 200})])
def test_game_over_resets_with_final_observation_kept(game, action, settings):
    with make_env(game, 3, seed=0, **settings) as env:
        env.reset()
        for _ in range(500):
            s = env.step(np.full(3, action))
            if s.game_over.any():
                break
    i = int(np.flatnonzero(s.game_over)[0])
    assert not (s.final_obs[i] == s.obs[i]).all()
    assert (s.final_obs[~s.game_over] == s.obs[~s.game_over]).all()
    assert all((s.obs[i, k] == s.obs[i, 3]).all() for k in range(3))  # a fresh stack


@pytest.mark.parametrize("game", ["Breakout", "MinAtar-Seaquest"])
def test_same_seed_gives_the_same_episodes(game):
    def rollout(seed):
        with make_env(game, 2, seed=seed) as env:
            obs = [env.reset()]
            rng = np.random.default_rng(0)
            for _ in range(300):
                obs.append(env.step(rng.integers(0, env.spec.num_actions, 2)).obs)
        return np.stack(obs)

    a, b, c = rollout(5), rollout(5), rollout(6)
    assert (a == b).all()
    assert not (a == c).all()


def test_minatar_frames_are_padded_and_actions_map_into_the_shared_space():
    with make_env("MinAtar-Breakout", 2, seed=0) as env:
        obs = env.reset()
        assert obs.shape == (2, 4, 10, 10, 10) and obs.dtype == np.uint8
        assert set(np.unique(obs)) <= {0, 255}
        assert obs[..., 4:].max() == 0  # Breakout has 4 channels; the rest is padding
        assert obs[..., :4].max() == 255
        assert env.spec.action_set == (0, 4, 3)  # no-op, left, right as Atari ids
        assert not env.step(np.array([0, 2])).life_loss.any()


def test_bad_env_requests_are_refused_clearly():
    with pytest.raises(UnknownNameError, match="Did you mean 'Breakout'"):
        make_env("breakot")
    with pytest.raises(ConfigError, match="mode"):
        make_env("Pong", mode="test")
    with make_env("Pong", 2) as env:
        env.reset()
        with pytest.raises(ValueError, match=r"actions must be in \[0, 6\)"):
            env.step(np.array([0, 6]))
