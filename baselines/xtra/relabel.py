"""Relabelling: a teacher's MCTS (no root noise) over every row of its dataset, written as a targets file.

Rows are labelled in chunks read straight from the dataset file (a paper-scale dataset does not fit
in memory as stacked frames); each finished chunk is saved in the work directory through a
temporary file and a rename, so a killed relabelling resumes at the first missing chunk. Last rows
(final frames, no action) are searched too: their root value bootstraps the n-step targets of
truncated episodes.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.efficientzero.reanalyze import search
from xtra_bench.data import Dataset, write_targets
from xtra_bench.data.integrity import open_h5

CHUNKS_DIR = "chunks"


def stacked_chunk(dataset: Dataset, lo: int, hi: int, stack: int) -> np.ndarray:
    """The stacked observations of file rows [lo, hi): uint8 [hi - lo, stack, *frame].

    Frames before an episode's first row repeat that first row, as everywhere in the package.
    """
    ranges = dataset.row_ranges()
    rows = np.arange(lo, hi)
    first = ranges[np.searchsorted(ranges[:, 0], rows, side="right") - 1, 0]
    read_lo = max(0, lo - stack + 1)
    with open_h5(dataset.path) as h5:
        frames = h5["frame"][read_lo:hi]
    window = np.maximum(rows[:, None] + np.arange(1 - stack, 1), first[:, None])
    return frames[window - read_lo]


def search_settings(cfg: EfficientZeroConfig, simulations: int) -> dict[str, Any]:
    """The search settings recorded in the targets file."""
    return {
        "num_simulations": simulations,
        "root_noise": False,
        "discount": cfg.discount,
        "pb_c_base": cfg.pb_c_base,
        "pb_c_init": cfg.pb_c_init,
        "value_prefix_horizon": cfg.value_prefix_horizon,
    }


def _label_chunk(net: EfficientZeroNet, obs: np.ndarray, cfg: EfficientZeroConfig, roots: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    device = next(net.parameters()).device
    legal = np.ones((roots, net.action_space), dtype=bool)
    rng = np.random.default_rng(seed)
    policies, values = [], []
    for start in range(0, len(obs), roots):
        part = torch.from_numpy(obs[start : start + roots]).to(device)
        result = search(net, part, legal[: len(part)], cfg, rng, add_noise=False)
        policies.append(result.policy)
        values.append(result.root_values)
    return np.concatenate(policies).astype(np.float32), np.concatenate(values).astype(np.float32)


def relabel(
    net: EfficientZeroNet,
    cfg: EfficientZeroConfig,
    dataset: Dataset,
    out: Path,
    workdir: Path,
    *,
    teacher_id: str,
    checkpoint_sha256: str,
    simulations: int = 50,
    roots: int = 1024,
    chunk_rows: int = 16_384,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Labels every row of ``dataset``'s file with the teacher's search and writes the targets file ``out``.

    Args:
        net: the teacher's network (its head covers the game's actions).
        cfg: the teacher's settings (discount, pUCT constants, value-prefix horizon).
        dataset: the teacher's dataset (the whole file is labelled).
        out: the targets file to write.
        workdir: holds the finished chunks of an interrupted run.
        teacher_id: recorded in the file.
        checkpoint_sha256: the teacher checkpoint's hash, recorded in the file.
        simulations: simulations per search.
        roots: roots searched together.
        chunk_rows: rows per resumable chunk.
        seed: seeds the tie-breaking of each chunk's searches (chunk c uses [seed, c]).
        progress: show a progress bar over rows.

    Returns:
        ``out``.
    """
    from tqdm.auto import tqdm

    if net.action_space != dataset.num_actions:
        raise ValueError(f"the teacher's head has {net.action_space} actions, {dataset.game} has {dataset.num_actions}")
    search_cfg = dataclasses.replace(cfg, num_simulations=simulations)
    chunks = Path(workdir) / CHUNKS_DIR
    chunks.mkdir(parents=True, exist_ok=True)
    total = dataset.header.num_rows
    bounds = [(lo, min(lo + chunk_rows, total)) for lo in range(0, total, chunk_rows)]
    files = [chunks / f"{i:06d}.npz" for i in range(len(bounds))]
    done_rows = sum(hi - lo for (lo, hi), f in zip(bounds, files) if f.is_file())
    bar = tqdm(total=total, initial=done_rows, unit="row", desc=f"relabel {dataset.game}", disable=not progress, dynamic_ncols=True)
    with bar:
        for i, ((lo, hi), file) in enumerate(zip(bounds, files)):
            if file.is_file():
                continue
            obs = stacked_chunk(dataset, lo, hi, cfg.frame_stack)
            seed_i = int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
            policy, value = _label_chunk(net, obs, search_cfg, roots, seed_i)
            tmp = file.with_name(file.stem + ".tmp.npz")
            np.savez(tmp, policy=policy, root_value=value)
            os.replace(tmp, file)
            bar.update(hi - lo)
    parts = [np.load(f) for f in files]
    return write_targets(
        out,
        dataset,
        teacher_id=teacher_id,
        policy=np.concatenate([p["policy"] for p in parts]),
        root_value=np.concatenate([p["root_value"] for p in parts]),
        checkpoint_sha256=checkpoint_sha256,
        search=search_settings(cfg, simulations),
        force=True,
    )
