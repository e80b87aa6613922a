"""`mnist`, `fashion_mnist` and `cifar10`, read in `keras.datasets`' file formats from Keras's
cache or `data_dir`, downloaded by `keras.datasets` when absent, or replaced by a `fallback`."""

from __future__ import annotations

import dataclasses
import gzip
import os
import pathlib
import pickle

import numpy as np

from experiments.spec.validation import ConfigError, check_fraction, check_int, check_seed, lookup
from experiments.workloads.datasets import PROBLEMS, Data, DatasetUnavailable, _bool, _split, normalise, register


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
    """Arrays ((x_train, y_train), (x_test, y_test)) and where on this machine they came from:
    the directory they were found in, or a download."""
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
            # the source names the data; why it stood in (this machine's network error, its paths)
            # is its origin, which a run's fingerprint leaves out
            data.former_source = f"{data.source} (fallback: {error})"
            data.origin, data.source = str(error), f"{data.source} (fallback for {name!r})"
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
                    KERAS_DATASETS[name].num_classes, f"keras.datasets.{KERAS_DATASETS[name].module}",
                    image_shape=tuple(int(d) for d in image_shape), origin=source, former_source=source)
        return normalise(data) if _bool(f"{name}.normalize", normalize) else data

    load.__doc__ = (f"`keras.datasets.{name}` flattened to vectors, pixels scaled to [0, 1]; "
                    "validation is cut from the training set, test is the official test set.")
    return load


register("mnist", "dataset", "28x28 handwritten digits, 10 classes (keras.datasets)")(_keras_problem("mnist"))


register("fashion_mnist", "dataset", "28x28 clothing images, 10 classes (keras.datasets)")(
    _keras_problem("fashion_mnist"))


register("cifar10", "dataset", "32x32 colour images, 10 classes (keras.datasets)")(_keras_problem("cifar10"))
