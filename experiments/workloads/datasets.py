"""What every problem of `experiments.workloads.problems` is built on: the registry (`PROBLEMS`,
`register`, `get`, `load`), a classification problem's `Data` split three ways, seeded splits and
normalisation fitted on the training split."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math

import numpy as np

from experiments.spec import plugins
from experiments.spec.validation import ConfigError, check_fraction, lookup


@dataclasses.dataclass
class Data:
    """A classification problem split three ways; `y` holds integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str
    #: When this is a problem's `fallback`: why the problem itself was not loaded, and how to get it.
    fallback_reason: str | None = None
    #: Where this machine got the data (the directory its files were found in, a download, why a
    #: fallback stood in): `config.json` records it, a run's fingerprint leaves it out
    #: (`store.fingerprints.run_fingerprint`), so that the same data found elsewhere, or the same
    #: fallback taken for another network error, is the same run.
    origin: str | None = None
    #: The `source` a version before `origin` recorded for this data, with the origin in it: a run it
    #: finished is known by the fingerprint made with it (`store.fingerprints.former_fingerprint`).
    former_source: str | None = None
    #: For images: (height, width, channels) of a row of `x`, which holds them flattened in that
    #: order (the MLPs see the flat rows; the conv models reshape them back, `models.conv_input`).
    image_shape: tuple | None = None
    #: The problem's own model, for a problem whose parameters are its own (`quadratic_deep`):
    #: its runs name no `model`.
    model: str | None = None

    @property
    def input_shape(self):
        return self.x_train.shape[1:]

    def describe(self):
        described = {
            "name": self.name,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "train": len(self.x_train),
            "validation": len(self.x_val),
            "test": len(self.x_test),
        }
        if self.origin is not None:
            described["origin"] = self.origin
        return described


class DatasetUnavailable(ConfigError):
    """The dataset's files are neither present nor downloadable: `reason` says why, `remedy`
    where to put them."""

    def __init__(self, message, reason="", remedy=""):
        super().__init__(message)
        self.reason, self.remedy = reason, remedy


@dataclasses.dataclass(frozen=True)
class Problem:
    name: str
    kind: str  # "dataset" | "objective" | "series"
    load: callable
    description: str


PROBLEMS: dict[str, Problem] = {}


def register(name, kind, description):
    def decorator(load):
        PROBLEMS[name] = Problem(name, kind, load, description)
        return load

    return decorator


def get(spec):
    """`spec` is a name or a table `{name = ..., **arguments}`: (Problem, arguments). A name
    `module:function` is a user's loader (`experiments.spec.plugins`), a dataset problem whose
    `load` must return a `Data`."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = spec.pop("name", None)
    if plugins.is_path(name):
        loader = plugins.resolve("problem.name", name)
        if not callable(loader):
            raise ConfigError(f"`problem.name` must name a function that returns the problem's Data. "
                              f"Received: problem.name={name!r}, a {type(loader).__name__}")
        return Problem(name, "dataset", _checked(name, loader), f"a user's problem, {name}"), spec
    return lookup("problem", PROBLEMS, name), spec


def _checked(name, loader):
    """`loader`, its result checked to be a `Data` and anything it raises named."""
    @functools.wraps(loader)
    def load(**arguments):
        try:
            data = loader(**arguments)
        except (ConfigError, TypeError):
            raise
        except Exception as error:
            raise ConfigError(f"problem {name!r} raised {type(error).__name__}: {error}") from None
        if not isinstance(data, Data):
            raise ConfigError(f"problem {name!r} must return an experiments.workloads.problems.Data. "
                              f"Received: a {type(data).__name__}")
        return data

    return load


def load(spec):
    """Load the problem described by `spec` (see `get`)."""
    problem, arguments = get(spec)
    accepted = inspect.signature(problem.load).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        for key in arguments:
            lookup(f"argument of problem {problem.name!r}", accepted, key)
    try:
        return problem.load(**arguments)
    except TypeError as error:
        raise ConfigError(f"problem {problem.name!r}: {error}") from None


def _split(x, y, validation, test, seed, stratify=True):
    """Shuffle with `seed`, cut off the `test` fraction, then the `validation` one."""
    from sklearn.model_selection import train_test_split

    def cut(x, y, fraction):
        if fraction == 0:
            return x, y, x[:0], y[:0]
        x_keep, x_out, y_keep, y_out = train_test_split(
            x, y, test_size=fraction, random_state=seed, stratify=y if stratify else None
        )
        return x_keep, y_keep, x_out, y_out

    if stratify:  # every class in every split: sklearn refuses a split smaller than the classes
        classes, total = len(np.unique(y)), len(y)
        held_out = {"test": math.ceil(test * total), "validation": math.ceil(validation * total)}
        sizes = {**held_out, "training": total - sum(held_out.values())}
        for split, size in sizes.items():
            if size < classes and (split == "training" or size > 0):
                raise ConfigError(
                    f"the {split} split would hold {size} of {total} points, fewer than the {classes} "
                    f"classes; give it at least {classes / total:.3g} of the data. "
                    f"Received: validation={validation}, test={test}")
    x, y, x_test, y_test = cut(x, y, test)
    x_train, y_train, x_val, y_val = cut(x, y, validation / (1 - test))
    return x_train, y_train, x_val, y_val, x_test, y_test


def normalise(data: Data) -> Data:
    """Zero mean, unit variance per input feature, fitted on the training split."""
    mean = data.x_train.mean(axis=0)
    std = data.x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # constant pixels stay constant
    scale = lambda x: ((x - mean) / std).astype(data.x_train.dtype)  # noqa: E731
    return dataclasses.replace(
        data, x_train=scale(data.x_train), x_val=scale(data.x_val), x_test=scale(data.x_test)
    )


def _finish(name, x, y, num_classes, source, validation, test, normalize, data_seed, image_shape=None):
    validation = check_fraction(f"{name}.validation", validation)
    test = check_fraction(f"{name}.test", test)
    if validation + test >= 1:
        raise ConfigError(
            f"problem {name!r}: validation + test must be below 1. "
            f"Received: validation={validation}, test={test}"
        )
    # float64 data (scikit-learn's) stays float64: a float64 run sees it unrounded, and the
    # training program gives a float32 run the float32 values it always had
    x = x if x.dtype == np.float64 else x.astype("float32")
    parts = _split(x, y.astype("int32"), validation, test, data_seed)
    data = Data(name, *parts, num_classes=num_classes, source=source, image_shape=image_shape)
    return normalise(data) if _bool(f"{name}.normalize", normalize) else data


def _bool(name, value):
    if not isinstance(value, bool):
        raise ConfigError(f"`{name}` must be true or false. Received: {name}={value!r}")
    return value
