"""xtra-bench: offline datasets, protocol and agents for cross-task transfer in model-based RL."""

__version__ = "0.1.0"

__all__ = ["__version__"]
