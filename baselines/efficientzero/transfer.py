"""Host-to-device copies of replay batches, optionally through page-locked (pinned) memory."""

from __future__ import annotations

import numpy as np
import torch


def to_device(array: np.ndarray, device: torch.device, pin_memory: bool) -> torch.Tensor:
    """``array`` as a tensor on ``device``.

    With ``pin_memory`` on a CUDA device the array is first copied into page-locked memory, from
    which the GPU reads it by DMA while the host goes on (a pageable copy blocks the host for the
    whole transfer). The page-locked block comes from torch's caching host allocator, which
    does not reuse it before the copy has finished, so the host may drop it at once. Elsewhere
    (and on a CPU, where the tensor shares the array's memory) the flag changes nothing.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if pin_memory and device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
