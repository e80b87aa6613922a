"""Checks for values that come from batch files and the command line.

Every failure is a `ConfigError` (a `ValueError`) whose message names the
field and the value received, so the command line can print it as one line
and stop before any training starts.
"""

from __future__ import annotations

import difflib
import math
import numbers


class ConfigError(ValueError):
    """A batch file, a `--set` or a run argument holds a value we cannot use."""


def lookup(kind, table, name):
    """`table[name]`, or a ConfigError naming the closest known name."""
    if isinstance(name, str) and name in table:
        return table[name]
    close = difflib.get_close_matches(str(name), list(table), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"Unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(table))}.")


def check_number(name, value, minimum=None, maximum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ConfigError(f"`{name}` must be a number. Received: {name}={value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "-inf" if minimum is None else f"{minimum:g}"
        high = "inf" if maximum is None else f"{maximum:g}"
        raise ConfigError(f"`{name}` must be in [{low}, {high}]. Received: {name}={value!r}")
    return value


def check_int(name, value, minimum=None):
    wrong_type = isinstance(value, bool) or not isinstance(value, numbers.Integral)
    if wrong_type or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ConfigError(f"`{name}` must be an integer{bound}. Received: {name}={value!r}")
    return int(value)


def check_fraction(name, value):
    """A fraction in [0, 1)."""
    value = check_number(name, value, 0)
    if value >= 1:
        raise ConfigError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")
    return float(value)
