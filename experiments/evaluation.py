"""Loss, accuracy and gradients of compiled Keras models, in graph code: what the training
program (`experiments.loop`) trains, validates and scores its members with, each traced once
for all the members of a group."""

from __future__ import annotations

import math

import tensorflow as tf

#: Evaluation runs over slices of this many examples (Keras's `evaluate` with this batch size).
EVAL_BATCH = 1024


def correct_count(model, y, y_pred):
    """How many of the batch's predictions are right (sigmoid output: > 0.5; softmax: argmax)."""
    if model.binary:
        hit = tf.equal(tf.cast(y_pred > 0.5, tf.int32), tf.reshape(tf.cast(y, tf.int32), (-1, 1)))
    else:
        hit = tf.equal(tf.argmax(y_pred, axis=-1), tf.reshape(tf.cast(y, tf.int64), (-1,)))
    return tf.reduce_sum(tf.cast(hit, tf.float32))


def evaluate_graph(model, x, y):
    """(mean loss, accuracy) of `model` on all of `x`, `y`, in slices of `EVAL_BATCH`, as Keras's
    `evaluate` weighs them (each slice's mean loss by its size). Graph code (call it in a `tf.function`)."""
    n = tf.shape(x)[0]

    def body(start, total, correct):
        xs, ys = x[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
        pred = model(xs, training=False)
        loss = model.compute_loss(x=xs, y=ys, y_pred=pred, training=False)
        size = tf.cast(tf.shape(xs)[0], tf.float32)
        return start + EVAL_BATCH, total + tf.cast(loss, tf.float32) * size, correct + correct_count(model, ys, pred)

    if x.shape[0] is not None and x.shape[0] <= EVAL_BATCH:  # one slice: no loop
        _, total, correct = body(tf.constant(0), tf.constant(0.0), tf.constant(0.0))
    else:
        _, total, correct = tf.while_loop(lambda start, *_: start < n, body,
                                          (tf.constant(0), tf.constant(0.0), tf.constant(0.0)))
    n = tf.cast(n, tf.float32)
    return total / n, correct / n


def _template(models):
    """The first of `models`, which stands for all in a shared traced function, and the specs
    of its trainable and non-trainable variables; (None, None) when the models' variables differ
    in shape or type."""
    template = models[0]

    def signature(model):
        return [(tuple(v.shape), v.dtype) for v in model.trainable_variables], \
            [(tuple(v.shape), v.dtype) for v in model.non_trainable_variables]

    if any(signature(m) != signature(template) for m in models[1:]):
        return None, None
    return template, [[tf.TensorSpec(v.shape, v.dtype) for v in variables]
                      for variables in (template.trainable_variables, template.non_trainable_variables)]


def _scope(template, trainable, non_trainable, **options):
    """`keras.StatelessScope` in which the template's variables read as the values passed."""
    import keras

    mapping = list(zip(template.trainable_variables, trainable)) + \
        list(zip(template.non_trainable_variables, non_trainable))
    return keras.StatelessScope(state_mapping=mapping, **options)


def shared_evaluation(models, x_spec, y_spec):
    """One `tf.function` computing `evaluate_graph` for any of `models` from its variables'
    values, or None when their variables differ in shape or type. Traced once for all: tracing a
    Keras model costs ~0.1 s a member (1.6 s for a group of 16), twice (the program's validation
    and the final scores). The first model stands for all (its variables replaced by the values
    passed, through `keras.StatelessScope`), so each member computes exactly what it would alone."""
    template, specs = _template(models)
    if template is None:
        return None

    def evaluate(trainable, non_trainable, x, y):
        with _scope(template, trainable, non_trainable):
            return evaluate_graph(template, x, y)

    return tf.function(evaluate, autograph=False, input_signature=[*specs, x_spec, y_spec])


def plain_loss(optimizer):
    """Whether `optimizer.scale_loss` leaves the loss as it is (no `loss_scale_factor`, not a
    `LossScaleOptimizer`)."""
    import keras

    return optimizer.loss_scale_factor is None and type(optimizer).scale_loss is keras.optimizers.Optimizer.scale_loss


def shared_gradients(models, x_spec, y_spec):
    """One `tf.function` computing a training step's forward pass and gradients for any of
    `models` from its variables' values: `(loss, correct count, gradients, the non-trainable
    variables' values after the pass)` (batch normalisation's moving statistics, random
    seeds), only for those the pass changed: their indices in `non_trainable_variables` are the
    function's `changed` once it is traced (the caller assigns them; a frozen layer's weights
    are not copied every step). None when the models' variables differ, or when an optimizer
    scales the loss (each member's step then traces its own). Traced once for all, as
    `shared_evaluation` (a 5-member digits program's first call: 5.2 -> 5.0 s; 16 members:
    17.5 -> 16.5 s). The same ops on the same values as the step `model(x, training=True)`,
    `model.compute_loss`, `tape.gradient` on the member itself, so the same numbers bit for bit
    (`tests/experiments/test_groups.py`)."""
    template, specs = _template(models)
    if template is None or not all(plain_loss(m.optimizer) for m in models if getattr(m, "optimizer", None)):
        return None
    changed = []

    def forward(trainable, non_trainable, x, y):
        with _scope(template, trainable, non_trainable, collect_losses=True) as scope:
            with tf.GradientTape() as tape:
                tape.watch(trainable)
                pred = template(x, training=True)
                loss = template.compute_loss(x=x, y=y, y_pred=pred, training=True)
            gradients = tape.gradient(loss, trainable)
            updated = [scope.get_current_value(v) for v in template.non_trainable_variables]
        changed[:] = [i for i, (new, old) in enumerate(zip(updated, non_trainable)) if new is not old]
        return loss, correct_count(template, y, pred), gradients, [updated[i] for i in changed]

    function = tf.function(forward, autograph=False, input_signature=[*specs, x_spec, y_spec])
    function.changed = changed
    return function


def update_ratios(before, after):
    """Per layer, ||w_after - w_before|| / ||w_before|| over its trainable weights together
    (`before`, `after`: per layer, its weights' values)."""
    return tf.stack([_ratio(a, b) for a, b in zip(after, before)])


def _ratio(after, before):
    update = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(w - b)) for w, b in zip(after, before)]))
    weight = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(b)) for b in before]))
    return tf.cast(tf.where(weight > 0, update / weight, math.inf), tf.float32)


def shared_ratios(layers):
    """`update_ratios` as one traced function for members whose layers' weights match
    (`layers`: per member, its layers with weights; a group's always match), else False.
    Traced per member, the ratios were a third of a 5-member program's tracing and first call
    (0.5 s and 0.5 s)."""
    specs = [[[tf.TensorSpec(w.shape, w.dtype) for w in layer.trainable_weights] for layer in member]
             for member in layers]
    if any(spec != specs[0] for spec in specs):
        return False
    return tf.function(update_ratios, autograph=False, input_signature=[specs[0], specs[0]])
