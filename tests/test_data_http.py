"""Downloads over real HTTP on 127.0.0.1: Range resume after a dropped connection, errors, checksums."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading

import pytest
from data_synthetic import isolated_data_root  # noqa: F401

from xtra_bench.data import ChecksumError, DatasetError
from xtra_bench.data.download import download, fetch_http
from xtra_bench.data.registry import Registry, dataset_dir

PAYLOAD = bytes(range(256)) * 400  # 100 KiB


class FlakyServer(http.server.ThreadingHTTPServer):
    """Serves PAYLOAD at /data.bin with Range support; the first ``drops`` responses stop halfway."""

    def __init__(self, drops: int):
        super().__init__(("127.0.0.1", 0), Handler)
        self.drops = drops
        self.ranges: list[str | None] = []


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        if self.path != "/data.bin":
            self.send_error(404, "Not Found")
            return
        header = self.headers.get("Range")
        server.ranges.append(header)
        start = int(header.removeprefix("bytes=").rstrip("-")) if header else 0
        body = PAYLOAD[start:]
        self.send_response(206 if header else 200)
        if header:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.drops > 0:
            server.drops -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # drop the connection mid-body
            return
        self.wfile.write(body)


@pytest.fixture
def server_factory():
    servers = []

    def start(drops: int = 0) -> FlakyServer:
        server = FlakyServer(drops)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def url_of(server, path="/data.bin"):
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def test_a_dropped_connection_resumes_with_a_range_request(server_factory, tmp_path):
    server = server_factory(drops=2)
    part = tmp_path / "data.bin.part"
    fetch_http(url_of(server), part, expected_bytes=len(PAYLOAD), backoff_s=0.01)
    assert part.read_bytes() == PAYLOAD
    half = len(PAYLOAD) // 2
    assert server.ranges == [None, f"bytes={half}-", f"bytes={half + (len(PAYLOAD) - half) // 2}-"]


def test_a_part_left_by_an_earlier_attempt_is_continued(server_factory, tmp_path):
    server = server_factory()
    part = tmp_path / "data.bin.part"
    part.write_bytes(PAYLOAD[:1000])
    fetch_http(url_of(server), part, expected_bytes=len(PAYLOAD))
    assert part.read_bytes() == PAYLOAD and server.ranges == ["bytes=1000-"]


def test_http_errors_are_one_clear_error(server_factory, tmp_path):
    server = server_factory()
    with pytest.raises(DatasetError, match="HTTP 404 Not Found"):
        fetch_http(url_of(server, "/missing.bin"), tmp_path / "x.part", expected_bytes=10)
    with pytest.raises(DatasetError, match="failed after 2 attempts"):
        fetch_http("http://127.0.0.1:9/none", tmp_path / "y.part", expected_bytes=10, retries=1, backoff_s=0.01)


def write_manifest(tmp_path, url, sha256):
    manifest = tmp_path / "manifest.json"
    file = {"path": "data.bin", "url": url, "sha256": sha256, "bytes": len(PAYLOAD), "kind": "dataset"}
    manifest.write_text(json.dumps({"manifest_version": 1, "datasets": [{"id": "web/Game/flaky-v1", "files": [file]}]}))
    return Registry.load(manifest)


def test_download_over_http_resumes_and_verifies(server_factory, tmp_path):
    server = server_factory(drops=1)
    registry = write_manifest(tmp_path, url_of(server), hashlib.sha256(PAYLOAD).hexdigest())
    path = download("web/Game/flaky-v1", registry=registry)
    assert path == dataset_dir("web/Game/flaky-v1") / "data.bin" and path.read_bytes() == PAYLOAD
    assert len(server.ranges) == 2 and server.ranges[1] is not None


def test_http_bytes_that_mismatch_the_manifest_never_enter_the_cache(server_factory, tmp_path):
    server = server_factory()
    registry = write_manifest(tmp_path, url_of(server), "ab" * 32)
    with pytest.raises(ChecksumError, match="nothing was cached"):
        download("web/Game/flaky-v1", registry=registry)
    directory = dataset_dir("web/Game/flaky-v1")
    assert not (directory / "data.bin").exists() and not list(directory.glob("*.part"))
