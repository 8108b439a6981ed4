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
