"""Which of a config's speed flags act on a device, and why the others do not.

Every speed flag can be set anywhere: a config written for a GPU must also run on a CPU (tests,
smoke runs, a laptop). The CUDA-only flags are then skipped, each for the reason below, and the
code that reads a flag asks ``flag_active`` instead of reading the config field.
"""

from __future__ import annotations

import torch

from baselines.efficientzero.config import EfficientZeroConfig

SPEED_FLAGS = ("compile", "amp", "channels_last", "overlap_reanalysis", "cuda_graphs", "pin_memory")

CUDA_ONLY = {
    "compile": "torch.compile's first update of even the smoke network took minutes on a CPU, more than a CPU run saves",
    "amp": "bfloat16 autocast is only applied on CUDA",
    "cuda_graphs": "CUDA graphs need a CUDA device",
    "pin_memory": "page-locked memory only speeds up copies to a GPU",
}
"""The flags that act on CUDA only, with the reason they are skipped elsewhere."""


def flag_active(cfg: EfficientZeroConfig, name: str, device: torch.device) -> bool:
    """Whether flag ``name`` of ``cfg`` acts on ``device``."""
    if name not in SPEED_FLAGS:
        raise KeyError(f"{name!r} is not a speed flag; they are {', '.join(SPEED_FLAGS)}")
    return bool(getattr(cfg, name)) and (name not in CUDA_ONLY or device.type == "cuda")


def speed_flags(cfg: EfficientZeroConfig, device: torch.device) -> dict[str, str]:
    """Each speed flag's state on ``device``: "on", "off", or "skipped: <reason>" for a CUDA-only flag set off CUDA."""
    states = {}
    for name in SPEED_FLAGS:
        if flag_active(cfg, name, device):
            states[name] = "on"
        elif getattr(cfg, name):
            states[name] = f"skipped: {CUDA_ONLY[name]}"
        else:
            states[name] = "off"
    return states
