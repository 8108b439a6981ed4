"""Config overrides of a run: ``--set key=value`` and ``--config FILE.toml``, typed against the agents' configs.

A key is a field of an agent's config dataclasses (``Agent.default_configs``) and applies to every
agent of the run that has it; a key no agent has is an error naming the closest fields. Values
from ``--set`` are text parsed by the field's type; values from a TOML file must already have it.
The typed overrides of each agent are recorded in every job's ``config.json``, name the job's
directory (``jobs/<agent>@<hash>/``, see ``overrides_hash``) and label its method in the report.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path

from xtra_bench.agents import Agent
from xtra_bench.errors import ConfigError
from xtra_bench.presets import apply_overrides

Overrides = tuple[tuple[str, object], ...]
"""Sorted (field, typed value) pairs; tuples for list values, so that jobs stay hashable."""

_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """``["lr=0.1", ...]`` -> ``{"lr": "0.1"}``; a later assignment of a key wins.

    Raises:
        ConfigError: an item without ``=`` or with an empty key.
    """
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not key=value (e.g. --set lr=0.1)")
        out[key.strip()] = value.strip()
    return out


def read_config_file(path: Path) -> dict[str, object]:
    """The top-level ``key = value`` settings of a TOML file.

    Raises:
        ConfigError: unreadable TOML, a table instead of a value, or no TOML reader (Python 3.10 without tomli).
    """
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError('--config needs Python 3.11 or the tomli package: pip install tomli') from None
    try:
        raw = tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path} is not valid TOML: {exc}") from None
    tables = [k for k, v in raw.items() if isinstance(v, dict)]
    if tables:
        raise ConfigError(f"--config {path}: put settings at the top level as key = value, not in a table ([{tables[0]}])")
    return raw


def _describe(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: object, tp, key: str):
    """``value`` as type ``tp`` (bool, int, float, str, tuples of them, ``X | None``); text is parsed.

    Raises:
        ConfigError: a value that is not of the type (one line naming the key, the type and the value).
    """
    bad = ConfigError(f"{key} takes {_describe(tp)}, not {value!r}")
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
            raise bad
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, key)
            except ConfigError:
                pass
        raise bad
    if origin is tuple:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except ValueError:
                    raise bad from None
            else:
                value = [v.strip() for v in text.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad
        items = args[:-1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if len(items) != len(value):
            raise bad
        return tuple(coerce(v, t, key) for v, t in zip(value, items))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        raise bad
    if tp is int:
        if isinstance(value, str):
            try:
                number = float(value.replace("_", ""))
            except ValueError:
                raise bad from None
            value = int(number) if number.is_integer() else value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value.replace("_", ""))
            except ValueError:
                raise bad from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    raise ConfigError(f"{key} has a type --set cannot write ({_describe(tp)})")


def _field_types(cls: type[Agent], preset: str) -> dict[str, object]:
    """Field name -> type of every config dataclass of an agent."""
    out = {}
    for cfg in cls.default_configs(preset).values():
        hints = typing.get_type_hints(type(cfg))
        out.update({f.name: hints[f.name] for f in dataclasses.fields(cfg)})
    return out


def resolve_overrides(agents: Mapping[str, type[Agent]], preset: str, raw: Mapping[str, object]) -> dict[str, Overrides]:
    """Types ``raw`` (key -> text or TOML value) against each agent's configs and checks the result builds.

    Args:
        agents: agent name -> class, every agent of the run.
        preset: the run's preset (the configs the overrides apply to).
        raw: the overrides as given.

    Returns:
        Agent name -> its sorted typed overrides (empty for an agent that has none of the keys).

    Raises:
        ConfigError: a key no agent has (with the closest fields), a value of the wrong type, or
            one the config rejects.
    """
    fields = {name: _field_types(cls, preset) for name, cls in agents.items()}
    known = sorted({f for per in fields.values() for f in per})
    for key in raw:
        if not any(key in per for per in fields.values()):
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise ConfigError(f"no agent of this run ({', '.join(agents)}) has a setting {key!r}.{hint}")
    out = {}
    for name, cls in agents.items():
        try:
            typed = {k: coerce(v, fields[name][k], k) for k, v in raw.items() if k in fields[name]}
        except ConfigError as exc:
            key = str(exc).split(" ", 1)[0]
            current = {f.name: getattr(c, f.name) for c in cls.default_configs(preset).values() for f in dataclasses.fields(c)}
            raise ConfigError(f"{exc} ({name}'s {preset} preset has {key}={current[key]!r})") from None
        if typed:
            apply_overrides(cls.default_configs(preset), typed, name)  # the config's own checks, before any work
        out[name] = tuple(sorted(typed.items()))
    return out


def overrides_json(overrides: Overrides) -> dict:
    """The overrides as JSON values (as ``config.json`` records them)."""
    return json.loads(json.dumps(dict(overrides)))


def overrides_hash(overrides: Overrides) -> str:
    """8 hex digits of the sha256 of the overrides: the suffix of their jobs' directory name."""
    blob = json.dumps(overrides_json(overrides), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:8]

