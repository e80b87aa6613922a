"""Read TensorBoard event files back with TensorBoard's own reader."""

import pathlib

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


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
