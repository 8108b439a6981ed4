"""XTRA (Hansen et al., ICLR 2023): model-based cross-task transfer, both stages.

Stage 1 (``stage1``): a teacher per pretraining dataset (offline EfficientZero), relabelling of
each dataset by its teacher's search (``relabel``), distillation into one EfficientZero-L student
with an 18-action head (``student``), every artifact cached by the hash of its inputs (``cache``).
Stage 2 (``finetune``): online EfficientZero on the target plus the offline tasks' losses
(``offline``) weighted by the gradient-cosine rule (``task_weights``). ``config`` holds the
settings and presets, ``agent`` the registered agent and its ablations.
"""

from baselines.xtra.config import XtraConfig, xtra_config

__all__ = ["XtraConfig", "xtra_config"]
