"""The BC network: XTRA's representation h and prediction f (EfficientZero's modules), an 18-action policy.

The prediction network also has its value head, so that the weights keep the layout of XTRA's
student; cloning trains only the policy output.
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.bc.config import BCConfig
from baselines.efficientzero.networks import Prediction, Representation
from xtra_bench.envs import FULL_ACTION_COUNT


class BCNet(nn.Module):
    """h then f: stacked frames float [B, stack * channels, H, W] in [0, 1] -> policy logits [B, 18].

    Args:
        frame_shape: one frame (H, W, channels) as in ``EnvSpec.frame_shape``.
        cfg: the network sizes.
    """

    def __init__(self, frame_shape: tuple[int, int, int], cfg: BCConfig):
        super().__init__()
        height, width, channels = frame_shape
        net_cfg = cfg.network_config()
        in_channels = cfg.frame_stack * channels
        self.representation = Representation(in_channels, height, net_cfg)
        with torch.no_grad():
            self.representation.eval()
            latent = self.representation(torch.zeros(1, in_channels, height, width))
            self.representation.train()
        self.prediction = Prediction(latent.shape[2] * latent.shape[3], FULL_ACTION_COUNT, net_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        policy_logits, _ = self.prediction(self.representation(x))
        return policy_logits
