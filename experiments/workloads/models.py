"""Models by name: the catalogue of builders, and what the engine asks of a model.

Every builder takes the problem's `Data` plus keyword arguments from a run's
`model` table and returns a compiled-ready `InstrumentedModel`:

* `moons_net`: the material's 2 -> 5 (ReLU) -> 2 (ReLU) -> 1 (sigmoid).
* `mnist_mlp`: the material's 784-100-100-100-100-10 (ReLU, softmax); the
  input width follows the data (64 on digits).
* `softmax_regression`: one dense layer and a softmax.
* `mlp`: `hidden` ReLU layers, optional batch normalisation
  (`batch_norm = true`: Dense without bias -> BatchNormalization -> ReLU),
  softmax output (sigmoid for two classes when `binary_output = true`).
* `2c2d` and `3c3d`: DeepOBS's convolutional nets (`fmnist_2c2d`, `mnist_2c2d`,
  `cifar10_3c3d`), for image problems; see their builders.
* `vae`: DeepOBS's variational autoencoder (`mnist_vae`, `fmnist_vae`), for
  image problems; it ignores the labels and its output is each example's
  loss (reconstruction plus KL).
* `char_rnn`: DeepOBS's character-level language model (`tolstoi_char_rnn`),
  two LSTMs whose state is carried from batch to batch, for `text`.
* `noisy_quadratic`: the parameters theta of a problem that has no network,
  DeepOBS's `quadratic_deep` (`problems.quadratic_deep`, whose runs name no
  model); its output is each example's loss too.

A model's `task` says what its output is: "classification" (class
probabilities: cross-entropy and accuracy) or "loss" (each example's loss,
which training averages; there is no accuracy).

The material's models use He initialisation as the material writes it,
`randn * sqrt(2 / fan_in)` (an untruncated normal; Keras's "he_normal" is
truncated), and zero biases; DeepOBS's models, DeepOBS's initialisers.

The builders live by family, each registering itself in `networks.MODELS`:
`mlp` (the material's), `convnets`, `vae`, `char_rnn` and `quadratic`
(DeepOBS's); `networks` holds what they share (`InstrumentedModel`).
"""

from __future__ import annotations

import json
import math
import weakref

from experiments.spec import plugins
from experiments.spec.validation import ConfigError, lookup

# the families of builders: importing one registers its builders in `networks.MODELS`
from experiments.workloads import char_rnn, convnets, mlp, quadratic, vae  # noqa: F401
from experiments.workloads.char_rnn import CarriedLSTM
from experiments.workloads.networks import MODELS, TASKS, InstrumentedModel, conv_input, he_normal, model_loss
from experiments.workloads.quadratic import NoisyQuadratic
from experiments.workloads.vae import Sampling, VAELoss

__all__ = ["MODELS", "TASKS", "CarriedLSTM", "InstrumentedModel", "NoisyQuadratic", "Sampling", "VAELoss", "build",
           "conv_input", "count_parameters", "he_normal", "loss_for", "metrics_for", "model_loss", "task_of"]


def build(spec, data):
    """Build the model described by `spec` (a name or `{name = ..., **arguments}`; None: the
    problem's own, `data.model`)."""
    spec = data.model if spec is None else spec
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = spec.pop("name", None)
    builder = _builder(name)
    try:
        model = builder(data, **spec)
    except ConfigError:
        raise
    except TypeError as error:
        raise ConfigError(f"model: {error}") from None
    except Exception as error:  # a user's builder (the built-ins raise ConfigError)
        raise ConfigError(f"model {name!r} raised {type(error).__name__}: {error}") from None
    return model if isinstance(model, InstrumentedModel) else _instrumented(name, model)


def _builder(name):
    """The builder registered as `name`, or a user's by import path (`module:function`)."""
    if not plugins.is_path(name):
        return lookup("model", MODELS, name)
    builder = plugins.resolve("model.name", name)
    if not callable(builder):
        raise ConfigError(f"`model.name` must name a function of the problem's Data that builds a keras.Model. "
                          f"Received: model.name={name!r}, a {type(builder).__name__}")
    return builder


def _instrumented(name, model):
    """A user's functional `keras.Model` as an `InstrumentedModel` (the same layers and weights):
    a classifier, its output class probabilities (a single sigmoid unit: two classes)."""
    import keras

    if not isinstance(model, keras.Model):
        raise ConfigError(f"model {name!r} must return a keras.Model. Received: a {type(model).__name__}")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ConfigError(f"model {name!r} must return a functional or Sequential keras.Model (built with "
                          f"keras.Input), whose inputs and outputs the engine can read. "
                          f"Received: {type(model).__name__}")
    binary = outputs[0].shape[-1] == 1
    return InstrumentedModel(inputs=inputs, outputs=outputs, binary=binary, name=model.name)


def task_of(spec, data):
    """The `task` of the model `spec` on `data`, without building it (a user's builder: its
    `task` attribute, else "classification")."""
    spec = data.model if spec is None else spec
    return getattr(_builder(spec if isinstance(spec, str) else spec.get("name")), "task", "classification")


#: id(data) -> (a weak reference to the Data, {model spec as JSON: parameter count})
_COUNTS = {}


def count_parameters(spec, data):
    """How many parameters (weights, trainable or not: batch normalisation's moving statistics
    count) the model `spec` has on `data`; a `CarriedLSTM`'s carried state and count of batches
    are not parameters. Counted once per spec and data (a model built only to be counted)."""
    key = json.dumps(spec, sort_keys=True, default=repr)
    ref, counts = _COUNTS.get(id(data), (None, None))
    if ref is None or ref() is not data:
        for stale in [i for i, (r, _) in _COUNTS.items() if r() is None]:
            del _COUNTS[stale]
        counts = {}
        _COUNTS[id(data)] = (weakref.ref(data), counts)
    if key not in counts:
        counts[key] = _count(spec, data)
    return counts[key]


def _count(spec, data):
    model = build(spec, data)
    carried = sum(math.prod(v.shape) for layer in model.layers if isinstance(layer, CarriedLSTM)
                  for v in [*layer.state, layer.position])
    return int(model.count_params() - carried)


def loss_for(model):
    if model.task == "loss":
        return model_loss
    return "binary_crossentropy" if model.binary else "sparse_categorical_crossentropy"


def metrics_for(model):
    """What `compile` is given as `metrics`: accuracy, for a model that has one."""
    return ["accuracy"] if model.task == "classification" else []
