"""CURL (Srinivas et al., 2020) for Atari100k: data-efficient Rainbow with a contrastive auxiliary loss.

Modules: ``config`` (hyper-parameters and presets), ``networks`` (noisy dueling C51 network and the
contrastive head), ``targets`` (n-step returns, C51 projection), ``contrastive`` (crops, InfoNCE,
key-encoder EMA), ``replay`` (prioritised replay), ``collector`` (online episodes), ``learner``
(one update), ``pretrain`` (multi-task offline pretraining) and ``agent`` (the registered agents).
"""

from baselines.curl.config import CurlConfig, preset_config

__all__ = ["CurlConfig", "preset_config"]
