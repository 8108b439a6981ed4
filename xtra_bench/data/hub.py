"""Publishing a directory of finished datasets to a Hugging Face Hub repo in one commit.

``publish_to_hub`` scans the directory as ``publish`` does (every dataset checked against its
sidecar, targets attached by the sha256 they label, cards by name), uploads every file the
manifest lists plus the manifest itself through ``huggingface_hub.HfApi.create_commit``, and only
then writes the manifest locally. Its file URLs are ``hf://<repo>@<revision>/<path>`` with the
sha256 and size of each file, so ``xtra-bench datasets download`` fetches and verifies them; a
tag or a commit id as the revision pins the files, a branch follows it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import unquote

from xtra_bench.data.errors import DatasetError
from xtra_bench.data.integrity import atomic_write_bytes
from xtra_bench.data.publish import scan
from xtra_bench.data.registry import ManifestEntry, manifest_json

_TYPE_PREFIXES = {"dataset": "datasets/", "model": "models/", "space": "spaces/"}
MANIFEST_NAME = "manifest.json"


@dataclasses.dataclass(frozen=True)
class HubTarget:
    """Where to publish: ``hf://[datasets/|models/|spaces/]<owner>/<name>@<revision>[/<folder>]``."""

    repo_id: str
    repo_type: str
    revision: str
    folder: str = ""

    @property
    def base_url(self) -> str:
        """The hf:// URL of the folder, as file URLs in the manifest start."""
        prefix = "" if self.repo_type == "dataset" else _TYPE_PREFIXES[self.repo_type]
        return f"hf://{prefix}{self.repo_id}@{self.revision}" + (f"/{self.folder}" if self.folder else "")

    def path_in_repo(self, relative: str) -> str:
        return f"{self.folder}/{relative}" if self.folder else relative


def parse_hub_target(url: str) -> HubTarget:
    """Parses ``hf://<owner>/<name>@<revision>[/<folder>]`` (repo type dataset unless prefixed).

    Raises:
        DatasetError: another scheme, no revision, or a folder with ``..``.
    """
    if not url.startswith("hf://"):
        raise DatasetError(f"--to takes hf://<owner>/<repo>@<revision>, got {url!r}")
    repo, sep, tail = url.removeprefix("hf://").partition("@")
    revision, _, folder = tail.partition("/")
    repo_type = "dataset"
    for kind, prefix in _TYPE_PREFIXES.items():
        if repo.startswith(prefix) and repo.count("/") == 2:
            repo_type, repo = kind, repo.removeprefix(prefix)
    folder = folder.strip("/")
    if not sep or not revision or repo.count("/") != 1 or not all(repo.split("/")):
        raise DatasetError(f"malformed hub target {url!r}; expected hf://<owner>/<repo>@<revision>[/<folder>]")
    if any(part in ("", ".", "..") for part in folder.split("/")) and folder:
        raise DatasetError(f"hub target {url!r}: the folder must not contain '.', '..' or empty parts")
    return HubTarget(repo, repo_type, revision, folder)


@dataclasses.dataclass(frozen=True)
class HubPublication:
    """What ``publish_to_hub`` did.

    Attributes:
        manifest: the local manifest written.
        entries: its datasets.
        uploaded: paths in the repo of the committed files (the manifest last).
        commit_url: the commit's URL on the Hub.
        commit_oid: the commit id (a revision that pins these files).
    """

    manifest: Path
    entries: list[ManifestEntry]
    uploaded: list[str]
    commit_url: str
    commit_oid: str


def publish_to_hub(
    directory: Path,
    to: str,
    *,
    out: Path | None = None,
    force: bool = False,
    endpoint: str | None = None,
    token: str | None = None,
    create: bool = False,
    message: str | None = None,
) -> HubPublication:
    """Uploads the finished datasets under ``directory`` and their manifest to a Hub repo, in one commit.

    Args:
        directory: as for ``publish``.
        to: ``hf://<owner>/<repo>@<revision>[/<folder>]``.
        out: the local manifest to write (default: ``directory/manifest.json``).
        force: overwrite an existing local manifest.
        endpoint: the Hub's URL (default: huggingface_hub's, ``$HF_ENDPOINT`` or huggingface.co).
        token: a write token (default: huggingface_hub's, ``$HF_TOKEN`` or the saved login).
        create: create the repo (and the revision's branch) when missing.
        message: the commit message.

    Raises:
        DatasetError: a file that fails the checks of ``publish``, an existing local manifest
            without ``force``, or a Hub that refused the upload (the local manifest is then not written).
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    directory = Path(directory)
    target = parse_hub_target(to)
    out = Path(out) if out else directory / MANIFEST_NAME
    if out.exists() and not force:
        raise DatasetError(f"{out} already exists; pass --force to overwrite it")
    entries = scan(directory, target.base_url, where=str(out))
    text = manifest_json(entries)
    operations, uploaded = [], []
    for entry in entries:
        for f in entry.files:
            relative = unquote(f.url.removeprefix(target.base_url + "/"))
            operations.append(CommitOperationAdd(path_in_repo=target.path_in_repo(relative), path_or_fileobj=str(directory / relative)))
            uploaded.append(target.path_in_repo(relative))
    operations.append(CommitOperationAdd(path_in_repo=target.path_in_repo(MANIFEST_NAME), path_or_fileobj=text.encode()))
    uploaded.append(target.path_in_repo(MANIFEST_NAME))
    api = HfApi(endpoint=endpoint, token=token)
    where = f"{target.repo_type} repo {target.repo_id}@{target.revision} on {api.endpoint}"
    try:
        if create:
            api.create_repo(target.repo_id, repo_type=target.repo_type, exist_ok=True)
            if target.revision != "main":
                api.create_branch(target.repo_id, branch=target.revision, repo_type=target.repo_type, exist_ok=True)
        info = api.create_commit(
            target.repo_id,
            operations,
            commit_message=message or f"xtra-bench: publish {len(entries)} dataset(s)",
            repo_type=target.repo_type,
            revision=target.revision,
        )
    except Exception as exc:  # the Hub client raises many types; all mean "not published"
        first = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        raise DatasetError(f"upload to the {where} failed ({first}); the local manifest was not written") from None
    atomic_write_bytes(out, text.encode())
    return HubPublication(out, entries, uploaded, str(info.commit_url), str(info.oid))
