"""Reading results trees written by ``xtra-bench run`` into plain records.

A results tree is ``RUNS_DIR/protocol.json`` plus one directory per job,
``jobs/<agent>/<target>/seed-<s>/`` holding ``config.json``, ``evals.jsonl``, ``metrics.jsonl`` and,
once the job is complete, ``DONE``. Only complete jobs are read; the others are counted so the
report can say how many were left out. A job's score is the mean of its "final" evaluation rows.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from xtra_bench.errors import ConfigError
from xtra_bench.presets import overrides_label

ETA_PREFIX = "eta/"
COSINE_PREFIX = "cos/"


@dataclasses.dataclass(frozen=True)
class Job:
    """One finished (agent, target, seed) run.

    Attributes:
        agent: the registry name of the agent.
        target: the target game.
        seed: the training seed.
        split: the split name from the job's config ("shooter", "diverse-4", "custom", ...).
        pretrain: the pretraining games, in order.
        overrides: the agent's config overrides (``xtra-bench run --set``), as JSON values; empty without.
        protocol_hash: the hash of the protocol the job ran under.
        path: the job directory.
        final_returns: float64 [episodes], the returns of the final evaluation.
        periodic: env step -> float64 [episodes], the returns of each periodic evaluation.
        etas: offline game -> float64 [K, 2] rows of (env step, eta) from metrics.jsonl.
        cosines: offline game -> float64 [K, 2] rows of (env step, gradient cosine with the target).
        training: float64 [K, 3] rows of (env step, games finished since the previous row, their
            mean raw score), one per metrics.jsonl row in which a training game ended.
    """

    agent: str
    target: str
    seed: int
    split: str
    pretrain: tuple[str, ...]
    overrides: dict
    protocol_hash: str
    path: Path
    final_returns: np.ndarray
    periodic: dict[int, np.ndarray]
    etas: dict[str, np.ndarray]
    cosines: dict[str, np.ndarray]
    training: np.ndarray

    @property
    def score(self) -> float:
        """The job's score: the mean return of its final evaluation."""
        return float(np.mean(self.final_returns))


@dataclasses.dataclass(frozen=True)
class ResultsStore:
    """Every finished job of one or more results trees.

    Attributes:
        roots: the results trees read, in the order given.
        protocols: root -> protocol hash (from its protocol.json).
        protocol: the protocol dict (``Protocol.to_json()``) of the first root.
        jobs: every finished job with at least one final evaluation row.
        skipped: (job directory, reason) for every job left out.
    """

    roots: tuple[Path, ...]
    protocols: dict[str, str]
    protocol: dict
    jobs: tuple[Job, ...]
    skipped: tuple[tuple[str, str], ...]

    @property
    def hashes(self) -> tuple[str, ...]:
        """Every protocol hash of the roots and their jobs, sorted."""
        return tuple(sorted({j.protocol_hash for j in self.jobs if j.protocol_hash} | set(self.protocols.values())))


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    raise ConfigError(f"{path}:{number} is not valid JSON; the results tree is damaged") from None
                if not isinstance(rows[-1], dict):
                    raise ConfigError(f"{path}:{number} is not a JSON object; the results tree is damaged")
    return rows


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(f"{path} is not valid JSON; the results tree is damaged") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object; the results tree is damaged")
    return data


def _read_job(path: Path, config: dict) -> Job:
    try:
        return _parse_job(path, config)
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path} does not follow the results layout ({type(exc).__name__}: {exc}); the results tree is damaged"
        ) from None


def _parse_job(path: Path, config: dict) -> Job:
    evals = _read_jsonl(path / "evals.jsonl")
    final = np.array([r["return"] for r in evals if r.get("kind") == "final"], dtype=np.float64)
    returns = np.array([r["return"] for r in evals if r.get("kind") in ("final", "periodic")], dtype=np.float64)
    if not np.isfinite(returns).all():
        raise ConfigError(f"{path / 'evals.jsonl'} holds a return that is not a finite number; the results tree is damaged")
    periodic: dict[int, list[float]] = {}
    for r in evals:
        if r.get("kind") == "periodic":
            periodic.setdefault(int(r["step"]), []).append(float(r["return"]))
    etas: dict[str, list[tuple[float, float]]] = {}
    cosines: dict[str, list[tuple[float, float]]] = {}
    training: list[tuple[float, float, float]] = []
    for r in _read_jsonl(path / "metrics.jsonl"):
        for key, value in r.items():
            for prefix, series in ((ETA_PREFIX, etas), (COSINE_PREFIX, cosines)):
                if key.startswith(prefix):
                    series.setdefault(key[len(prefix) :], []).append((float(r["step"]), float(value)))
        if r.get("train/episodes") and "train/episode_return" in r:
            training.append((float(r["step"]), float(r["train/episodes"]), float(r["train/episode_return"])))
    return Job(
        agent=config["agent"],
        target=config["target"],
        seed=int(config["seed"]),
        split=config.get("split") or "custom",
        pretrain=tuple(config.get("pretrain") or ()),
        overrides=dict(config.get("overrides") or {}),
        protocol_hash=config.get("protocol_hash", ""),
        path=path,
        final_returns=final,
        periodic={step: np.array(v) for step, v in sorted(periodic.items())},
        etas={game: np.array(rows, dtype=np.float64) for game, rows in etas.items()},
        cosines={game: np.array(rows, dtype=np.float64) for game, rows in cosines.items()},
        training=np.array(training, dtype=np.float64).reshape(-1, 3),
    )


def _job_dirs(root: Path) -> Iterable[Path]:
    return sorted(p for p in (root / "jobs").glob("*/*/seed-*") if p.is_dir())


def load_results(roots: Sequence[str | Path], allow_mixed: bool = False) -> ResultsStore:
    """Reads the finished jobs of every results tree in ``roots``.

    Args:
        roots: results trees (directories holding protocol.json and jobs/).
        allow_mixed: aggregate jobs run under different protocols instead of refusing.

    Returns:
        The store of finished jobs.

    Raises:
        ConfigError: a root is not a results tree, protocols differ (without ``allow_mixed``), the
            same (agent, split, target, seed) appears twice, or no finished job exists.
    """
    paths = tuple(Path(r) for r in roots)
    protocols: dict[str, str] = {}
    protocol: dict = {}
    for root in paths:
        marker = root / "protocol.json"
        if not marker.is_file():
            raise ConfigError(f"{root} is not a results tree (no protocol.json); give the --out directory of `xtra-bench run`")
        data = _read_json(marker)
        if not isinstance(data.get("hash"), str):
            raise ConfigError(f"{marker} has no protocol hash; the results tree is damaged")
        protocols[str(root)] = data["hash"]
        protocol = protocol or data.get("protocol", {})
    places: dict[str, set[str]] = {}  # protocol hash -> results trees and jobs that carry it
    for root, hash_ in protocols.items():
        places.setdefault(hash_, set()).add(root)
    jobs: list[Job] = []
    skipped: list[tuple[str, str]] = []
    for root in paths:
        for path in _job_dirs(root):
            if not (path / "DONE").exists():
                skipped.append((str(path), "not finished (no DONE)"))
                continue
            if not (path / "config.json").is_file():
                skipped.append((str(path), "DONE but no config.json"))
                continue
            job = _read_job(path, _read_json(path / "config.json"))
            if job.final_returns.size == 0:
                skipped.append((str(path), "DONE but no final evaluation rows"))
                continue
            if job.protocol_hash and job.protocol_hash != protocols[str(root)]:
                places.setdefault(job.protocol_hash, set()).add(str(path))
            jobs.append(job)
    if len(places) > 1 and not allow_mixed:
        where = "; ".join(f"{h} in {', '.join(sorted(p))}" for h, p in sorted(places.items()))
        raise ConfigError(
            f"results come from {len(places)} different protocols ({where}); pass --allow-mixed to aggregate them anyway"
        )
    seen: dict[tuple, Path] = {}
    for job in jobs:
        key = (job.agent, json.dumps(job.overrides, sort_keys=True), job.split, job.target, job.seed)
        if key in seen:
            with_overrides = f" [{overrides_label(job.overrides)}]" if job.overrides else ""
            raise ConfigError(
                f"{job.agent}{with_overrides} on {job.target} ({job.split}) seed {job.seed} appears twice: {seen[key]} and {job.path}"
            )
        seen[key] = job.path
    if not jobs:
        raise ConfigError(
            f"no finished job under {', '.join(map(str, paths))} (expected jobs/<agent>/<target>/seed-<s>/ with DONE)"
        )
    return ResultsStore(paths, protocols, protocol, tuple(jobs), tuple(skipped))
