"""Agent steps/s of the protocol's Atari vector env against ale-py's raw vector env stepping.

The raw baseline is ale-py's ``AtariVectorEnv`` with the same preprocessing (96x96 RGB, stack 4,
frame skip 4, max-pool) and nothing of ours on top; the difference is the wrapper's overhead
(action mapping, life-loss bookkeeping, first-frame stacks, resets with our seeds).

    python benchmarks/envs.py --game Breakout --envs 8 --steps 2000 [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from xtra_bench.envs import make_env
from xtra_bench.envs.atari import ATARI_SETTINGS
from xtra_bench.games import get_game


def steps_per_second(step, num_envs: int, num_actions: int, steps: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, num_actions, size=(steps, num_envs))
    start = time.perf_counter()
    for a in actions:
        step(a)
    return steps * num_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="Breakout")
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="emulator threads (0: ale-py's default)")
    parser.add_argument("--steps", type=int, default=2000, help="vector steps per measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from ale_py.vector_env import AtariVectorEnv

    game = get_game(args.game)
    s = ATARI_SETTINGS
    raw = AtariVectorEnv(
        game.rom, args.envs, num_threads=args.threads, img_height=s["frame_height"], img_width=s["frame_width"],
        grayscale=False, stack_num=s["frame_stack"], frameskip=s["frameskip"], maxpool=True, noop_max=s["noop_max"],
        repeat_action_probability=0.0, reward_clipping=False, use_fire_reset=False,
    )
    raw.reset(seed=0)
    ours = make_env(args.game, args.envs, seed=0, num_threads=args.threads)
    ours.reset()
    n = len(game.action_set)
    # Interleaved repeats, so drift in the machine's load hits both alike.
    raw_rates, our_rates = [], []
    for _ in range(3):
        raw_rates.append(steps_per_second(lambda a: raw.step(a.astype(np.int32)), args.envs, n, args.steps))
        our_rates.append(steps_per_second(ours.step, args.envs, n, args.steps))
    result = {
        "game": args.game,
        "envs": args.envs,
        "raw_steps_per_s": round(float(np.median(raw_rates)), 1),
        "xtra_bench_steps_per_s": round(float(np.median(our_rates)), 1),
    }
    result["overhead"] = round(result["raw_steps_per_s"] / result["xtra_bench_steps_per_s"] - 1, 4)
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
