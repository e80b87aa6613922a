"""One summary writer per directory, shared by every callback writing there.

TensorBoard reads a run directory's event files in name order; two writers
open on one directory at once would make two files whose events interleave
in time. The callbacks of the suite therefore borrow the directory's single
writer, opened lazily on first use and closed when the last borrower returns it.
"""

from __future__ import annotations

import os

import tensorflow as tf

_open: dict[str, list] = {}  # absolute path -> [writer, borrowers]


def borrow(path):
    key = os.path.abspath(os.fspath(path))
    if key not in _open:
        _open[key] = [tf.summary.create_file_writer(key), 0]
    _open[key][1] += 1
    return _open[key][0]


def give_back(path):
    key = os.path.abspath(os.fspath(path))
    entry = _open.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        entry[0].close()
        del _open[key]


def flush_under(path):
    """Flush every open writer of `path` and of the directories under it."""
    root = os.path.abspath(os.fspath(path))
    for key, (writer, _) in _open.items():
        if key == root or key.startswith(root + os.sep):
            writer.flush()


def close_under(path):
    """Close and forget every writer of `path` and under it, borrowed or not
    (after a run that raised: its callbacks never gave theirs back)."""
    root = os.path.abspath(os.fspath(path))
    for key in [k for k in _open if k == root or k.startswith(root + os.sep)]:
        _open.pop(key)[0].close()


class Borrowed:
    """Mixin for callbacks: `self._writer(sub)` borrows `<logdir>/<sub>`'s writer."""

    def _writer(self, sub):
        borrowed = self.__dict__.setdefault("_borrowed", {})
        if sub not in borrowed:
            borrowed[sub] = borrow(os.path.join(self.logdir, sub))
        return borrowed[sub]

    def _give_back_writers(self):
        for sub in self.__dict__.pop("_borrowed", {}):
            give_back(os.path.join(self.logdir, sub))


def _each(size, write_one):
    """`write_one(i)` for i = 0 .. size - 1, in order, as one loop in the graph being traced."""
    def body(i):
        with tf.control_dependencies([write_one(i)]):
            return i + 1

    tf.while_loop(lambda i: i < size, body, [tf.constant(0)])


_write_scalars = None  # the compiled function, made at the first call


def write_scalars(writer, series):
    """Write `series`, [(tag, step, value)], to `writer` in one call of one compiled function.

    Written eagerly, each scalar costs about a tenth of a millisecond; a run that
    logs thousands of them would spend longer writing than a small model spends
    training. The function takes the writer's resource as an argument, so it is
    traced once per process for every writer (a summary op traced under
    `writer.as_default()` would keep that writer, and tracing it again for each
    group's 2K writers cost 1 s a group of 16)."""
    global _write_scalars
    if not series:
        return
    if _write_scalars is None:
        from tensorboard.plugins.scalar import metadata
        from tensorflow.python.ops import gen_summary_ops

        scalar = metadata.create_summary_metadata(display_name=None, description=None).SerializeToString()

        def write(handle, tags, steps, values):
            _each(tf.size(steps), lambda i: gen_summary_ops.write_summary(handle, steps[i], values[i], tags[i], scalar))

        _write_scalars = tf.function(write, autograph=False, input_signature=[
            tf.TensorSpec([], tf.resource), tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None], tf.float32)])
    _write_scalars(writer._resource,  # the writer's handle: TensorFlow offers no public one
                   tf.constant([tag for tag, _, _ in series], tf.string),
                   tf.constant([step for _, step, _ in series], tf.int64),
                   tf.constant([value for _, _, value in series], tf.float32))


_import_events = None  # the compiled function, made at the first call


def write_scalars_at(writer, series):
    """`write_scalars` with each point's wall time given: `series` is [(tag, step, value, wall
    time in seconds)]. TensorFlow's summary ops stamp every point with the time they run, so the
    points are written as whole events (`import_event`), in one call of one compiled function.
    For curves computed after the fact (a mean over seeds), whose own times would all fall
    within a millisecond and draw them as a vertical line on TensorBoard's relative-time axis."""
    global _import_events
    if not series:
        return
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorboard.plugins.scalar import metadata

    scalar = metadata.create_summary_metadata(display_name=None, description=None)
    shape = tensor_shape_pb2.TensorShapeProto()
    described, events = set(), []
    for tag, step, value, wall_time in series:
        point = summary_pb2.Summary.Value(tag=tag, tensor=tensor_pb2.TensorProto(
            dtype=types_pb2.DT_FLOAT, tensor_shape=shape, float_val=[value]))
        if tag not in described:  # TensorBoard reads a tag's plugin from its first point
            described.add(tag)
            point.metadata.CopyFrom(scalar)
        events.append(event_pb2.Event(wall_time=wall_time, step=step,
                                      summary=summary_pb2.Summary(value=[point])).SerializeToString())
    if _import_events is None:
        from tensorflow.python.ops import gen_summary_ops

        def write(handle, serialized):
            _each(tf.size(serialized), lambda i: gen_summary_ops.import_event(handle, serialized[i]))

        _import_events = tf.function(write, autograph=False, input_signature=[
            tf.TensorSpec([], tf.resource), tf.TensorSpec([None], tf.string)])
    _import_events(writer._resource, tf.constant(events, tf.string))
