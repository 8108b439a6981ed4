"""Multi-task behaviour cloning (XTRA, Appendix O) with XTRA's representation and prediction networks.

Modules: ``config`` (hyper-parameters and presets), ``networks`` (h + f from EfficientZero's
modules), ``learner`` (masked cloning loss, minibatches, SGD stages) and ``agent`` (the registered
agents ``bc-zero-shot`` and ``bc-finetuned``).
"""

from baselines.bc.config import BCConfig, preset_config

__all__ = ["BCConfig", "preset_config"]
