"""The compiled training program: K models and their optimizers trained on one stream of batches.

`Program.train(first, last, validate, measure)` runs optimizer steps
`first .. last - 1` of every member in one `tf.function` call (a
`tf.while_loop`), so Python runs once per call, not once per step. Inside
the graph, per step and member:

* the batch: epoch `e`'s order is a stateless shuffle seeded by
  `(seed, e)`, or what the program's `orders` function gives (a run's
  `order` scheme, `experiments.engine.protocol`); either depends on nothing else,
  so a run resumed at an epoch end sees the batches an uninterrupted one
  would. It is cut into batches of
  `batch_size` (the last one shorter when it does not divide);
* the forward pass, `model.compute_loss`, the gradients and
  `optimizer.apply`: the public Keras API, so any
  `keras.optimizers.Optimizer` runs here (ours, Keras's or a user's);
* what is logged: the loss, the number of correct predictions, the global
  gradient norm and the learning rate the step used; at the first step of
  a `measure`d epoch each layer's update ratio; at the end of a
  `validate`d epoch the validation loss and accuracy;
* the divergence test (`callbacks.DivergenceWatch`, with its patience and
  spike count, on the loss's running mean over the epoch, as `DivergenceStop`
  reads Keras's): a member that diverges is masked from the next step on
  (its `tf.cond` branch no longer runs: no forward pass, no update; at a
  validated epoch's end it is still evaluated with the others, in one
  branch, and its result dropped), and the others go on. The loop ends
  early once every member has diverged.

Members never share a tensor, and every member, a run alone (a group of
one) too, is fed and computed the same way: its forward pass, gradients,
evaluation and update ratios go through functions traced once for all the
members whose variables match (`experiments.engine.evaluation`), its weights
passed in as arguments. So each computes exactly what it would alone, the
same ops on the same values whatever kernels the CPU's libraries pick: a
group's results equal, bit for bit, those of each member trained by itself
(`tests/experiments/test_groups.py`, run with oneDNN on and off).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from experiments.engine import tracing
from experiments.engine.evaluation import EVAL_BATCH, correct_count, shared_evaluations, shared_gradients, shared_ratios
from experiments.engine.watches import Watches

#: A program compiles with XLA (`jit_compile`) when a member's step costs at most this many
#: floating-point operations (6 x parameters x batch size) and the validation set is one slice:
#: a small model's step is a few hundred tiny ops whose dispatch, not their arithmetic, is the
#: cost, and XLA fuses them; a larger model's step is its arithmetic, which XLA does not speed
#: up, and compiling costs more than tracing (`benchmarks/engine.py` measures both).
XLA_MAX_FLOPS = 1e6

#: ... and when the run is at least this many steps long: compiling costs seconds, which only a
#: long run earns back.
XLA_MIN_STEPS = 20_000

#: Shorter runs skip TensorFlow's graph optimiser (grappler) in their program: it costs a
#: fraction of a second a member at the first call and saves little a step, so it pays only on
#: long runs. Decided, like XLA, by the run's own length.
GRAPPLER_MIN_STEPS = 5_000

#: A call's arrays hold at most this many steps (XLA needs their size fixed in advance).
MAX_CALL_STEPS = 20_000

#: The per-step arrays a call returns, `[steps, members]`.
ARRAYS = ("loss", "mean", "correct", "size", "gradient_norm", "learning_rate", "validation_loss",
          "validation_accuracy")


class Program:
    """K compiled Keras models (each `compile`d with its optimizer, built) trained together.

    `watches[k]` is member k's `callbacks.DivergenceWatch` (its factor,
    patience and state, carried on from a checkpoint), or just its
    `divergence_factor`; `watch(k)` reads its state back after a call.
    `steps`: how many steps it will train, which decides with the model's
    size whether it compiles with XLA (`xla` forces it either way);
    `max_epochs`: the most epochs one call may train; `ratios=False`: no
    update ratios are measured (the "ratios" arrays stay zero);
    `orders(first_epoch, epochs)`: the epochs' orders, NumPy `[epochs, n]`
    (None: the stateless shuffle), `[epochs, per_epoch * batch size]` with
    `full_batches` (every batch full: indices drawn with replacement). The
    data is cast to the members' dtype (their inputs').
    """

    def __init__(self, models, data, seed, batch_size, watches, xla=None, max_epochs=None, steps=None,
                 ratios=True, orders=None, full_batches=False):
        self.models = list(models)
        # the data at the models' precision (float32 unless they are float64)
        self.dtype = keras.backend.standardize_dtype(self.models[0].inputs[0].dtype)
        self.x, self.y = tf.constant(data.x_train.astype(self.dtype)), tf.constant(data.y_train)
        self.orders = orders
        self.n = len(data.x_train)
        self.size = self.n if batch_size == "full" else min(int(batch_size), self.n)
        self.per_epoch = math.ceil(self.n / self.size)
        # an epoch's order: a permutation of the n examples (the last batch shorter when the size
        # does not divide n), or with `full_batches` (an `orders` drawn with replacement) per_epoch
        # full batches' indices
        self.length = self.per_epoch * self.size if full_batches else self.n
        self.seed = int(seed)
        self.has_validation = len(data.x_val) > 0
        if self.has_validation:
            self.x_val, self.y_val = tf.constant(data.x_val.astype(self.dtype)), tf.constant(data.y_val)
        self._seed = tf.Variable(self.seed, dtype=tf.int64, trainable=False)  # `restart` sets it
        self.watches = Watches(watches)
        self.alive = self.watches.alive
        self.step0 = tf.Variable(0, dtype=tf.int64, trainable=False)  # the call's first step
        self.layers = [[layer for layer in m.layers if layer.trainable_weights] for m in self.models]
        self._positions = [{id(v): i for i, v in enumerate(m.trainable_variables)} for m in self.models]
        params = max(m.count_params() for m in self.models)
        small = 6 * params * self.size <= XLA_MAX_FLOPS and len(data.x_val) <= EVAL_BATCH
        # the run's own whole length, never the group's size or the steps left: a run takes the
        # same path alone, in any group and resumed anywhere (XLA and the executor round differently)
        long = steps is not None and steps >= XLA_MIN_STEPS
        self.xla = (small and long) if xla is None else bool(xla)
        self.grappler = steps is None or steps >= GRAPPLER_MIN_STEPS
        self.ratios = bool(ratios)
        self.max_epochs = max_epochs or max(1, MAX_CALL_STEPS // self.per_epoch)
        self._build_train()
        spec = [tf.TensorSpec([None, *data.x_train.shape[1:]], tf.as_dtype(self.dtype)),
                tf.TensorSpec([None, *data.y_train.shape[1:]], tf.as_dtype(data.y_train.dtype))]
        # per member: how it is evaluated, stepped and measured, each traced once for all the
        # members whose variables match; a run alone goes through the same (evaluation.py)
        self._evaluations = shared_evaluations(self.models, *spec)
        self._forwards = shared_gradients(self.models, *spec)
        self._ratio_functions = shared_ratios(self.layers)
        self._evaluate = tf.function(self._evaluate_graph, autograph=False, input_signature=spec)

    def restart(self, starts, watches, seed, orders):
        """Train other runs, with the graph this program has traced: the same runs but for the
        seed, which only sets values. `starts`, per member, its model's variables and its
        optimizer's, or their first values (`Member.start`), which are copied into its models,
        which then stand in for theirs (the caller swaps them in: returned); `watches`, `seed`
        and `orders` replace its own."""
        pairs = [(a, b) for mine, (weights, state) in zip(self.models, starts)
                 for a, b in zip(mine.variables + mine.optimizer.variables, weights + state)]
        count = sum(len(weights) + len(state) for weights, state in starts)
        if len(starts) != len(self.models) or len(pairs) != count or \
                any(a.shape != b.shape or a.dtype != b.dtype for a, b in pairs):
            raise ValueError("a program restarts only with models and optimizers like its own")
        for a, b in pairs:
            a.assign(b)
        self.seed = int(seed)
        self._seed.assign(self.seed)
        self.orders = orders
        self.watches.reset(watches)
        return self.models

    def _build_train(self):
        epochs = self.max_epochs if self.xla else None  # XLA: static shapes
        self._inner = tf.function(self._loop_graph, autograph=False, jit_compile=self.xla)
        self._train = tf.function(self._train_graph, autograph=False, input_signature=[
            tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int64),
            tf.TensorSpec([epochs], tf.bool), tf.TensorSpec([epochs], tf.bool),
            tf.TensorSpec([None, self.length], tf.int64)])
        self._called = False

    def train(self, first, last, validate, measure):
        """Steps `first .. last - 1` (`first` at an epoch start); `validate[i]`/`measure[i]`: whether
        epoch `first // per_epoch + i` is validated at its end / has its update ratios measured at its
        first step. Returns NumPy arrays: per step `[T, K]` "loss", "mean" (the epoch's running mean
        so far), "correct", "size", "gradient_norm", "learning_rate", "validation_loss" and
        "validation_accuracy" (NaN but at the end of a validated epoch, for members alive after
        it); per member the `[T, layers]` "ratios" (zero but where measured); "steps" run (fewer
        than asked once every member has diverged) and per member the "diverged" step count (-1:
        alive)."""
        if len(validate) > self.max_epochs:
            raise ValueError(f"a call trains at most {self.max_epochs} epochs; asked {len(validate)}")
        if self.xla:
            pad = self.max_epochs - len(validate)
            validate, measure = np.pad(validate, (0, pad)), np.pad(measure, (0, pad))
        first_epoch = first // self.per_epoch
        epochs = (last - 1) // self.per_epoch - first_epoch + 1
        given = None if self.orders is None else self.orders(first_epoch, epochs)
        arguments = (tf.constant(first, tf.int64), tf.constant(last, tf.int64), tf.constant(validate, tf.bool),
                     tf.constant(measure, tf.bool),
                     tf.constant(np.zeros((0, self.length), np.int64) if given is None else given, tf.int64))
        if self.xla and not self._called:  # XLA cannot compile every op: then go on without it
            state = [v.numpy() for v in self.variables()]
            try:
                with self._options():
                    out = self._train(*arguments)
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.InternalError):
                for variable, value in zip(self.variables(), state):
                    variable.assign(value)
                self.xla = False
                self._build_train()
                return self.train(first, last, validate[:len(validate) - pad], measure[:len(measure) - pad])
        else:
            with self._options():
                out = self._train(*arguments)
        self._called = True
        out = tf.nest.map_structure(lambda t: t.numpy(), out)
        steps = int(out["steps"])
        for name in ARRAYS:
            if name in out:
                out[name] = out[name][:steps]
        out["ratios"] = [r[:steps] for r in out["ratios"]]
        return out

    def _options(self):
        """TensorFlow's options for this program's calls (`tracing.options`)."""
        return tracing.options(self.grappler)

    def variables(self):
        """Every variable a call changes: the members' weights and optimizer state, and the
        divergence test's."""
        return [v for m in self.models for v in m.variables + m.optimizer.variables] + \
            [self.step0, *self.watches.variables()]

    def watch(self, k):
        """Member k's `DivergenceWatch`, its state as the last call left it."""
        return self.watches.read(k)

    def evaluate(self, x, y):
        """[(loss, accuracy)] of every member on `x`, `y` (one compiled function for any split)."""
        with self._options():
            losses, accuracies = self._evaluate(tf.constant(np.asarray(x).astype(self.dtype)), tf.constant(y))
        return list(zip(losses.numpy().tolist(), accuracies.numpy().tolist()))

    def _evaluate_graph(self, x, y):
        pairs = [self._member_evaluation(k, x, y) for k in range(len(self.models))]
        return tf.stack([p[0] for p in pairs]), tf.stack([p[1] for p in pairs])

    # -- the graph ---------------------------------------------------------------------------

    def _member_evaluation(self, k, x, y):
        """`evaluate_graph` of member k, through its shared traced function."""
        model = self.models[k]
        return self._evaluations[k]([v.value for v in model.trainable_variables],
                                    [v.value for v in model.non_trainable_variables], x, y)

    def _member_step(self, k, xb, yb, measure, alive):
        """Member k's step on the batch `xb`, `yb` when `alive` (else NaN): (loss, correct count,
        gradient norm, learning rate, its layers' update ratios when `measure`, else zeros)."""
        model = self.models[k]
        optimizer = model.optimizer
        layers = self.layers[k]

        def live():
            rate = tf.cast(optimizer.learning_rate, tf.float32)  # what this step uses
            # the weights before the step, read once: the forward pass's and the update ratios'
            # (a read keeps its value when the variable changes; `v.value` is the variable)
            weights = [tf.convert_to_tensor(v.value) for v in model.trainable_variables]
            before = [[weights[self._positions[k][id(w)]] for w in layer.trainable_weights] for layer in layers]
            forward = self._forwards[k]
            if forward is not None:  # the traced function it shares with the members like it
                loss, correct, gradients, updated = forward(
                    weights, [v.value for v in model.non_trainable_variables], xb, yb)
                for i, value in zip(forward.changed, updated):
                    model.non_trainable_variables[i].assign(value)
            else:  # its optimizer scales the loss: its own pass, alone and in any group
                with tf.GradientTape() as tape:
                    pred = model(xb, training=True)
                    loss = model.compute_loss(x=xb, y=yb, y_pred=pred, training=True)
                    scaled = optimizer.scale_loss(loss)
                gradients = tape.gradient(scaled, model.trainable_weights)
                correct = correct_count(model, yb, pred)
            optimizer.apply(gradients, model.trainable_weights)
            norm = tf.linalg.global_norm(gradients)
            if optimizer.loss_scale_factor is not None:
                norm = norm / optimizer.loss_scale_factor
            if self.ratios and measure is not None:
                ratios = tf.cond(measure, lambda: self._ratios(k, before),
                                 lambda: tf.zeros([len(layers)], tf.float32))
            else:
                ratios = tf.zeros([len(layers)], tf.float32)
            return (tf.cast(loss, tf.float32), correct, tf.cast(norm, tf.float32),
                    rate, ratios)

        def masked():
            nan = tf.constant(math.nan, tf.float32)
            return nan, tf.constant(0.0), nan, nan, tf.zeros([len(layers)], tf.float32)

        return tf.cond(alive, live, masked)

    def _ratios(self, k, before):
        """Member k's `update_ratios`, through its shared traced function."""
        after = [[w.value for w in layer.trainable_weights] for layer in self.layers[k]]
        return self._ratio_functions[k](before, after)

    def _train_graph(self, first, last, validate, measure, given):
        """The epochs' orders (outside XLA: a stateless shuffle is not compiled; `given` when the
        program has an `orders` function), then the loop."""
        per_epoch, n = self.per_epoch, self.n
        first_epoch = first // per_epoch
        epochs = (last - 1) // per_epoch - first_epoch + 1  # the call's own: shuffles cost
        seed = self._seed.value()
        if self.orders is not None:
            orders = given
        else:
            orders = tf.map_fn(lambda e: tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), seed=tf.stack([seed, e])),
                tf.range(first_epoch, first_epoch + epochs), fn_output_signature=tf.int64)
        if self.xla:  # a static shape: padded with orders no step reads
            orders = tf.pad(orders, [[0, self.max_epochs - epochs], [0, 0]])
            orders.set_shape([self.max_epochs, self.length])
        self.step0.assign(first)  # a variable, not an argument: see `_loop_graph`
        out = self._inner(orders, tf.cast(last - first, tf.int32), validate, measure)
        out["diverged"] = tf.where(out["diverged"] >= 0, first + out["diverged"], -1)
        return out

    def _watch(self, m, alive, step):
        """The divergence test of every alive member (`Watches.update`) on the variables: `alive`
        false for those that diverged. The loop runs the same rule on the state it carries."""
        self.watches.update(m, alive, step)

    def _loop_graph(self, orders, steps, validate, measure):
        """Steps 0 .. steps - 1 of the call (the call starts at an epoch's first step). Only
        `steps` is passed in: XLA compiles anew for every value of an argument that decides
        a slice's bounds, and the call's first step would otherwise be one.

        What changes from step to step is carried by the loop, not read from and written to
        variables: the members' `alive` flags and their divergence watches' state (stored at the
        end), and the per-step values, all in one array (`[steps, values, K]`, and the ratios of
        every member's layers in another): fewer ops to trace than a variable's reads and
        writes at every step, for the same work a step."""
        k_count, per_epoch, n = len(self.models), self.per_epoch, self.length
        names = [name for name in ARRAYS if self.has_validation or not name.startswith("validation")]
        size = self.max_epochs * per_epoch if self.xla else steps  # XLA: a static size
        values_array = tf.TensorArray(tf.float32, size=size, element_shape=[len(names), k_count])
        widths = [len(layers) for layers in self.layers]
        ratios_array = tf.TensorArray(tf.float32, size=size, element_shape=[sum(widths)])
        diverged = tf.fill([k_count], tf.constant(-1, tf.int64))
        totals, counts = tf.zeros([k_count]), tf.zeros([k_count])
        step0 = self.step0.value()
        last_size = n - (per_epoch - 1) * self.size

        def body(i, totals, counts, diverged, alive, state, values_array, ratios_array):
            e, index = i // per_epoch, i % per_epoch
            start = index * self.size
            measured = tf.logical_and(tf.gather(measure, e), tf.equal(index, 0))  # not measure[e]: see below

            def members(length, measured=measured):  # every member's step on `length` examples from `start`
                # tf.slice and tf.gather, not orders[e]: under XLA, a strided slice's bounds must be
                # known when it compiles, which would compile the program anew for every call
                batch = tf.slice(orders, tf.stack([e, start]), tf.stack([1, length]))[0]
                xb, yb = tf.gather(self.x, batch), tf.gather(self.y, batch)
                # measured None: no ratios
                return [self._member_step(k, xb, yb, measured, alive[k]) for k in range(k_count)]

            if last_size == self.size:
                outs = members(self.size)
            elif self.xla:  # a static shape for each batch size
                # ratios are measured at an epoch's first step, so never in a shorter last batch
                outs = tf.cond(tf.equal(index, per_epoch - 1),
                               lambda: members(last_size, measured if per_epoch == 1 else None),
                               lambda: members(self.size))
            else:
                outs = members(tf.minimum(self.size, n - start))
            size = tf.where(tf.equal(index, per_epoch - 1), float(last_size), float(self.size))
            loss = tf.stack([o[0] for o in outs])
            fresh = tf.equal(index, 0)
            totals = tf.where(alive, tf.where(fresh, 0.0, totals) + loss * size, totals)
            counts = tf.where(alive, tf.where(fresh, 0.0, counts) + size, counts)
            mean = tf.where(alive, totals / counts, math.nan)
            state, ok = self.watches.step(state, tf.cast(mean, tf.float64), alive, step0 + tf.cast(i, tf.int64) + 1)
            bad = tf.logical_and(alive, tf.logical_not(ok))
            diverged = tf.where(bad, tf.cast(i + 1, tf.int64), diverged)
            values = {"loss": loss, "mean": mean, "correct": tf.stack([o[1] for o in outs]),
                      "size": tf.fill([k_count], size), "gradient_norm": tf.stack([o[2] for o in outs]),
                      "learning_rate": tf.stack([o[3] for o in outs])}
            if self.has_validation:
                end = tf.logical_or(tf.equal(index, per_epoch - 1), tf.equal(i, steps - 1))

                def validation():  # members alive after this step; a diverged one's result dropped
                    # every member evaluated in one branch: K branches cost more to trace than the
                    # evaluations of diverged members they would save (one per validated epoch)
                    pairs = [self._member_evaluation(k, self.x_val, self.y_val) for k in range(k_count)]
                    return tuple(tf.where(ok, tf.stack([p[j] for p in pairs]), math.nan) for j in (0, 1))

                def skipped():
                    return tf.fill([k_count], math.nan), tf.fill([k_count], math.nan)

                values["validation_loss"], values["validation_accuracy"] = tf.cond(
                    tf.logical_and(end, tf.gather(validate, e)), validation, skipped)
            values_array = values_array.write(i, tf.stack([values[name] for name in names]))
            ratios_array = ratios_array.write(i, tf.concat([o[4] for o in outs], 0))
            return i + 1, totals, counts, diverged, ok, state, values_array, ratios_array

        def running(i, totals, counts, diverged, alive, *_):
            return tf.logical_and(i < steps, tf.reduce_any(alive))

        i, _, _, diverged, alive, state, values_array, ratios_array = tf.while_loop(
            running, body, (tf.constant(0), totals, counts, diverged, self.alive.value(), self.watches.values(),
                            values_array, ratios_array))
        self.watches.store(state, alive)
        stacked = values_array.stack()  # `train` cuts them to `i`
        out = {name: stacked[:, j] for j, name in enumerate(names)}
        out["ratios"] = tf.split(ratios_array.stack(), widths, axis=1)
        out["steps"] = i
        out["diverged"] = diverged
        return out
