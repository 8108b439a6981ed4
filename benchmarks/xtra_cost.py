"""XTRA's cost per update relative to EfficientZero's, and the share spent in gradient-cosine windows.

Synthetic Atari-shaped batches (96x96 RGB, 4 stacked frames, the 18-action head) on whatever
device is present. The learner step: EfficientZero-L's ``Learner.update`` on a target batch, and
``CrossTaskLearner.update`` on the same batch plus K offline tasks sharing
``--offline-batch-size`` rows, outside and inside a window. Both agents also reanalyse the target
batch every update (a search from each of its B x (K + 1) positions with the target network);
it is timed once and added to both ("per update"); the learner-only ratio is reported too. Acting
is left out (both pay it alike). The window share is projected over a run of ``--updates`` with
the preset's task-weight schedule, every task active (the worst case).

Example::

    python benchmarks/xtra_cost.py --preset paper --tasks 4 --batch-size 256 --offline-batch-size 256
"""

from __future__ import annotations

import json

import click
import numpy as np
import torch

from baselines.efficientzero.learner import Learner
from baselines.efficientzero.losses import TrainBatch
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.efficientzero.reanalyze import search
from baselines.xtra.config import student_config, xtra_config
from baselines.xtra.finetune import CrossTaskLearner
from baselines.xtra.offline import OfflineBatch
from ez_speed import ACTIONS, FRAME, synthetic_batch  # the sibling benchmarks (this folder is on sys.path)
from timing import seconds_per_call


class SyntheticTasks:
    """Stands in for ``OfflineTasks``: K named tasks whose batches are drawn in advance (sampling is benchmarked elsewhere)."""

    prioritised = False

    def __init__(self, count: int, rows: int, stack: int, unroll: int, device: torch.device):
        self.games = tuple(f"task{i}" for i in range(count))
        self._batch = synthetic_batch(rows * count, stack, unroll, device)

    def sample(self, rows_per_task: int, which, beta: float = 1.0) -> OfflineBatch:
        batch = TrainBatch(*(field[: rows_per_task * len(which)] for field in self._batch))
        return OfflineBatch(batch, tuple(which), np.zeros((len(which), rows_per_task), dtype=np.int64))


def measure(
    preset: str,
    tasks: int,
    batch_size: int,
    offline_batch_size: int,
    updates: int,
    repeats: int,
    warmup: int,
    device: torch.device,
    budget_s: float | None = None,
) -> dict:
    """Seconds per update of each learner and of the reanalysis, and the ratios of the module docstring.

    Args:
        budget_s: seconds the timed repeats of each of the four measurements may take (None: all ``repeats``).
    """
    cfg = student_config(preset, batch_size=batch_size)
    torch.manual_seed(0)
    batch = synthetic_batch(batch_size, cfg.frame_stack, cfg.num_unroll_steps, device)
    offline = SyntheticTasks(tasks, offline_batch_size // tasks, cfg.frame_stack, cfg.num_unroll_steps, device)

    def time_update(learner) -> float:
        return seconds_per_call(lambda: learner.update(batch), warmup=warmup, repeats=repeats, device=device, budget_s=budget_s)

    t_ez = time_update(Learner(EfficientZeroNet(FRAME, ACTIONS, cfg).to(device), cfg))
    xcfg = xtra_config(preset, offline_batch_size=offline_batch_size)
    t_plain = time_update(CrossTaskLearner(EfficientZeroNet(FRAME, ACTIONS, cfg).to(device), cfg, xcfg, offline))
    # A window at every step: start 0, window = cycle.
    windowed_cfg = xtra_config(preset, offline_batch_size=offline_batch_size, weights_start=0, weights_cycle=1, weights_window=1)
    t_window = time_update(CrossTaskLearner(EfficientZeroNet(FRAME, ACTIONS, cfg).to(device), cfg, windowed_cfg, offline))

    net = EfficientZeroNet(FRAME, ACTIONS, cfg).to(device)
    positions = batch.frames.unfold(1, cfg.frame_stack, 1).permute(0, 1, 5, 2, 3, 4).flatten(0, 1)  # [B * (K+1), S, H, W, C]
    legal = np.ones((len(positions), ACTIONS), dtype=bool)
    rng = np.random.default_rng(0)
    t_reanalyse = seconds_per_call(
        lambda: search(net, positions, legal, cfg, rng, add_noise=True), warmup=1, repeats=max(1, repeats // 2), device=device, budget_s=budget_s
    )

    window_steps = sum(1 for s in range(xcfg.weights_start, updates) if (s - xcfg.weights_start) % xcfg.weights_cycle < xcfg.weights_window)
    total = (updates - window_steps) * (t_plain + t_reanalyse) + window_steps * (t_window + t_reanalyse)
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "preset": preset,
        "tasks": tasks,
        "batch_size": batch_size,
        "offline_batch_size": offline_batch_size,
        "ez_update_s": round(t_ez, 4),
        "xtra_update_s": round(t_plain, 4),
        "xtra_window_update_s": round(t_window, 4),
        "reanalysis_s": round(t_reanalyse, 4),
        "learner_xtra_over_ez": round(t_plain / t_ez, 3),
        "update_xtra_over_ez": round((t_plain + t_reanalyse) / (t_ez + t_reanalyse), 3),
        "window_over_plain": round(t_window / t_plain, 3),
        "run_xtra_over_ez": round(total / updates / (t_ez + t_reanalyse), 3),
        "window_steps": window_steps,
        "window_time_share": round(window_steps * (t_window + t_reanalyse) / total, 4),
    }


@click.command()
@click.option("--preset", default="paper", show_default=True, help="Network and task-weight schedule preset.")
@click.option("--tasks", default=4, show_default=True, help="Offline tasks K.")
@click.option("--batch-size", default=256, show_default=True, help="Target batch.")
@click.option("--offline-batch-size", default=256, show_default=True, help="Offline rows per update, split over the tasks.")
@click.option("--updates", default=100_000, show_default=True, help="Updates of the projected run.")
@click.option("--repeats", default=10, show_default=True, help="Timed updates per measurement.")
@click.option("--warmup", default=2, show_default=True, help="Untimed updates first.")
@click.option("--threads", default=0, show_default=True, help="Torch CPU threads (0: torch's default).")
def main(preset: str, tasks: int, batch_size: int, offline_batch_size: int, updates: int, repeats: int, warmup: int, threads: int) -> None:
    if threads:
        torch.set_num_threads(threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(json.dumps(measure(preset, tasks, batch_size, offline_batch_size, updates, repeats, warmup, device), indent=2))


if __name__ == "__main__":
    main()
