"""Named presets of a typed config: one builder for every agent's ``paper`` / ``fast`` / ``smoke``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TypeVar

from xtra_bench.errors import ConfigError, UnknownNameError, closest_match_hint

C = TypeVar("C")


def config_from_preset(cls: type[C], presets: Mapping[str, dict], name: str, label: str, **overrides) -> C:
    """Builds ``cls`` from preset ``name``'s field values with ``overrides`` applied on top.

    Args:
        cls: a dataclass whose defaults are the ``paper`` values.
        presets: preset name -> field overrides of the defaults.
        name: the preset to build.
        label: what the settings belong to, for error messages ("EfficientZero").
        **overrides: field values that win over the preset's.

    Raises:
        UnknownNameError: ``name`` is not a preset.
        ConfigError: an override names no field (or the dataclass rejects a value).
    """
    if name not in presets:
        raise UnknownNameError(f"unknown preset {name!r}.{closest_match_hint(name, list(presets))} Presets: {', '.join(presets)}.")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        hints = "".join(closest_match_hint(u, sorted(fields)) for u in unknown)
        raise ConfigError(f"unknown {label} setting(s): {', '.join(unknown)}.{hints}")
    return cls(**{**presets[name], **overrides})


def apply_overrides(configs: Mapping[str, object], overrides: Mapping[str, object], label: str) -> dict[str, object]:
    """Replaces fields of an agent's config dataclasses with ``overrides``.

    Args:
        configs: constructor keyword -> config dataclass (``Agent.default_configs``); no two share a field.
        overrides: field name -> typed value.
        label: whose settings they are, for error messages (the agent's name).

    Returns:
        The same keywords, each config with the fields it owns replaced (``__post_init__`` checks the values).

    Raises:
        ConfigError: a field of none of the configs, or a value the config rejects.
    """
    owner = {f.name: kw for kw, cfg in configs.items() for f in dataclasses.fields(cfg)}
    unknown = sorted(set(overrides) - set(owner))
    if unknown:
        hints = "".join(closest_match_hint(u, sorted(owner)) for u in unknown)
        raise ConfigError(f"{label} has no setting {', '.join(unknown)}.{hints}")
    out = dict(configs)
    for kw in configs:
        mine = {k: v for k, v in overrides.items() if owner[k] == kw}
        if mine:
            out[kw] = dataclasses.replace(configs[kw], **mine)
    return out


def overrides_label(overrides: Mapping[str, object]) -> str:
    """``"lr=0.1, cosine_threshold=0.2"`` (keys sorted; lists comma-separated)."""
    show = lambda v: ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v).lower() if isinstance(v, bool) else str(v)  # noqa: E731
    return ", ".join(f"{k}={show(v)}" for k, v in sorted(overrides.items()))
