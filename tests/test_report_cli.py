"""`xtra-bench report`: files written, user mistakes as one line, warnings about thin evidence."""

import json

import pytest
from click.testing import CliRunner
from report_trees import write_job, write_protocol

from xtra_bench.cli import main
from xtra_bench.protocol import Protocol


def run(*args):
    return CliRunner().invoke(main, ["report", *map(str, args)])


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def small_tree(root, agents=("efficientzero", "xtra"), seeds=2, protocol=None, games=("Alien", "Amidar")):
    write_protocol(root, protocol)
    for agent in agents:
        for game in games:
            for seed in range(seeds):
                write_job(root, agent, game, seed, [100.0 + 10 * seed, 120.0], split="maze")
    return root


def test_writes_every_file_and_warns_about_few_seeds(tmp_path):
    runs = small_tree(tmp_path / "runs")
    write_job(runs, "xtra", "BankHeist", 0, [1.0], split="maze", done=False)
    result = run(runs, "--reps", "200")
    assert result.exit_code == 0, result.output
    out = runs / "report"
    names = {p.relative_to(out).as_posix() for p in out.rglob("*")}
    expected = {"report.md", "index.html", "scores.csv", "summary.json"}
    expected |= {
        f"figures/similar-{name}.{ext}" for name in ("scores", "aggregates", "profiles", "improvement") for ext in ("png", "pdf")
    }
    assert expected <= names
    assert "fewer than 5 seeds" in result.output and "1 job(s) left out" in result.output
    md = (out / "report.md").read_text()
    assert "| Amidar | xtra | 2 | 2 |" in md  # seeds and episodes per seed behind the number
    assert "published" in md


@pytest.mark.parametrize(
    "protocol, games",
    [(Protocol(env_steps=20_000, eval_interval=2_000, eval_episodes=16), "ended at every evaluation point"),
     (Protocol(train_games="play-out"), "played out across evaluations")],
)  # fmt: skip
def test_the_header_states_the_budget_the_evaluations_and_what_became_of_training_games(tmp_path, protocol, games):
    runs = small_tree(tmp_path / "runs", protocol=protocol)
    assert run(runs, "--reps", "50").exit_code == 0
    md = (runs / "report/report.md").read_text()
    steps, every = f"{protocol.env_steps:,}", f"{protocol.eval_interval:,}"
    line = f"- Protocol: {steps} agent steps; 8 games every {every} steps and {protocol.eval_episodes} with the final weights; training games {games}"
    assert line in md.splitlines()
    assert line[2:] in (runs / "report/index.html").read_text()


def test_existing_report_needs_force(tmp_path):
    runs = small_tree(tmp_path / "runs")
    out = tmp_path / "rep"
    assert run(runs, "--out", out, "--reps", "50").exit_code == 0
    (out / "mine.txt").write_text("keep")
    assert "--force" in one_error_line(run(runs, "--out", out, "--reps", "50"))
    assert (out / "mine.txt").exists()
    assert run(runs, "--out", out, "--reps", "50", "--force").exit_code == 0
    assert not (out / "mine.txt").exists() and (out / "index.html").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rep")]  # no staging folder left


def test_mixed_protocols_are_refused_in_one_line(tmp_path):
    a = small_tree(tmp_path / "a")
    b = small_tree(tmp_path / "b", agents=("curl",), protocol=Protocol(eval_episodes=100))
    line = one_error_line(run(a, b, "--out", tmp_path / "rep"))
    assert "2 different protocols" in line and "--allow-mixed" in line
    assert not (tmp_path / "rep").exists()
    allowed = run(a, b, "--out", tmp_path / "rep", "--allow-mixed", "--reps", "50")
    assert allowed.exit_code == 0, allowed.output
    assert "different protocols are aggregated" in allowed.output


def test_a_job_from_another_protocol_inside_a_tree_is_refused(tmp_path):
    runs = small_tree(tmp_path / "runs")
    write_job(runs, "curl", "Alien", 0, [5.0], split="maze", protocol_hash="0123456789abcdef")
    assert "0123456789abcdef" in one_error_line(run(runs, "--out", tmp_path / "rep"))


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        pytest.param(lambda p: p.mkdir(), [], "not a results tree", id="not-a-tree"),
        pytest.param(lambda p: write_protocol(p), [], "no finished job", id="empty-tree"),
        pytest.param(
            lambda p: small_tree(p), ["--baseline", "efficientzer"], "Did you mean 'efficientzero'", id="unknown-baseline"
        ),
        pytest.param(lambda p: small_tree(p), ["--reps", "0"], None, id="zero-reps"),
    ],
)
def test_user_mistakes(tmp_path, make, args, message):
    runs = tmp_path / "runs"
    make(runs)
    result = run(runs, "--out", tmp_path / "rep", *args)
    if message is None:  # click's own usage error
        assert result.exit_code == 2 and "--reps" in result.output
    else:
        assert message in one_error_line(result)


def test_same_job_in_two_trees_is_refused(tmp_path):
    a, b = small_tree(tmp_path / "a"), small_tree(tmp_path / "b")
    assert "appears twice" in one_error_line(run(a, b, "--out", tmp_path / "rep"))


def test_missing_default_baseline_is_a_warning_not_an_error(tmp_path):
    runs = small_tree(tmp_path / "runs", agents=("xtra", "curl"))
    result = run(runs, "--reps", "50")
    assert result.exit_code == 0, result.output
    assert "no results of the baseline 'efficientzero'" in result.output
    summary = json.loads((runs / "report" / "summary.json").read_text())
    assert summary["settings"]["similar"]["improvement"] == {}
    assert summary["settings"]["similar"]["rliable"]["probability_of_improvement"] == {}


def test_computing_never_imports_matplotlib():
    import subprocess
    import sys

    code = "import sys, xtra_bench.report.build, xtra_bench.report.layout; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
