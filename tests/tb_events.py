"""Read TensorBoard event files back with TensorBoard's own reader."""

import json
import pathlib

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hp_metadata

from experiments.store import checkpoint


def accumulator(run_dir):
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    return events


def tensors(run_dir):
    """{tag: [(step, numpy value), ...]} for every tensor summary in `run_dir`."""
    events = accumulator(run_dir)
    return {
        tag: [(e.step, tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }


def scalars(run_dir):
    """{tag: (steps, values)} for the scalar summaries of `run_dir`."""
    out = {}
    for tag, entries in tensors(run_dir).items():
        if all(np.ndim(v) == 0 for _, v in entries):
            steps, values = zip(*entries)
            out[tag] = (list(steps), np.array(values, dtype=float))
    return out


def plugin_of(run_dir, tag):
    return accumulator(run_dir).SummaryMetadata(tag).plugin_data.plugin_name


def event_files(run_dir):
    return sorted(pathlib.Path(run_dir).glob("events.out.tfevents.*"))


def raw_events(run_dir):
    """{tag: [(step, value), ...]} of every summary value in every event file
    of `run_dir`, in the order TensorBoard reads them and with nothing dropped:
    where `tensors` (TensorBoard's accumulator) would hide a duplicated or
    out-of-order step, this shows it. Values: floats for scalars, else None."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    out = {}
    for path in event_files(run_dir):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor) if value.HasField("tensor") else None
                scalar = float(array) if array is not None and np.ndim(array) == 0 and array.dtype.kind == "f" else None
                out.setdefault(value.tag, []).append((event.step, scalar))
    return out


def session(run_dir):
    """(group name, end status or None) of the HParams session in `run_dir`'s root."""
    events = accumulator(run_dir)
    tags = events.Tags()["tensors"]
    start = hp_metadata.parse_session_start_info_plugin_data(
        events.SummaryMetadata(hp_metadata.SESSION_START_INFO_TAG).plugin_data.content)
    status = None
    if hp_metadata.SESSION_END_INFO_TAG in tags:
        status = hp_metadata.parse_session_end_info_plugin_data(
            events.SummaryMetadata(hp_metadata.SESSION_END_INFO_TAG).plugin_data.content).status
    return start.group_name, status


def same_json(a, b):
    """Equal as JSON writes them: NaN equals NaN (a diverged run's final metrics are NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def assert_same_run(ours, reference):
    """Same final weights and optimizer state, metrics, and every event at the
    same steps with the same values, each step once."""
    assert same_json(ours.metrics, reference.metrics) and same_json(ours.best, reference.best)
    np.testing.assert_array_equal(ours.curves["step_loss"], reference.curves["step_loss"])  # NaN equals NaN
    mine, theirs = checkpoint.load(ours.directory), checkpoint.load(reference.directory)
    assert (mine is None) == (theirs is None)  # a run that diverged before an epoch's end has none
    mine, theirs = (mine or ({},))[0], (theirs or ({},))[0]
    assert mine.keys() == theirs.keys()
    for key in theirs:
        if key != "step_seconds":
            np.testing.assert_array_equal(mine[key], theirs[key], err_msg=key)
    got, expected = raw_events(ours.directory), raw_events(reference.directory)
    assert got.keys() == expected.keys()
    for tag, entries in expected.items():
        steps = [s for s, _ in got[tag]]
        assert steps == [s for s, _ in entries], tag  # each step once, in order
        if tag != "summary/wall_seconds":
            for (_, mine_value), (_, their_value) in zip(got[tag], entries):  # NaN equals NaN
                np.testing.assert_array_equal(mine_value, their_value, err_msg=tag)
