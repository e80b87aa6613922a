"""A user's own objects, named in a batch file by import path: `module.path:Name`.

`optimizer = { name = "my_opts:Fromage", learning_rate = 0.01 }` takes class
`Fromage` from module `my_opts`; `keras.optimizers:Adam` is Keras's own Adam.
The module is imported as Python imports it: from the working directory of
`python -m experiments` (which Python puts first on `sys.path`) or from
`PYTHONPATH`. Under Ray (`--workers`, `--address`), every worker imports it
too: run from the directory that holds it on every node, or put it on each
node's `PYTHONPATH` (or install it).

Every failure is a `ConfigError` naming the field and the value received,
raised while the batch is prepared, before anything trains or is written:
no such module, a module that raises when imported, no such name.
`provenance` says where an object came from (its module, file and the
file's SHA-256), which a run's `config.json` records and its fingerprint
includes: an edited optimizer is never taken for the old one's finished runs.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re

from experiments.spec.validation import ConfigError

_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
_PATH = re.compile(f"{_DOTTED}:{_DOTTED}")


def is_path(name):
    """Whether `name` names an object by import path (it holds a `:`), not a built-in."""
    return isinstance(name, str) and ":" in name


def short_name(name):
    """What a run's name shows of `name`: the object's own name (`Fromage` of `my_opts:Fromage`)."""
    return (name.rpartition(":")[2].rpartition(".")[2] or name) if is_path(name) else name


def resolve(field, name):
    """The object `name` (`module.path:Name`, the name may be dotted) names; a ConfigError naming
    `field` if the module cannot be imported or holds no such name."""
    if not _PATH.fullmatch(name):
        raise ConfigError(f"`{field}` must be a built-in name or an import path `module.path:Name`. "
                          f"Received: {field}={name!r}")
    module_name, _, attribute = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise ConfigError(f"`{field}` names module {module_name!r}, which Python cannot find (from the working "
                              f"directory or PYTHONPATH). Received: {field}={name!r}") from None
        raise ConfigError(f"`{field}`: importing module {module_name!r} failed: {error}. "
                          f"Received: {field}={name!r}") from None
    except Exception as error:  # the user's module raised while it was imported
        raise ConfigError(f"`{field}`: importing module {module_name!r} raised {type(error).__name__}: {error}. "
                          f"Received: {field}={name!r}") from None
    found = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ConfigError(f"`{field}`: module {module_name!r} has no {attribute!r}. Received: {field}={name!r}")
        found = getattr(found, part)
    return found


def provenance(name):
    """Where the object `name` came from: its module, its name, the module's file and that
    file's SHA-256 (None for a module without a file)."""
    module_name, _, attribute = name.partition(":")
    module = importlib.import_module(module_name)
    try:
        path = inspect.getsourcefile(module) or getattr(module, "__file__", None)
    except TypeError:  # a built-in module
        path = None
    digest = None
    if path is not None:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
    return {"module": module_name, "name": attribute, "file": path, "sha256": digest}
