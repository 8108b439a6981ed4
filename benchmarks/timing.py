"""Timing a repeated call on a device: warm-up, synchronised clocks, an optional time budget."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work (GPU calls return before their kernels finish)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_call(call: Callable[[], object], *, warmup: int, repeats: int, device: torch.device, budget_s: float | None = None) -> float:
    """Mean seconds of ``call()`` over ``repeats`` timed calls after ``warmup`` untimed ones.

    With ``budget_s`` the timed calls stop early once they have used that many seconds (one call
    at least), so that a slow device still finishes on time; the mean is over the calls made.
    """
    for _ in range(warmup):
        call()
    synchronize(device)
    start = time.perf_counter()
    done = 0
    while done < max(1, repeats):
        call()
        done += 1
        if budget_s is not None and done < repeats:
            synchronize(device)
            if time.perf_counter() - start >= budget_s:
                break
    synchronize(device)
    return (time.perf_counter() - start) / done
