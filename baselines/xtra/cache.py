"""Stage-1 artifacts cached by the hash of their inputs: built once, then reused by every job that shares them.

An artifact lives in ``<workdir>/<hash>/`` with an ``artifact.json`` naming its kind and inputs. It
is built in ``<workdir>/<hash>.partial/`` (kept across crashes, so a builder may resume from what
it finds there) and renamed into place only when complete. A lock file serialises builders of the
same artifact across processes: a second job waits and then reuses the first one's result.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ARTIFACT_FILE = "artifact.json"
CACHE_VERSION = 1
"""Part of every hash: raise it when a builder's output changes meaning, so old artifacts are not reused."""


def input_hash(kind: str, inputs: dict[str, Any]) -> str:
    """16 hex digits of sha256 over the kind, the cache version and the inputs as canonical JSON."""
    text = json.dumps({"kind": kind, "version": CACHE_VERSION, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def artifact_dir(workdir: Path, kind: str, inputs: dict[str, Any]) -> Path:
    """Where the artifact of these inputs lives (built or not)."""
    return Path(workdir) / input_hash(kind, inputs)


def is_built(path: Path) -> bool:
    return (Path(path) / ARTIFACT_FILE).is_file()


def ensure(workdir: Path, kind: str, inputs: dict[str, Any], build: Callable[[Path], None]) -> Path:
    """Returns the artifact's directory, building it first when it is not cached.

    Args:
        workdir: the cache root.
        kind: what the artifact is ("teacher", "targets", "student").
        inputs: everything the artifact depends on (JSON-serialisable); their hash names it.
        build: fills the staging directory it is given; it may find files of an interrupted
            earlier build there.

    Returns:
        ``<workdir>/<hash>``, complete.
    """
    path = artifact_dir(workdir, kind, inputs)
    if is_built(path):
        logger.info("stage 1: reusing %s %s", kind, path)
        return path
    with _locked(path.with_name(path.name + ".lock")):
        if is_built(path):  # another process built it while this one waited
            return path
        staging = path.with_name(path.name + ".partial")
        staging.mkdir(parents=True, exist_ok=True)
        logger.info("stage 1: building %s in %s", kind, staging)
        started = time.time()
        build(staging)
        record = {
            "kind": kind,
            "hash": path.name,
            "inputs": inputs,
            "seconds": round(time.time() - started, 1),
            "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        (staging / ARTIFACT_FILE).write_text(json.dumps(record, indent=2, default=str))
        if path.exists():  # an incomplete directory of the same name (no artifact.json) is stale
            shutil.rmtree(path)
        os.replace(staging, path)
    return path
