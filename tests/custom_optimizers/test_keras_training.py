"""The optimizers in real training setups: XLA, float64, mixed precision,
MirroredStrategy, and save / load with exact continuation. On every back-end
but MirroredStrategy (TensorFlow's)."""

import keras
import numpy as np
import pytest
from backends import tensorflow_only
from optimizer_table import BACKEND, CASES, FIT_CASES, ONE_PER_OPTIMIZER
from tiny import digits, fit, mlp, weights

import custom_optimizers as co

pytestmark = pytest.mark.all_backends


# On JAX jit_compile=False runs the train step eagerly (every other fit is jitted there); on
# PyTorch jit_compile=True is torch.compile, which takes 15-30 s a case on two cores (CI time:
# TensorFlow's XLA runs every case, JAX's jit one).
JIT_CASES = [
    pytest.param(case, id=case.id, marks=[
        pytest.mark.skipif(BACKEND == "jax" and case.id != "nadam",
                           reason="on jax: jit_compile=True against False runs for one case here (nadam; CI time)"),
        pytest.mark.skipif(BACKEND == "torch", reason="on torch: jit_compile=True is torch.compile, 15-30 s a "
                           "case on two cores (CI time); TensorFlow's XLA runs every case, JAX's jit nadam")])
    for case in CASES
]
#: MirroredStrategy mirrors an optimizer's variables and sums its gradients over replicas: one
#: case per class, and the options that make variables of their own (AMSGrad's maximum,
#: centred RMSProp's mean gradient and momentum); the others differ only in arithmetic.
MIRRORED_CASES = [case for case in CASES
                  if case.id in ONE_PER_OPTIMIZER | {"amsgrad", "rmsprop_centered_momentum"}]


@pytest.mark.parametrize("case", JIT_CASES)
def test_jit_compile_matches_eager_graph(case):
    model_xla, loss_xla = fit(case.make(), epochs=2, jit_compile=True)
    model_ref, loss_ref = fit(case.make(), epochs=2, jit_compile=False)
    assert model_xla.jit_compile is True and model_ref.jit_compile is False
    np.testing.assert_allclose(loss_xla, loss_ref, rtol=1e-4)
    for a, b in zip(weights(model_xla), weights(model_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("case", FIT_CASES)
def test_float64_model(case):
    optimizer = case.make()
    model, loss = fit(optimizer, epochs=2, model=mlp(dtype="float64"))
    assert all(v.dtype == "float64" for v in model.trainable_variables)
    slots = [v for v in optimizer.variables if len(v.shape) > 0]
    assert (slots or case.id == "sgd") and all(v.dtype == "float64" for v in slots)
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


@pytest.mark.parametrize("case", FIT_CASES)
def test_mixed_float16_model(case):
    keras.config.set_dtype_policy("mixed_float16")
    optimizer = case.make()
    model, loss = fit(optimizer, epochs=2, model=mlp())
    assert model.layers[0].compute_dtype == "float16"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.optimizer.inner_optimizer is optimizer
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


@tensorflow_only(
    "tf.distribute.MirroredStrategy (JAX distributes with keras.distribution, PyTorch with "
    "its own DistributedDataParallel, neither through the optimizer's variables)"
)
@pytest.mark.parametrize("case", MIRRORED_CASES, ids=[case.id for case in MIRRORED_CASES])
def test_mirrored_strategy_matches_one_device(case):
    import tensorflow as tf

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) == 2, "conftest configures two logical CPUs"
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = mlp()
        optimizer = case.make()
        model, loss = fit(optimizer, epochs=2, model=model)
    assert strategy.num_replicas_in_sync == 2
    assert int(optimizer.iterations.value.numpy()) == 16  # 8 global batches x 2 epochs
    # Built inside the scope: every optimizer variable is mirrored on both devices.
    assert all(
        isinstance(v.value, tf.distribute.DistributedValues) for v in optimizer.variables
    )
    single, loss_single = fit(case.make(), epochs=2)
    np.testing.assert_allclose(loss, loss_single, rtol=1e-4)
    for a, b in zip(weights(model), weights(single)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("case", FIT_CASES)
def test_save_load_continues_exactly(case, tmp_path):
    x, y = digits()
    uninterrupted, _ = fit(case.make(), epochs=4)

    first, _ = fit(case.make(), epochs=2)
    path = tmp_path / "model.keras"
    first.save(path)
    restored = keras.models.load_model(path)
    assert type(restored.optimizer) is case.cls
    assert restored.optimizer.get_config() == first.optimizer.get_config()
    assert int(restored.optimizer.iterations) == int(first.optimizer.iterations) == 16
    for a, b in zip(restored.optimizer.variables, first.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    restored.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(weights(restored), weights(uninterrupted)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_schedule_survives_save_load(tmp_path):
    schedule = co.StepDecay(0.1, factor=0.5, epochs_per_drop=1, steps_per_epoch=8)
    model, _ = fit(co.Momentum(learning_rate=schedule), epochs=2)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    lr = restored.optimizer._learning_rate
    assert isinstance(lr, co.StepDecay) and lr.get_config() == schedule.get_config()
    # 16 steps done: two drops, so the rate in use is 0.1 / 4.
    np.testing.assert_allclose(float(restored.optimizer.learning_rate), 0.025, rtol=1e-6)
