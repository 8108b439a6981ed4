"""Stage-1 results cached in a pretraining work directory, keyed by everything they depend on.

One pretraining serves every seed and target that shares its inputs, so a pretrained network is
stored under the hash of its agent, config, seed and the sha256 of every input file; a later
``pretrain`` with the same inputs loads it instead of training again. Files are written beside
their final name and renamed, so an interrupted pretraining never leaves a half-written result.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from xtra_bench.data import Dataset
from xtra_bench.data.integrity import atomic_write_bytes, file_sha256, read_sidecar


def pretrain_key(agent: str, config: dict[str, Any], seed: int, datasets: Sequence[Path], extra_files: Sequence[Path] = ()) -> str:
    """sha256 (hex) of the agent name, its config, the seed, the datasets' and extra files' sha256, in order."""
    inputs = {
        "agent": agent,
        "config": config,
        "seed": seed,
        "datasets": [Dataset(Path(p)).sha256 for p in datasets],
        "extra_files": [read_sidecar(Path(p)) or file_sha256(Path(p)) for p in extra_files],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def cache_path(workdir: Path, agent: str, key: str) -> Path:
    """Where the pretrained state of ``key`` lives: ``<workdir>/<agent>-<key[:16]>.pt``."""
    return Path(workdir) / f"{agent}-{key[:16]}.pt"


def load_pretrained(workdir: Path, agent: str, key: str, device: str) -> dict | None:
    """The cached state of ``key`` (tensors on ``device``), or None when there is none."""
    path = cache_path(workdir, agent, key)
    if not path.is_file():
        return None
    state = torch.load(path, map_location=device, weights_only=True)
    return state if state.get("key") == key else None


def save_pretrained(workdir: Path, agent: str, key: str, state: dict, info: dict[str, Any]) -> Path:
    """Writes ``state`` (tensors and plain values) under ``key`` and a JSON summary beside it; returns the state file."""
    path = cache_path(workdir, agent, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({**state, "key": key}, tmp)
    os.replace(tmp, path)
    atomic_write_bytes(path.with_suffix(".json"), json.dumps({"key": key, **info}, indent=2, default=str).encode())
    return path
