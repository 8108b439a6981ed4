"""SearchConfig's checks and the root Dirichlet noise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from xtra_bench.errors import ConfigError
from xtra_bench.search import SearchConfig, dirichlet_noise


def test_defaults_are_efficientzeros():
    config = SearchConfig()
    assert (config.num_simulations, config.discount, config.pb_c_base, config.pb_c_init) == (50, 0.997, 19652, 1.25)
    assert (config.dirichlet_alpha, config.exploration_fraction, config.value_prefix_horizon) == (0.3, 0.25, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.num_simulations = 10


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("num_simulations", 0, "num_simulations must be >= 1, got 0"),
        ("discount", 1.5, r"discount must be in \(0, 1\], got 1.5"),
        ("exploration_fraction", -0.1, r"exploration_fraction must be in \[0, 1\]"),
        ("value_prefix_horizon", 0, "value_prefix_horizon must be >= 1"),
        ("num_threads", 0, "num_threads must be >= 1"),
        ("dirichlet_alpha", 0.0, "dirichlet_alpha must be > 0"),
    ],
)
def test_out_of_range_settings_are_named(field, value, message):
    with pytest.raises(ConfigError, match=message):
        SearchConfig(**{field: value})


def test_dirichlet_noise_lives_on_legal_actions():
    legal = np.array([[True, False, True, True], [False, True, False, False]])
    noise = dirichlet_noise(legal, 0.3, np.random.default_rng(0))
    assert noise.dtype == np.float32 and noise.shape == (2, 4)
    np.testing.assert_array_equal(noise[~legal], 0.0)
    np.testing.assert_allclose(noise.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(noise[1], [0, 1, 0, 0])  # one legal action takes all the mass
    np.testing.assert_array_equal(noise, dirichlet_noise(legal, 0.3, np.random.default_rng(0)))


def test_dirichlet_noise_has_the_symmetric_mean_and_spread():
    # Dirichlet(alpha) over k = 3: mean 1/3, variance (1/3)(2/3) / (3 alpha + 1) = 0.1169 for alpha 0.3.
    legal = np.ones((20_000, 3), dtype=bool)
    noise = dirichlet_noise(legal, 0.3, np.random.default_rng(1))
    np.testing.assert_allclose(noise.mean(axis=0), 1 / 3, atol=0.01)
    np.testing.assert_allclose(noise.var(axis=0), (1 / 3) * (2 / 3) / 1.9, rtol=0.05)


def test_dirichlet_noise_rejects_bad_alpha():
    with pytest.raises(ValueError, match="alpha must be > 0"):
        dirichlet_noise(np.ones((1, 2), bool), 0.0, np.random.default_rng(0))
