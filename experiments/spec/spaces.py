"""Search spaces as data: each built-in optimizer's default space (`spaces.toml`, each with
its source), or a user's own from a TOML file, in a batch file's `space` syntax
(`experiments.spec.search`):

    # my_space.toml: what `python -m experiments benchmark my_opts:Fromage --space my_space.toml` tunes
    source = "Bernstein et al. (2020): learning rate around 0.01"    # optional: said in the verdict
    "optimizer.learning_rate" = { log_uniform = [1e-3, 1e-1] }
    "optimizer.beta" = { one_minus_log = [0.8, 0.99] }                # 1 - beta on a log scale

A benchmark tunes what its optimizer (and schedule) are given: a space may name `optimizer.*`
and `schedule.*` fields only; the problem, model, batch size and length are the tier's.
"""

from __future__ import annotations

import dataclasses
import pathlib
import tomllib

from experiments.spec import search
from experiments.spec.validation import ConfigError

SPACES_FILE = pathlib.Path(__file__).with_name("spaces.toml")
#: The fields a benchmark's space may tune.
TUNABLE = ("optimizer", "schedule")


@dataclasses.dataclass(frozen=True)
class Space:
    """A search space: {dotted field: {distribution = args}}, where it comes from, its source."""

    space: dict
    origin: str
    source: str = ""

    def describe(self):
        return ", ".join(f"{key} {kind} {args}" for key, spec in self.space.items() for kind, args in spec.items())


def check(where, space):
    """`space` parsed (`search.parse_space`), and limited to the fields a benchmark tunes."""
    from experiments.spec.config import Run  # config imports search: read here, not at import

    for key in space if isinstance(space, dict) else ():
        if key.split(".")[0] not in TUNABLE or "." not in key:
            raise ConfigError(f"`{where}`: a benchmark tunes its optimizer's (and schedule's) hyperparameters "
                              f"only, as \"optimizer.learning_rate\"; the tier sets the rest. Received: {key!r}")
    return search.parse_space(where, space, Run.fields())


def _read(path):
    try:
        return tomllib.loads(pathlib.Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"`--space`: cannot read {str(path)!r}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"`--space`: {str(path)!r} is not valid TOML: {error}") from None


def builtin():
    """{optimizer name: Space}: the defaults in `spaces.toml`."""
    out = {}
    for name, entry in tomllib.loads(SPACES_FILE.read_text()).items():
        out[name] = Space(entry["space"], f"{SPACES_FILE.name} [{name}]", entry["source"])
    return out


def default(optimizer):
    """The default Space of built-in `optimizer` (a name); ConfigError naming `--space` if none."""
    spaces = builtin()
    if optimizer not in spaces:
        known = ", ".join(sorted(spaces))
        raise ConfigError(f"optimizer {optimizer!r} has no default search space (the built-ins with one: {known}); "
                          f"give one with --space FILE, a TOML file of \"optimizer.learning_rate\" = "
                          f"{{log_uniform = [1e-4, 1e-1]}} lines")
    space = spaces[optimizer]
    check(space.origin, space.space)
    return space


def load(path):
    """A user's Space from a TOML file: its dotted fields (or a [space] table) and an optional `source`."""
    data = _read(path)
    source = data.pop("source", "")
    if not isinstance(source, str):
        raise ConfigError(f"`source` in {str(path)!r} must be a string. Received: source={source!r}")
    space = data.pop("space", None) if "space" in data and len(data) == 1 else data
    check(f"--space {path}", space)
    return Space(space, str(path), source)
