"""Downloads into the cache: fetch to ``<file>.part``, check its sha256, only then move it into place.

Sources: ``http(s)://`` (resumed with a Range request after a dropped connection or an earlier
attempt), ``file://`` (absolute, or relative to the manifest's directory) and
``hf://<repo>@<revision>/<path>`` (through huggingface_hub, whose client checks only sizes). A file
whose bytes differ from the manifest never enters the cache, and the copy already there stays.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

from xtra_bench.data.errors import ChecksumError, DatasetError
from xtra_bench.data.format import READABLE_FORMAT_VERSIONS
from xtra_bench.data.integrity import atomic_write_bytes, file_sha256, install, read_sidecar, remove_file
from xtra_bench.data.registry import ENTRY_FILE, LOCK_FILE, ManifestEntry, ManifestFile, Registry, cached_file, dataset_dir
from xtra_bench.locks import exclusive_lock

_BLOCK = 1 << 16
HF_REPO_TYPES = {"datasets": "dataset", "models": "model", "spaces": "space"}
URL_SCHEMES = ("https", "http", "file", "hf")


def file_url_path(url: str, base: Path) -> Path:
    """The local path of a ``file://`` URL; a relative one is taken relative to ``base``."""
    parts = urlsplit(url)
    local = unquote(parts.path) if parts.netloc in ("", "localhost") else unquote(parts.netloc + parts.path)
    path = Path(local)
    return path if path.is_absolute() else base / path


def parse_hf_url(url: str) -> tuple[str, str, str, str]:
    """Splits ``hf://[datasets/|models/|spaces/]<owner>/<name>@<revision>/<path>``.

    Returns:
        (repo_id, repo_type, revision, path in the repo); the repo type defaults to "dataset".

    Raises:
        DatasetError: a URL without a revision or a path.
    """
    rest = url.removeprefix("hf://")
    repo, sep, tail = rest.partition("@")
    revision, _, path = tail.partition("/")
    if not sep or not revision or not path or repo.count("/") not in (1, 2):
        raise DatasetError(f"malformed hf URL {url!r}; expected hf://<owner>/<repo>@<revision>/<path>")
    if any(part in ("", ".", "..") for part in [*repo.split("/"), *path.split("/")]) or "\\" in rest or ".." in revision:
        raise DatasetError(f"malformed hf URL {url!r}: empty, '.' or '..' parts are refused")
    repo_type = "dataset"
    if repo.count("/") == 2:
        prefix, repo = repo.split("/", 1)
        if prefix not in HF_REPO_TYPES:
            raise DatasetError(f"malformed hf URL {url!r}: unknown repo type {prefix!r}")
        repo_type = HF_REPO_TYPES[prefix]
    return repo, repo_type, revision, path


def _progress(total: int, initial: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total or None, initial=initial, desc=desc, unit="B", unit_scale=True, disable=not enabled, leave=False)


def fetch_http(
    url: str, part: Path, *, expected_bytes: int, retries: int = 5, backoff_s: float = 0.5, progress: bool = False
) -> None:
    """Downloads ``url`` to ``part``, continuing from the bytes already there with a Range request.

    Raises:
        DatasetError: the server refuses the file, or every retry failed.
    """
    last_error = ""
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        if expected_bytes and have == expected_bytes:
            return
        if expected_bytes and have > expected_bytes:
            remove_file(part)
            have = 0
        headers = {"User-Agent": "xtra-bench", **({"Range": f"bytes={have}-"} if have else {})}
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
                resumed = have > 0 and response.status == 206
                with open(part, "ab" if resumed else "wb") as out, _progress(
                    expected_bytes, have if resumed else 0, part.name, progress
                ) as bar:
                    while block := response.read(_BLOCK):
                        out.write(block)
                        bar.update(len(block))
                        if expected_bytes and out.tell() > expected_bytes:
                            # A server that sends more than the manifest's size is wrong, or hostile.
                            out.close()
                            remove_file(part)
                            raise DatasetError(f"download of {url} refused: the server sent more than the manifest's {expected_bytes} bytes")
            if not expected_bytes or part.stat().st_size >= expected_bytes:
                return
            last_error = f"the connection ended after {part.stat().st_size} of {expected_bytes} bytes"
        except urllib.error.HTTPError as exc:
            if exc.code == 416:  # the part is already as long as the file, or longer: start over
                remove_file(part)
            elif 400 <= exc.code < 500:
                raise DatasetError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
            last_error = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            last_error = str(getattr(exc, "reason", exc)) or type(exc).__name__
        if attempt < retries:
            time.sleep(backoff_s * 2**attempt)
    raise DatasetError(f"download of {url} failed after {retries + 1} attempts: {last_error}")


def fetch_hf(url: str, part: Path, *, expected_bytes: int) -> None:
    """Downloads an ``hf://`` file through huggingface_hub into ``part``, refusing one of another size than ``expected_bytes``.

    The Hub client streams the file itself and checks it against the size the Hub announces; a
    file of another size than the manifest's is dropped before it is hashed.
    """
    from huggingface_hub import hf_hub_download

    repo_id, repo_type, revision, path = parse_hf_url(url)
    with tempfile.TemporaryDirectory(dir=part.parent, prefix=".hf-") as tmp:
        try:
            local = hf_hub_download(repo_id, path, repo_type=repo_type, revision=revision, local_dir=tmp)
        except Exception as exc:  # the Hub client raises many types; all mean "not fetched"
            raise DatasetError(f"download of {url} failed: {type(exc).__name__}: {exc}".splitlines()[0]) from None
        size = Path(local).stat().st_size
        if size != expected_bytes:
            raise DatasetError(f"download of {url} refused: it has {size} bytes, the manifest says {expected_bytes}")
        shutil.move(local, part)


def fetch(url: str, part: Path, *, expected_bytes: int, manifest_dir: Path, progress: bool = False) -> None:
    """Fetches any supported URL into ``part``."""
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        fetch_http(url, part, expected_bytes=expected_bytes, progress=progress)
    elif scheme == "file":
        source = file_url_path(url, manifest_dir)
        if not source.is_file():
            raise DatasetError(f"download of {url} failed: no file at {source}")
        if source.stat().st_size > expected_bytes:
            raise DatasetError(f"download of {url} refused: {source} holds more than the manifest's {expected_bytes} bytes")
        shutil.copyfile(source, part)
    elif scheme == "hf":
        fetch_hf(url, part, expected_bytes=expected_bytes)
    else:
        raise DatasetError(f"unsupported URL {url!r}; use https://, http://, file:// or hf://")


def _holds(path: Path, f: ManifestFile) -> bool:
    """True when ``path`` holds the manifest file's bytes: its size, sidecar and recomputed sha256 agree."""
    try:
        return path.is_file() and path.stat().st_size == f.bytes and read_sidecar(path) == f.sha256 and file_sha256(path) == f.sha256
    except DatasetError:  # a damaged sidecar: not a good copy
        return False


def is_cached(entry: ManifestEntry, root: Path | None = None) -> bool:
    """True when every file of the entry is in the cache with the manifest's bytes (rehashed, not trusted)."""
    return all(_holds(cached_file(entry.id, f.path, root), f) for f in entry.files)


def _download_file(
    entry: ManifestEntry, f: ManifestFile, registry: Registry, root: Path | None, force: bool, progress: bool
) -> None:
    dest = cached_file(entry.id, f.path, root)
    if dest.exists() and not force:
        if _holds(dest, f):
            return
        raise ChecksumError(
            f"the cached {dest} differs from the manifest's {entry.id}; `xtra-bench datasets verify {entry.id}`"
            " shows why, and `download --force` replaces it"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    fetch(f.url, part, expected_bytes=f.bytes, manifest_dir=registry.source.parent, progress=progress)
    actual = file_sha256(part)
    if actual != f.sha256:
        remove_file(part)
        kept = "the cached copy was left unchanged" if dest.exists() else "nothing was cached"
        raise ChecksumError(
            f"{f.url} has sha256 {actual[:12]}…, the manifest says {f.sha256[:12]}… for {entry.id}; {kept}"
        )
    with contextlib.suppress(FileNotFoundError):
        dest.chmod(0o644)  # the sealed old copy is replaced by the rename below
    install(part, dest, actual)


def download(
    dataset_id: str,
    *,
    registry: Registry | None = None,
    root: Path | None = None,
    force: bool = False,
    progress: bool = False,
) -> Path:
    """Puts every file of a dataset into the cache, verified; returns the dataset file's path.

    Args:
        dataset_id: an id the registry lists.
        registry: the manifest (default: ``Registry.load()``).
        root: the data root (default: ``data_root()``).
        force: download again even when cached.
        progress: show a byte progress bar.

    Raises:
        UnknownNameError: the registry does not list the id.
        DatasetError: a file cannot be fetched, has another format version, or a path would escape the root.
        ChecksumError: the fetched bytes differ from the manifest (the cache is left as it was).
    """
    registry = registry or Registry.load()
    entry = registry.get(dataset_id)
    if entry.format_version not in READABLE_FORMAT_VERSIONS:
        raise DatasetError(
            f"{dataset_id} has format version {entry.format_version}; this xtra-bench reads"
            f" {', '.join(map(str, READABLE_FORMAT_VERSIONS))}"
        )
    directory = dataset_dir(dataset_id, root)
    with exclusive_lock(directory / LOCK_FILE, f"the cache directory {directory}"):
        for f in entry.files:
            _download_file(entry, f, registry, root, force, progress)
        atomic_write_bytes(directory / ENTRY_FILE, json.dumps(entry.to_json(), indent=2).encode())
    return cached_file(dataset_id, entry.dataset_file.path, root)
