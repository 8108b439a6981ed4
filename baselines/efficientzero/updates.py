"""Groups of EfficientZero updates from a replay: draw, reanalyse, train, new priorities, refreshes.

With ``overlap_reanalysis`` the next batch of a group is drawn before the current one trains and
reanalysed in a worker thread (on its own CUDA stream on a GPU) while it does, so the target
network's MCTS runs beside the SGD step. The price is a one-update lag: that batch is drawn
before the current batch's priorities are written, and reanalysed with the target network as it
was before a refresh due after the current update. Nothing is in flight between groups (a group
is the updates between two acting steps, or one ``train_offline`` call), so the state between
groups, where callbacks and checkpoints happen, is the same with or without overlap in flight.
Measured on a CPU, overlap pays with the paper's network and is neutral with the smoke preset's
tiny one (``benchmarks/RESULTS.md``, EfficientZero; ``benchmarks/ez_speed.py --overlap-probe``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.learner import Learner
from baselines.efficientzero.losses import TrainBatch
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.efficientzero.reanalyze import reanalyze
from baselines.efficientzero.replay import PrioritizedRows, ReplaySample
from baselines.efficientzero.schedule import priority_beta
from baselines.efficientzero.timing import StageTimer


class UpdateLoop:
    """Runs updates of ``learner`` with targets from ``target_net``.

    Args:
        learner: owns the trained network, its optimiser and the update counter.
        target_net: reanalyses every batch. Every ``target_refresh_interval`` updates it takes the
            weights the trained network had at the previous refresh, as EfficientZero's trainer
            does (``recent_weights``), so its weights are 1 to 2 intervals old (200-399 updates).
        actor_net: acting's network; refreshed every ``selfplay_refresh_interval`` updates.
        legal_row: bool [A] legal head entries of the game.
        cfg: batch size, priorities, refresh intervals, overlap and search settings.
        rng: draws reanalysis noise and search seeds.
        timer: where data, reanalysis and training time are counted.
    """

    def __init__(
        self,
        learner: Learner,
        target_net: EfficientZeroNet,
        actor_net: EfficientZeroNet,
        legal_row: np.ndarray,
        cfg: EfficientZeroConfig,
        rng: np.random.Generator,
        timer: StageTimer,
    ):
        self.learner, self.target_net, self.actor_net = learner, target_net, actor_net
        self.legal_row, self.cfg, self.rng, self.timer = legal_row, cfg, rng, timer
        self.device = next(target_net.parameters()).device
        self.next_target = _snapshot(target_net)
        """The weights the target network takes at the next refresh (the trained network's at the last one)."""
        self._worker: ThreadPoolExecutor | None = None
        self._stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    def run(
        self,
        replay: PrioritizedRows,
        count: int,
        *,
        age_step: int,
        reanalyze_ratio: float,
        after_update: Callable[[dict[str, float]], None],
    ) -> None:
        """Runs ``count`` updates from ``replay``.

        Args:
            replay: where batches are drawn and priorities written.
            count: updates of this group.
            age_step: the env-step counter that ages the replay's windows (off-policy correction).
            reanalyze_ratio: share of each batch whose policy targets come from a new search.
            after_update: called after every update with its metrics.
        """
        cfg, timer, learner = self.cfg, self.timer, self.learner
        pending: tuple[ReplaySample, Future[TrainBatch]] | None = None
        for j in range(count):
            if pending is None:
                sample = self._draw(replay, learner.steps, age_step)
                with timer.stage("reanalyze"):
                    batch = self._reanalyze(sample, reanalyze_ratio)
            else:
                sample, batch = pending[0], pending[1].result()
                pending = None
            if cfg.overlap_reanalysis and j + 1 < count:
                upcoming = self._draw(replay, learner.steps + 1, age_step)
                pending = (upcoming, self._submit(upcoming, reanalyze_ratio))
            with timer.stage("train"):
                result = learner.update(batch)
            if cfg.log_interval and learner.steps % cfg.log_interval == 0:
                result.metrics["reanalyze/policy_change"] = policy_change(batch.target_policy, sample.search_policy)
            with timer.stage("data"):
                replay.update_priorities(sample.rows, result.priorities)
            step = learner.steps
            if step % cfg.target_refresh_interval == 0:
                if pending is not None:
                    pending[1].result()  # the worker reads the target network until it is done
                self.target_net.load_state_dict(self.next_target)
                self.next_target = _snapshot(learner.net)
            if step % cfg.selfplay_refresh_interval == 0:
                self.actor_net.load_state_dict(learner.net.state_dict())
            after_update(result.metrics)

    def _draw(self, replay: PrioritizedRows, updates_done: int, age_step: int) -> ReplaySample:
        with self.timer.stage("data"):
            return replay.sample(self.cfg.batch_size, priority_beta(updates_done, self.cfg, self.learner.run), age_step)

    def _reanalyze(self, sample: ReplaySample, reanalyze_ratio: float) -> TrainBatch:
        return reanalyze(sample, self.target_net, self.legal_row, self.cfg, self.rng, self.device, reanalyze_ratio)

    def _submit(self, sample: ReplaySample, reanalyze_ratio: float) -> Future[TrainBatch]:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reanalyze")
        return self._worker.submit(self._reanalyze_in_worker, sample, reanalyze_ratio)

    def _reanalyze_in_worker(self, sample: ReplaySample, reanalyze_ratio: float) -> TrainBatch:
        with self.timer.stage("reanalyze"):
            if self._stream is None:
                return self._reanalyze(sample, reanalyze_ratio)
            # Its own stream, so the search's per-simulation reads wait for its kernels only, not
            # for the training step queued on the default stream. The batch is complete when the
            # stream is; the trainer's update ends with a host read, so its kernels are done
            # with the batch before the batch's memory can be reused.
            with torch.cuda.stream(self._stream):
                batch = self._reanalyze(sample, reanalyze_ratio)
            self._stream.synchronize()
            return batch


def _snapshot(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``net``'s state that later updates do not change."""
    return {name: value.detach().clone() for name, value in net.state_dict().items()}


def policy_change(reanalysed: torch.Tensor, acting: np.ndarray) -> float:
    """Mean total-variation distance between the reanalysed policy targets and acting's search policies.

    Over the positions where both exist (acting's policy sums to 1; padding rows are all zero):
    0 when reanalysis returns acting's policies, 1 when it moves all mass elsewhere.

    Args:
        reanalysed: float [B, K + 1, A] the batch's policy targets.
        acting: float [B, K + 1, A] the policies stored by self-play.
    """
    new = reanalysed.float().cpu().numpy()
    live = (acting.sum(-1) > 0.5) & (new.sum(-1) > 0.5)
    if not live.any():
        return 0.0
    return float(0.5 * np.abs(new - acting).sum(-1)[live].mean())
