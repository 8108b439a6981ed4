"""What a dataset holds, for a person: its episodes, its behaviour policies, its teacher targets, a picture.

``summarise`` reads only the small columns (and the targets file), so it is quick on a paper-size
file; ``frame_strip`` reads just the frames it draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xtra_bench.data.dataset import Dataset
from xtra_bench.data.errors import DatasetError
from xtra_bench.data.format import FRAME, NO_ACTION, TARGETS_KIND, SMALL_COLUMNS
from xtra_bench.data.integrity import open_h5


def find_targets_files(dataset_path: Path) -> list[Path]:
    """Targets files beside a dataset (``<stem>.targets-<teacher>.hdf5``, the conventional names)."""
    dataset_path = Path(dataset_path)
    found = sorted(dataset_path.parent.glob(f"{dataset_path.stem}.targets-*.hdf5"))
    labelled = []
    for path in found:
        with open_h5(path) as h5:
            if h5.attrs.get("kind") == TARGETS_KIND:
                labelled.append(path)
    return labelled


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0}
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def policy_entropy(policy: np.ndarray) -> np.ndarray:
    """Entropy in nats of each row of a policy (float [N, A])."""
    p = np.clip(policy.astype(np.float64), 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return terms.sum(axis=1)


def _policy_names(collector: dict[str, Any]) -> dict[int, str]:
    names = {}
    for policy in collector.get("policies", []) or []:
        if not isinstance(policy, dict) or "id" not in policy:
            continue
        words = [str(policy.get("agent", "?"))]
        if policy.get("checkpoint"):
            words.append(f"checkpoint {Path(str(policy['checkpoint'])).name}")
        if policy.get("checkpoint_sha256"):
            words.append(f"sha256 {str(policy['checkpoint_sha256'])[:12]}")
        if policy.get("updates") is not None:
            words.append(f"after {policy['updates']} updates")
        names[int(policy["id"])] = ", ".join(words)
    return names


def summarise(dataset: Dataset, targets: list[Path] | None = None) -> dict[str, Any]:
    """A JSON-ready summary: the dataset, each episode, each behaviour policy, each targets file.

    Args:
        dataset: the view to describe (its episodes, in view order).
        targets: targets files of the dataset's file (default: those beside it, by name).

    Raises:
        DatasetError: a targets file that labels another dataset, or is unreadable.
    """
    from xtra_bench.data.targets import read_targets

    columns = dataset.read_columns(SMALL_COLUMNS)
    ranges = dataset.row_ranges()
    bounds = np.concatenate([[0], np.cumsum(ranges[:, 1] - ranges[:, 0])]).astype(np.int64)
    acting = ~columns["is_last"]
    targets = find_targets_files(dataset.path) if targets is None else [Path(t) for t in targets]
    loaded = [read_targets(path, dataset) for path in targets]
    file_rows = np.concatenate([np.arange(a, b) for a, b in ranges]) if len(ranges) else np.zeros(0, np.int64)
    per_teacher = [(t, policy_entropy(t.policy[file_rows]), t.root_value[file_rows]) for t in loaded]
    names = _policy_names(dataset.header.collector)

    episodes = []
    for i, episode_id in enumerate(dataset.episode_indices):
        lo, hi = bounds[i], bounds[i + 1]
        ids = columns["policy_id"][lo:hi]
        row = {
            "episode": int(episode_id),
            "length": int(hi - lo - 1),
            "return": float(columns["reward"][lo:hi].sum()),
            "life_losses": int(columns["life_loss"][lo:hi].sum()),
            "ended": "game over" if columns["is_terminal"][hi - 1] else "cut",
            "policy_ids": sorted(int(p) for p in np.unique(ids[ids != NO_ACTION])),
        }
        for t, entropy, value in per_teacher:
            moves = acting[lo:hi]
            row[f"{t.teacher_id}.entropy"] = float(entropy[lo:hi][moves].mean()) if moves.any() else 0.0
            row[f"{t.teacher_id}.root_value"] = float(value[lo:hi][moves].mean()) if moves.any() else 0.0
        episodes.append(row)

    policies = []
    for pid in sorted({p for e in episodes for p in e["policy_ids"]} | set(names)):
        mine = [e for e in episodes if pid in e["policy_ids"]]
        returns = np.asarray([e["return"] for e in mine])
        policies.append(
            {
                "policy_id": pid,
                "description": names.get(pid, "not described in the collector attribute"),
                "episodes": len(mine),
                "steps": int((columns["policy_id"] == pid).sum()),
                "return": _stats(returns),
            }
        )

    teachers = []
    for t, entropy, value in per_teacher:
        teachers.append(
            {
                "teacher_id": t.teacher_id,
                "path": str(t.path),
                "checkpoint_sha256": t.checkpoint_sha256,
                "search": t.search,
                "policy_entropy": {**_stats(entropy[acting]), "max_possible": float(np.log(dataset.num_actions))},
                "root_value": _stats(value[acting]),
            }
        )
    lengths = np.asarray([e["length"] for e in episodes])
    returns = np.asarray([e["return"] for e in episodes])
    return {
        "id": dataset.dataset_id,
        "path": str(dataset.path),
        "game": dataset.game,
        "episodes": len(dataset),
        "steps": dataset.total_steps,
        "frame_shape": list(dataset.frame_shape),
        "num_actions": dataset.num_actions,
        "length": _stats(lengths),
        "return": _stats(returns),
        "policies": policies,
        "targets": teachers,
        "episode_rows": episodes,
    }


def pick_frames(length: int, count: int) -> np.ndarray:
    """``count`` evenly spaced positions 0..length of an episode of ``length`` transitions (its rows)."""
    count = max(1, min(count, length + 1))
    return np.unique(np.linspace(0, length, count).round().astype(np.int64))


def frame_strip(
    dataset: Dataset,
    out: Path,
    *,
    episode: int = 0,
    frames: int = 8,
    targets: Path | None = None,
) -> Path:
    """Draws a PNG of one episode: evenly spaced frames, then its score and teacher values over time.

    Args:
        dataset: the view; ``episode`` is a position in it.
        out: the PNG to write.
        episode: which episode of the view.
        frames: frames in the strip (the first and the final frame included).
        targets: a targets file whose root value is plotted under the score.

    Raises:
        DatasetError: no such episode.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xtra_bench.data.targets import read_targets

    if not 0 <= episode < len(dataset):
        raise DatasetError(f"episode {episode} is not in the view (it has {len(dataset)} episodes, from 0)")
    start, stop = (int(x) for x in dataset.row_ranges()[episode])
    length = stop - start - 1
    positions = pick_frames(length, frames)
    with open_h5(dataset.path) as h5:
        images = h5[FRAME][list(start + positions)]
        rewards = h5["reward"][start:stop]
        life_loss = h5["life_loss"][start:stop]
        ended = "game over" if h5["is_terminal"][stop - 1] else "cut at the frame cap"
    value = None
    if targets is not None:
        labelled = read_targets(Path(targets), dataset)
        value, teacher = labelled.root_value[start : stop - 1], labelled.teacher_id

    if images.ndim == 3:  # frames without a channel axis
        images = images[..., None]
    if images.shape[-1] not in (1, 3):  # MinAtar's object channels: one colour per channel
        palette = plt.get_cmap("tab10")(np.arange(images.shape[-1]) % 10)[:, :3]
        scaled = images.astype(np.float64) / max(1, int(images.max()))
        images = (np.clip(scaled @ palette, 0, 1) * 255).astype(np.uint8)
    cols = len(positions)
    width = max(6.0, 1.6 * cols)
    fig = plt.figure(figsize=(width, width / cols * 1.5 + 0.9), dpi=110)
    grid = fig.add_gridspec(2, cols, height_ratios=[1.0, 0.5], hspace=0.35, wspace=0.06)
    score = np.concatenate([[0.0], np.cumsum(rewards[:-1])])
    for j, t in enumerate(positions):
        ax = fig.add_subplot(grid[0, j])
        ax.imshow(images[j].squeeze(-1) if images.shape[-1] == 1 else images[j], cmap="gray", interpolation="nearest")
        ax.set_title(f"t={t}\nscore {score[t]:g}", fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
    ax = fig.add_subplot(grid[1, :])
    ax.plot(np.arange(length + 1), score, color="tab:blue", lw=1.2, label="score (raw return so far)")
    for t in np.flatnonzero(life_loss):
        ax.axvline(t, color="tab:red", lw=0.6, alpha=0.6)
    ax.set_xlim(0, max(1, length))
    ax.set_xlabel("step (red: a life lost)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_ylabel("score", fontsize=8, color="tab:blue")
    if value is not None:
        twin = ax.twinx()
        twin.plot(np.arange(length), value, color="tab:orange", lw=1.0)
        twin.set_ylabel(f"{teacher} root value", fontsize=8, color="tab:orange")
        twin.tick_params(labelsize=7)
    fig.suptitle(
        f"{dataset.dataset_id}: episode {int(dataset.episode_indices[episode])}, {length} steps,"
        f" return {rewards.sum():g}, {ended}",
        fontsize=9,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out
