"""The divergence rule of `callbacks.DivergenceWatch`, for a program's K members at once, in its graph.

`Watches(watches)` holds each member's `DivergenceWatch` state (its first
and lowest loss, the steps it has been too large, its spikes) as variables
of K values, and `alive`, whether each member still trains. `update(m,
alive, step)` is `DivergenceWatch.update` of every alive member on its
running mean loss `m`, reading and writing the variables (the step-by-step
tests use it); `values()`, `step(state, m, alive, step)` and `store(state,
alive)` are `update` in three parts, for the compiled loop, which carries
the state through its steps and stores it once a call; `read(k)` puts member
k's state back into its `DivergenceWatch` (for checkpoints and results);
`reset(watches)` starts over from other watches with the same factors and
patiences. `tests/experiments/test_reliability.py` checks it step by step
against `DivergenceWatch`.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from callbacks.divergence import DivergenceWatch


class Watches:
    def __init__(self, watches):
        self.watches = _as_watches(watches)
        self.factors = tf.constant([w.factor for w in self.watches], tf.float64)
        self.patience = tf.constant([w.patience for w in self.watches], tf.int64)
        self.alive = tf.Variable([True] * len(self.watches), trainable=False)
        # DivergenceWatch.FIELDS, one variable each: NaN / -1 for None
        self.state = {name: tf.Variable(value, trainable=False) for name, value in self._arrays().items()}

    def variables(self):
        return [self.alive, *self.state.values()]

    def _arrays(self):
        """The watches' state as arrays, one per `DivergenceWatch.FIELDS` (NaN / -1 for None)."""
        state = {}
        for name in DivergenceWatch.FIELDS:
            dtype = np.int64 if name in ("over", "spikes") or name.endswith("step") else np.float64
            none = -1 if dtype == np.int64 else math.nan
            state[name] = np.array([none if v is None else v for v in (getattr(w, name) for w in self.watches)],
                                   dtype)
        return state

    def reset(self, watches):
        """Start over from `watches` (their factors and patiences must be these), every member alive."""
        watches = _as_watches(watches)
        if [(w.factor, w.patience) for w in watches] != [(w.factor, w.patience) for w in self.watches]:
            raise ValueError("restarted watches keep their members' divergence factors and patiences")
        self.watches = watches
        for name, value in self._arrays().items():
            self.state[name].assign(value)
        self.alive.assign([True] * len(self.watches))

    def read(self, k):
        """Member k's `DivergenceWatch`, its state as the last call left it."""
        watch = self.watches[k]
        for name, variable in self.state.items():
            value = variable.numpy()[k].item()
            none = (value == -1) if name.endswith("step") else (isinstance(value, float) and math.isnan(value))
            setattr(watch, name, None if none else value)
        return watch

    def values(self):
        """The state's current values: what `step` takes and gives."""
        return {name: variable.value() for name, variable in self.state.items()}

    def step(self, state, m, alive, step):
        """`DivergenceWatch.update` of every alive member on `state` (`values()`), in the graph:
        `m` its running mean loss after `step` (1-based). Returns the new state and `alive` with
        those that diverged now false; changes no variable (the compiled loop carries the state
        from step to step, and `store`s it at its end)."""
        first, lowest, over, peak = state["first"], state["lowest"], state["over"], state["peak"]
        finite = tf.math.is_finite(m)
        large = finite & (lowest > 0) & (m > self.factors * lowest) & (m > first)  # NaN: False
        over_next = tf.where(large, over + 1, tf.zeros_like(over))
        bad = alive & (~finite | (large & (over_next > self.patience)))
        ok = alive & ~bad
        ended = ok & ~large & (over > 0)  # a spike, over
        better = ended & (tf.math.is_nan(state["worst"]) | (peak > state["worst"]))
        fresh_peak = ok & large & ((over == 0) | (m > peak))
        new = dict(state)
        new["spikes"] = tf.where(ended, state["spikes"] + 1, state["spikes"])
        new["worst"] = tf.where(better, peak, state["worst"])
        new["worst_step"] = tf.where(better, state["peak_step"], state["worst_step"])
        new["peak"] = tf.where(fresh_peak, m, peak)
        new["peak_step"] = tf.where(fresh_peak, tf.cast(step, tf.int64), state["peak_step"])
        new["over"] = tf.where(ok, over_next, over)
        new["first"] = tf.where(ok & tf.math.is_nan(first), m, first)
        new["lowest"] = tf.where(ok, tf.where(tf.math.is_nan(lowest), m, tf.minimum(lowest, m)), lowest)
        return new, ok

    def store(self, state, alive):
        """Set the variables to `state` (`step`'s) and `alive`."""
        for name, value in state.items():
            self.state[name].assign(value)
        self.alive.assign(alive)

    def update(self, m, alive, step):
        """`step` on the variables' values, stored back: `alive` is left false for those that
        diverged."""
        state, ok = self.step(self.values(), m, alive, step)
        self.store(state, ok)


def _as_watches(watches):
    """`DivergenceWatch`es, or bare divergence factors made into new ones."""
    return [w if isinstance(w, DivergenceWatch) else DivergenceWatch(w) for w in watches]
