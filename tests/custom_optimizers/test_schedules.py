"""Every schedule against its closed form in NumPy, at every step. On every back-end."""

import math

import keras
import numpy as np
import pytest
from backends import BACKEND

import custom_optimizers as co

STEPS = np.arange(0, 400)  # steps_per_epoch=7 below: 57 epochs, past every boundary

pytestmark = pytest.mark.all_backends


def epochs(steps, spe, staircase):
    e = steps / spe
    return np.floor(e) if staircase else e


CLOSED_FORMS = [
    ("inverse_time", co.InverseTimeDecay(0.5, decay_rate=0.3, steps_per_epoch=7),
     lambda s: 0.5 / (1 + 0.3 * epochs(s, 7, False))),
    ("inverse_time_staircase",
     co.InverseTimeDecay(0.5, decay_rate=0.3, steps_per_epoch=7, staircase=True),
     lambda s: 0.5 / (1 + 0.3 * epochs(s, 7, True))),
    ("exponential", co.ExponentialDecay(0.2, decay_rate=0.95, steps_per_epoch=7),
     lambda s: 0.2 * 0.95 ** epochs(s, 7, False)),
    ("exponential_staircase",
     co.ExponentialDecay(0.2, decay_rate=0.95, steps_per_epoch=7, staircase=True),
     lambda s: 0.2 * 0.95 ** epochs(s, 7, True)),
    ("inverse_sqrt", co.InverseSqrtDecay(0.1, k=2.0, steps_per_epoch=7),
     lambda s: 0.1 * 2.0 / np.sqrt(epochs(s, 7, False) + 1)),
    ("inverse_sqrt_staircase", co.InverseSqrtDecay(0.1, k=2.0, steps_per_epoch=7, staircase=True),
     lambda s: 0.1 * 2.0 / np.sqrt(epochs(s, 7, True) + 1)),
    ("step", co.StepDecay(0.1, factor=0.5, epochs_per_drop=10, steps_per_epoch=7),
     lambda s: 0.1 * 0.5 ** np.floor(s / 7 / 10)),
    ("step_smooth",
     co.StepDecay(0.1, factor=0.5, epochs_per_drop=10, steps_per_epoch=7, staircase=False),
     lambda s: 0.1 * 0.5 ** (s / 7 / 10)),
    ("piecewise", co.PiecewiseConstant([5, 20, 30.5], [0.1, 0.05, 0.01, 0.001], steps_per_epoch=7),
     lambda s: np.select(
         [s / 7 < 5, s / 7 < 20, s / 7 < 30.5], [0.1, 0.05, 0.01], default=0.001)),
    ("warmup_cosine", co.WarmupCosineDecay(0.1, decay_steps=250, warmup_steps=50,
                                           initial_learning_rate=0.01, alpha=0.1),
     lambda s: np.where(
         s < 50,
         0.01 + (0.1 - 0.01) * s / 50,
         0.1 * ((1 - 0.1) * 0.5 * (1 + np.cos(math.pi * np.minimum(s - 50, 250) / 250)) + 0.1))),
    ("cosine_no_warmup", co.WarmupCosineDecay(0.1, decay_steps=300),
     lambda s: 0.1 * 0.5 * (1 + np.cos(math.pi * np.minimum(s, 300) / 300))),
]


@pytest.mark.parametrize("schedule,closed_form", [c[1:] for c in CLOSED_FORMS],
                         ids=[c[0] for c in CLOSED_FORMS])
def test_every_step_against_closed_form(schedule, closed_form):
    got = np.array([float(schedule(int(step))) for step in STEPS])
    # Schedules compute in float32: relative 2e-6, and absolute 1e-8 (float32's
    # epsilon times the peak rate) where the cosine's 1 + cos(pi p) cancels.
    np.testing.assert_allclose(got, closed_form(STEPS.astype(np.float64)), rtol=2e-6, atol=1e-8)


def test_warmup_cosine_equals_keras_cosine_decay():
    ours = co.WarmupCosineDecay(0.1, decay_steps=250, warmup_steps=50, initial_learning_rate=0.01)
    keras_schedule = keras.optimizers.schedules.CosineDecay(
        0.01, decay_steps=250, warmup_target=0.1, warmup_steps=50
    )
    if BACKEND == "jax":  # its ops.cond compiles anew at each eager call (60 ms); once, jitted
        import jax

        keras_schedule = jax.jit(keras_schedule)
    # In JAX's x64 mode (conftest) Keras's schedule computes in float64, so it is the closed
    # form, and ours (float32) is held to the closed form's tolerance.
    float64 = keras.backend.standardize_dtype(keras_schedule(0).dtype) == "float64"
    rtol, atol = (2e-6, 1e-8) if float64 else (1e-6, 0.0)
    for step in STEPS:
        np.testing.assert_allclose(float(ours(step)), float(keras_schedule(step)), rtol=rtol, atol=atol)


KERAS_STEPS = [0, 1, 2, 99, 100, 101, 999, 1000, 1001, 1500, 2999, 3000, 12345, 10**6]


@pytest.mark.parametrize("staircase", [False, True], ids=["smooth", "staircase"])
@pytest.mark.parametrize("decay_steps,decay_rate", [(1000, 0.96), (100, 0.5), (7.5, 0.9)])
@pytest.mark.parametrize("name", ["ExponentialDecay", "InverseTimeDecay"])
def test_keras_arguments_give_keras_values(name, decay_steps, decay_rate, staircase):
    """`decay_steps=`, as every Keras tutorial writes it, means what it means in Keras's
    namesake: the same rate at every step, staircase or not."""
    ours = getattr(co, name)(0.1, decay_steps=decay_steps, decay_rate=decay_rate, staircase=staircase)
    theirs = getattr(keras.optimizers.schedules, name)(0.1, decay_steps, decay_rate, staircase=staircase)
    got = np.array([float(ours(step)) for step in KERAS_STEPS], np.float32)
    want = np.array([float(theirs(step)) for step in KERAS_STEPS], np.float64)
    if keras.backend.standardize_dtype(theirs(1).dtype) == "float64":  # JAX's x64 mode (conftest)
        # ours in float32: decay_rate ** p loses float32's epsilon times the exponent's size, and
        # what is below float32's smallest normal number is lost
        exponent = np.array(KERAS_STEPS) / decay_steps * (abs(np.log(decay_rate)) if name == "ExponentialDecay" else 0)
        assert np.all(np.abs(got - want) <= 2e-6 * (1 + exponent) * want + np.finfo(np.float32).tiny)
    else:  # the same float32 ops in the same order
        np.testing.assert_array_equal(got, want.astype(np.float32))
    assert len(set(got.tolist())) > 3  # it decays over these steps
    config = ours.get_config()
    assert config["decay_steps"] == decay_steps and "steps_per_epoch" not in config
    assert type(config["decay_steps"]) is type(decay_steps)
    clone = type(ours).from_config(config)
    assert [float(clone(s)) for s in KERAS_STEPS] == got.tolist()


@pytest.mark.parametrize("cls", [co.ExponentialDecay, co.InverseTimeDecay])
def test_keras_positional_order_is_refused_and_named(cls):
    """Keras's `(initial_learning_rate, decay_steps, decay_rate)` by position would read here as
    `(initial_learning_rate, decay_rate, steps_per_epoch)`: refused, with the keywords to write."""
    name = cls.__name__
    with pytest.raises(TypeError) as error:
        cls(0.1, 1000, 0.96)
    assert str(error.value).startswith(f"{name}(0.1, 1000, 0.96) looks like Keras's positional order")
    assert f"write {name}(0.1, decay_steps=1000, decay_rate=0.96);" in str(error.value)
    with pytest.raises(TypeError, match=r"decay_rate=0.5, staircase=True\)"):
        cls(0.1, 10, 0.5, True)
    with pytest.raises(ValueError, match="not both"):
        cls(0.1, decay_rate=0.5, decay_steps=10, steps_per_epoch=3)
    with pytest.raises(ValueError, match=r"`decay_steps` must be in \(0, inf\). Received: decay_steps=0"):
        cls(0.1, decay_rate=0.5, decay_steps=0)
    # the material's form is unchanged: keywords, and decay_rate second
    assert cls(0.1, 0.5, steps_per_epoch=4).get_config()["steps_per_epoch"] == 4


@pytest.mark.parametrize("boundaries,values", [
    ([5, 20, 31], [0.1, 0.05, 0.01, 0.001]),
    ([1], [0.3, 0.2]),
    ([100, 101, 250], [1.0, 0.5, 0.25, 0.125]),
])
def test_piecewise_boundary_after_equals_keras_step_by_step(boundaries, values):
    ours = co.PiecewiseConstant(boundaries, values, boundary="after")
    theirs = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    # As the optimizer's float32 learning rate holds them (Keras's are float64 in JAX's x64 mode).
    got = np.array([float(ours(int(step))) for step in STEPS], np.float32)
    want = np.array([float(theirs(int(step))) for step in STEPS], np.float32)
    np.testing.assert_array_equal(got, want)
    # The default rule differs exactly at the boundaries, where it has switched a step earlier.
    default = np.array([float(co.PiecewiseConstant(boundaries, values)(int(s))) for s in STEPS], np.float32)
    at_boundary = np.isin(STEPS, boundaries)
    np.testing.assert_array_equal(default[~at_boundary], want[~at_boundary])
    np.testing.assert_array_equal(default[at_boundary], want[np.flatnonzero(at_boundary) + 1])
    assert np.all(default[at_boundary] != want[at_boundary])


def test_piecewise_boundary_round_trip():
    schedule = co.PiecewiseConstant([2, 4], [0.3, 0.2, 0.1], steps_per_epoch=3, boundary="after")
    config = schedule.get_config()
    assert config["boundary"] == "after"
    clone = co.PiecewiseConstant.from_config(config)
    assert clone.boundary == "after" and clone.get_config() == config
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    steps = range(20)
    assert [float(restored(s)) for s in steps] == [float(schedule(s)) for s in steps]
    # epoch 2 is step 6: "after" still gives 0.3 there, "at" already 0.2.
    assert float(schedule(6)) == np.float32(0.3) and float(schedule(7)) == np.float32(0.2)
    assert co.PiecewiseConstant([2, 4], [0.3, 0.2, 0.1], steps_per_epoch=3).boundary == "at"


def test_optimizer_uses_schedule_step_by_step():
    schedule = co.StepDecay(0.1, factor=0.5, epochs_per_drop=2, steps_per_epoch=3)
    optimizer = co.SGD(learning_rate=schedule)
    w = keras.Variable(np.zeros(1, "float32"))
    for step in range(15):
        before = w.numpy().copy()
        optimizer.apply([np.ones(1, "float32")], [w])
        # SGD with g = 1 moves by exactly the rate used at this step.
        np.testing.assert_allclose(before - w.numpy(), [0.1 * 0.5 ** (step // 6)], rtol=1e-6)


@pytest.mark.parametrize("name,kwargs", [
    ("inverse_time", {"initial_learning_rate": 0.1, "decay_rate": 2.0, "steps_per_epoch": 10}),
    ("exponential", {"initial_learning_rate": 0.1, "staircase": True}),
    ("inverse_sqrt", {"initial_learning_rate": 0.1, "k": 0.5}),
    ("step", {"initial_learning_rate": 0.1, "factor": 0.1, "epochs_per_drop": 3}),
    ("piecewise", {"boundaries": [1, 2], "values": [0.3, 0.2, 0.1]}),
    ("warmup_cosine", {"peak_learning_rate": 0.1, "decay_steps": 10, "warmup_steps": 2}),
])
def test_config_round_trip(name, kwargs):
    schedule = co.get_schedule(name, **kwargs)
    assert schedule.name == type(schedule).__name__  # Keras's default: the class's name
    clone = type(schedule).from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config()
    named = type(schedule)(**kwargs, name="mine")  # as Keras's schedules take it
    assert named.name == "mine" and type(named).from_config(named.get_config()).name == "mine"
    with pytest.raises(ValueError, match="`name` must be a string. Received: name=3"):
        type(schedule)(**kwargs, name=3)
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert type(restored) is type(schedule)
    for step in (0, 5, 50):
        assert float(restored(step)) == float(schedule(step))


BAD = [
    (co.InverseTimeDecay, {"initial_learning_rate": -1.0},
     "`initial_learning_rate` must be in (0, inf). Received: initial_learning_rate=-1.0"),
    (co.InverseTimeDecay, {"initial_learning_rate": 0.1, "decay_rate": -0.5},
     "`decay_rate` must be in [0, inf). Received: decay_rate=-0.5"),
    (co.InverseTimeDecay, {"initial_learning_rate": 0.1, "steps_per_epoch": 0},
     "`steps_per_epoch` must be a positive integer. Received: steps_per_epoch=0"),
    (co.ExponentialDecay, {"initial_learning_rate": 0.1, "decay_rate": 1.5},
     "`decay_rate` must be in (0, 1]. Received: decay_rate=1.5"),
    (co.ExponentialDecay, {"initial_learning_rate": 0.1, "staircase": "yes"},
     "`staircase` must be True or False. Received: staircase='yes'"),
    (co.InverseSqrtDecay, {"initial_learning_rate": 0.1, "k": 0},
     "`k` must be in (0, inf). Received: k=0.0"),
    (co.StepDecay, {"initial_learning_rate": 0.1, "epochs_per_drop": 2.5},
     "`epochs_per_drop` must be a positive integer. Received: epochs_per_drop=2.5"),
    (co.StepDecay, {"initial_learning_rate": 0.1, "factor": 0.0},
     "`factor` must be in (0, 1]. Received: factor=0.0"),
    (co.PiecewiseConstant, {"boundaries": [5, 3], "values": [0.1, 0.2, 0.3]},
     "`boundaries` must be strictly increasing. Received: boundaries=[5.0, 3.0]"),
    (co.PiecewiseConstant, {"boundaries": [5], "values": [0.1]},
     "`values` must have one more entry than `boundaries`."),
    (co.PiecewiseConstant, {"boundaries": [5], "values": [0.1, 0.2], "boundary": "keras"},
     "`boundary` must be one of ['after', 'at']. Received: boundary='keras'"),
    (co.WarmupCosineDecay, {"peak_learning_rate": 0.1, "decay_steps": 0},
     "`decay_steps` must be a positive integer. Received: decay_steps=0"),
    (co.WarmupCosineDecay, {"peak_learning_rate": 0.1, "decay_steps": 5, "warmup_steps": -1},
     "`warmup_steps` must be a non-negative integer. Received: warmup_steps=-1"),
    (co.WarmupCosineDecay, {"peak_learning_rate": 0.1, "decay_steps": 5,
                            "initial_learning_rate": 0.5},
     "`initial_learning_rate` must be in [0, 0.1]. Received: initial_learning_rate=0.5"),
]


@pytest.mark.parametrize("cls,kwargs,message", BAD, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(BAD)])
def test_bad_arguments_are_rejected(cls, kwargs, message):
    with pytest.raises(ValueError) as error:
        cls(**kwargs)
    assert str(error.value).startswith(message)
