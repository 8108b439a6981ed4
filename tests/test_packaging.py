"""An installed wheel carries the registry: built here, installed in a fresh venv, listed by its CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = "xtra/MinAtar-Breakout/random-sample-v1"


def source_copy(dest: Path) -> Path:
    """The repository's files without build outputs (a wheel built in place would leave them behind)."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split("\n")
        for name in filter(None, names):
            if (ROOT / name).is_file() and not name.endswith(".so"):
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, dest / name)
    else:
        shutil.copytree(ROOT, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".venv", "build", "*.egg-info", "*.so", "runs", "__pycache__", ".git"))
    return dest


@pytest.mark.slow
def test_the_installed_wheel_lists_and_downloads_the_bundled_registry(tmp_path):
    pytest.importorskip("Cython", reason="building the wheel without isolation needs Cython (the test extra installs it)")
    src = source_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src], check=True)
    (wheel,) = dist.glob("xtra_bench-*.whl")

    # A fresh venv that sees this environment's packages (torch, numpy, ...) but not its xtra_bench.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], check=True, capture_output=True, text=True).stdout.strip()
    parents = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    Path(site, "parent-env.pth").write_text("\n".join(parents) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel], check=True)

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XTRA_BENCH_REGISTRY")}
    env["XTRA_BENCH_DATA"] = str(tmp_path / "cache")
    work = tmp_path / "elsewhere"
    work.mkdir()

    def cli(*args):
        done = subprocess.run([venv / "bin" / "xtra-bench", *args], cwd=work, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    where = subprocess.run([python, "-c", "from xtra_bench.data.registry import bundled_manifest; print(bundled_manifest())"],
                           cwd=work, env=env, check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(venv), where  # the wheel's copy, not the source tree's
    rows = json.loads(cli("datasets", "list", "--json"))
    assert SAMPLE in {r["id"] for r in rows} and len(rows) == 4
    cli("datasets", "download", SAMPLE)  # the manifest's relative file:// URLs resolve inside the installed package
    cli("datasets", "verify", SAMPLE)
