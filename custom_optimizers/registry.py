"""Look optimizers and schedules up by name, for experiments written as data."""

from __future__ import annotations

import difflib

from custom_optimizers._base import OPTIMIZERS
from custom_optimizers.schedules import SCHEDULES


def _lookup(kind, table, name):
    if not isinstance(name, str) or name.lower() not in table:
        close = difflib.get_close_matches(str(name).lower(), table, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(table))}."
        )
    return table[name.lower()]


def get(name, **kwargs):
    """Build the optimizer registered as `name` (e.g. "adam") with `kwargs`.

    A `learning_rate` given as a dict `{"name": ..., **arguments}` is built
    with `get_schedule`, so a whole optimizer can be written as data.
    """
    learning_rate = kwargs.get("learning_rate")
    if isinstance(learning_rate, dict):
        schedule = dict(learning_rate)
        kwargs["learning_rate"] = get_schedule(schedule.pop("name", None), **schedule)
    return _lookup("optimizer", OPTIMIZERS, name)(**kwargs)


def get_schedule(name, **kwargs):
    """Build the learning-rate schedule registered as `name` with `kwargs`."""
    return _lookup("schedule", SCHEDULES, name)(**kwargs)
