"""rliable aggregates of one setting: interval estimates, profiles, improvement probabilities, curves.

Scores are normalised per game: human-normalised on the common games with a human reference
(Carnival, Pooyan and MinAtar games have none and are left out); where no common game has one
(MinAtar), reference-normalised, (score - random) / (reference - random), with random the mean
score of the ``random`` agent in the same results and reference the mean score of a stated method
(``--reference``, by default the baseline). No published table gives MinAtar scores under this
protocol, so both ends are measured here, under the same protocol as the scores they normalise.
A game without random results, or whose reference is within noise of random, is left out (and
named). Point estimates come from ``rliable.metrics``; their stratified bootstrap intervals from
the batched equivalents in ``xtra_bench.report.metrics``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from rliable import metrics as rly

from xtra_bench.games import get_game
from xtra_bench.protocol import human_normalized
from xtra_bench.report import bootstrap
from xtra_bench.report import metrics as batched
from xtra_bench.report.scores import GameScore, SettingTable

RANDOM_AGENT = "random"
"""The method whose score is 0 of the reference normalisation (``xtra-bench run --agent random``)."""
from xtra_bench.report.store import Job


@dataclasses.dataclass(frozen=True)
class AggregateConfig:
    """How aggregates are estimated.

    Attributes:
        reps: stratified bootstrap replicates per interval (rliable's default: 50,000).
        seed: seed of the bootstrap's random generator (same seed, same intervals).
        confidence: coverage of every interval.
        profile_points: thresholds at which performance profiles are evaluated.
    """

    reps: int = 50_000
    seed: int = 0
    confidence: float = 0.95
    profile_points: int = 101


@dataclasses.dataclass(frozen=True)
class ScoreMatrices:
    """Normalised scores of every method on the same games, each method with its own number of runs.

    Attributes:
        normalization: "human" or "reference".
        games: the games (tasks), in table order.
        runs: method -> runs per game (the fewest seeds that method has on any of the games; each
            cell's lowest seeds). Methods keep their own run counts, as rliable allows: truncating
            every method to the fewest any of them has would discard runs and, with one seed
            somewhere, collapse every interval.
        scores: method -> float [runs[method], games], final scores.
        steps: int [S], env steps where every selected run has a periodic evaluation.
        curves: method -> float [runs[method], games, S], periodic scores (empty when S is 0).
    """

    normalization: str
    games: tuple[str, ...]
    runs: dict[str, int]
    scores: dict[str, np.ndarray]
    steps: np.ndarray
    curves: dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class RliableResults:
    """Aggregates of one setting.

    Attributes:
        matrices: the inputs.
        point: method -> float [4], IQM, median, mean and optimality gap (``metrics.AGGREGATE_NAMES``).
        ci: method -> float [2, 4], their intervals.
        taus: float [K], performance-profile thresholds.
        profiles: method -> float [K], fraction of runs scoring above each threshold.
        profile_ci: method -> float [2, K].
        improvement: method -> (P(method > baseline), float [2] interval); empty without a baseline.
        curve_point: method -> float [S], IQM at each of ``matrices.steps``.
        curve_ci: method -> float [2, S].
    """

    matrices: ScoreMatrices
    point: dict[str, np.ndarray]
    ci: dict[str, np.ndarray]
    taus: np.ndarray
    profiles: dict[str, np.ndarray]
    profile_ci: dict[str, np.ndarray]
    improvement: dict[str, tuple[float, np.ndarray]]
    curve_point: dict[str, np.ndarray]
    curve_ci: dict[str, np.ndarray]


def periodic_means(job: Job, eval_interval: int | None) -> dict[int, float]:
    """Mean periodic return by env step, steps snapped to the protocol's evaluation grid.

    Agents report an evaluation at the step where the count crossed a multiple of the interval,
    which lands a few steps past it depending on how many envs step together.
    """
    snap = (lambda s: int(round(s / eval_interval)) * eval_interval) if eval_interval else int
    return {snap(step): float(r.mean()) for step, r in job.periodic.items()}


def _distinct(reference: GameScore, random: GameScore) -> bool:
    """The reference's score is beyond noise of random's: random's mean is outside its 95% interval
    (with one seed, and so no interval, the two means differ)."""
    if np.isnan(reference.ci_low):
        return reference.mean != random.mean
    return not reference.ci_low <= random.mean <= reference.ci_high


def _reference_normalisation(table: SettingTable, common: list[str], reference: str | None):
    """(games, norm, note) of the reference normalisation, or (None, None, why not)."""
    reference = reference or table.baseline
    if reference is None or reference not in table.methods:
        known = f"; methods here: {', '.join(table.methods)}" if reference else ""
        return None, None, f"no common game has a human reference and the reference method {reference!r} has no results{known}"
    if reference == RANDOM_AGENT:
        others = [m for m in table.methods if m != RANDOM_AGENT]
        hint = f" (e.g. --reference {others[0]})" if others else ""
        return None, None, f"the reference is {RANDOM_AGENT!r} itself, which scores 0 by definition: pass another method as --reference{hint}"
    if RANDOM_AGENT not in table.methods:
        return None, None, f"no common game has a human reference, and there are no {RANDOM_AGENT!r} results to normalise by (run --agent {RANDOM_AGENT})"
    games, left_out = [], []
    for g in common:
        ok = _distinct(table.cells[reference, g], table.cells[RANDOM_AGENT, g])
        (games if ok else left_out).append(g)
    if not games:
        return None, None, f"{reference}'s score is within noise of {RANDOM_AGENT}'s on every common game, so no normalisation is meaningful"
    low = {g: table.cells[RANDOM_AGENT, g].mean for g in games}
    span = {g: table.cells[reference, g].mean - low[g] for g in games}
    norm = lambda game, x: (np.asarray(x, dtype=np.float64) - low[game]) / span[game]  # noqa: E731
    note = f"(score - {RANDOM_AGENT}) / ({reference} - {RANDOM_AGENT}), both measured in these results"
    if left_out:
        note += f"; {', '.join(left_out)} left out: {reference} within noise of {RANDOM_AGENT}"
    return games, norm, note


def score_matrices(table: SettingTable, eval_interval: int | None, reference: str | None = None) -> tuple[ScoreMatrices | None, str]:
    """Collects a table's normalised scores on the games every method has.

    Args:
        table: one setting's table.
        eval_interval: the protocol's periodic evaluation interval in env steps (None: steps as logged).
        reference: the method whose score is 1 of the reference normalisation (None: the baseline).

    Returns:
        (matrices, note): matrices is None when no aggregate can be formed; note says why, or
        which games and normalisation were used.
    """
    common = [g for g in table.games if all((m, g) in table.cells for m in table.methods)]
    if not common:
        return None, "no game has results from every method, so no aggregate compares them"
    games = [g for g in common if get_game(g).has_human_reference]
    reference_note = ""
    if games:
        normalization = "human"
        norm = human_normalized
    else:
        normalization = "reference"
        games, norm, reference_note = _reference_normalisation(table, common, reference)
        if games is None:
            return None, reference_note
    runs = {m: min(table.cells[m, g].seeds for g in games) for m in table.methods}
    chosen = {(m, g): table.cells[m, g].jobs[: runs[m]] for m in table.methods for g in games}
    scores = {m: np.stack([norm(g, [j.score for j in chosen[m, g]]) for g in games], axis=1) for m in table.methods}
    periodic = {key: [periodic_means(j, eval_interval) for j in jobs] for key, jobs in chosen.items()}
    steps = sorted(set.intersection(*(set(p) for ps in periodic.values() for p in ps)))
    curves = {}
    if steps:
        for m in table.methods:
            per_game = [norm(g, [[p[s] for s in steps] for p in periodic[m, g]]) for g in games]
            curves[m] = np.stack(per_game, axis=1)
    skipped = [g for g in common if g not in games]
    counts = sorted(set(runs.values()))
    on_games = f"{normalization}-normalised scores on {len(games)} game{'s' if len(games) != 1 else ''}"
    if len(counts) == 1:
        note = f"{on_games} x {counts[0]} runs"
    else:
        per_method = ", ".join(f"{m} {n}" for m, n in runs.items())
        note = f"{on_games} x runs per method ({per_method})"
    if reference_note:
        note += f": {reference_note}"
    elif skipped:
        note += f" ({', '.join(skipped)} left out: no human reference)"
    single = [m for m, n in runs.items() if n == 1]
    if single:
        one = len(single) == 1
        note += f"; {', '.join(single)} {'has' if one else 'have'} one run, so {'its' if one else 'their'} intervals are a single point"
    return ScoreMatrices(normalization, tuple(games), runs, scores, np.array(steps, dtype=np.int64), curves), note


def _rliable_point(scores: np.ndarray) -> np.ndarray:
    return np.array(
        [
            rly.aggregate_iqm(scores),
            rly.aggregate_median(scores),
            rly.aggregate_mean(scores),
            rly.aggregate_optimality_gap(scores),
        ]
    )


def rliable_results(matrices: ScoreMatrices, baseline: str | None, config: AggregateConfig) -> RliableResults:
    """Estimates every aggregate of ``matrices`` with stratified bootstrap intervals.

    Args:
        matrices: normalised scores (see ``score_matrices``).
        baseline: the method whose improvement probabilities are reported, or None.
        config: replicates, seed, coverage and profile resolution.

    Returns:
        The aggregates.
    """
    rng = np.random.default_rng(config.seed)
    reps, conf = config.reps, config.confidence
    point, ci = {}, {}
    for m, s in matrices.scores.items():
        point[m] = _rliable_point(s)
        ci[m] = bootstrap.interval(s, batched.aggregates, reps, rng, conf)
    everything = np.concatenate([s.ravel() for s in matrices.scores.values()])
    taus = np.linspace(min(0.0, everything.min()), max(everything.max(), 1.0), config.profile_points)
    profile = lambda b: batched.score_distribution(b, taus)  # noqa: E731
    profiles = {m: profile(s[None])[0] for m, s in matrices.scores.items()}
    profile_ci = {m: bootstrap.interval(s, profile, reps, rng, conf, per_rep=len(taus)) for m, s in matrices.scores.items()}
    improvement = {}
    if baseline is not None:
        y = matrices.scores[baseline]
        for m, x in matrices.scores.items():
            if m != baseline:
                p = float(rly.probability_of_improvement(x, y))
                improvement[m] = (p, bootstrap.paired_interval(x, y, batched.probability_of_improvement, reps, rng, conf))
    curve_point = {m: batched.iqm_curve(c[None])[0] for m, c in matrices.curves.items()}
    curve_ci = {m: bootstrap.interval(c, batched.iqm_curve, reps, rng, conf) for m, c in matrices.curves.items()}
    return RliableResults(matrices, point, ci, taus, profiles, profile_ci, improvement, curve_point, curve_ci)
