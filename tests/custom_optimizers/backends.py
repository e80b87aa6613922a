"""The Keras back-end the optimizer tests run on, and how back-ends differ.

The optimizers update with `keras.ops` only, so they run on Keras's JAX and
PyTorch back-ends as well as TensorFlow. `make test` runs the whole suite on
TensorFlow, then the modules marked `all_backends` again under
`KERAS_BACKEND=jax` and `KERAS_BACKEND=torch`; what exists only on TensorFlow
is skipped there with `tensorflow_only(reason)`.

Keras itself rounds a few things differently per back-end in a float64 model,
and the float64 references follow it to agree to the last bits
(`test_backends.py` checks each rule against Keras):

* a Python-float hyperparameter cast to float64 (`ops.cast(0.9, "float64")`):
  TensorFlow makes it a float32 tensor first (0.89999997615814208984375),
  JAX (in x64 mode) and PyTorch convert it exactly: `hyper`;
* the learning rate is a float32 variable on every back-end: `f32`;
* a Python float given to a `keras.ops` function beside a float64 tensor
  (`ops.multiply(x, 1.0 - beta)`, the weight of an average; Keras's EMA
  momentum): TensorFlow and JAX take it exactly, PyTorch's `keras.ops` make
  it a float32 tensor first (`convert_to_tensor` of a Python float gives
  floatx there), while a Python operator (`rho_inf - tensor`) stays exact:
  `operand`, `one_minus`;
* `ops.maximum` and `ops.minimum` of float64 tensors give float32 on PyTorch
  (Keras's type promotion maps float64 to float32 on every back-end but
  TensorFlow, `BIT64_TO_BIT32_DTYPE` in `keras/src/backend/common/dtypes.py`,
  and the PyTorch back-end's `maximum`/`minimum` apply it; JAX's call
  `jnp.maximum`, which keeps float64): `maximum`, `minimum`. The optimizers
  meet it in AMSGrad's running maximum and RAdam's clamp of `rho_t`, rounded
  to float32 there (a relative 1e-8 to 1e-7 after 200 steps), and Keras's
  `clipnorm` / `global_clipnorm` scale: `reference_rtol` allows 1e-7 for the
  former on PyTorch instead of 1e-10;
* the base class's decoupled weight decay (`weight_decay=`): TensorFlow and
  JAX compute `w - w * wd * lr` (wd rounded as `hyper` says), PyTorch
  `w * (1 - wd * lr)` with the factor computed in float32
  (`keras/src/backend/torch/optimizers/torch_optimizer.py`): `weight_decayed`;
* JAX computes "float64" arrays in float32 unless its x64 mode is on; this
  folder's conftest turns it on.

And on PyTorch, `keras.optimizers.SGD`, `Adam`, `AdamW`, `Nadam`, `RMSprop`,
`Adagrad` and `Lion` are replaced by `torch._foreach` versions
(`TorchOptimizer.__new__`, `keras/src/backend/torch/optimizers/`), which
order the operations differently (`m = b1 m + (1 - b1) g` instead of
`m += (1 - b1)(g - m)`, ...): the Keras twins are bit-identical to Keras's
generic built-ins, which TensorFlow and JAX run, and which a subclass gets on
PyTorch too (`generic_builtin`); to the `_foreach` versions only up to float32
round-off.

None of this touches a float32 model, where every back-end rounds alike.
"""

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()
TENSORFLOW = BACKEND == "tensorflow"
TORCH = BACKEND == "torch"


def tensorflow_only(reason):
    """Skip on the other back-ends, saying why."""
    return pytest.mark.skipif(not TENSORFLOW, reason=f"TensorFlow only: {reason}")


def f32(x):
    return float(np.float32(x))


def hyper(x):
    """A Python-float hyperparameter cast to float64 (`ops.cast(x, "float64")`)."""
    return f32(x) if TENSORFLOW else float(x)


def operand(x):
    """A Python float as it meets a float64 tensor inside a `keras.ops` function."""
    return f32(x) if TORCH else float(x)


def one_minus(beta):
    """The weight `1 - beta` of an average, taken on the unrounded Python float."""
    return operand(1.0 - beta)


def maximum(a, b):
    """`np.maximum` as `keras.ops.maximum` computes it on float64."""
    out = np.maximum(a, b)
    return out.astype(np.float32).astype(np.float64) if TORCH else out


def minimum(a, b):
    """`np.minimum` as `keras.ops.minimum` computes it on float64."""
    out = np.minimum(a, b)
    return out.astype(np.float32).astype(np.float64) if TORCH else out


def weight_decayed(w, weight_decay, learning_rate):
    """`w` after the base class's decoupled weight decay, as this back-end rounds it."""
    lr = f32(learning_rate)
    if TORCH:
        return w * float(np.float32(1.0) - np.float32(weight_decay) * np.float32(lr))
    return w - w * hyper(weight_decay) * lr


def reference_rtol(optimizer):
    """The tolerance of a float64 trajectory against its reference (`mismatch`):
    float64 round-off, but float32 round-off where PyTorch takes a maximum in
    float32 (AMSGrad, RAdam; see above)."""
    float32_maximum = getattr(optimizer, "amsgrad", False) or type(optimizer).__name__ == "RAdam"
    return 1e-7 if TORCH and float32_maximum else 1e-10


def generic_builtin(optimizer):
    """A Keras built-in optimizer with Keras's generic update (`keras/src/optimizers/`):
    itself but on PyTorch, where a subclass made here escapes the `_foreach` swap."""
    if not TORCH:
        return optimizer
    base = next(c for c in type(optimizer).__mro__ if c.__module__.startswith("keras.src.optimizers."))
    return type(base.__name__, (base,), {}).from_config(optimizer.get_config())


def tensor(value, dtype=None):
    """A tensor of this back-end (a gradient to hand to `optimizer.apply`)."""
    return keras.ops.convert_to_tensor(np.asarray(value), dtype)


def compiled(function):
    """`tf.function` on TensorFlow (a graph, as `fit` runs the optimizers);
    the function itself on the others, run eagerly (`fit` on JAX jits the
    stateless form of the same update; the tests that call `fit` cover it)."""
    if TENSORFLOW:
        import tensorflow as tf

        return tf.function(function)
    return function
