"""``xtra-bench report``: turns results trees into tables, rliable aggregates, figures and HTML."""

from __future__ import annotations

from pathlib import Path

import click

from xtra_bench.errors import ConfigError, UnknownNameError, closest_match_hint


@click.command("report")
@click.argument(
    "runs_dirs", nargs=-1, required=True, metavar="RUNS_DIR...", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--out", type=click.Path(path_type=Path), help="Report folder (default: RUNS_DIR/report of the first RUNS_DIR).")
@click.option("--baseline", default="efficientzero", show_default=True, help="Agent that improvements are measured against.")
@click.option(
    "--reps", type=click.IntRange(min=1), default=50_000, show_default=True, help="Stratified bootstrap replicates per interval."
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the bootstrap's random generator."
)
@click.option(
    "--reference",
    help="Method scoring 1 where games have no human reference (MinAtar), the random agent scoring 0  [default: the baseline]",
)
@click.option("--allow-mixed", is_flag=True, help="Aggregate results run under different protocols (refused by default).")
@click.option("--force", is_flag=True, help="Replace an existing report folder.")
@click.pass_context
def report_command(
    ctx: click.Context,
    runs_dirs: tuple[Path, ...],
    out: Path | None,
    baseline: str,
    reference: str | None,
    reps: int,
    seed: int,
    allow_mixed: bool,
    force: bool,
) -> None:
    """Write report.md, index.html, scores.csv, summary.json and figures for RUNS_DIR... .

    Per-game scores with 95% CIs beside the paper's published numbers, improvement over the
    baseline per category (the paper's Table 1), human-normalised mean and median (Table 2), rliable
    aggregates with stratified bootstrap CIs, performance profiles, probability of improvement,
    sample-efficiency curves and XTRA's task weights.

    Example: xtra-bench report runs/demo --out runs/demo/report --reps 2000
    """
    from xtra_bench.report.aggregates import AggregateConfig
    from xtra_bench.report.build import ReportConfig, build_report
    from xtra_bench.report.output import check_destination, write_report
    from xtra_bench.report.scores import method_label
    from xtra_bench.report.store import load_results

    out = out if out is not None else runs_dirs[0] / "report"
    check_destination(out, force)
    store = load_results(runs_dirs, allow_mixed=allow_mixed)
    agents = sorted({j.agent for j in store.jobs} | {method_label(j.agent, j.split, j.overrides) for j in store.jobs})
    if baseline not in agents and ctx.get_parameter_source("baseline") != click.core.ParameterSource.DEFAULT:
        raise UnknownNameError(
            f"no results of baseline {baseline!r}.{closest_match_hint(baseline, agents)} Agents with results: {', '.join(agents)}"
        )
    if reference is not None and reference not in agents:
        raise UnknownNameError(
            f"no results of reference {reference!r}.{closest_match_hint(reference, agents)} Agents with results: {', '.join(agents)}"
        )
    if out.resolve() in {r.resolve() for r in runs_dirs}:
        raise ConfigError(f"--out {out} is a results tree; write the report to a folder of its own")
    config = ReportConfig(baseline=baseline, reference=reference, aggregate=AggregateConfig(reps=reps, seed=seed))
    report = build_report(store, config)
    index = write_report(report, out, force=force)
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(
        f"{len(store.jobs)} jobs, {len(report.settings)} setting(s): {', '.join(s.table.setting for s in report.settings)}"
    )
    click.echo(f"Report: {index}")
