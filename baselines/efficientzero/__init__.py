"""EfficientZero (Ye et al., 2021) and EfficientZero-L: the backbone of every model-based agent here.

Modules: ``config`` (hyper-parameters and presets), ``support`` (scalar transforms), ``networks``,
``augment``, ``targets`` (n-step values, value prefixes), ``losses``, ``learner`` (one SGD update),
``replay`` (prioritised replay), ``offline`` (a dataset as replay), ``reanalyze``, ``updates``
(groups of updates), ``selfplay``, ``timing`` (throughput metrics) and ``agent`` (the registered
agents).
"""

from baselines.efficientzero.config import EfficientZeroConfig, preset_config

__all__ = ["EfficientZeroConfig", "preset_config"]
