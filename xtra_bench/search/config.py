"""Settings of one batched search; the defaults are EfficientZero's (DESIGN.md, MCTS)."""

from __future__ import annotations

import dataclasses

from xtra_bench.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """Settings of ``run_search``, checked on construction.

    Raises:
        ConfigError: a setting out of range, naming it.
    """

    num_simulations: int = 50
    """Simulations per search, each expanding one node per root."""
    discount: float = 0.997
    """Discount per tree level."""
    pb_c_base: float = 19652.0
    """pUCT c2: the exploration term grows with log((N + c2 + 1) / c2)."""
    pb_c_init: float = 1.25
    """pUCT c1: the exploration term's constant part."""
    dirichlet_alpha: float = 0.3
    """Concentration of the root noise drawn by ``dirichlet_noise``."""
    exploration_fraction: float = 0.25
    """Weight of the noise in the root priors: (1 - f) * prior + f * noise."""
    value_prefix_horizon: int = 5
    """The value-prefix predictor restarts at tree depths divisible by this (EfficientZero's LSTM horizon)."""
    num_threads: int = 1
    """Threads that split the roots during tree work; results do not depend on it."""

    def __post_init__(self):
        checks = [
            ("num_simulations", self.num_simulations >= 1, ">= 1"),
            ("discount", 0.0 < self.discount <= 1.0, "in (0, 1]"),
            ("pb_c_base", self.pb_c_base > 0.0, "> 0"),
            ("pb_c_init", self.pb_c_init >= 0.0, ">= 0"),
            ("dirichlet_alpha", self.dirichlet_alpha > 0.0, "> 0"),
            ("exploration_fraction", 0.0 <= self.exploration_fraction <= 1.0, "in [0, 1]"),
            ("value_prefix_horizon", self.value_prefix_horizon >= 1, ">= 1"),
            ("num_threads", self.num_threads >= 1, ">= 1"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(f"SearchConfig.{name} must be {expected}, got {getattr(self, name)!r}")
