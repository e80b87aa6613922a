"""A mean-over-seeds run for each group of seeds, with its spread as tags.

Every seed keeps its own run; `<group>_mean` is added beside them, one
TensorBoard run. For each scalar tag the seeds' curves share, at each step
they all logged:

    <tag>                          the mean over seeds (in the same card as the seeds' own curves)
    seed_spread/<tag>/mean         the same, for the custom-scalars chart: a tag the seeds do not have
    seed_spread/<tag>/std_low      mean - one standard deviation (the sample's: n - 1)
    seed_spread/<tag>/std_high     mean + one standard deviation
    seed_spread/<tag>/min          the lowest seed
    seed_spread/<tag>/max          the highest seed

The spread's tags share one prefix, so TensorBoard's Time Series and Scalars
put their cards in one group of their own (`seed_spread`), out of the way of
the curves' cards; Custom Scalars draws each as a band.

A tag on which every seed logged the same values (a 2-D path from a fixed
start, a learning-rate schedule) gets its mean alone: bands of zero width
say nothing. The root's one-point summaries (`summary/*`: wall time,
diverged, steps) are not averaged; HParams shows them per seed, and groups
the seeds of a trial into one session group (their `trial_id`).

The batch's own run gets a custom-scalars layout (`dashboard.write_bands`):
one margin chart per tag, the mean with its std band, every group of the
batch in it.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from callbacks._writers import write_scalars_at
from experiments.report.dashboard import SESSION, band_tag
from experiments.spec.metrics import summary_tag
from experiments.store import events, files

SUMMARY = summary_tag("")  # the prefix of the one-point summaries, which are not averaged

#: band -> how a (seeds, steps) array becomes one curve ("": the mean under the tag itself)
BANDS = {
    "": lambda v: v.mean(axis=0),
    "mean": lambda v: v.mean(axis=0),
    "std_low": lambda v: v.mean(axis=0) - v.std(axis=0, ddof=1),
    "std_high": lambda v: v.mean(axis=0) + v.std(axis=0, ddof=1),
    "min": lambda v: v.min(axis=0),
    "max": lambda v: v.max(axis=0),
}


def run_scalars(directory, wall_times=False):
    """{tag: {step: value}} (as `read_scalars`) of the run in `directory`: its root, and the
    `train/` and `validation/` runs an older version of the suite wrote its curves in, under
    today's tags (`events.todays_tag`)."""
    directory = pathlib.Path(directory)
    out = read_scalars(directory, wall_times)
    for sub in events.OLDER_RUNS:
        for tag, points in read_scalars(directory / sub, wall_times).items():
            out.setdefault(events.todays_tag(sub, tag), {}).update(points)
    return out


#: (directory, its event files' names, sizes and modification times) -> what `read_scalars`
#: read there: the batch's mean runs and its report read the same runs, one after the other.
_READ = {}
_READ_KEPT = 256  # directories; a batch's report reads each run once more


def read_scalars(directory, wall_times=False):
    """{tag: {step: value}} for the scalar summaries written directly in `directory`; with
    `wall_times`, {tag: {step: (value, wall time)}}. Read again only when an event file there
    has changed (its size or modification time) since the last read, but for the HParams
    session, which holds none."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return {}
    # not the HParams session (`*.session`), which holds no scalar and which `dashboard.unify`
    # rewrites between the mean runs' read and the report's
    stats = [(path.name, path.stat()) for path in sorted(directory.glob(f"{events.EVENTS}*"))
             if path.is_file() and not path.name.endswith(SESSION)]
    key = (str(directory.resolve()), tuple((name, st.st_size, st.st_mtime_ns) for name, st in stats))
    read = _READ.get(key)
    if read is None:
        accumulator = EventAccumulator(str(directory), size_guidance={"tensors": 0})
        accumulator.Reload()
        read = {tag: {e.step: (float(tensor_util.make_ndarray(e.tensor_proto)), e.wall_time)
                      for e in accumulator.Tensors(tag)}
                for tag in accumulator.Tags()["tensors"]
                if accumulator.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"}
        if len(_READ) >= _READ_KEPT:
            _READ.clear()
        _READ[key] = read
    # the caller's own dicts (`run_scalars` merges into them)
    return {tag: dict(points) if wall_times else {step: value for step, (value, _) in points.items()}
            for tag, points in read.items()}


def seed_groups(results):
    """{group: [finished Results]} for the groups with two or more finished seeds."""
    groups = {}
    for result in results:
        if not result.error:
            groups.setdefault(result.run.group or result.run.name, []).append(result)
    return {group: members for group, members in groups.items() if len(members) > 1}


def write_aggregate(directory, group, results):
    """Write `<directory>/<group>_mean/` from the seed runs in `results`; return its path."""
    import tensorflow as tf

    out = pathlib.Path(directory) / f"{group}_mean"
    out.mkdir(exist_ok=True)
    banded, series = set(), []
    per_seed = [run_scalars(r.directory, wall_times=True) for r in results]
    shared = set.intersection(*(set(s) for s in per_seed))
    for tag in sorted(tag for tag in shared if not tag.startswith(SUMMARY)):
        steps = sorted(set.intersection(*(set(s[tag]) for s in per_seed)))
        if not steps:
            continue
        points = np.array([[s[tag][step] for step in steps] for s in per_seed])  # [seeds, steps, 2]
        values, times = points[..., 0], points[..., 1].mean(axis=0)  # at the seeds' mean wall time
        same = np.array_equal(values, np.broadcast_to(values[:1], values.shape), equal_nan=True)
        for name, band in BANDS.items() if not same else [("", BANDS[""])]:
            series += [(band_tag(tag, name), step, value, time) for step, value, time in
                       zip(steps, band(values).tolist(), times.tolist())]
        if not same:
            banded.add(tag)
    writer = tf.summary.create_file_writer(str(out))
    write_scalars_at(writer, series)  # in bulk, each point at its seeds' mean wall time
    writer.close()
    files.write(out / "aggregate.json", json.dumps(
        {"group": group, "runs": [r.run.name for r in results], "seeds": [r.run.seed for r in results],
         "bands": {band_tag("<tag>", name): meaning for name, meaning in (
             ("", "mean"), ("mean", "mean"), ("std_low", "mean - sample std"), ("std_high", "mean + sample std"),
             ("min", "min"), ("max", "max"))},
         "banded": sorted(banded)},
        indent=2))
    return out, banded


def write_aggregates(directory, results):
    """One aggregate run per group of seeds, and the batch's margin charts of their bands;
    returns their paths."""
    from experiments.report import dashboard

    written, banded = [], set()
    for group, members in seed_groups(results).items():
        path, tags = write_aggregate(directory, group, members)
        written.append(path)
        banded |= tags
    if banded:
        dashboard.write_bands(directory, sorted(banded))
    return written
