"""How the training program's graph is traced and run: TensorFlow's options for its calls."""

from __future__ import annotations

import contextlib

import tensorflow as tf


@contextlib.contextmanager
def functional_control_flow():
    """Within it, `tf.cond` and `tf.while_loop` traced into a graph stay TensorFlow's functional
    `If` and `While` ops, run as functions, instead of being lowered to the executor's
    Switch/Merge nodes (one Switch per tensor a branch takes in: a member's step takes its
    weights, its optimizer's slots and the batch): a branch then runs as one function call
    instead of a node per tensor, which makes a step and the first call faster
    (`benchmarks/engine.py`). The same kernels on the same values: the numbers do not change
    (`tests/experiments/test_groups.py`). TensorFlow's switch for it is private
    (`control_flow_util_v2`); without it, the lowered ops run."""
    try:
        from tensorflow.python.ops import control_flow_util_v2 as flags
    except ImportError:  # pragma: no cover - another TensorFlow
        flags = None
    before = getattr(flags, "_DISABLE_LOWER_USING_SWITCH_MERGE", None)
    if before is None:
        yield
        return
    flags._DISABLE_LOWER_USING_SWITCH_MERGE = True
    try:
        yield
    finally:
        flags._DISABLE_LOWER_USING_SWITCH_MERGE = before


@contextlib.contextmanager
def options(grappler):
    """The options of a program's calls (each call: a function's instance is kept per options,
    so they must be the same at every call): `functional_control_flow`, and TensorFlow's graph
    optimiser (grappler) off unless `grappler` (`loop.GRAPPLER_MIN_STEPS` says when it pays)."""
    with functional_control_flow():
        if grappler:
            yield
            return
        before = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
        try:
            yield
        finally:
            tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": before})
