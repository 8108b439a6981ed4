"""The sections of the device check, each a thin layer over the benchmark module that measures it.

Every section takes the running ``Check`` and its budget in seconds and returns
``{"figures": {...}, "details": {...}}``: figures are measured quantities, all positive (rates,
times, ratios of times); details hold everything else (settings, flag states, returns, shares,
differences between variants).
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import curl_speed
import ez_speed
import mcts
import xtra_cost
from baselines.curl.config import preset_config as curl_preset_config
from baselines.efficientzero.agent import EfficientZeroAgent
from baselines.efficientzero.config import EfficientZeroConfig, preset_config
from baselines.efficientzero.graphs import GraphedRecurrent
from baselines.efficientzero.networks import build_network, obs_to_input
from baselines.efficientzero.reanalyze import search
from baselines.efficientzero.speed import CUDA_ONLY, flag_active, speed_flags
from baselines.efficientzero.transfer import to_device
from device_sizes import CheckSizes
from learning_check import curve_point
from timing import seconds_per_call, synchronize
from xtra_bench.agents import RandomAgent
from xtra_bench.envs import make_env
from xtra_bench.games import get_game

TOGGLES = ("compile", "amp", "channels_last", "cuda_graphs", "pin_memory")
"""The speed flags the check can turn on (``overlap_reanalysis`` keeps the config's default, on)."""

EFFICIENTZERO_BREAKOUT_100K = 414.1
"""EfficientZero's Breakout score after 100k agent steps, from its paper's Atari 100k results (Ye et al., 2021,
"Mastering Atari Games with Limited Data"): the only published EfficientZero Breakout number this check cites."""

Outcome = dict[str, dict]


@dataclasses.dataclass
class Check:
    """The state of one running device check, shared by its sections.

    Attributes:
        sizes: every size and budget.
        device: where the networks run.
        flags: the speed flags chosen for the check (a subset of ``TOGGLES``).
        deadline: ``time.perf_counter()`` by which the whole check ends.
        broken: flags a section saw fail (flag -> error); later sections run without them.
        results: the outcomes of the sections run so far, by name.
    """

    sizes: CheckSizes
    device: torch.device
    flags: frozenset[str]
    deadline: float
    broken: dict[str, str] = dataclasses.field(default_factory=dict)
    results: dict[str, dict] = dataclasses.field(default_factory=dict)

    def seconds_left(self) -> float:
        return self.deadline - time.perf_counter()

    def ez_config(self, flags: frozenset[str] | set[str], **overrides) -> EfficientZeroConfig:
        """The EfficientZero config of the check's preset and sizes with exactly ``flags`` on."""
        s = self.sizes
        return preset_config(
            s.preset,
            batch_size=s.batch_size,
            num_simulations=s.simulations,
            search_threads=s.tree_threads,
            **{flag: flag in flags for flag in TOGGLES},
            **overrides,
        )

    def run_config(self) -> EfficientZeroConfig:
        """The config of the whole run and the learning check: every chosen flag that works, compile excepted.

        Compiling costs a compile per agent (a minute or more): the training-step section
        measures what it buys, and the runs spend their minutes on running.
        """
        s = self.sizes
        flags = self.flags - set(self.broken) - {"compile"}
        return self.ez_config(flags, num_envs=s.envs, min_replay_size=s.min_replay, updates_per_env_step=s.updates_per_env_step)


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    return f"{type(error).__name__}: {error}".splitlines()[0]


def _skipped_flags(check: Check, names: set[str]) -> dict[str, str]:
    """Why each of ``names`` the check chose does not act on its device."""
    return {name: CUDA_ONLY[name] for name in sorted(names & check.flags) if name in CUDA_ONLY and check.device.type != "cuda"}


def train_step(check: Check, budget_s: float) -> Outcome:
    """Updates/s of ``Learner.update`` on a synthetic batch: eager fp32, with amp and channels-last, then also compiled."""
    s, device = check.sizes, check.device
    started = time.perf_counter()
    variants = [("eager", frozenset())]
    fast = check.flags & {"amp", "channels_last"}
    if fast:
        variants.append(("amp_channels_last", fast))
    figures, details = {}, {"preset": s.preset, "batch_size": s.batch_size, "flags": {}, "errors": {}, "skipped": _skipped_flags(check, {"compile", "amp"})}
    if "compile" in check.flags and flag_active(check.ez_config({"compile"}), "compile", device):
        variants.append(("compiled", fast | {"compile"}))
    for name, flags in variants:
        cfg = check.ez_config(flags)
        left = budget_s - (time.perf_counter() - started)
        if name == "compiled" and left < s.compile_min_s:
            details["skipped"]["compile"] = f"{left:.0f} s of the section's budget left, compiling needs about {s.compile_min_s:.0f}"
            continue
        begin = time.perf_counter()
        try:
            rate = ez_speed.time_updates(cfg, warmup=2, repeats=s.repeats, device=device, budget_s=max(1.0, 0.2 * budget_s))
        except Exception as error:  # a flag that fails on this device must not end the check
            details["errors"][name] = one_line(error)
            check.broken.update({flag: one_line(error) for flag in flags - _working(variants, details)})
            continue
        figures[f"{name}_updates_per_s"] = rate
        details["flags"][name] = speed_flags(cfg, device)
        details.setdefault("wall_s", {})[name] = round(time.perf_counter() - begin, 1)
    return {"figures": figures, "details": details}


def _working(variants: list[tuple[str, frozenset[str]]], details: dict) -> set[str]:
    """The flags of the variants measured so far without an error."""
    return {flag for name, flags in variants if name in details["flags"] for flag in flags}


def search_speed(check: Check, budget_s: float) -> Outcome:
    """Milliseconds per search of ``roots`` roots with the network, eager and with CUDA graphs."""
    s, device = check.sizes, check.device
    figures, details = {}, {"roots": s.roots, "simulations": s.simulations, "tree_threads": s.tree_threads, "skipped": _skipped_flags(check, {"cuda_graphs"})}
    variants = [("eager", frozenset())]
    if "cuda_graphs" in check.flags and device.type == "cuda":
        variants.append(("cuda_graphs", frozenset({"cuda_graphs"})))
    for name, flags in variants:
        seconds = ez_speed.time_search(check.ez_config(flags), s.roots, warmup=2, repeats=s.repeats, device=device, budget_s=budget_s / (2 * len(variants)))
        figures[f"{name}_ms"] = seconds * 1000
    return {"figures": figures, "details": details}


def speed_flag_checks(check: Check, budget_s: float) -> Outcome:
    """CUDA graphs and pinned copies give the numbers the plain paths give; pinned vs pageable copy time of a replay batch."""
    s, device = check.sizes, check.device
    cfg = check.ez_config(frozenset())
    figures, details = {}, {"flags": speed_flags(check.ez_config(check.flags), device)}
    torch.manual_seed(0)
    net = build_network(ez_speed.FRAME, ez_speed.ACTIONS, cfg, device).eval()
    obs = torch.randint(0, 256, (s.roots, cfg.frame_stack, *ez_speed.FRAME), dtype=torch.uint8, device=device)
    legal = np.ones((s.roots, ez_speed.ACTIONS), dtype=bool)

    # The same search with and without the flag, from the same seeds.
    plain = search(net, obs, legal, cfg, np.random.default_rng(1), add_noise=True)
    flagged = search(net, obs, legal, check.ez_config({"cuda_graphs"}), np.random.default_rng(1), add_noise=True)
    details["search_same_visit_counts_share"] = float(np.mean((plain.visit_counts == flagged.visit_counts).all(axis=1)))
    details["search_root_value_max_abs_diff"] = float(np.abs(plain.root_values - flagged.root_values).max())
    if device.type == "cuda":
        details["recurrent_max_abs_diff"], failure = _graphed_difference(net, obs)
        if failure:
            details["cuda_graphs_failure"] = check.broken["cuda_graphs"] = failure

    # A replay batch's frames: B windows of stack + unroll + n-step frames.
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (s.batch_size, cfg.frame_stack + cfg.num_unroll_steps + cfg.td_steps, *ez_speed.FRAME), dtype=np.uint8)
    pinned = flag_active(check.ez_config({"pin_memory"}), "pin_memory", device)
    details["pinned_copy_identical"] = bool(torch.equal(to_device(frames, device, False), to_device(frames, device, pinned)))
    details["replay_batch_mb"] = round(frames.nbytes / 1e6, 1)
    figures["pageable_copy_ms"] = _median_ms(lambda: to_device(frames, device, False), device)
    if pinned:
        figures["pinned_copy_ms"] = _median_ms(lambda: to_device(frames, device, True), device)
    else:
        details["pinned_copy"] = f"skipped: {CUDA_ONLY['pin_memory']}"
    return {"figures": figures, "details": details}


def _graphed_difference(net, obs: torch.Tensor) -> tuple[float, str | None]:
    """Largest difference between graphed and eager recurrent outputs for a batch that needs padding, and any capture failure."""
    with torch.no_grad():
        root = net.initial_inference(obs_to_input(obs))
        rows = max(1, len(obs) - 3)  # not a bucket size: the padding is exercised
        latent, state = root.latent[:rows], tuple(x[:, :rows] for x in root.reward_state)
        actions = torch.arange(rows, device=obs.device) % net.action_space
        graphed = GraphedRecurrent(net)
        replayed, eager = graphed(latent, state, actions), net.recurrent_inference(latent, state, actions)
    pairs = [(replayed.latent, eager.latent), (replayed.value, eager.value), (replayed.value_prefix, eager.value_prefix), (replayed.policy_logits, eager.policy_logits)]
    pairs += list(zip(replayed.reward_state, eager.reward_state))
    return max(float((a.float() - b.float()).abs().max()) for a, b in pairs), graphed.failure


def _median_ms(call: Callable[[], object], device: torch.device, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        call()
        synchronize(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def tree_scaling(check: Check, budget_s: float) -> Outcome:
    """The C++ tree alone (network replaced by arrays) on 1, 2, 4, ... threads up to the tree's thread count."""
    s = check.sizes
    counts = sorted({n for n in (1, 2, 4, 8, 16) if n <= s.tree_threads} | {s.tree_threads})
    result = mcts.thread_scaling(s.tree_roots, s.tree_simulations, ez_speed.ACTIONS, counts, s.tree_repeats)
    figures = {f"us_per_root_sim_{n}_threads": result["us_per_root_sim"][str(n)] for n in counts}
    figures.update({f"speedup_{n}_threads": result["speedup"][str(n)] for n in counts if n > 1})
    return {"figures": figures, "details": {k: result[k] for k in ("roots", "simulations", "actions", "repeats", "cpu_count")}}


def xtra_cost_ratio(check: Check, budget_s: float) -> Outcome:
    """XTRA's cost per update over EfficientZero's (``xtra_cost.measure``)."""
    s = check.sizes
    result = xtra_cost.measure(
        s.xtra_preset, s.xtra_tasks, s.xtra_batch_size, s.xtra_offline_batch_size, 100_000, s.xtra_repeats, 1, check.device, budget_s=budget_s / 6
    )
    keys = ("ez_update_s", "xtra_update_s", "xtra_window_update_s", "reanalysis_s", "learner_xtra_over_ez", "update_xtra_over_ez", "run_xtra_over_ez")
    return {"figures": {k: result[k] for k in keys}, "details": {k: v for k, v in result.items() if k not in keys}}


def curl_rate(check: Check, budget_s: float) -> Outcome:
    """CURL's updates/s (``curl_speed.measure``)."""
    s = check.sizes
    cfg = curl_preset_config(s.curl_preset, **({"batch_size": s.curl_batch_size} if s.curl_batch_size else {}))
    result = curl_speed.measure(cfg, s.curl_replay, s.curl_repeats, check.device, warmup=2, budget_s=budget_s / 3)
    return {
        "figures": {k: result[k] for k in ("update_per_s", "replay_update_per_s")},
        "details": {"preset": s.curl_preset, **{k: result[k] for k in ("batch_size", "n_step", "replay_transitions")}},
    }


def whole_run(check: Check, budget_s: float) -> Outcome:
    """Sustained updates/s of the agent's own loop on the game, parallel envs and reanalysis included (``ez_speed.whole_run``)."""
    s = check.sizes
    cfg = check.run_config()
    metrics = ez_speed.whole_run(s.game, s.preset, cfg, s.run_updates, str(check.device), warmup_steps=s.run_warmup_steps)
    details = {"game": s.game, "envs": s.envs, "updates": s.run_updates, "flags": speed_flags(cfg, check.device)}
    details.update({k: round(v, 4) for k, v in metrics.items() if k.startswith("share_")})
    return {"figures": {k: metrics[k] for k in ("updates_per_s", "env_steps_per_s")}, "details": details}


class OutOfTime(Exception):
    """Raised from the training loop's callback when the learning check's training time is spent."""


def learning(check: Check, budget_s: float) -> Outcome:
    """EfficientZero on the game for as many steps as the budget allows, then greedy eval games against random ones.

    The steps are planned from the whole run's env steps/s (the learning check's own first run
    when that section did not run); a callback stops training at its share of the budget
    whatever the plan said. A short-budget sanity check, not a reproduction: the published
    figure is the score after 100k steps.
    """
    s, device = check.sizes, check.device
    started = time.perf_counter()
    train_s = budget_s - s.eval_budget_s
    rate = check.results.get("whole_run", {}).get("figures", {}).get("env_steps_per_s")
    planned = s.learning_max_steps if rate is None else int(rate * train_s)
    steps = max(s.learning_min_steps, min(s.learning_max_steps, planned)) // s.envs * s.envs
    cfg = check.run_config()
    progress: list[dict] = []

    def on_metrics(env_steps: int, metrics: dict[str, float]) -> None:
        keep = ("train/episode_return", "train/learning_return", "total_loss", "updates_per_s")
        progress.append({"env_steps": env_steps, **{k: round(metrics[k], 4) for k in keep if k in metrics}})

    def on_eval(env_steps: int) -> None:
        if time.perf_counter() - started > train_s:
            raise OutOfTime

    stopped = False
    with make_env(s.game, s.envs, mode="train", seed=0) as env:
        agent = EfficientZeroAgent(env.spec, preset=s.preset, seed=0, device=str(device), config=cfg)
        try:
            agent.train(env, steps, eval_every=s.envs, on_eval=on_eval, on_metrics=on_metrics)
        except OutOfTime:
            stopped = True
    trained_s = time.perf_counter() - started

    game = get_game(s.game)
    ours = functools.partial(agent.act, greedy=True)
    eval_started = time.perf_counter()
    # One game per eval env, capped so that both evaluations fit what is left of the budget.
    with make_env(s.game, s.eval_episodes, mode="eval", seed=1) as probe_env:
        probe = probe_env.reset()
    step_s = seconds_per_call(lambda: ours(probe), warmup=1, repeats=2, device=device)
    eval_left = budget_s - (time.perf_counter() - started)
    cap = int(max(s.eval_min_steps, min(s.eval_max_steps, 0.8 * eval_left / step_s)))
    frames = cap * cfg.frame_skip
    point = curve_point(ours, s.game, s.eval_episodes, seed=1000, steps=agent.env_steps, started=started, max_episode_frames=frames)
    uniform = functools.partial(RandomAgent(agent.spec, seed=0).act, greedy=False)
    baseline = curve_point(uniform, s.game, s.eval_episodes, seed=1000, steps=0, started=started, max_episode_frames=frames)
    figures = {
        "env_steps": agent.env_steps,
        "updates": agent.learner.steps,
        "train_s": trained_s,
        "updates_per_s": agent.learner.steps / trained_s,
        "eval_s": time.perf_counter() - eval_started,
    }
    details = {
        "game": s.game,
        "envs": s.envs,
        "planned_steps": steps,
        "stopped_by_deadline": stopped,
        "flags": speed_flags(cfg, device),
        "eval": {"episodes": s.eval_episodes, "max_agent_steps_per_game": cap, "efficientzero": point, "random": baseline},
        "beats_random": point["mean"] > baseline["mean"] + 2 * max(point["stderr"], baseline["stderr"]),
        "published": {
            "efficientzero_100k": EFFICIENTZERO_BREAKOUT_100K if s.game == "Breakout" else None,
            "random": game.random,
            "human": game.human,
            "source": "EfficientZero at 100k steps: Ye et al. (2021), Atari 100k results; random and human: the Atari-57 reference table",
        },
        "note": "short-budget sanity check, not a reproduction: a few minutes of training against the paper's 100k steps",
        "progress": progress,
    }
    return {"figures": figures, "details": details}


SECTIONS: dict[str, tuple[str, Callable[[Check, float], Outcome]]] = {
    "train_step": ("EfficientZero training step (synthetic Atari batch)", train_step),
    "search": ("EfficientZero search with the network", search_speed),
    "speed_flags": ("Speed flags: same numbers, pinned vs pageable copies", speed_flag_checks),
    "tree_scaling": ("C++ tree thread scaling (network replaced by arrays)", tree_scaling),
    "xtra_cost": ("XTRA / EfficientZero cost per update", xtra_cost_ratio),
    "curl": ("CURL updates/s", curl_rate),
    "whole_run": ("EfficientZero whole run (acting, replay, reanalysis, training)", whole_run),
    "learning": ("EfficientZero learning check", learning),
}
"""Every section in the order it runs: name -> (title, function)."""
