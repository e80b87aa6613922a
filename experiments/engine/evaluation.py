"""Loss, accuracy and gradients of compiled Keras models, in graph code: what the training
program (`experiments.engine.loop`) trains, validates and scores its members with, each traced once
for all the members of a group."""

from __future__ import annotations

import math

import tensorflow as tf

#: Evaluation runs over slices of this many examples (Keras's `evaluate` with this batch size).
EVAL_BATCH = 1024


def correct_count(model, y, y_pred):
    """How many of the batch's predictions are right (sigmoid output: > 0.5; softmax: argmax);
    0 for a model whose output is each example's loss (`task = "loss"`: no accuracy)."""
    if model.task == "loss":
        return tf.constant(0.0)
    if model.binary:
        hit = tf.equal(tf.cast(y_pred > 0.5, tf.int32), tf.reshape(tf.cast(y, tf.int32), (-1, 1)))
    elif y_pred.shape.rank > 2:  # a sequence's labels: each example counts the fraction of its positions right
        predicted = tf.argmax(y_pred, axis=-1)
        hit = tf.equal(predicted, tf.reshape(tf.cast(y, tf.int64), tf.shape(predicted)))
        return tf.reduce_sum(tf.reduce_mean(tf.cast(tf.reshape(hit, (tf.shape(hit)[0], -1)), tf.float32), axis=1))
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


def _signature(model):
    """What a traced function over a model's variables depends on: their shapes and types."""
    return tuple((tuple(v.shape), v.dtype) for v in model.trainable_variables), \
        tuple((tuple(v.shape), v.dtype) for v in model.non_trainable_variables)


def _specs(template):
    return [[tf.TensorSpec(v.shape, v.dtype) for v in variables]
            for variables in (template.trainable_variables, template.non_trainable_variables)]


def _shared_by(items, key, make, eligible=lambda item: True):
    """Per item, `make(item)` built once for all the eligible items of one `key` (the first
    stands for them all), None for the others."""
    made, out = {}, []
    for item in items:
        if not eligible(item):
            out.append(None)
            continue
        if key(item) not in made:
            made[key(item)] = make(item)
        out.append(made[key(item)])
    return out


def _per_signature(models, make, eligible=lambda model: True):
    """Per model, `make(template, specs)` built once for all the eligible models whose variables
    match (a group's always do; the first stands for them all), None for the others."""
    return _shared_by(models, _signature, lambda model: make(model, _specs(model)), eligible)


def _scope(template, trainable, non_trainable, **options):
    """`keras.StatelessScope` in which the template's variables read as the values passed."""
    import keras

    mapping = list(zip(template.trainable_variables, trainable)) + \
        list(zip(template.non_trainable_variables, non_trainable))
    return keras.StatelessScope(state_mapping=mapping, **options)


def shared_evaluations(models, x_spec, y_spec):
    """Per model, a `tf.function` computing `evaluate_graph` from its variables' values, one
    for all the models whose variables match: the first stands for them all, its variables
    replaced by the values passed through `keras.StatelessScope`. Tracing a Keras model costs
    about 0.1 s, twice per member (the program's validation and the final scores), so a group
    traces it once.

    Every model goes through such a function, a run alone (a group of one) too, so a run is
    fed and computed the same way in any group: the same ops on the same values, the same
    numbers bit for bit. Reading the variables directly instead would not be the same: oneDNN
    picks its kernels by how an op is fed, and on some CPUs the two differ in the last bit."""
    def make(template, specs):
        def evaluate(trainable, non_trainable, x, y):
            with _scope(template, trainable, non_trainable):
                return evaluate_graph(template, x, y)

        return tf.function(evaluate, autograph=False, input_signature=[*specs, x_spec, y_spec])

    return _per_signature(models, make)


def plain_loss(optimizer):
    """Whether `optimizer.scale_loss` leaves the loss as it is (no `loss_scale_factor`, not a
    `LossScaleOptimizer`)."""
    import keras

    return optimizer.loss_scale_factor is None and type(optimizer).scale_loss is keras.optimizers.Optimizer.scale_loss


def shared_gradients(models, x_spec, y_spec):
    """Per model, a `tf.function` computing a training step's forward pass and gradients from
    its variables' values, one for all the models whose variables match, as
    `shared_evaluations`: `(loss, correct count, gradients, the non-trainable variables' values
    after the pass)` (batch normalisation's moving statistics, random seeds), only for those
    the pass changed: their indices in `non_trainable_variables` are the function's `changed`
    once it is traced (the caller assigns them; a frozen layer's weights are not copied every
    step). The same ops as `model(x, training=True)`, `model.compute_loss` and `tape.gradient`
    on the model itself, fed its weights as arguments instead of reading its variables.

    None for a model whose optimizer scales the loss (`plain_loss`): this function
    differentiates the loss itself, so that member's step traces its own pass, alone and in any
    group alike. Every other model, a run alone too, goes through the shared function, so a
    group's results equal each run's alone bit for bit (`tests/experiments/test_groups.py`)."""
    def make(template, specs):
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

    return _per_signature(models, make, lambda model: getattr(model, "optimizer", None) is None
                          or plain_loss(model.optimizer))


def update_ratios(before, after):
    """Per layer, ||w_after - w_before|| / ||w_before|| over its trainable weights together
    (`before`, `after`: per layer, its weights' values)."""
    return tf.stack([_ratio(a, b) for a, b in zip(after, before)])


def _ratio(after, before):
    update = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(w - b)) for w, b in zip(after, before)]))
    weight = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(b)) for b in before]))
    return tf.cast(tf.where(weight > 0, update / weight, math.inf), tf.float32)


def shared_ratios(layers):
    """Per member, `update_ratios` as a traced function, one for all the members whose layers'
    weights match (`layers`: per member, its layers with weights; a group's always match), so
    that, like the forward pass, a member's ratios are computed the same way in any group."""
    def specs(member):
        return [[tf.TensorSpec(w.shape, w.dtype) for w in layer.trainable_weights] for layer in member]

    return _shared_by(layers, lambda member: repr(specs(member)), lambda member: tf.function(
        update_ratios, autograph=False, input_signature=[specs(member), specs(member)]))
