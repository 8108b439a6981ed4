"""Dataset ids, the data root, and the manifest that lists published datasets.

Ids have the form ``<namespace>/<Game>/<source>-v<N>``; each part starts with a letter or digit,
so no id can name ``.`` or ``..``. The data root is ``$XTRA_BENCH_DATA`` or the XDG cache dir; a
dataset's files live in ``<root>/<id>/``. The manifest is ``$XTRA_BENCH_REGISTRY`` or the bundled
one, package data of ``xtra_bench`` (``xtra_bench/datasets/manifest.json``, beside the dataset
cards and sample files its relative ``file://`` URLs name), read through ``importlib.resources``
so an installed wheel has it too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from xtra_bench.data.errors import DatasetError, DatasetIdError
from xtra_bench.errors import UnknownNameError, closest_match_hint

DATA_ENV = "XTRA_BENCH_DATA"
REGISTRY_ENV = "XTRA_BENCH_REGISTRY"
MANIFEST_VERSION = 1
ENTRY_FILE = "entry.json"
"""Written into a dataset's cache directory: its manifest entry, so a cached dataset opens offline."""

_PART = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
ID_PATTERN = re.compile(rf"(?P<namespace>{_PART})/(?P<game>{_PART})/(?P<source>{_PART})-v(?P<version>0|[1-9][0-9]*)")
ID_FORM = "<namespace>/<Game>/<source>-v<N>, e.g. xtra/Phoenix/ez-checkpoints-v1"
FILE_KINDS = ("dataset", "targets", "card")
LOCK_FILE = ".lock"
"""Held by a download in progress in a dataset's cache directory."""
RESERVED_NAMES = (ENTRY_FILE, LOCK_FILE)
RESERVED_SUFFIXES = (".sha256", ".part", ".tmp")
"""Names the cache writes beside a dataset's files (sidecars, downloads in progress, temporary files)."""


class DatasetId(NamedTuple):
    """The parts of a dataset id."""

    namespace: str
    game: str
    source: str
    version: int


def parse_dataset_id(dataset_id: str) -> DatasetId:
    """Splits an id into its parts.

    Raises:
        DatasetIdError: the id does not have the form ``ID_FORM``.
    """
    match = ID_PATTERN.fullmatch(dataset_id)
    if not match:
        raise DatasetIdError(f"malformed dataset id {dataset_id!r}; expected {ID_FORM}")
    return DatasetId(match["namespace"], match["game"], match["source"], int(match["version"]))


def make_dataset_id(namespace: str, game: str, source: str, version: int) -> str:
    """Joins parts into an id; the inverse of ``parse_dataset_id``.

    Raises:
        DatasetIdError: a part that would make a malformed id.
    """
    dataset_id = f"{namespace}/{game}/{source}-v{version}"
    if parse_dataset_id(dataset_id) != (namespace, game, source, version):
        raise DatasetIdError(f"parts {namespace!r}, {game!r}, {source!r}, {version!r} do not make an id of the form {ID_FORM}")
    return dataset_id


def looks_like_id(text: str) -> bool:
    """True when ``text`` has the form of a dataset id (so it is not taken for a path)."""
    return ID_PATTERN.fullmatch(text) is not None


def data_root() -> Path:
    """The directory that holds downloaded datasets: ``$XTRA_BENCH_DATA`` or ``$XDG_CACHE_HOME/xtra-bench``."""
    if os.environ.get(DATA_ENV):
        root = Path(os.environ[DATA_ENV]).expanduser()
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xtra-bench"
    if root.exists() and not root.is_dir():
        raise DatasetError(f"the data root {root} is not a directory; point {DATA_ENV} at a directory")
    return root


BUNDLED_DIR = "datasets"
"""The package-data directory of ``xtra_bench`` holding the bundled manifest, cards and samples."""


def bundled_manifest() -> Path:
    """The manifest shipped as package data (``xtra_bench/datasets/manifest.json``).

    Raises:
        DatasetError: the package is installed in a form without files on disk (e.g. a zip), where
            the manifest's relative ``file://`` URLs could not resolve.
    """
    import importlib.resources

    resource = importlib.resources.files("xtra_bench").joinpath(BUNDLED_DIR, "manifest.json")
    if not isinstance(resource, Path):
        raise DatasetError(f"the bundled manifest {resource} is not a file on disk; set {REGISTRY_ENV} to a manifest.json")
    return resource


def manifest_path() -> Path:
    """The manifest in use: ``$XTRA_BENCH_REGISTRY`` or the bundled one."""
    return Path(os.environ[REGISTRY_ENV]).expanduser() if os.environ.get(REGISTRY_ENV) else bundled_manifest()


def dataset_dir(dataset_id: str, root: Path | None = None) -> Path:
    """The cache directory of a dataset id (validated)."""
    parts = parse_dataset_id(dataset_id)
    return (root or data_root()) / parts.namespace / parts.game / f"{parts.source}-v{parts.version}"


def safe_relative_path(path: str, *, where: str) -> PurePosixPath:
    """Checks that a manifest path stays inside the directory it is relative to.

    Raises:
        DatasetIdError: an absolute path, a drive, a backslash or a ``..`` component.
    """
    pure = PurePosixPath(path)
    if not path or "\\" in path or ":" in path or pure.is_absolute() or any(p in ("..", ".", "") for p in path.split("/")):
        raise DatasetIdError(f"{where}: file path {path!r} would escape the dataset's cache directory; refusing it")
    return pure


def cached_file(dataset_id: str, relative: str, root: Path | None = None) -> Path:
    """The cache location of one file of a dataset, refused if it would leave the data root."""
    root = (root or data_root()).resolve()
    target = dataset_dir(dataset_id, root) / safe_relative_path(relative, where=dataset_id)
    if not target.resolve().is_relative_to(root):
        raise DatasetIdError(f"{dataset_id}: {relative!r} resolves outside the data root {root}; refusing it")
    return target


@dataclasses.dataclass(frozen=True)
class ManifestFile:
    """One file of a published dataset.

    Attributes:
        path: where it goes inside the dataset's cache directory (relative, no ``..``).
        url: ``https://``, ``http://``, ``file://`` (relative paths are relative to the manifest) or
            ``hf://<repo>@<revision>/<path>``.
        sha256: hex digest the bytes must have.
        bytes: size in bytes.
        kind: "dataset", "targets" or "card".
    """

    path: str = ""
    url: str = ""
    sha256: str = ""
    bytes: int = 0
    kind: str = "dataset"


@dataclasses.dataclass(frozen=True)
class ManifestEntry:
    """One published dataset.

    Attributes:
        id: ``<namespace>/<Game>/<source>-v<N>``.
        format_version: the format version of its dataset file.
        game: catalog name of the game.
        description: one paragraph.
        license: SPDX identifier.
        episodes: episodes in the dataset.
        steps: transitions in the dataset.
        files: its files; exactly one has kind "dataset".
    """

    id: str = ""
    format_version: int = 1
    game: str = ""
    description: str = ""
    license: str = ""
    episodes: int = 0
    steps: int = 0
    files: tuple[ManifestFile, ...] = ()

    @property
    def dataset_file(self) -> ManifestFile:
        return next(f for f in self.files if f.kind == "dataset")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELD_TYPES = {"str": (str,), "int": (int,), "tuple[ManifestFile, ...]": (list, tuple)}


def check_record(raw: Any, cls: type, *, where: str) -> None:
    """Checks that a JSON value is an object whose keys are fields of ``cls`` with values of their types.

    Raises:
        DatasetError: not an object, an unknown key, or a value of another type (bool is no int).
    """
    if not isinstance(raw, dict):
        raise DatasetError(f"{where} must be a JSON object, not {type(raw).__name__}")
    fields = {f.name: _FIELD_TYPES[f.type] for f in dataclasses.fields(cls)}
    for key, value in raw.items():
        if key not in fields:
            raise DatasetError(f"{where}: unknown key {key!r}; known: {', '.join(fields)}")
        kinds = fields[key]
        if not isinstance(value, kinds) or (kinds == (int,) and isinstance(value, bool)):
            raise DatasetError(f"{where}: {key!r} must be a JSON {'integer' if kinds == (int,) else kinds[0].__name__}, not {value!r:.40}")


def parse_entry(raw: dict[str, Any], *, where: str) -> ManifestEntry:
    """Validates one manifest entry (id, file paths, kinds, checksums).

    Raises:
        DatasetError / DatasetIdError: naming the entry and the problem.
    """
    check_record(raw, ManifestEntry, where=f"{where}: entry {raw.get('id', '?') if isinstance(raw, dict) else raw!r:.60}")
    for f in raw.get("files", []):
        check_record(f, ManifestFile, where=f"{where}: {raw.get('id', '?')}: a file")
    try:
        files = tuple(ManifestFile(**f) for f in raw.get("files", ()))
        entry = ManifestEntry(**{**raw, "files": files})
    except TypeError as exc:
        raise DatasetError(f"{where}: malformed entry {raw.get('id', '?')!r}: {exc}") from None
    parse_dataset_id(entry.id)
    for f in entry.files:
        safe_relative_path(f.path, where=f"{where}: {entry.id}")
        if f.bytes < 1:
            raise DatasetError(f"{where}: {entry.id}: {f.path} must have a positive size in bytes, not {f.bytes}")
        name = PurePosixPath(f.path).name
        if name in RESERVED_NAMES or name.endswith(RESERVED_SUFFIXES):
            raise DatasetError(f"{where}: {entry.id}: file name {name!r} is one the cache keeps for itself; rename it")
        if f.kind not in FILE_KINDS:
            raise DatasetError(f"{where}: {entry.id}: file kind {f.kind!r} is not one of {', '.join(FILE_KINDS)}")
        if not re.fullmatch(r"[0-9a-f]{64}", f.sha256):
            raise DatasetError(f"{where}: {entry.id}: {f.path} has no valid sha256")
    if [f.kind for f in entry.files].count("dataset") != 1:
        raise DatasetError(f"{where}: {entry.id} must list exactly one file of kind 'dataset'")
    if len({f.path for f in entry.files}) != len(entry.files):
        raise DatasetError(f"{where}: {entry.id} lists a file path twice")
    return entry


class Registry:
    """The datasets of one manifest, by id.

    Args:
        entries: the manifest's entries.
        source: the manifest file (relative ``file://`` URLs are relative to its directory).
    """

    def __init__(self, entries: list[ManifestEntry], source: Path):
        self.source = Path(source)
        self._entries = {e.id: e for e in entries}

    @classmethod
    def load(cls, path: Path | None = None) -> Registry:
        """Reads and validates a manifest (default: ``manifest_path()``).

        Raises:
            DatasetError: a missing or malformed manifest, or an entry that fails validation.
        """
        path = Path(path) if path else manifest_path()
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise DatasetError(f"no dataset manifest at {path} (set {REGISTRY_ENV} to a manifest.json)") from None
        except ValueError as exc:
            raise DatasetError(f"{path} is not valid JSON: {exc}") from None
        except OSError as exc:
            raise DatasetError(f"cannot read the manifest {path}: {exc.strerror} (set {REGISTRY_ENV} to a manifest.json)") from None
        if not isinstance(raw, dict) or raw.get("manifest_version") != MANIFEST_VERSION:
            raise DatasetError(f"{path} is not a version-{MANIFEST_VERSION} xtra-bench manifest")
        if not isinstance(raw.get("datasets", []), list):
            raise DatasetError(f"{path}: 'datasets' must be a list of entries")
        entries = [parse_entry(e, where=str(path)) for e in raw.get("datasets", [])]
        ids = [e.id for e in entries]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise DatasetError(f"{path} lists {', '.join(duplicates)} more than once")
        return cls(entries, path)

    def ids(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[ManifestEntry]:
        """Every entry, by id."""
        return [self._entries[i] for i in self.ids()]

    def bundled(self, dataset_id: str) -> bool:
        """Whether every file of ``dataset_id`` ships inside the package (a ``file://`` URL into its
        datasets directory): fetching it copies bytes that are already here, so it needs no download step."""
        from xtra_bench.data.download import file_url_path

        package = bundled_manifest().parent.resolve()
        files = self.get(dataset_id).files
        return all(f.url.startswith("file://") and file_url_path(f.url, self.source.parent).resolve().is_relative_to(package) for f in files)

    def __contains__(self, dataset_id: str) -> bool:
        return dataset_id in self._entries

    def get(self, dataset_id: str) -> ManifestEntry:
        """The entry of an id.

        Raises:
            DatasetIdError: a malformed id.
            UnknownNameError: an id the manifest does not list.
        """
        parse_dataset_id(dataset_id)
        if dataset_id not in self._entries:
            raise UnknownNameError(
                f"unknown dataset {dataset_id!r} in {self.source}.{closest_match_hint(dataset_id, self.ids())}"
                " See `xtra-bench datasets list`."
            )
        return self._entries[dataset_id]


def manifest_json(entries: list[ManifestEntry]) -> str:
    """The text of a manifest listing ``entries``."""
    doc = {"manifest_version": MANIFEST_VERSION, "datasets": [e.to_json() for e in sorted(entries, key=lambda e: e.id)]}
    return json.dumps(doc, indent=2) + "\n"


def read_cached_entry(dataset_id: str, root: Path | None = None) -> ManifestEntry | None:
    """The entry recorded when a dataset was downloaded, or None when it is not in the cache."""
    entry_file = dataset_dir(dataset_id, root) / ENTRY_FILE
    if not entry_file.is_file():
        return None
    try:
        raw = json.loads(entry_file.read_text())
    except ValueError:
        raise DatasetError(f"{entry_file} is damaged; run `xtra-bench datasets download --force {dataset_id}`") from None
    return parse_entry(raw, where=str(entry_file))
