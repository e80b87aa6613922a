"""Loss and accuracy of compiled Keras models, in graph code: what the training program
(`experiments.loop`) validates with and scores its members by."""

from __future__ import annotations

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


def shared_evaluation(models, x_spec, y_spec):
    """One `tf.function` computing `evaluate_graph` for any of `models` from its variables'
    values, or None when their variables differ in shape or type. Traced once for all: tracing a
    Keras model costs ~0.1 s a member (1.6 s for a group of 16), twice (the program's validation
    and the final scores). The first model stands for all (its variables replaced by the values
    passed, through `keras.StatelessScope`), so each member computes exactly what it would alone."""
    import keras

    template = models[0]

    def signature(model):
        return [(tuple(v.shape), v.dtype) for v in model.trainable_variables], \
            [(tuple(v.shape), v.dtype) for v in model.non_trainable_variables]

    if any(signature(m) != signature(template) for m in models[1:]):
        return None
    specs = [[tf.TensorSpec(v.shape, v.dtype) for v in variables]
             for variables in (template.trainable_variables, template.non_trainable_variables)]

    def evaluate(trainable, non_trainable, x, y):
        mapping = list(zip(template.trainable_variables, trainable)) + \
            list(zip(template.non_trainable_variables, non_trainable))
        with keras.StatelessScope(state_mapping=mapping):
            return evaluate_graph(template, x, y)

    return tf.function(evaluate, autograph=False, input_signature=[*specs, x_spec, y_spec])
