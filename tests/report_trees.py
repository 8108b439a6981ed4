"""Results trees built by hand, exactly as the results contract of ``xtra-bench run`` lays them out."""

from __future__ import annotations

import json
from pathlib import Path

from xtra_bench.protocol import Protocol


def write_protocol(root: Path, protocol: Protocol | None = None, hash_: str | None = None) -> str:
    """Writes RUNS_DIR/protocol.json and returns its hash."""
    protocol = protocol or Protocol()
    hash_ = hash_ or protocol.hash()
    root.mkdir(parents=True, exist_ok=True)
    (root / "protocol.json").write_text(json.dumps({"hash": hash_, "protocol": protocol.to_json()}))
    return hash_


def write_job(
    root: Path,
    agent: str,
    target: str,
    seed: int,
    final: list[float],
    *,
    split: str = "shooter",
    pretrain: tuple[str, ...] = (),
    periodic: dict[int, list[float]] | None = None,
    etas: dict[str, list[tuple[int, float]]] | None = None,
    cosines: dict[str, list[tuple[int, float]]] | None = None,
    training: list[tuple[int, int, float]] | None = None,
    done: bool = True,
    protocol_hash: str | None = None,
    method_dir: str | None = None,
) -> Path:
    """Writes jobs/<agent>/<target>/seed-<seed>/ with its config, evaluations, metrics and DONE.

    Args:
        final: returns of the final evaluation, one per episode.
        periodic: env step -> returns of that periodic evaluation.
        etas: offline game -> (env step, eta) logged in metrics.jsonl.
        cosines: offline game -> (env step, gradient cosine) logged in metrics.jsonl.
        training: (env step, training games finished since the last row, their mean score) rows.
        done: write the completion marker.
        protocol_hash: the job's protocol hash (default: the tree's protocol.json hash).
        method_dir: the directory under jobs/ (default: the agent; ``<agent>@<hash>`` with overrides).
    """
    job = root / "jobs" / (method_dir or agent) / target / f"seed-{seed}"
    job.mkdir(parents=True)
    hash_ = protocol_hash or json.loads((root / "protocol.json").read_text())["hash"]
    config = {
        "agent": agent, "target": target, "seed": seed, "split": split, "pretrain": list(pretrain), "preset": "smoke",
        "env_steps": 100_000, "eval_episodes": len(final), "protocol_hash": hash_, "agent_config": {},
    }  # fmt: skip
    (job / "config.json").write_text(json.dumps(config))
    rows = [
        {"step": s, "kind": "periodic", "episode": i, "return": r} for s, rs in (periodic or {}).items() for i, r in enumerate(rs)
    ]
    if done:
        rows += [{"step": 100_000, "kind": "final", "episode": i, "return": r} for i, r in enumerate(final)]
    (job / "evals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics = {}
    for prefix, series in (("eta", etas), ("cos", cosines)):
        for game, points in (series or {}).items():
            for step, value in points:
                metrics.setdefault(step, {"step": step, "loss": 1.0})[f"{prefix}/{game}"] = value
    for step, games, mean in training or ():
        metrics.setdefault(step, {"step": step, "loss": 1.0}).update({"train/episodes": games, "train/episode_return": mean})
    (job / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for _, m in sorted(metrics.items())))
    if done:
        (job / "DONE").write_text(json.dumps({"finished_at": "2024-01-01T00:00:00", "wall_seconds": 1.0}))
    return job


def write_report(tree: Path, out: Path, reps: int) -> str:
    """Runs ``xtra-bench report TREE --out OUT --reps REPS``, checks it succeeded, returns report.md."""
    from click.testing import CliRunner

    from xtra_bench.cli import main

    result = CliRunner().invoke(main, ["report", str(tree), "--out", str(out), "--reps", str(reps)])
    assert result.exit_code == 0, result.output
    return (out / "report.md").read_text()
