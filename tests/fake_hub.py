"""A fake Hugging Face Hub on 127.0.0.1: just the endpoints ``HfApi.create_commit`` (and create_repo/branch) call.

Implemented: ``POST /api/repos/create``, ``POST /api/<type>s/<repo>/branch/<rev>``,
``POST /api/<type>s/<repo>/preupload/<rev>`` (``.hdf5`` files go by LFS, the rest inline),
``POST /<prefix><repo>.git/info/lfs/objects/batch`` (basic transfer: one PUT per object),
``PUT /lfs-upload/<oid>`` (the bytes must hash to the oid) and ``POST /api/<type>s/<repo>/commit/<rev>``
(NDJSON: header, file with base64 content, lfsFile by oid). Repos live in memory; every request
is logged as (method, path).
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import threading
from urllib.parse import unquote, urlsplit

_PLURAL = {"datasets": "dataset", "models": "model", "spaces": "space"}


class FakeHub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.repos: dict[tuple[str, str], dict[str, dict[str, bytes]]] = {}  # (type, id) -> branch -> path -> bytes
        self.blobs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.commits = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, *args):
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, payload=None, error_code: str | None = None) -> None:
        body = json.dumps(payload if payload is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if error_code:
            self.send_header("X-Error-Code", error_code)
            self.send_header("X-Error-Message", str((payload or {}).get("error", "")))
        self.end_headers()
        self.wfile.write(body)

    def _repo(self, kind: str, repo_id: str, revision: str | None = None):
        repo = self.server.repos.get((kind, repo_id))
        if repo is None:
            self._reply(404, {"error": "Repository not found"}, "RepoNotFound")
            return None
        if revision is not None and unquote(revision) not in repo:
            self._reply(404, {"error": f"Invalid rev id: {revision}"}, "RevisionNotFound")
            return None
        return repo

    def do_PUT(self):
        path = urlsplit(self.path).path
        self.server.requests.append(("PUT", path))
        match = re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", path)
        data = self._body()
        if not match or hashlib.sha256(data).hexdigest() != match[1]:
            self._reply(400, {"error": "bad upload"})
            return
        with self.server.lock:
            self.server.blobs[match[1]] = data
        self._reply(200)

    def do_POST(self):
        path = urlsplit(self.path).path
        self.server.requests.append(("POST", path))
        body = self._body()
        if path == "/api/repos/create":
            raw = json.loads(body)
            kind = raw.get("type") or "model"
            repo_id = f"{raw['organization']}/{raw['name']}" if raw.get("organization") else raw["name"]
            with self.server.lock:
                if (kind, repo_id) in self.server.repos:
                    self._reply(409, {"error": "You already created this repo", "url": f"{self.server.url}/{repo_id}"}, "RepoExists")
                    return
                self.server.repos[(kind, repo_id)] = {"main": {}}
            self._reply(200, {"url": f"{self.server.url}/{kind}s/{repo_id}", "name": repo_id})
            return
        match = re.fullmatch(r"/(?:(datasets|spaces|models)/)?([^/]+/[^/]+)\.git/info/lfs/objects/batch", path)
        if match:
            raw = json.loads(body)
            objects = [
                {"oid": o["oid"], "size": o["size"], "authenticated": True,
                 "actions": {"upload": {"href": f"{self.server.url}/lfs-upload/{o['oid']}", "header": {}}}}
                for o in raw["objects"]
            ]  # fmt: skip
            self._reply(200, {"transfer": "basic", "objects": objects})
            return
        match = re.fullmatch(r"/api/(datasets|models|spaces)/([^/]+/[^/]+)/(branch|preupload|commit)/(.+)", path)
        if not match:
            self._reply(404, {"error": f"no such endpoint {path}"})
            return
        kind, repo_id, action, revision = _PLURAL[match[1]], match[2], match[3], unquote(match[4])
        if action == "branch":
            repo = self._repo(kind, repo_id)
            if repo is None:
                return
            with self.server.lock:
                if revision in repo:
                    self._reply(409, {"error": "Reference already exists"}, "BranchExists")
                    return
                repo[revision] = dict(repo["main"])
            self._reply(200)
            return
        repo = self._repo(kind, repo_id, revision)
        if repo is None:
            return
        if action == "preupload":
            files = [
                {"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(".hdf5") else "regular", "shouldIgnore": False}
                for f in json.loads(body)["files"]
            ]
            self._reply(200, {"files": files})
            return
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0]["key"] != "header":
            self._reply(400, {"error": "a commit starts with its header"})
            return
        staged = dict(repo[revision])
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                staged[value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "lfsFile":
                blob = self.server.blobs.get(value["oid"])
                if blob is None or len(blob) != value["size"]:
                    self._reply(422, {"error": f"LFS object {value['oid']} was not uploaded"})
                    return
                staged[value["path"]] = blob
            else:
                self._reply(400, {"error": f"unsupported commit operation {line['key']}"})
                return
        with self.server.lock:
            repo[revision] = staged
            self.server.commits += 1
            oid = hashlib.sha1(f"{repo_id}@{revision}#{self.server.commits}".encode()).hexdigest()
        self._reply(200, {"commitUrl": f"{self.server.url}/{match[1]}/{repo_id}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None})
