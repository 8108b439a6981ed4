"""Exceptions for mistakes a user can fix; the CLI turns each into one line and exit code 1."""


class XtraBenchError(Exception):
    """Base class: the message names the bad value and, where there is one, the fix."""


class UnknownNameError(XtraBenchError, KeyError):
    """A game, split, agent or dataset name that is not known."""

    def __str__(self) -> str:  # KeyError would otherwise print the message in quotes
        return str(self.args[0]) if self.args else ""


class ConfigError(XtraBenchError, ValueError):
    """A setting that is out of range or conflicts with another one."""


def closest_match_hint(name: str, known: list[str]) -> str:
    """Returns ' Did you mean X?' for the closest known name (case-insensitive), or ''."""
    import difflib

    lowered = {k.lower(): k for k in known}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return f" Did you mean {lowered[match[0]]!r}?" if match else ""
