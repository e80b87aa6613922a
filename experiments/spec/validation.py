"""Checks for values that come from batch files and the command line.

Every failure is a `ConfigError` (a `ValueError`) whose message names the
field and the value received, so the command line can print it as one line
and stop before any training starts.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re


class ConfigError(ValueError):
    """A batch file, a `--set` or a run argument holds a value we cannot use."""


def lookup(kind, table, name):
    """`table[name]`, or a ConfigError naming the closest known name."""
    if isinstance(name, str) and name in table:
        return table[name]
    close = difflib.get_close_matches(str(name), list(table), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"Unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(table))}.")


def check_number(name, value, minimum=None, maximum=None, allow_inf=False):
    """`value`, if it is a finite real number in [minimum, maximum] (or +inf, with `allow_inf`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ConfigError(f"`{name}` must be a number. Received: {name}={value!r}")
    if math.isinf(value) and not (allow_inf and value > 0):
        raise ConfigError(f"`{name}` must be a finite number. Received: {name}={value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "-inf" if minimum is None else f"{minimum:g}"
        high = "inf" if maximum is None else f"{maximum:g}"
        raise ConfigError(f"`{name}` must be in [{low}, {high}]. Received: {name}={value!r}")
    return value


def check_int(name, value, minimum=None, maximum=None):
    wrong_type = isinstance(value, bool) or not isinstance(value, numbers.Integral)
    if wrong_type or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is None:
            bound = "" if minimum is None else f" >= {minimum}"
        else:
            bound = f" in [{minimum}, {maximum}]"
        raise ConfigError(f"`{name}` must be an integer{bound}. Received: {name}={value!r}")
    return int(value)


#: Seeds are 32-bit: what NumPy's and TensorFlow's generators take.
MAX_SEED = 2**32 - 1


def check_seed(name, value):
    return check_int(name, value, minimum=0, maximum=MAX_SEED)


def check_fraction(name, value):
    """A fraction in [0, 1)."""
    value = check_number(name, value, 0)
    if value >= 1:
        raise ConfigError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")
    return float(value)


#: The longest name that may become a file or directory (a batch, a run, a group): room is
#: left for the suffixes the suite adds (`_mean`, `_2`) under every filesystem's 255 bytes.
MAX_NAME_LENGTH = 100

#: What the suite writes beside the runs in a batch directory, and inside a run's: a user's
#: name is never one of these, so no run can overwrite (or be deleted as) the suite's files.
RESERVED_NAMES = frozenset({"batch.json", "summary.json", "search.json", "figures", "config.json",
                            "result.json", "error.txt", "checkpoint.npz", "curves.npz",
                            "aggregate.json", "train", "validation"})
#: Endings of what the suite writes there too: figures, json files, mean-over-seeds runs.
RESERVED_ENDINGS = (".png", ".json", ".txt", ".npz", ".tmp", ".md", "_mean")
RESERVED_START = "events.out.tfevents"

_PATH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.=+-]*")


def check_path_name(field, name):
    """`name`, if it can safely be a directory under the log directory; else a ConfigError.

    ASCII letters, digits and `_ . = + -` only, not starting with `.` or
    `-` (so never `.` or `..`, nor a hidden file nor an option), at most
    `MAX_NAME_LENGTH` characters, and none of the suite's own file names.
    """
    if not isinstance(name, str) or not _PATH_NAME.fullmatch(name):
        raise ConfigError(f"`{field}` names a directory: it may hold ASCII letters, digits and . = + - _ "
                          f"only, and may not start with . or -. Received: {field}={name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"`{field}` names a directory: it may be at most {MAX_NAME_LENGTH} characters "
                          f"long. Received: {field}={name[:40]!r}... ({len(name)} characters)")
    if (name.lower() in RESERVED_NAMES or name.lower().endswith(RESERVED_ENDINGS)
            or name.startswith(RESERVED_START)):
        raise ConfigError(f"`{field}` may not be, or end like, a file the suite writes itself "
                          f"({', '.join(sorted(RESERVED_NAMES))}, *{', *'.join(RESERVED_ENDINGS)}). "
                          f"Received: {field}={name!r}")
    return name
