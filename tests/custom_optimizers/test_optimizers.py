"""Each optimizer against its independent NumPy reference, by hand, by config.

On every back-end (`backends.py`)."""

import functools

import keras
import numpy as np
import pytest
from backends import compiled, f32, hyper, one_minus, reference_rtol, tensor, weight_decayed
from optimizer_table import CASES, IDS

import custom_optimizers as co

STEPS = 200
N = 8

pytestmark = pytest.mark.all_backends


def noisy_gradients(steps=STEPS, n=N, seed=1234):
    """Gradients whose scale spans 1e-6..1 across coordinates (so `eps` matters),
    with a non-zero mean (so moments build up) and, in half the coordinates, an
    amplitude that drops tenfold half-way (so AMSGrad's maximum matters)."""
    rng = np.random.default_rng(seed)
    scale = np.logspace(-6, 0, n)
    drop = np.where(np.arange(n) % 2 == 0, 1.0, 0.1)
    amplitude = np.where(np.arange(steps)[:, None] < steps // 2, 1.0, drop[None, :])
    return scale * amplitude * (0.5 + rng.standard_normal((steps, n)))


def keras_trajectory(optimizer, grads):
    w = keras.Variable(np.zeros(grads.shape[1]), dtype="float64")
    optimizer.build([w])
    apply = compiled(lambda g: optimizer.apply([g], [w]))
    out = []
    for g in grads:
        apply(tensor(g))
        out.append(w.numpy().copy())
    return np.array(out)


def reference_trajectory(reference, grads):
    w = np.zeros(grads.shape[1])
    out = []
    for g in grads:
        w = reference.step(w, g)
        out.append(w.copy())
    return np.array(out)


def mismatch(actual, expected, rtol=1e-10):
    """Largest error, in units of the tolerance; <= 1 means the trajectories match.

    The tolerance per coordinate is `rtol * |expected| + rtol * range`, where
    `range` is the coordinate's largest |value| over the trajectory, so a
    coordinate crossing zero is not judged on its relative error alone.
    """
    scale = rtol * (np.abs(expected) + np.abs(expected).max(axis=0))
    return float(np.max(np.abs(actual - expected) / scale))


@pytest.fixture(scope="module")
def grads():
    return noisy_gradients()


@functools.lru_cache(maxsize=None)
def case_trajectory(case_id):
    """The case's trajectory on `noisy_gradients()`, computed once per process
    (the reference test and each mutation test compare with the same one)."""
    case = CASES[IDS.index(case_id)]
    optimizer = case.make()
    return optimizer, keras_trajectory(optimizer, noisy_gradients())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_numpy_reference_at_every_step(case, grads):
    optimizer, actual = case_trajectory(case.id)
    expected = reference_trajectory(case.make_reference(optimizer), grads)
    assert actual.shape == (STEPS, N)
    assert mismatch(actual, expected, reference_rtol(optimizer)) <= 1.0
    # The trajectory really moves in every coordinate (nothing trivially zero).
    assert np.all(np.abs(expected[-1]) > 0)


MUTATIONS = [(case, m) for case in CASES for m in case.mutations]


@pytest.mark.parametrize(
    "case,mutation", MUTATIONS, ids=[f"{c.id}-{m}" for c, m in MUTATIONS]
)
def test_comparison_catches_a_mutated_reference(case, mutation, grads):
    optimizer, actual = case_trajectory(case.id)
    mutated = reference_trajectory(case.make_reference(optimizer, mutation), grads)
    assert mismatch(actual, mutated, reference_rtol(optimizer)) > 1.0


def _one_step(optimizer, w, g):
    var = keras.Variable(np.array(w, dtype="float64"))
    optimizer.apply([tensor(g, "float64")], [var])
    return var.numpy()



HAND_STEPS = {
    # w = [1, -2], g = [0.5, -4]; expected values worked out from the formulas.
    "sgd": (co.SGD(0.1), [1 - f32(0.1) * 0.5, -2 + f32(0.1) * 4]),
    # v = -lr g; w += v
    "momentum": (co.Momentum(0.1, momentum=0.9), [1 - f32(0.1) * 0.5, -2 + f32(0.1) * 4]),
    # v = (1-0.9) g; w -= lr v
    "momentum_ewa": (
        co.Momentum(0.1, momentum=0.9, form="ewa"),
        [1 - f32(0.1) * one_minus(0.9) * 0.5, -2 + f32(0.1) * one_minus(0.9) * 4],
    ),
    # v = -lr g; w += mu v - lr g = -(1 + mu) lr g
    "nesterov": (
        co.Nesterov(0.1, momentum=0.9),
        [1 - (1 + hyper(0.9)) * f32(0.1) * 0.5, -2 + (1 + hyper(0.9)) * f32(0.1) * 4],
    ),
    # h = g^2; w -= lr g / (|g| + eps)
    "adagrad": (
        co.AdaGrad(0.1, epsilon=1e-7),
        [1 - f32(0.1) * 0.5 / (0.5 + hyper(1e-7)), -2 + f32(0.1) * 4 / (4 + hyper(1e-7))],
    ),
    # s = (1 - rho) g^2; w -= lr g / (sqrt(s) + eps) = lr sign(g) / sqrt(1 - rho) (eps = 0);
    # `1 - rho` in double from the unrounded rho (as Keras's RMSprop)
    "rmsprop": (
        co.RMSProp(0.1, rho=0.99, epsilon=0.0),
        [1 - f32(0.1) / np.sqrt(one_minus(0.99)), -2 + f32(0.1) / np.sqrt(one_minus(0.99))],
    ),
    # m^ = g, v^ = g^2: the first Adam step is lr * sign(g) (eps = 0)
    "adam": (co.Adam(0.1, epsilon=0.0), [1 - f32(0.1), -2 + f32(0.1)]),
    # w <- w (1 - lr wd), then Adam's first step lr * sign(g)
    "adamw": (co.AdamW(0.1, weight_decay=0.5, epsilon=0.0),
              [weight_decayed(1.0, 0.5, 0.1) - f32(0.1), weight_decayed(-2.0, 0.5, 0.1) + f32(0.1)]),
    # rho_1 = 1 < 4: unrectified, w -= lr m^ = lr g
    "radam": (co.RAdam(0.1), [1 - f32(0.1) * 0.5, -2 + f32(0.1) * 4]),
    # c = (1 - b1) g: w -= lr sign(g)
    "lion": (co.Lion(0.1), [1 - f32(0.1), -2 + f32(0.1)]),
    # m = 0.1 g, s = 0.001 (g - m)^2 = 0.001 (0.9 g)^2 (eps = 0): m^ = g, s^ = 0.81 g^2
    "adabelief": (co.AdaBelief(0.1, epsilon=0.0), [1 - f32(0.1) / 0.9, -2 + f32(0.1) / 0.9]),
}


@pytest.mark.parametrize("name", sorted(HAND_STEPS))
def test_one_step_by_hand(name):
    optimizer, expected = HAND_STEPS[name]
    np.testing.assert_allclose(_one_step(optimizer, [1.0, -2.0], [0.5, -4.0]), expected, rtol=1e-6)


def test_nadam_first_step_by_hand():
    b1, psi = hyper(0.9), hyper(0.004)
    mu1 = b1 * (1 - 0.5 * hyper(0.96) ** psi)
    mu2 = b1 * (1 - 0.5 * hyper(0.96) ** (2 * psi))
    g = 0.5
    m = (1 - b1) * g
    m_hat = mu2 * m / (1 - mu1 * mu2) + (1 - mu1) * g / (1 - mu1)
    v_hat = g * g  # one bias-corrected step of the second moment
    expected = 1 - f32(0.1) * m_hat / np.sqrt(v_hat)
    got = _one_step(co.Nadam(0.1, epsilon=0.0), [1.0], [g])
    np.testing.assert_allclose(got, [expected], rtol=1e-12)


def test_material_defaults():
    """The defaults the material gives its optimizers."""
    assert co.SGD().get_config()["learning_rate"] == pytest.approx(0.01)
    assert co.Momentum().momentum == 0.9
    assert co.AdaGrad().get_config()["learning_rate"] == pytest.approx(0.01)
    assert co.AdaGrad().epsilon == 1e-7 and co.AdaGrad().initial_accumulator_value == 0.0
    assert co.AdaGrad().epsilon_inside_sqrt is False
    rms = co.RMSProp()
    assert (rms.rho, rms.epsilon, rms.epsilon_inside_sqrt) == (0.99, 1e-7, False)
    adam = co.Adam()
    assert (adam.beta_1, adam.beta_2, adam.epsilon, adam.epsilon_hat) == (0.9, 0.999, 1e-8, False)
    assert adam.get_config()["learning_rate"] == pytest.approx(0.001)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_round_trip(case):
    optimizer = case.make(learning_rate=0.123, clipnorm=2.0, name="my_opt")
    config = optimizer.get_config()
    clone = case.cls.from_config(config)
    assert type(clone) is case.cls
    assert clone.get_config() == config
    # Through Keras's own serialisation, by registered name.
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is case.cls and restored.get_config() == config


BAD = [
    (co.SGD, {"learning_rate": -0.1}, "`learning_rate` must be in (0, inf). Received: learning_rate=-0.1"),
    (co.SGD, {"learning_rate": 0}, "`learning_rate` must be in (0, inf). Received: learning_rate=0.0"),
    (co.SGD, {"learning_rate": "fast"}, "`learning_rate` must be a number. Received: learning_rate='fast'"),
    (co.Momentum, {"momentum": 1.0}, "`momentum` must be in [0, 1). Received: momentum=1.0"),
    (co.Momentum, {"momentum": -0.5}, "`momentum` must be in [0, 1). Received: momentum=-0.5"),
    (co.Momentum, {"form": "heavy"}, "`form` must be one of ['ewa', 'velocity']. Received: form='heavy'"),
    (co.Momentum, {"nesterov": "yes"}, "`nesterov` must be True or False. Received: nesterov='yes'"),
    (co.Nesterov, {"momentum": 2}, "`momentum` must be in [0, 1). Received: momentum=2.0"),
    (co.AdaGrad, {"epsilon": -1e-7}, "`epsilon` must be in [0, inf). Received: epsilon=-1e-07"),
    (co.AdaGrad, {"initial_accumulator_value": -0.1},
     "`initial_accumulator_value` must be in [0, inf). Received: initial_accumulator_value=-0.1"),
    (co.RMSProp, {"rho": 1.5}, "`rho` must be in [0, 1]. Received: rho=1.5"),
    (co.RMSProp, {"momentum": 1.0}, "`momentum` must be in [0, 1). Received: momentum=1.0"),
    (co.RMSProp, {"centered": 1}, "`centered` must be True or False. Received: centered=1"),
    (co.Adam, {"beta_1": 1.2}, "`beta_1` must be in [0, 1). Received: beta_1=1.2"),
    (co.Adam, {"beta_2": 1.0}, "`beta_2` must be in [0, 1). Received: beta_2=1.0"),
    (co.Adam, {"beta_1": float("nan")}, "`beta_1` must be in [0, 1). Received: beta_1=nan"),
    (co.Adam, {"epsilon": None}, "`epsilon` must be a number. Received: epsilon=None"),
    (co.AdamW, {"weight_decay": -0.1}, "`weight_decay` must be in [0, inf). Received: weight_decay=-0.1"),
    (co.AdamW, {"weight_decay": None}, "`weight_decay` must be a number. Received: weight_decay=None"),
    (co.Nadam, {"momentum_decay": -1.0}, "`momentum_decay` must be in [0, inf). Received: momentum_decay=-1.0"),
    (co.RAdam, {"sma_threshold": 3.0}, "`sma_threshold` must be in [4, inf). Received: sma_threshold=3.0"),
    (co.AdaBelief, {"beta_2": -0.1}, "`beta_2` must be in [0, 1). Received: beta_2=-0.1"),
    (co.Lion, {"beta_1": 1.5}, "`beta_1` must be in [0, 1]. Received: beta_1=1.5"),
    (co.Lion, {"beta_2": True}, "`beta_2` must be a number. Received: beta_2=True"),
]


@pytest.mark.parametrize("cls,kwargs,message", BAD, ids=[f"{c.__name__}-{next(iter(k))}" for c, k, _ in BAD])
def test_bad_hyperparameters_are_rejected(cls, kwargs, message):
    with pytest.raises(ValueError) as error:
        cls(**kwargs)
    assert str(error.value).startswith(message)


def test_registry():
    assert set(co.OPTIMIZERS) == {
        "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam", "radam",
        "adabelief", "lion",
    }
    adamw = co.get("adamw")
    assert isinstance(adamw, co.AdamW) and adamw.weight_decay == 0.004  # Keras's default
    assert (adamw.epsilon, adamw.epsilon_hat) == (1e-8, False)  # the material's, as Adam
    opt = co.get("Adam", learning_rate=0.01, amsgrad=True)
    assert isinstance(opt, co.Adam) and opt.amsgrad
    scheduled = co.get("sgd", learning_rate={"name": "exponential", "initial_learning_rate": 0.1})
    assert isinstance(scheduled._learning_rate, co.ExponentialDecay)
    with pytest.raises(ValueError, match="Unknown optimizer 'adma'. Did you mean 'adam'"):
        co.get("adma")
    with pytest.raises(ValueError, match="Unknown schedule 'cosine'"):
        co.get_schedule("cosine", initial_learning_rate=0.1)
