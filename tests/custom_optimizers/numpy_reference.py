"""Independent NumPy references, written from the optimizers' docstring math.

Float64 throughout. Keras casts Python-float hyperparameters through float32
on TensorFlow (see `custom_optimizers._base`), exactly on JAX and PyTorch, so
every hyperparameter is rounded with `backends.hyper` first (the learning
rate, a float32 variable everywhere, with `f32`), except the weights
`1 - beta` of the averages, which Keras and the suite take in double from the
unrounded value (`one_minus`); then the Keras optimizer on a float64 variable
and these references agree to float64 round-off, on every back-end.

Each reference takes `mutation=None` or the name of a deliberate mistake
(epsilon inside the root, missing bias correction, ...) so tests can show
that the comparison tolerance catches it.
"""

import numpy as np
from backends import f32, hyper, one_minus, weight_decayed


class Reference:
    """`step(w, g)` returns the new weights; `t` counts steps from 1."""

    def __init__(self, mutation=None, **config):
        self.mutation = mutation
        self.h = {
            k: (f32(v) if k == "learning_rate" else hyper(v)) if isinstance(v, float) else v
            for k, v in config.items()
        }
        self.raw = config
        self.t = 0
        self.state = {}

    def one_minus(self, name):
        """`1 - beta` as the optimizers compute it: in double, from the unrounded value
        (`backends.one_minus`: PyTorch's keras.ops then round it to float32); the
        mutation "float32_one_minus" rounds beta first, the drift of issue 13."""
        if self.mutation == "float32_one_minus":
            return 1 - f32(self.raw[name])
        return one_minus(self.raw[name])

    def ema(self, average, x, name):
        """`average += (1 - beta) * (x - average)`, in place (`ema_update`)."""
        average += self.one_minus(name) * (x - average)

    def slot(self, name, like, init=0.0):
        if name not in self.state:
            self.state[name] = np.full_like(like, init, dtype=np.float64)
        return self.state[name]

    def step(self, w, g):
        """One update; `g=None` is a step with no gradient for this variable:
        the step count (and anything indexed by it) moves on, `w` and the slots stay."""
        self.t += 1
        self.advance(self.t)
        if g is None:
            return np.asarray(w, np.float64)
        return self.update(np.asarray(w, np.float64), np.asarray(g, np.float64), self.t)

    def advance(self, t):
        """State that moves with the optimizer's step, whether or not `g` exists."""


class SGDRef(Reference):
    def update(self, w, g, t):
        lr = self.h["learning_rate"]
        if self.mutation == "unrounded_lr":  # forgets Keras's float32 learning rate
            lr = 0.01
        return w - lr * g


class MomentumRef(Reference):
    def update(self, w, g, t):
        lr, mu = self.h["learning_rate"], self.h["momentum"]
        v = self.slot("v", w)
        if self.h.get("form", "velocity") == "velocity":
            if self.mutation == "stale_velocity":  # moves with the old velocity
                w = w + v
            v[:] = mu * v - lr * g
            if self.mutation == "stale_velocity":
                return w
            if self.h.get("nesterov"):
                if self.mutation == "textbook_nesterov":
                    return w + mu * mu * v - (1 + mu) * lr * g
                return w + mu * v - lr * g
            return w + v
        # ewa form
        if self.mutation == "no_one_minus_beta":
            v[:] = mu * v + g
        else:
            self.ema(v, g, "momentum")
        direction = mu * v + self.one_minus("momentum") * g if self.h.get("nesterov") else v
        return w - lr * direction


class AdaGradRef(Reference):
    def update(self, w, g, t):
        lr, eps = self.h["learning_rate"], self.h["epsilon"]
        init = 0.1 if self.mutation == "keras_accumulator" else self.h["initial_accumulator_value"]
        h = self.slot("h", w, init)
        h += g * g
        inside = self.h["epsilon_inside_sqrt"] != (self.mutation == "move_epsilon")
        return w - lr * g / (np.sqrt(h + eps) if inside else np.sqrt(h) + eps)


class RMSPropRef(Reference):
    def update(self, w, g, t):
        lr, rho, eps, mom = (self.h[k] for k in ("learning_rate", "rho", "epsilon", "momentum"))
        s = self.slot("s", w)
        s[:] = rho * s + self.one_minus("rho") * g * g
        d = s
        if self.h["centered"]:
            a = self.slot("a", w)
            a[:] = rho * a + self.one_minus("rho") * g
            d = s if self.mutation == "uncentered" else s - a * a
        inside = self.h["epsilon_inside_sqrt"] != (self.mutation == "move_epsilon")
        u = lr * g / (np.sqrt(d + eps) if inside else np.sqrt(d) + eps)
        if mom > 0:
            b = self.slot("b", w)
            b[:] = mom * b + u
            u = b
        return w - u


class AdamRef(Reference):
    def update(self, w, g, t):
        lr, b1, b2, eps = (self.h[k] for k in ("learning_rate", "beta_1", "beta_2", "epsilon"))
        m, v = self.slot("m", w), self.slot("v", w)
        self.ema(m, g, "beta_1")
        self.ema(v, g * g, "beta_2")
        v_used = v
        if self.h["amsgrad"] and self.mutation != "no_max":
            v_max = self.slot("v_max", w)
            v_max[:] = np.maximum(v_max, v)
            v_used = v_max
        c1, c2 = 1 - b1**t, 1 - b2**t
        if self.mutation == "no_bias_correction":
            c1 = c2 = 1.0
        hat = self.h["epsilon_hat"] != (self.mutation == "swap_epsilon_form")
        if hat:
            return w - lr * np.sqrt(c2) / c1 * m / (np.sqrt(v_used) + eps)
        if self.mutation == "epsilon_inside_sqrt":
            return w - lr * (m / c1) / np.sqrt(v_used / c2 + eps)
        return w - lr * (m / c1) / (np.sqrt(v_used / c2) + eps)


class AdamWRef(AdamRef):
    """`w <- w - lr * wd * w`, then Adam's step (AdamW's docstring)."""

    def update(self, w, g, t):
        lr, wd = self.h["learning_rate"], self.h["weight_decay"]
        if self.mutation == "l2_instead":  # the coupled form: decay folded into g
            return super().update(w, g + wd * w, t)
        return super().update(weight_decayed(w, self.raw["weight_decay"], lr), g, t)


class NadamRef(Reference):
    def advance(self, t):
        """`P_t = mu_1 ... mu_t` over the optimizer's steps, in Keras's order of operations
        (mutation "per_variable_product": only over the steps this variable was updated)."""
        if self.mutation == "per_variable_product":
            return
        b1, psi = self.h["beta_1"], self.h["momentum_decay"]
        self.state["P"] = self.state.get("P", 1.0) * b1 * (1 - 0.5 * hyper(0.96) ** (t * psi))

    def update(self, w, g, t):
        if self.mutation == "per_variable_product":
            b1, psi = self.h["beta_1"], self.h["momentum_decay"]
            self.state["P"] = self.state.get("P", 1.0) * b1 * (1 - 0.5 * hyper(0.96) ** (t * psi))
        lr, b1, b2, eps, psi = (
            self.h[k] for k in ("learning_rate", "beta_1", "beta_2", "epsilon", "momentum_decay")
        )
        decay = hyper(0.96)

        def mu(step):
            return b1 * (1 - 0.5 * decay ** (step * psi))

        P = self.state["P"]
        m, v = self.slot("m", w), self.slot("v", w)
        m += (1 - b1) * (g - m)  # Nadam takes `1 - b` from the rounded b, as Keras's
        v += (1 - b2) * (g * g - v)
        mu_next = mu(t) if self.mutation == "no_lookahead" else mu(t + 1)
        m_hat = mu_next * m / (1 - P * mu_next) + (1 - mu(t)) * g / (1 - P)
        v_hat = v / (1 - b2**t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps)


class RAdamRef(Reference):
    def update(self, w, g, t):
        lr, b1, b2, eps, thr = (
            self.h[k] for k in ("learning_rate", "beta_1", "beta_2", "epsilon", "sma_threshold")
        )
        if self.mutation == "threshold_5":
            thr = 5.0
        m, v = self.slot("m", w), self.slot("v", w)
        self.ema(m, g, "beta_1")
        self.ema(v, g * g, "beta_2")
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        rho_inf = 2 / (1 - self.raw["beta_2"]) - 1  # in double on every back-end
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > thr:
            r = np.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            if self.mutation == "no_rectification":
                r = 1.0
            return w - lr * r * m_hat / (np.sqrt(v_hat) + eps)
        return w - lr * m_hat


class AdaBeliefRef(Reference):
    def update(self, w, g, t):
        lr, b1, b2, eps = (self.h[k] for k in ("learning_rate", "beta_1", "beta_2", "epsilon"))
        m, s = self.slot("m", w), self.slot("s", w)
        self.ema(m, g, "beta_1")
        inner = 0.0 if self.mutation == "no_inner_epsilon" else eps
        s += self.one_minus("beta_2") * ((g - m) ** 2 - s) + inner
        return w - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)


class LionRef(Reference):
    def update(self, w, g, t):
        lr, b1, b2 = (self.h[k] for k in ("learning_rate", "beta_1", "beta_2"))
        m = self.slot("m", w)
        if self.mutation == "update_momentum_first":
            m[:] = b2 * m + (1 - b2) * g
        c = b1 * m + (1 - b1) * g
        w = w - lr * np.sign(c)
        if self.mutation != "update_momentum_first":
            m[:] = b2 * m + (1 - b2) * g
        return w
