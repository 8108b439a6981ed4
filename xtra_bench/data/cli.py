"""The ``datasets`` command group and the ``collect`` command; each delegates to a library module."""

from __future__ import annotations

import json
from pathlib import Path

import click

from xtra_bench.cli_options import echo_json, json_option
from xtra_bench.data.recipe import RECIPES


@click.group("datasets")
def datasets_group() -> None:
    """List, inspect, verify, download, publish and delete offline datasets.

    The registry is $XTRA_BENCH_REGISTRY or the manifest bundled with the package; downloads go to
    $XTRA_BENCH_DATA (default: the XDG cache dir).
    """


@datasets_group.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """List the registry's datasets and whether each is downloaded.

    Example: xtra-bench datasets list --json
    """
    from xtra_bench.data.registry import Registry
    from xtra_bench.data.store import list_datasets

    rows = list_datasets(Registry.load())
    if as_json:
        echo_json(rows)
        return
    click.echo(f"{'id':<44}{'episodes':>9}{'steps':>9}{'MB':>9}  cached")
    for r in rows:
        click.echo(f"{r['id']:<44}{r['episodes']:>9}{r['steps']:>9}{r['bytes'] / 1e6:>9.2f}  {'yes' if r['cached'] else 'no'}")


@datasets_group.command("info")
@click.argument("id_or_path")
@json_option
def info_command(id_or_path: str, as_json: bool) -> None:
    """Show a dataset's metadata: a cached id, a file, or (not yet downloaded) the registry's entry.

    Example: xtra-bench datasets info xtra/MinAtar-Breakout/random-v1
    """
    from xtra_bench.data.dataset import Dataset
    from xtra_bench.data.errors import DatasetError
    from xtra_bench.data.registry import Registry, looks_like_id
    from xtra_bench.data.store import resolve

    try:
        path, _ = resolve(id_or_path)
        info = Dataset(path).info()
    except DatasetError:
        if not looks_like_id(id_or_path) or Path(id_or_path).exists():
            raise
        info = {**Registry.load().get(id_or_path).to_json(), "cached": False}
    if as_json:
        echo_json(info)
        return
    for key, value in info.items():
        text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
        click.echo(f"{key:<16}{text}")


@datasets_group.command("show")
@click.argument("id_or_path")
@click.option("--targets", "targets", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A targets file to summarise (default: the targets files beside the dataset). Repeatable.")
@click.option("--limit", default=20, show_default=True, help="Episodes listed (0: all).")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), help="Write a picture of an episode: a strip of its frames over its score (and teacher value).")
@click.option("--episode", default=0, show_default=True, help="The episode drawn by --png (a position in the dataset).")
@click.option("--frames", "num_frames", default=8, show_default=True, help="Frames in the --png strip.")
@click.option("--force", is_flag=True, help="Replace an existing --png file.")
@json_option
def show_command(
    id_or_path: str, targets: tuple[Path, ...], limit: int, png: Path | None, episode: int, num_frames: int, force: bool, as_json: bool
) -> None:
    """Show a dataset's episodes (returns, lengths, policy ids), its policies and its teacher targets.

    A downloaded id or a file. Targets files named <stem>.targets-<teacher>.hdf5 beside the
    dataset are summarised (policy entropy, root values) unless --targets names others.

    Example: xtra-bench datasets show xtra/Breakout/random-sample-v1 --png breakout.png
    """
    from xtra_bench.data.dataset import Dataset
    from xtra_bench.data.show import frame_strip, summarise
    from xtra_bench.data.store import resolve

    if png is not None and png.exists() and not force:
        raise click.ClickException(f"{png} exists; pass --force to replace it")
    path, _ = resolve(id_or_path)
    dataset = Dataset(path)
    summary = summarise(dataset, list(targets) or None)
    if png is not None:
        drawn_targets = Path(summary["targets"][0]["path"]) if summary["targets"] else None
        summary["png"] = str(frame_strip(dataset, png, episode=episode, frames=num_frames, targets=drawn_targets))
    if as_json:
        echo_json(summary)
        return
    _print_summary(summary, limit)


@datasets_group.command("card")
@click.argument("id_or_path")
@click.option("--targets", "targets", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A targets file to describe (default: the targets files beside the dataset). Repeatable.")
@click.option("--limits", default="", help="The card's Limits paragraph: what the data is not fit for.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the card here (publish takes <stem>.md beside the dataset); default: print it.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
def card_command(id_or_path: str, targets: tuple[Path, ...], limits: str, out: Path | None, force: bool) -> None:
    """Write a dataset's card (Markdown) from the file: counts, returns, each policy, each teacher.

    Example: xtra-bench datasets card MinAtar-Breakout.hdf5 --out MinAtar-Breakout.md
    """
    from xtra_bench.data.card import dataset_card
    from xtra_bench.data.dataset import Dataset
    from xtra_bench.data.integrity import atomic_write_bytes
    from xtra_bench.data.store import resolve

    if out is not None and out.exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to replace it")
    path, _ = resolve(id_or_path)
    text = dataset_card(Dataset(path), list(targets) or None, limits=limits)
    if out is None:
        click.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, text.encode())
    click.echo(f"wrote {out}")


def _print_summary(summary: dict, limit: int) -> None:
    length, ret = summary["length"], summary["return"]
    click.echo(f"{summary['id']}  ({summary['path']})")
    click.echo(
        f"{summary['game']}: {summary['episodes']} episodes, {summary['steps']} steps, frames {summary['frame_shape']},"
        f" {summary['num_actions']} actions"
    )
    click.echo(
        f"length mean {length['mean']:.1f} (min {length['min']:g}, max {length['max']:g});"
        f" return mean {ret['mean']:.2f} (min {ret['min']:g}, max {ret['max']:g})"
    )
    click.echo("\npolicies")
    click.echo(f"  {'id':>4}{'episodes':>10}{'steps':>10}{'return':>10}  description")
    for p in summary["policies"]:
        click.echo(f"  {p['policy_id']:>4}{p['episodes']:>10}{p['steps']:>10}{p['return']['mean']:>10.2f}  {p['description']}")
    for t in summary["targets"]:
        e, v = t["policy_entropy"], t["root_value"]
        click.echo(f"\ntargets of teacher {t['teacher_id']} ({t['path']})")
        click.echo(
            f"  policy entropy  mean {e['mean']:.3f} nats (std {e['std']:.3f}, min {e['min']:.3f}, max {e['max']:.3f};"
            f" uniform {e['max_possible']:.3f})"
        )
        click.echo(f"  root value      mean {v['mean']:.3f} (std {v['std']:.3f}, min {v['min']:.3f}, max {v['max']:.3f})")
    rows = summary["episode_rows"]
    shown = rows if limit <= 0 else rows[:limit]
    extra = [k for k in (shown[0] if shown else {}) if "." in k]
    click.echo("\nepisodes")
    header = f"  {'episode':>8}{'length':>8}{'return':>10}{'lives lost':>11}  {'ended':<10}{'policy ids':<12}"
    click.echo(header + "".join(f"{k:>22}" for k in extra))
    for r in shown:
        ids = ",".join(map(str, r["policy_ids"])) or "-"
        line = f"  {r['episode']:>8}{r['length']:>8}{r['return']:>10g}{r['life_losses']:>11}  {r['ended']:<10}{ids:<12}"
        click.echo(line + "".join(f"{r[k]:>22.3f}" for k in extra))
    if len(shown) < len(rows):
        click.echo(f"  ... {len(rows) - len(shown)} more (--limit 0 lists all)")
    if "png" in summary:
        click.echo(f"\nwrote {summary['png']}")


@datasets_group.command("verify")
@click.argument("id_or_path")
@click.option("--targets", type=click.Path(path_type=Path), help="Also check that this targets file labels the dataset.")
def verify_command(id_or_path: str, targets: Path | None) -> None:
    """Recompute a dataset's sha256, validate its schema and episodes (and a targets file).

    Example: xtra-bench datasets verify runs/breakout.hdf5 --targets runs/breakout.targets-t0.hdf5
    """
    from xtra_bench.data.store import verify

    report = verify(id_or_path, targets=targets)
    labelled = f"; targets of teacher {report.targets} match" if report.targets else ""
    click.echo(
        f"OK {report.path}: sha256 {report.sha256} ({report.reference}),"
        f" {report.episodes} episodes, {report.steps} steps{labelled}"
    )


@datasets_group.command("download")
@click.argument("ids", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Download again even when cached (the old copy stays until the new one is verified).")
def download_command(ids: tuple[str, ...], force: bool) -> None:
    """Download datasets into the cache, verifying each file's sha256 first.

    Example: xtra-bench datasets download xtra/MinAtar-Breakout/random-v1
    """
    from xtra_bench.data.download import download
    from xtra_bench.data.registry import Registry
    from xtra_bench.errors import XtraBenchError

    registry = Registry.load()
    problems = []
    for dataset_id in ids:
        try:
            registry.get(dataset_id)
        except XtraBenchError as exc:
            problems.append(str(exc))
    if problems:
        raise click.ClickException(" ".join(problems))
    for dataset_id in ids:
        path = download(dataset_id, registry=registry, force=force, progress=True)
        click.echo(f"{dataset_id} -> {path}")


@datasets_group.command("publish")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--base-url", help="Where DIRECTORY is served: https://..., file://..., hf://owner/repo@rev (only writes the manifest).")
@click.option("--to", "to", help="Upload DIRECTORY to a Hub repo, hf://<owner>/<repo>@<revision>[/<folder>], then write the manifest.")
@click.option("--endpoint", help="With --to: the Hub's URL [default: $HF_ENDPOINT or huggingface.co].")
@click.option("--token", help="With --to: a write token [default: $HF_TOKEN or the saved login].")
@click.option("--create", is_flag=True, help="With --to: create the repo and the revision's branch if missing.")
@click.option("--message", help="With --to: the commit message.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Manifest to write [default: DIRECTORY/manifest.json].")
@click.option("--force", is_flag=True, help="Overwrite an existing manifest.")
@click.option("--merge", is_flag=True, help="With --base-url: update the existing manifest --out, replacing the entries of DIRECTORY's ids and keeping the rest.")
def publish_command(
    directory: Path,
    base_url: str | None,
    to: str | None,
    endpoint: str | None,
    token: str | None,
    create: bool,
    message: str | None,
    out: Path | None,
    force: bool,
    merge: bool,
) -> None:
    """Write a manifest listing every finished dataset (and its targets and cards) under DIRECTORY.

    With --base-url the files stay where they are served; with --to they and the manifest are
    uploaded to a Hugging Face Hub repo in one commit, and the manifest (hf:// URLs, sha256 and
    size of each file) is written once the commit has landed.

    With --merge the manifest --out is updated: DIRECTORY's datasets replace the entries of their
    ids and every other entry stays.

    Examples: xtra-bench datasets publish /srv/xtra-data --base-url https://data.example.org/xtra;
    xtra-bench datasets publish /srv/xtra-data --to hf://lab/xtra-data@v1 --create;
    xtra-bench datasets publish more-data --base-url file://more-data --out manifest.json --merge
    """
    if (base_url is None) == (to is None):
        raise click.UsageError("give exactly one of --base-url and --to")
    if to is None and (endpoint or token or create or message):
        raise click.UsageError("--endpoint, --token, --create and --message go with --to")
    if merge and (to is not None or force):
        raise click.UsageError("--merge goes with --base-url, without --force")
    if to is not None:
        from xtra_bench.data.hub import publish_to_hub

        done = publish_to_hub(directory, to, out=out, force=force, endpoint=endpoint, token=token, create=create, message=message)
        click.echo(f"committed {len(done.uploaded)} file(s) to {to}: {done.commit_url} (commit {done.commit_oid})")
        click.echo(f"wrote {done.manifest}: {len(done.entries)} dataset(s)")
        return
    from xtra_bench.data.publish import publish

    path, entries = publish(directory, base_url, out=out, force=force, merge=merge)
    click.echo(f"{'updated' if merge else 'wrote'} {path}: {len(entries)} dataset(s) from {directory}")


@datasets_group.command("delete")
@click.argument("dataset_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(dataset_id: str, yes: bool) -> None:
    """Remove a downloaded dataset from the cache.

    Example: xtra-bench datasets delete xtra/MinAtar-Breakout/random-v1 --yes
    """
    from xtra_bench.data.registry import dataset_dir
    from xtra_bench.data.store import delete

    if not yes:
        click.confirm(f"Delete {dataset_dir(dataset_id)}?", abort=True)
    click.echo(f"deleted {delete(dataset_id)}")


@click.command("collect")
@click.option("--game", help="Catalog name (see `xtra-bench games`).")
@click.option("--policy", default="random", show_default=True, help="'random' or an agent checkpoint directory.")
@click.option("--steps", type=int, help="Stop after this many transitions (whole episodes).")
@click.option("--episodes", type=int, help="Stop after this many episodes.")
@click.option("--recipe", type=click.Choice(list(RECIPES)), help="Make a pretraining dataset by the paper's recipe instead (EfficientZero checkpoints of an online run).")
@click.option("--split", help="With --recipe: collect every pretraining game of this split.")
@click.option("--out", type=click.Path(path_type=Path), help="Dataset file to write (with --recipe: optional; a directory with --split).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--envs", default=1, show_default=True, type=int, help="Environments played side by side.")
@click.option("--id", "dataset_id", help="Dataset id to record (default: local/<game>/<agent>-v1, with --recipe local/<game>/ez-<recipe>-v1; with --split a template with {game}).")
@click.option("--description", default="", help="Free text stored in the file.")
@click.option("--license", "license_", default="CC-BY-4.0", show_default=True)
@click.option("--device", default="cpu", show_default=True, help="Torch device of a checkpoint policy (or of the recipe's agent).")
@click.option("--force", is_flag=True, help="Overwrite an existing file and discard an interrupted run.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def collect_command(recipe: str | None, split: str | None, **options) -> None:
    """Play the game's train-mode environment with a policy and write a dataset; rerun to resume.

    With --recipe, train EfficientZero online on the game, keep a checkpoint every 10k of its 120k
    updates (scaled down by `fast` and `smoke`) and play 64 games with each into one dataset; the
    files go to the data cache unless --out is given, where `xtra-bench pretrain` finds them.

    Examples: xtra-bench collect --game MinAtar-Breakout --episodes 20 --out breakout.hdf5;
    xtra-bench collect --split diverse --recipe paper --device cuda
    """
    if recipe is not None:
        _collect_recipe(recipe, split, options)
        return
    if split is not None:
        raise click.UsageError("--split goes with --recipe")
    if options["game"] is None or options["out"] is None:
        raise click.UsageError("give --game and --out (or --recipe)")
    from xtra_bench.data.collect import CollectConfig, collect
    from xtra_bench.data.dataset import Dataset

    options["license"] = options.pop("license_")
    path = collect(CollectConfig(**options))
    dataset = Dataset(path)
    click.echo(f"wrote {path}: {len(dataset)} episodes, {dataset.total_steps} steps, sha256 {dataset.sha256}")


def _collect_recipe(recipe: str, split: str | None, options: dict) -> None:
    from xtra_bench.data.dataset import Dataset
    from xtra_bench.data.recipe import collect_recipe, recipe_dataset_path
    from xtra_bench.protocol import get_split

    conflicting = [f"--{name}" for name in ("steps", "episodes") if options[name] is not None]
    conflicting += ["--policy"] if options["policy"] != "random" else []
    if conflicting:
        raise click.UsageError(f"--recipe decides the policy and the amount of data; drop {', '.join(conflicting)}")
    if (split is None) == (options["game"] is None):
        raise click.UsageError("with --recipe give exactly one of --game and --split")
    template = options["dataset_id"]
    if split is not None and template is not None and "{game}" not in template:
        raise click.UsageError("with --split, --id must contain {game} (e.g. 'xtra/{game}/ez-checkpoints-v1')")
    if split is not None:
        chosen = get_split(split)
        games = list(dict.fromkeys(g for pretrain in chosen.pretrain.values() for g in pretrain))
        outs = [None if options["out"] is None else options["out"] / f"{g}.hdf5" for g in games]
    else:
        games, outs = [options["game"]], [options["out"]]
    for game, out in zip(games, outs):
        existing = out if out is not None else recipe_dataset_path(game, recipe)
        if split is not None and existing.exists() and not options["force"]:
            click.echo(f"{game}: {existing} exists, skipped")
            continue
        dataset_id = None if template is None else template.replace("{game}", game)
        path = collect_recipe(game, recipe, out, dataset_id=dataset_id, seed=options["seed"], device=options["device"],
                              force=options["force"], progress=options["progress"])  # fmt: skip
        dataset = Dataset(path)
        click.echo(f"wrote {path}: {len(dataset)} episodes, {dataset.total_steps} steps, sha256 {dataset.sha256}")
