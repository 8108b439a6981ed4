"""XTRA's task weights over training, averaged over seeds (the paper's Figures 5, 8 and 9)."""

from __future__ import annotations

import numpy as np

from xtra_bench.report.scores import SettingTable


def mean_curve(per_seed: list[np.ndarray]) -> np.ndarray:
    """Mean over seeds at the steps every seed logged.

    Args:
        per_seed: one float [K_i, 2] array of (env step, value) rows per seed.

    Returns:
        float [3, K]: steps, mean value, number of seeds (constant: every seed has every step).
    """
    tables = [dict(zip(rows[:, 0], rows[:, 1])) for rows in per_seed]
    steps = sorted(set.intersection(*(set(t) for t in tables)))
    mean = [float(np.mean([t[s] for t in tables])) for s in steps]
    return np.array([steps, mean, [len(tables)] * len(steps)], dtype=np.float64).reshape(3, len(steps))


def eta_curves(table: SettingTable) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Every logged task weight of a setting.

    Args:
        table: one setting's table.

    Returns:
        method -> target -> offline game -> float [3, K] (see ``mean_curve``); only methods and
        targets that logged weights appear.
    """
    out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for (method, game), cell in table.cells.items():
        offline = sorted({g for j in cell.jobs for g in j.etas})
        curves = {}
        for g in offline:
            per_seed = [j.etas[g] for j in cell.jobs if g in j.etas]
            curve = mean_curve(per_seed)
            if curve.shape[1]:
                curves[g] = curve
        if curves:
            out.setdefault(method, {})[game] = curves
    return out
