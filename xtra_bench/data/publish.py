"""Writes a manifest for a directory of finished datasets, so it can serve as a mirror or a Hub repo.

Every ``*.hdf5`` under the directory is checked: datasets must open and match their sidecar
checksum, targets files are attached to the dataset whose sha256 they label, and a markdown file
named like a dataset (``<stem>.md``) becomes its card.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

from xtra_bench.data.dataset import Dataset
from xtra_bench.data.errors import DatasetError
from xtra_bench.data.format import TARGETS_KIND
from xtra_bench.data.integrity import atomic_write_bytes, file_sha256, open_h5, read_sidecar, verify_sha256
from xtra_bench.data.download import URL_SCHEMES
from xtra_bench.data.registry import ManifestEntry, ManifestFile, Registry, manifest_json, parse_entry


def _file(path: Path, directory: Path, base_url: str, kind: str, sha256: str | None = None) -> ManifestFile:
    expected = read_sidecar(path)
    sha256 = sha256 or (verify_sha256(path, expected) if expected else file_sha256(path))
    url = f"{base_url.rstrip('/')}/{quote(path.relative_to(directory).as_posix())}"
    return ManifestFile(path=path.name, url=url, sha256=sha256, bytes=path.stat().st_size, kind=kind)


def publish(
    directory: Path, base_url: str, *, out: Path | None = None, force: bool = False, merge: bool = False
) -> tuple[Path, list[ManifestEntry]]:
    """Scans ``directory`` (``scan``) and writes its manifest.

    Args:
        directory: holds finished dataset files (any depth), their targets files and cards.
        base_url: where ``directory`` is served; file URLs are ``base_url/<relative path>``.
        out: the manifest to write (default: ``directory/manifest.json``).
        force: overwrite an existing manifest.
        merge: update the existing manifest ``out`` instead: the entries found here replace those
            with their ids, every other entry stays.

    Returns:
        (the manifest path, the entries found in ``directory``).

    Raises:
        DatasetError: an unreadable or corrupted file, targets that label no dataset here, two
            datasets with one id, an existing manifest without ``force`` or ``merge``, or
            ``merge`` without a valid manifest to update.
    """
    if urlsplit(base_url).scheme not in URL_SCHEMES:
        raise DatasetError(f"--base-url {base_url!r} must start with one of {', '.join(s + '://' for s in URL_SCHEMES)}")
    directory = Path(directory)
    out = Path(out) if out else directory / "manifest.json"
    if merge and not out.is_file():
        raise DatasetError(f"{out} does not exist: there is no manifest to merge into")
    if out.exists() and not (force or merge):
        raise DatasetError(f"{out} already exists; pass --force to overwrite it or --merge to update its entries")
    kept = {e.id: e for e in (Registry.load(out).entries() if merge else [])}
    entries = scan(directory, base_url, where=str(out))
    atomic_write_bytes(out, manifest_json(list({**kept, **{e.id: e for e in entries}}.values())).encode())
    return out, entries


def scan(directory: Path, base_url: str, *, where: str = "") -> list[ManifestEntry]:
    """The manifest entries of the finished datasets under ``directory`` (see ``publish``).

    Every file URL is ``base_url/<quoted path relative to directory>``.

    Raises:
        DatasetError: as ``publish``.
    """
    directory = Path(directory)
    where = where or str(directory)
    files = sorted(p for p in directory.rglob("*.hdf5") if not any(part.endswith(".partial") for part in p.parts))
    datasets: dict[str, tuple[Dataset, ManifestFile]] = {}
    targets: list[tuple[Path, str]] = []
    for path in files:
        with open_h5(path) as h5:
            kind = h5.attrs.get("kind")
            labels = str(h5.attrs.get("dataset_sha256", ""))
        if kind == TARGETS_KIND:
            targets.append((path, labels))
            continue
        dataset = Dataset(path)
        record = _file(path, directory, base_url, "dataset")
        if dataset.dataset_id in {d.dataset_id for d, _ in datasets.values()}:
            raise DatasetError(f"two files under {directory} have the id {dataset.dataset_id}")
        datasets[record.sha256] = (dataset, record)
    orphans = [str(path) for path, labels in targets if labels not in datasets]
    if orphans:
        raise DatasetError(f"targets file(s) label no dataset under {directory}: {', '.join(orphans)}")
    entries = []
    for sha256, (dataset, record) in datasets.items():
        extra = [_file(path, directory, base_url, "targets") for path, labels in targets if labels == sha256]
        card = dataset.path.with_suffix(".md")
        if card.is_file():
            extra.append(_file(card, directory, base_url, "card"))
        raw = ManifestEntry(
            id=dataset.dataset_id,
            format_version=dataset.header.format_version,
            game=dataset.game,
            description=dataset.header.attrs["description"],
            license=dataset.header.attrs["license"],
            episodes=len(dataset),
            steps=dataset.total_steps,
            files=(record, *extra),
        ).to_json()
        entries.append(parse_entry(raw, where=where))
    return entries
