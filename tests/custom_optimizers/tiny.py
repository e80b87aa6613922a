"""A small real problem (scikit-learn's digits) and model for integration tests."""

import functools

import keras
import numpy as np
from sklearn.datasets import load_digits


@functools.lru_cache(maxsize=None)
def digits(n=512):
    x, y = load_digits(return_X_y=True)
    x = (x[:n] / 16.0).astype("float32")
    return x, y[:n].astype("int32")


def mlp(seed=0, hidden=16, dtype=None):
    """64-16-10 softmax classifier with a fixed initialisation."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(hidden, activation="relu", dtype=dtype),
            keras.layers.Dense(10, activation="softmax", dtype=dtype),
        ]
    )


def fit(optimizer, epochs=3, model=None, batch_size=64, **compile_kwargs):
    x, y = digits()
    model = model or mlp()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", **compile_kwargs)
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    return model, history.history["loss"]


def weights(model):
    return [np.asarray(w) for w in model.get_weights()]
