"""A dataset's card: the Markdown page published beside its file (``<stem>.md``), written from the file itself.

Everything on the card is read from the dataset and its targets files through ``show.summarise``
(counts, returns, each behaviour policy's games and returns, each teacher's search settings), so a
card cannot disagree with the bytes it describes. Only the limits paragraph is the author's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xtra_bench.data.dataset import Dataset
from xtra_bench.data.show import summarise

ROWS_NOTE = """Rows follow format v1: row t holds the frame before action t, action t and the raw reward after it;
an episode's last row holds its final frame with action -1. Rewards are raw (clip them with
`SamplerConfig.clip_rewards`); life losses are flags, terminal only when `life_loss_terminal` is set."""


def _number(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def behaviour_line(collector: dict[str, Any]) -> str:
    """One phrase naming who played the games, from the collector attribute."""
    envs = f", {collector['envs']} envs" if collector.get("envs") else ""
    seed = f", seed {collector['seed']}" if "seed" in collector else ""
    if "recipe" in collector:
        policies = collector.get("policies") or []
        return (
            f"{len(policies)} checkpoints of one EfficientZero run (`{collector.get('preset')}` preset,"
            f" {collector.get('env_steps')} agent steps, a checkpoint every {collector.get('checkpoint_every')} updates),"
            f" {collector.get('episodes_per_checkpoint')} greedy games each (`xtra-bench collect --recipe {collector['recipe']}`){seed}"
        )
    agents = sorted({str(p.get("agent")) for p in collector.get("policies") or []})
    if agents == ["random"]:
        return f"uniformly random (`xtra-bench collect --policy random`){seed}{envs}"
    greedy = {bool(p.get("greedy")) for p in collector.get("policies") or []}
    mode = "greedy" if greedy == {True} else "sampled" if greedy == {False} else "greedy and sampled"
    return f"{', '.join(agents) or 'not recorded'} ({mode}){seed}{envs}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]


def dataset_card(dataset: Dataset, targets: list[Path] | None = None, *, limits: str = "") -> str:
    """The card of ``dataset`` (a whole file) and its targets files, as Markdown.

    Args:
        dataset: the dataset to describe.
        targets: its targets files (default: those beside it, by name; see ``show.find_targets_files``).
        limits: the author's paragraph on what the data is not fit for (omitted when empty).
    """
    s = summarise(dataset, targets)
    header = dataset.header
    compression = header.compression
    codec = compression.get("filter", "none") + (f" level {compression['level']}" if compression.get("level") is not None else "")
    rows = [
        ["game", f"{s['game']} ({header.suite})"],
        ["episodes", f"{s['episodes']} (lengths {_number(s['length']['min'])}-{_number(s['length']['max'])} steps)"],
        ["transitions", f"{s['steps']} ({header.num_rows} rows)"],
        ["raw returns", f"mean {s['return']['mean']:.1f}, min {_number(s['return']['min'])}, max {_number(s['return']['max'])}"],
        ["frame", f"uint8 {list(s['frame_shape'])}, one frame per row (stack at sample time)"],
        ["action set", f"{list(dataset.action_set)} (ids in the shared 18-action space)"],
        ["behaviour policy", behaviour_line(header.collector)],
        ["format", f"xtra-bench dataset format v{header.format_version}, {codec}"],
        ["license", str(header.attrs.get("license", "not recorded"))],
        ["sha256", f"`{dataset.sha256}`"],
    ]
    lines = [f"# {s['id']}", "", str(header.attrs.get("description", "")).strip(), "", *_table(["", ""], rows), ""]
    if len(s["policies"]) > 1 or "recipe" in header.collector:
        lines += ["## Behaviour policies", ""]
        policy_rows = []
        for p in s["policies"]:
            r = p["return"]
            policy_rows.append(
                [str(p["policy_id"]), p["description"], str(p["episodes"]), str(p["steps"]),
                 f"{r['mean']:.2f} ± {r['std']:.2f}", _number(r["min"]), _number(r["max"])]  # fmt: skip
            )
        lines += [*_table(["policy", "checkpoint", "games", "steps", "return (mean ± sd)", "min", "max"], policy_rows), ""]
    if s["targets"]:
        lines += ["## Teacher targets", ""]
        teacher_rows = []
        for t in s["targets"]:
            search = ", ".join(f"{k}={v}" for k, v in sorted(t["search"].items()))
            entropy, value = t["policy_entropy"], t["root_value"]
            teacher_rows.append(
                [f"`{Path(t['path']).name}`", t["teacher_id"], f"`{t['checkpoint_sha256'][:12]}`", search,
                 f"{entropy['mean']:.2f} of {entropy['max_possible']:.2f}", f"{value['mean']:.2f} ± {value['std']:.2f}"]  # fmt: skip
            )
        header_row = ["file", "teacher", "weights sha256", "search", "policy entropy (nats)", "root value (mean ± sd)"]
        lines += [*_table(header_row, teacher_rows), ""]
    settings = ", ".join(f"{k}={v}" for k, v in sorted(header.env_settings.items()))
    lines += ["## Environment", f"- settings: {settings}", ""]
    lines += [
        "## Use",
        "```python",
        "from xtra_bench.data import load_dataset, Sampler, SamplerConfig",
        "",
        f'dataset = load_dataset("{s["id"]}", download=True)',
        "batch = Sampler(dataset, SamplerConfig(batch_size=32)).sample()",
        "```",
        "",
        ROWS_NOTE,
    ]
    if limits.strip():
        lines += ["", "## Limits", limits.strip()]
    return "\n".join(lines) + "\n"
