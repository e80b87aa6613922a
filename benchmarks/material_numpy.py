"""The material's own experiments in plain NumPy, as its code runs them: the
reference that `benchmarks/engine.py` times the suite against.

    python benchmarks/material_numpy.py mnist [--iterations 2000]
    python benchmarks/material_numpy.py moons [--epochs 10000]

Prints one JSON line: the seconds the training loop took (data loading and
imports excluded) and what it reached. This file never imports TensorFlow:
importing it in the same process made NumPy's small matrix products about
10x slower here, so the engine benchmark runs this in a subprocess.

* `mnist` (Deep Learning from Scratch, ch. 6, the textbook's `optimizer_compare_mnist.py`):
  an MLP in-100-100-100-100-10 (ReLU, He init `randn * sqrt(2 / fan_in)`,
  softmax with cross-entropy), one batch of 128 indices drawn with
  replacement per iteration and shared by the five optimizers (SGD 0.01,
  Momentum 0.01 / 0.9, AdaGrad 0.01, Adam 0.001 with the bias correction
  folded into the step and eps 1e-7, RMSProp 0.01 / 0.99), each network
  He-initialised on its own. On scikit-learn's digits (64 inputs), the
  suite's offline default.
* `moons` (the Deep Learning Specialization's moons assignment, the course's exact protocol): the data, the
  initial weights and the mini-batch order seeded as the course does;
  gradient descent, momentum (EWA form, beta 0.9) and Adam at lr 0.0007,
  mini-batches of 64. With 10000 epochs it gives the reported training
  accuracies 0.7967 / 0.7967 / 0.9400.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

# --- the textbook's optimizers (common/optimizer.py), one dict of arrays per network


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class AdaGrad:
    def __init__(self, lr=0.01):
        self.lr, self.h = lr, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class RMSprop:
    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay_rate, self.h = lr, decay_rate, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class Adam:
    """The textbook's Adam: the bias correction folded into the step size, eps 1e-7."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2, self.iter, self.m, self.v = lr, beta1, beta2, 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {key: np.zeros_like(value) for key, value in params.items()}
            self.v = {key: np.zeros_like(value) for key, value in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


# --- the textbook's multi-layer net (ReLU, He init, softmax with cross-entropy)


class MultiLayerNet:
    def __init__(self, sizes):
        self.params = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), start=1):
            self.params[f"W{i}"] = np.sqrt(2.0 / fan_in) * np.random.randn(fan_in, fan_out)
            self.params[f"b{i}"] = np.zeros(fan_out)
        self.layers = len(sizes) - 1

    def gradient(self, x, t):
        """(loss, grads) by backpropagation; `t` holds class indices."""
        activations = [x]
        for i in range(1, self.layers + 1):
            z = activations[-1] @ self.params[f"W{i}"] + self.params[f"b{i}"]
            activations.append(np.maximum(z, 0) if i < self.layers else z)
        logits = activations[-1]
        logits = logits - logits.max(axis=1, keepdims=True)
        y = np.exp(logits)
        y /= y.sum(axis=1, keepdims=True)
        n = len(x)
        loss = -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n
        dout = y.copy()
        dout[np.arange(n), t] -= 1
        dout /= n
        grads = {}
        for i in range(self.layers, 0, -1):
            grads[f"W{i}"] = activations[i - 1].T @ dout
            grads[f"b{i}"] = dout.sum(axis=0)
            if i > 1:
                dout = (dout @ self.params[f"W{i}"].T) * (activations[i - 1] > 0)
        return loss, grads


def mnist(iterations):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, t = digits.data / 16.0, digits.target
    np.random.seed(0)
    optimizers = {"SGD": SGD(0.01), "Momentum": Momentum(0.01), "AdaGrad": AdaGrad(0.01),
                  "Adam": Adam(0.001), "RMSprop": RMSprop(0.01)}
    networks = {name: MultiLayerNet([x.shape[1], 100, 100, 100, 100, 10]) for name in optimizers}
    losses = {name: [] for name in optimizers}
    start = time.perf_counter()
    for _ in range(iterations):
        batch = np.random.choice(len(x), 128)
        for name, optimizer in optimizers.items():
            loss, grads = networks[name].gradient(x[batch], t[batch])
            optimizer.update(networks[name].params, grads)
            losses[name].append(loss)
    seconds = time.perf_counter() - start
    return {"experiment": "mnist", "iterations": iterations, "seconds": seconds,
            "final_loss": {name: float(np.mean(values[-100:])) for name, values in losses.items()}}


# --- the course's moons protocol (3-layer net, binary cross-entropy)


def moons(epochs):
    from sklearn.datasets import make_moons

    np.random.seed(3)
    x, y = make_moons(n_samples=300, noise=0.2)
    x, y = x.T, y.reshape(1, -1)  # the course keeps examples in columns
    sizes = [2, 5, 2, 1]
    results, seconds = {}, 0.0
    for name in ("gd", "momentum", "adam"):
        np.random.seed(3)
        params = {}
        for layer in range(1, 4):
            params[f"W{layer}"] = np.random.randn(sizes[layer], sizes[layer - 1]) * np.sqrt(2 / sizes[layer - 1])
            params[f"b{layer}"] = np.zeros((sizes[layer], 1))
        v = {key: np.zeros_like(value) for key, value in params.items()}
        s = {key: np.zeros_like(value) for key, value in params.items()}
        t, seed, lr = 0, 10, 0.0007
        start = time.perf_counter()
        for _ in range(epochs):
            seed += 1
            np.random.seed(seed)
            perm = np.random.permutation(300)
            for k in range(0, 300, 64):
                xb, yb = x[:, perm[k:k + 64]], y[:, perm[k:k + 64]]
                m = xb.shape[1]
                z1 = params["W1"] @ xb + params["b1"]
                a1 = np.maximum(0, z1)
                z2 = params["W2"] @ a1 + params["b2"]
                a2 = np.maximum(0, z2)
                z3 = params["W3"] @ a2 + params["b3"]
                a3 = 1 / (1 + np.exp(-z3))
                dz3 = (a3 - yb) / m
                grads = {"W3": dz3 @ a2.T, "b3": dz3.sum(axis=1, keepdims=True)}
                dz2 = (params["W3"].T @ dz3) * (a2 > 0)
                grads["W2"], grads["b2"] = dz2 @ a1.T, dz2.sum(axis=1, keepdims=True)
                dz1 = (params["W2"].T @ dz2) * (a1 > 0)
                grads["W1"], grads["b1"] = dz1 @ xb.T, dz1.sum(axis=1, keepdims=True)
                t += 1
                for key in params:
                    if name == "gd":
                        params[key] -= lr * grads[key]
                    elif name == "momentum":
                        v[key] = 0.9 * v[key] + 0.1 * grads[key]
                        params[key] -= lr * v[key]
                    else:
                        v[key] = 0.9 * v[key] + 0.1 * grads[key]
                        s[key] = 0.999 * s[key] + 0.001 * grads[key] ** 2
                        corrected_v = v[key] / (1 - 0.9**t)
                        corrected_s = s[key] / (1 - 0.999**t)
                        params[key] -= lr * corrected_v / (np.sqrt(corrected_s) + 1e-8)
        seconds += time.perf_counter() - start
        a1 = np.maximum(0, params["W1"] @ x + params["b1"])
        a2 = np.maximum(0, params["W2"] @ a1 + params["b2"])
        a3 = 1 / (1 + np.exp(-(params["W3"] @ a2 + params["b3"])))
        results[name] = float(np.mean((a3 > 0.5) == y))
    return {"experiment": "moons", "epochs": epochs, "seconds": seconds, "train_accuracy": results}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("mnist", "moons"))
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=10000)
    args = parser.parse_args()
    out = mnist(args.iterations) if args.experiment == "mnist" else moons(args.epochs)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
