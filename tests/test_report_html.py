"""The HTML report is self-contained and shows its figures in a real browser (headless Chromium)."""

import re
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from report_trees import write_job, write_protocol

from xtra_bench.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("html") / "runs"
    write_protocol(root)
    rng = np.random.default_rng(0)
    for agent, level in (("efficientzero", 1.0), ("xtra", 1.4)):
        for game, base in (("Assault", 900.0), ("Alien", 700.0)):
            for seed in range(3):
                periodic = {step: list(rng.normal(base * level * step / 50_000, 50, 2)) for step in (10_000, 20_000, 30_000)}
                etas = {"Phoenix": [(s, 0.5 + 0.1 * seed) for s in (0, 10_000, 20_000)]} if agent == "xtra" else None
                split = "shooter" if game == "Assault" else "maze"
                write_job(
                    root, agent, game, seed, list(rng.normal(base * level, 100, 4)), split=split, periodic=periodic, etas=etas
                )
    result = CliRunner().invoke(main, ["report", str(root), "--reps", "200"])
    assert result.exit_code == 0, result.output
    return root / "report"


def test_html_is_self_contained_with_every_figure_embedded(report_dir):
    page = (report_dir / "index.html").read_text()
    assert not re.search(r"""(src|href)=["'](https?:|file:|//)""", page)
    pngs = sorted((report_dir / "figures").glob("*.png"))
    assert len(pngs) >= 5  # scores, aggregates, profiles, improvement, sample efficiency, task weights
    assert page.count('src="data:image/png;base64,') == len(pngs)
    assert "published" in page


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium); CI installs it")
def test_html_shows_its_figures_in_headless_chromium(report_dir, tmp_path):
    shot = tmp_path / "shot.png"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000",
        (report_dir / "index.html").resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1200)
    not_white = (pixels < 0.95).any(axis=2).mean()
    # Text and tables are grey on white; only the figures are in colour.
    coloured = (pixels.max(axis=2) - pixels.min(axis=2) > 0.3).mean()
    assert not_white > 0.05, f"page looks blank ({not_white:.1%} of pixels not white)"
    assert coloured > 0.01, f"no figure visible ({coloured:.2%} of pixels coloured)"
