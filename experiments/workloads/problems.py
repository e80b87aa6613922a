"""Problems by name: datasets, 2-D objectives and a noisy series.

Every problem is looked up in `PROBLEMS` and loaded with keyword arguments
taken from a run's `problem` table, e.g. `{name = "digits", normalize = true}`.
There are three kinds, each with its own runner in `experiments.runner`:

* `dataset`: a classification `Data` (train / validation / test splits).
  `moons` and `digits` ship with scikit-learn and always work offline.
  `mnist`, `fashion_mnist` and `cifar10` are read in the files' real formats
  from Keras's dataset cache (`$KERAS_HOME/datasets`, by default
  `~/.keras/datasets`) or from `data_dir`; when the files are absent,
  `keras.datasets` is asked to download them, and when that fails too the
  error says which file to put where. With `fallback = "digits"` the run
  uses that problem instead and records the substitution in its config.
* `objective`: a function of two parameters (`experiments.workloads.objectives2d`).
* `series`: a noisy sequence to average (the material's exponentially
  weighted averages).

`quadratic_deep` is a dataset problem with a model of its own (DeepOBS's
noisy quadratic: its parameters are theta, its data the noise), so its runs
name no `model`.

Input normalisation (`normalize = true`) is fitted on the training split only
and then applied to every split.
"""

from __future__ import annotations

import dataclasses
import gzip
import inspect
import math
import os
import pathlib
import pickle

import numpy as np

from experiments.spec.validation import ConfigError, check_fraction, check_int, check_number, check_seed, lookup
from experiments.workloads import objectives2d


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
        return {
            "name": self.name,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "train": len(self.x_train),
            "validation": len(self.x_val),
            "test": len(self.x_test),
        }


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
    """`spec` is a name or a table `{name = ..., **arguments}`: (Problem, arguments)."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    problem = lookup("problem", PROBLEMS, spec.pop("name", None))
    return problem, spec


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


# --- splits and normalisation ----------------------------------------------


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


# --- scikit-learn datasets (offline) ----------------------------------------


@register("moons", "dataset", "two interleaved half circles, 2 features, 2 classes (scikit-learn)")
def moons(n_samples=300, noise=0.2, validation=0.0, test=0.0, normalize=False, data_seed=3):
    """The material's data: `make_moons(n_samples=300, noise=0.2)`.

    The material trains and reports accuracy on all 300 points, so nothing
    is held out by default.
    """
    from sklearn.datasets import make_moons

    n_samples = check_int("moons.n_samples", n_samples, minimum=4)
    noise = check_number("moons.noise", noise, minimum=0)
    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=check_seed("moons.data_seed", data_seed))
    return _finish("moons", x, y, 2, f"sklearn.datasets.make_moons(n_samples={n_samples}, noise={noise})",
                   validation, test, normalize, data_seed)


@register("digits", "dataset", "8x8 handwritten digits, 64 features, 10 classes (scikit-learn)")
def digits(validation=0.2, test=0.2, normalize=False, data_seed=0, image_size=8, channels=1):
    """scikit-learn's 1797 8x8 digits, pixels scaled to [0, 1]: the offline MNIST.

    `image_size = 28` (or 32, ...) resizes them (bilinear, `resize_images`) for a model made
    for larger images, a stand-in for MNIST's 28x28 or CIFAR-10's 32x32; `channels = 3`
    repeats the grey level in three channels, as CIFAR-10's colour images have.
    """
    from sklearn.datasets import load_digits

    image_size = check_int("digits.image_size", image_size, minimum=1)
    channels = check_int("digits.channels", channels, minimum=1)
    x, y = load_digits(return_X_y=True)
    x, source = x / 16.0, "sklearn.datasets.load_digits"
    if image_size != 8:
        x = resize_images(x.reshape(-1, 8, 8), image_size).reshape(len(x), -1)
        source += f", resized to {image_size}x{image_size}"
    if channels != 1:
        x = np.repeat(x.reshape(len(x), image_size * image_size, 1), channels, axis=2).reshape(len(x), -1)
        source += f", grey in {channels} channels"
    return _finish("digits", x, y, 10, source, validation, test, normalize,
                   check_seed("digits.data_seed", data_seed), image_shape=(image_size, image_size, channels))


def resize_images(images, size):
    """`images` [n, h, w] resized to [n, size, size] by bilinear interpolation (`scipy.ndimage.zoom`,
    order 1, its corners on the corners)."""
    from scipy.ndimage import zoom

    n, height, width = images.shape
    return zoom(images, (1, size / height, size / width), order=1, grid_mode=False)


# --- keras.datasets -----------------------------------------------------------


def keras_data_dir():
    """Where `keras.datasets` caches its files: `$KERAS_HOME/datasets`
    (by default `~/.keras/datasets`, or `/tmp/.keras/datasets` when the home
    directory is not writable, as Keras decides)."""
    try:
        from keras.src.backend import config  # Keras's own (private) accessor

        home = config.keras_home()
    except (ImportError, AttributeError):
        base = os.path.expanduser("~")
        home = os.environ.get("KERAS_HOME") or os.path.join(
            base if os.access(base, os.W_OK) else "/tmp", ".keras")
    return pathlib.Path(os.path.expanduser(home)) / "datasets"


def _read_npz(directory):
    with np.load(directory / "mnist.npz", allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_idx_gz(directory):
    def read(name, offset):
        with gzip.open(directory / name, "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    def pair(prefix):
        y = read(f"{prefix}-labels-idx1-ubyte.gz", 8)
        x = read(f"{prefix}-images-idx3-ubyte.gz", 16).reshape(len(y), 28, 28)
        return x, y

    return pair("train"), pair("t10k")


def _read_cifar_batches(directory):
    def read(name):
        with open(directory / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        x = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return x, np.asarray(batch[b"labels"], np.uint8)

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    train = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return train, read("test_batch")


@dataclasses.dataclass(frozen=True)
class KerasDataset:
    """A `keras.datasets` module, the files it caches and how to read them."""

    module: str
    files: tuple[str, ...]  # relative to the directory searched
    directories: tuple[str, ...]  # candidate subdirectories of the data dir
    read: callable
    url: str
    num_classes: int

    def find(self, data_dir):
        for sub in self.directories:
            directory = data_dir / sub
            if all((directory / f).is_file() for f in self.files):
                return directory
        return None


KERAS_DATASETS = {
    "mnist": KerasDataset(
        "mnist", ("mnist.npz",), ("",), _read_npz,
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz", 10),
    "fashion_mnist": KerasDataset(
        "fashion_mnist",
        ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"),
        ("fashion-mnist",), _read_idx_gz,
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/", 10),
    "cifar10": KerasDataset(
        "cifar10",
        tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",),
        ("cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py"),
        _read_cifar_batches,
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (extracted)", 10),
}


def _load_keras(name, data_dir):
    """Arrays ((x_train, y_train), (x_test, y_test)) and where they came from."""
    spec = KERAS_DATASETS[name]
    search = pathlib.Path(data_dir) if data_dir is not None else keras_data_dir()
    found = spec.find(search)
    if found is not None:
        return spec.read(found), str(found)
    if data_dir is None:
        import keras

        try:
            arrays = getattr(keras.datasets, spec.module).load_data()
        except Exception as error:  # Keras raises a bare Exception on fetch failure
            reason = f"downloading failed ({str(error).splitlines()[0][:200]})"
        else:
            return arrays, f"keras.datasets.{spec.module}"
    else:
        reason = "data_dir was given, so nothing is downloaded"
    place = search / spec.directories[0]
    reason = f"problem {name!r} is not available: {reason}"
    remedy = f"put {', '.join(spec.files)} from {spec.url} into {place}/ (or pass data_dir=DIR holding them)"
    raise DatasetUnavailable(
        f"{reason}. {remedy[0].upper()}{remedy[1:]}, or set fallback = \"digits\" to run on an offline dataset "
        "instead.", reason, remedy)


def _keras_problem(name):
    def load(validation=0.1, normalize=False, data_seed=0, data_dir=None, limit=None,
             fallback=None):
        if fallback is not None:  # a name, or a table {name = ..., **arguments} (`digits`' image_size)
            if not isinstance(fallback, (str, dict)):
                raise ConfigError(f"`{name}.fallback` must be a problem's name or a table {{name = ..., ...}}. "
                                  f"Received: fallback={fallback!r}")
            spec = {"name": fallback} if isinstance(fallback, str) else dict(fallback)
            stand_in = lookup("fallback problem", {k: p for k, p in PROBLEMS.items() if p.kind == "dataset"},
                              spec.pop("name", None))
        try:
            ((x, y), (x_test, y_test)), source = _load_keras(name, data_dir)
        except DatasetUnavailable as error:
            if fallback is None:
                raise
            try:
                data = stand_in.load(**{"normalize": normalize, "data_seed": data_seed, **spec})
            except TypeError as error:
                raise ConfigError(f"problem {name!r}, its fallback {stand_in.name!r}: {error}") from None
            data.source = f"{data.source} (fallback: {error})"
            settings = "".join(f", {key} = {value!r}" for key, value in spec.items())
            data.fallback_reason = f"{error.reason}; its runs use the fallback, {data.name}" + \
                (f" ({settings[2:]})" if settings else "") + f". To run on {name}, {error.remedy}"
            return data
        y, y_test = y.reshape(-1), y_test.reshape(-1)
        if limit is not None:
            limit = check_int(f"{name}.limit", limit, minimum=2)
            x, y = x[:limit], y[:limit]
        validation = check_fraction(f"{name}.validation", validation)
        image_shape = x.shape[1:] + (1,) * (x.ndim == 3)  # (28, 28) grey: one channel
        x = x.reshape(len(x), -1).astype("float32") / 255.0
        x_test = x_test.reshape(len(x_test), -1).astype("float32") / 255.0
        x_train, y_train, x_val, y_val, _, _ = _split(
            x, y.astype("int32"), validation, 0.0, check_seed(f"{name}.data_seed", data_seed),
            stratify=False)
        data = Data(name, x_train, y_train, x_val, y_val, x_test, y_test.astype("int32"),
                    KERAS_DATASETS[name].num_classes, source, image_shape=tuple(int(d) for d in image_shape))
        return normalise(data) if _bool(f"{name}.normalize", normalize) else data

    load.__doc__ = (f"`keras.datasets.{name}` flattened to vectors, pixels scaled to [0, 1]; "
                    "validation is cut from the training set, test is the official test set.")
    return load


register("mnist", "dataset", "28x28 handwritten digits, 10 classes (keras.datasets)")(_keras_problem("mnist"))
register("fashion_mnist", "dataset", "28x28 clothing images, 10 classes (keras.datasets)")(
    _keras_problem("fashion_mnist"))
register("cifar10", "dataset", "32x32 colour images, 10 classes (keras.datasets)")(_keras_problem("cifar10"))


# --- DeepOBS's noisy quadratic -----------------------------------------------


@dataclasses.dataclass
class Quadratic(Data):
    """A noisy quadratic: `x` holds the noise, `hessian` the fixed Hessian Q; its model is
    `models.noisy_quadratic`."""

    hessian: np.ndarray | None = None


def random_rotation(dimension, rng):
    """A rotation drawn uniformly from SO(dimension) by the subgroup algorithm (Diaconis and
    Shahshahani, 1987), drawing from `rng` in the order DeepOBS's `quadratic_deep.random_rotation`
    does: the angle of a 2-D rotation, then for each larger dimension d + 1 a point on the unit
    sphere, whose Householder reflection embeds the rotation so far; negated at the end."""
    angle = 2 * np.pi * rng.uniform()
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    for d in range(2, dimension):
        v = rng.normal(size=(d + 1, 1))
        v = v / np.sqrt(v.T @ v)
        e = np.zeros((d + 1, 1))
        e[0, 0] = 1.0
        x = (e - v) / np.sqrt((e - v).T @ (e - v))
        embedded = np.eye(d + 1)
        embedded[1:, 1:] = rotation
        rotation = embedded - 2 * np.outer(x, x.T @ embedded)
    return -rotation


def deep_hessian():
    """DeepOBS's `quadratic_deep` Hessian, the same for everyone: from `RandomState(42)`, 90
    eigenvalues uniform in (0, 1) and 10 in (30, 60) (the spectrum reported for deep networks,
    arXiv:1611.01838), then a random rotation R; Q = R^T diag(eigenvalues) R."""
    rng = np.random.RandomState(42)
    eigenvalues = np.concatenate([rng.uniform(0.0, 1.0, 90), rng.uniform(30.0, 60.0, 10)])
    rotation = random_rotation(100, rng)
    return rotation.T @ np.diag(eigenvalues) @ rotation


@register("quadratic_deep", "dataset",
          "DeepOBS's noisy quadratic: 100-D, deep-learning eigenvalues, theta as parameters (no model)")
def quadratic_deep(train_size=1000, noise_level=0.6, validation=0.0):
    """DeepOBS's `quadratic_deep` (`deepobs/tensorflow/testproblems/quadratic_deep.py` and
    `datasets/quadratic.py`): each example's loss is `0.5 * (theta - x)^T Q (theta - x)`, theta
    starting at 1 (`models.noisy_quadratic`, the problem's own model), Q `deep_hessian()`. The
    data: `train_size` draws of x ~ N(0, noise_level^2 I) from `RandomState(42)` for training and
    from `RandomState(43)` for the test split, in float32, as DeepOBS draws them; `validation`
    is a fraction cut from the training draws (DeepOBS has none). No labels, no accuracy."""
    train_size = check_int("quadratic_deep.train_size", train_size, minimum=2)
    noise_level = check_number("quadratic_deep.noise_level", noise_level, minimum=0)
    validation = check_fraction("quadratic_deep.validation", validation)
    draw = lambda seed: np.random.RandomState(seed).normal(0.0, noise_level, (train_size, 100)).astype("float32")  # noqa: E731
    x, x_test = draw(42), draw(43)
    held = math.ceil(validation * train_size) if validation else 0
    if held >= train_size:
        raise ConfigError(f"`quadratic_deep.validation` leaves no training data. Received: validation={validation}")
    order = np.random.RandomState(0).permutation(train_size) if held else np.arange(train_size)
    x_val, x_train = x[order[:held]], x[order[held:]]
    labels = lambda rows: np.zeros(len(rows), "int32")  # noqa: E731
    return Quadratic("quadratic_deep", x_train, labels(x_train), x_val, labels(x_val), x_test, labels(x_test),
                     num_classes=0, source=f"numpy RandomState(42) and (43): N(0, {noise_level}^2), "
                     f"{train_size} x 100 each", model="noisy_quadratic", hessian=deep_hessian())


# --- 2-D objectives and the noisy series ----------------------------------


def _objective_loader(name):
    def load(start=None):
        objective = objectives2d.OBJECTIVES[name]
        if start is None:
            return objective
        if not isinstance(start, (list, tuple)) or len(start) != 2:
            raise ConfigError(f"`{name}.start` must be two numbers [x, y]. Received: start={start!r}")
        for axis, value in zip("xy", start):
            check_number(f"{name}.start.{axis}", value)
        return dataclasses.replace(objective, start=tuple(float(v) for v in start))

    return load


for _name, _objective in objectives2d.OBJECTIVES.items():
    register(_name, "objective", _objective.title)(_objective_loader(_name))


@dataclasses.dataclass
class Series:
    values: np.ndarray  # theta_1 .. theta_T
    trend: np.ndarray  # the same without noise


@register("noisy_series", "series", "a noisy seasonal series, the material's temperature example")
def noisy_series(length=200, noise=4.0, data_seed=0):
    """`theta_t = 15 + 10 sin(3 pi t / 365) + N(0, noise^2)`, t = 1..length.

    A stand-in for the material's daily temperatures: a slow trend the
    averages should follow, plus day-to-day noise they should smooth out.
    """
    length = check_int("noisy_series.length", length, minimum=2)
    noise = check_number("noisy_series.noise", noise, minimum=0)
    rng = np.random.default_rng(check_seed("noisy_series.data_seed", data_seed))
    t = np.arange(1, length + 1)
    trend = 15 + 10 * np.sin(3 * np.pi * t / 365)
    return Series(trend + rng.normal(0, noise, length), trend)
