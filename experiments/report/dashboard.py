"""What TensorBoard shows across a whole log directory, beyond each run's own events.

TensorBoard's HParams dashboard reads one experiment definition (the columns),
and with several under the directory it reads (`tensorboard --logdir logs`, a
batch in each subdirectory) it takes an arbitrary one: the other batches'
hyperparameters vanish. Its parallel-coordinates view draws only the sessions
that have a value in every column. So:

* each run's session (its hyperparameters) is an event file of its own,
  `<run>/events.out.tfevents.*.session`, and each batch's definition one in
  its root, `<batch>/events.out.tfevents.*.hparams`;
* `unify(logdir)` rewrites them so that every definition under `logdir` is
  the same and covers every batch's hyperparameters and metrics, and every
  session has a value for every hyperparameter: "none" where its run has no
  such hyperparameter (SGD has no `optimizer.momentum`). A column that has a
  "none" holds strings, numbers written as in the batch file.

A file is replaced by writing the new one first and then removing the old:
cut in between, the old one is what TensorBoard reads first (its name sorts
first), so nothing is lost. A running `tensorboard` keeps what it read; it
shows the new columns once restarted.
"""

from __future__ import annotations

import pathlib
import time

from experiments.store import events

SESSION = ".session"  # the suffix of a run's session file
DEFINITION = ".hparams"  # the suffix of a batch's experiment definition
NONE = "none"  # a session's value for a hyperparameter its run does not have


def batch_label(name, batch_id):
    """The batch `name` as the HParams `batch` column shows it: `<batch> (<id>)`, with its
    directory's id (`directories.batch_id`), so that the filter tells apart batches of the same name
    made in other folders (a directory an older version made has none: its bare name)."""
    return f"{name} ({batch_id})" if batch_id else name


def session_group(name, trial, batch_id):
    """The HParams session group of a trial of batch `name` (its seeds share it):
    `<batch>/<trial> (<id>)`. The id keeps apart batches of the same name made apart
    (`logs/mnist` and `seeded/mnist`), which TensorBoard, pointed at a folder holding both,
    would otherwise merge and average."""
    return f"{name}/{trial} ({batch_id})" if batch_id else f"{name}/{trial}"


def hparams_of(run, data=None):
    """The run flattened to `name -> bool | int | float | str` for the HParams dashboard."""
    flat = {"seed": run.seed}
    for key in ("problem", "model", "optimizer", "schedule", "average"):
        table = getattr(run, key)
        if table is None:
            continue
        flat[key] = table["name"]
        for arg, value in table.items():
            if arg != "name":
                flat[f"{key}.{arg}"] = value if isinstance(value, (bool, int, float, str)) else str(value)
    if run.optimizer is not None and run.schedule is None:
        flat["schedule"] = "constant"
    if data is not None:
        flat["batch_size"] = len(data.x_train) if run.batch_size == "full" else run.batch_size
    for key in ("epochs", "steps"):
        if getattr(run, key) is not None:
            flat[key] = getattr(run, key)
    return flat


def start_session(job):
    """The run's HParams session, in its own event file (`dashboard`): its batch's seeds of a
    trial share one group (`dashboard.session_group`)."""
    batch = job.directory.parent.name
    data = job.problem_data if job.kind == "dataset" else None
    hparams = {"batch": batch_label(batch, job.batch_id), **hparams_of(job.run, data)}
    write_session(job.directory, hparams, trial_id=session_group(batch, job.run.group or job.run.name, job.batch_id))


def write_session(directory, hparams, trial_id):
    """Start the HParams session of the run in `directory` (its own event file, replacing one
    that is there)."""
    from tensorboard.plugins.hparams import summary_v2

    _replace(directory, SESSION, summary_v2.hparams_pb(hparams, trial_id=trial_id))


def has_session(directory):
    return any(pathlib.Path(directory).glob(f"{events.EVENTS}*{SESSION}"))


def write_definition(directory, hparams, metrics):
    """The batch's experiment definition: `hparams` {name: [values it takes]}, `metrics`
    [(tag, group, display name)]; replaces the one there."""
    _replace(directory, DEFINITION, _definition_pb(hparams, metrics))


def _definition_pb(hparams, metrics):
    from tensorboard.plugins.hparams import api as hp

    columns = [hp.HParam(name, _domain(values)) for name, values in hparams.items()]
    return hp.hparams_config_pb(columns, [hp.Metric(t, group=g, display_name=n) for t, g, n in metrics])


def unify(logdir):
    """Make every batch's definition under `logdir` cover every batch, and give every session
    a value for every hyperparameter ("none" where its run has none). Returns how many files
    it rewrote."""
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    logdir = pathlib.Path(logdir)
    definitions = {path: _read(path, metadata.EXPERIMENT_TAG) for path in _files(logdir, DEFINITION, 1)}
    sessions = {path: _read(path, metadata.SESSION_START_INFO_TAG) for path in _files(logdir, SESSION, 2)}
    definitions = {p: metadata.parse_experiment_plugin_data(c) for p, c in definitions.items() if c is not None}
    sessions = {p: metadata.parse_session_start_info_plugin_data(c) for p, c in sessions.items() if c is not None}
    values, missing = {}, set()
    for experiment in definitions.values():
        for info in experiment.hparam_infos:
            values.setdefault(info.name, []).extend(_declared(info))
    for info in sessions.values():
        for name, value in info.hparams.items():
            values.setdefault(name, []).append(_python(value))
    for names in [{i.name for i in e.hparam_infos} for e in definitions.values()] + \
                 [set(i.hparams) for i in sessions.values()]:
        missing |= set(values) - names
    as_text = {name for name in values if name in missing or len({_kind(v) for v in values[name]}) > 1}
    metrics, seen = [], set()
    for experiment in definitions.values():
        for m in experiment.metric_infos:
            if (m.name.tag, m.name.group) not in seen:
                seen.add((m.name.tag, m.name.group))
                metrics.append((m.name.tag, m.name.group or None, m.display_name))
    rewritten = 0
    for path, info in sessions.items():
        filled = {name: _text(_python(info.hparams[name])) if name in as_text else _python(info.hparams[name])
                  for name in values if name in info.hparams}
        filled.update({name: NONE for name in values if name not in info.hparams})
        if filled != {name: _python(value) for name, value in info.hparams.items()}:
            new = plugin_data_pb2.SessionStartInfo()
            new.CopyFrom(info)
            new.hparams.clear()
            for name, value in filled.items():
                _set(new.hparams[name], value)
            _replace(path.parent, SESSION, _summary(metadata.SESSION_START_INFO_TAG,
                                                  plugin_data_pb2.HParamsPluginData(session_start_info=new)))
            rewritten += 1
    columns = {name: ([_text(v) for v in vals] + ([NONE] if name in missing else [])) if name in as_text else vals
               for name, vals in sorted(values.items())}
    pb = _definition_pb(columns, metrics)
    wanted = metadata.parse_experiment_plugin_data(pb.value[0].metadata.plugin_data.content)
    for path, experiment in definitions.items():
        if (list(experiment.hparam_infos), list(experiment.metric_infos)) != \
                (list(wanted.hparam_infos), list(wanted.metric_infos)):
            _replace(path.parent, DEFINITION, pb)
            rewritten += 1
    return rewritten


def _files(logdir, suffix, depth):
    pattern = "/".join(["*"] * depth + [f"{events.EVENTS}*{suffix}"])
    return sorted(logdir.glob(pattern))


def _read(path, tag):
    """The plugin content of `tag`'s first value in the event file at `path` (None if absent)."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2

    for record in RawEventFileLoader(str(path)).Load():
        for value in event_pb2.Event.FromString(record).summary.value:
            if value.tag == tag:
                return value.metadata.plugin_data.content
    return None


def _summary(tag, plugin_data):
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata

    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(plugin_data),
                      tensor=metadata.NULL_TENSOR)
    return summary


def _write(directory, suffix, summary):
    """A new event file in `directory` holding `summary`."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    summary = summary_pb2.Summary.FromString(summary.SerializeToString())  # TensorFlow's or TensorBoard's
    writer = EventFileWriter(str(directory), filename_suffix=suffix)
    writer.add_event(event_pb2.Event(wall_time=time.time(), step=0, summary=summary))
    writer.close()


def _replace(directory, suffix, summary):
    """`summary` as `directory`'s only event file with `suffix`: the new file first, then the
    old ones go."""
    old = set(pathlib.Path(directory).glob(f"{events.EVENTS}*{suffix}"))
    _write(directory, suffix, summary)
    new = set(pathlib.Path(directory).glob(f"{events.EVENTS}*{suffix}")) - old
    if new:
        for path in old:
            path.unlink(missing_ok=True)


def _python(value):
    kind = value.WhichOneof("kind")
    return {"number_value": value.number_value, "string_value": value.string_value,
            "bool_value": value.bool_value}.get(kind)


def _set(value, python):
    if isinstance(python, bool):
        value.bool_value = python
    elif isinstance(python, (int, float)):
        value.number_value = python
    else:
        value.string_value = str(python)


def _declared(info):
    """The values a definition's column declares: its discrete values or its interval's ends."""
    if info.HasField("domain_discrete"):
        return [_python(v) for v in info.domain_discrete.values]
    if info.HasField("domain_interval"):
        return [info.domain_interval.min_value, info.domain_interval.max_value]
    return []


def _kind(value):
    return "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "str"


def _text(value):
    """A value as a column of text shows it: numbers as the batch file writes them."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _domain(values):
    """The HParams domain of a column from the values it takes: an interval of numbers, or
    the discrete values (text in numeric order, "none" first)."""
    from tensorboard.plugins.hparams import api as hp

    values = [v for v in values if v is not None]
    kinds = {_kind(v) for v in values}
    if kinds == {"number"}:
        return hp.RealInterval(float(min(values)), float(max(values)))
    if kinds == {"bool"}:
        return hp.Discrete(sorted(set(values)))
    texts = sorted({_text(v) for v in values}, key=_order)
    return hp.Discrete(texts) if texts else None


def _order(text):
    try:
        return (text != NONE, 0, float(text), "")
    except ValueError:
        return (text != NONE, 1, 0.0, text)


#: The tag group of a mean run's spread over seeds (`experiments.report.aggregate`).
SPREAD = "seed_spread"


def band_tag(tag, band):
    """The tag of `band` (`aggregate.BANDS`: "", "mean", "std_low", ...) of the curve `tag`: the
    tag itself for the mean, else in the spread's own tag group."""
    return f"{SPREAD}/{tag}/{band}" if band else tag


LAYOUT = ".layout"  # the suffix of a batch's custom-scalars layout
BANDS_TITLE = "mean ± std over seeds"


def write_bands(directory, tags):
    """The custom-scalars layout of the batch in `directory`: for each tag of its mean runs
    (`<group>_mean`), one margin chart of the mean between
    its std band's ends (`band_tag`), every group in it. The mean is the spread's
    own `mean` tag, which only mean runs have (with `<tag>` the chart would also match the
    seeds, which have no bands). TensorBoard shows them in `chart_order`: its Custom Scalars
    dashboard draws a category's charts from the last to the first, so the layout lists them
    reversed. Every batch's charts fall in one category, `BANDS_TITLE` (TensorBoard merges the
    layouts)."""
    from tensorboard.plugins.custom_scalar import layout_pb2, summary

    charts = [layout_pb2.Chart(title=tag, margin=layout_pb2.MarginChartContent(series=[
        layout_pb2.MarginChartContent.Series(value=band_tag(tag, "mean"), lower=band_tag(tag, "std_low"),
                                             upper=band_tag(tag, "std_high"))]))
        for tag in reversed(chart_order(tags))]  # TensorBoard 2.21 lists a category's charts last first
    layout = layout_pb2.Layout(category=[layout_pb2.Category(title=BANDS_TITLE, chart=charts)])
    _replace(directory, LAYOUT, summary.pb(layout))


#: The curves a reader looks at first, in this order; the others follow by name.
FIRST_CHARTS = ("epoch_loss", "epoch_val_loss", "epoch_accuracy", "epoch_val_accuracy", "batch_loss",
                "epoch_learning_rate", "epoch_gradient_norm")


def chart_order(tags):
    """`tags` as charts are listed: `FIRST_CHARTS` in their order, then the rest by name."""
    return sorted(tags, key=lambda tag: (FIRST_CHARTS.index(tag) if tag in FIRST_CHARTS else len(FIRST_CHARTS), tag))


#: TensorBoard's Scalars, Custom Scalars, Images and Text tabs select every run at first only
#: when there are at most this many (its runs selector's `maxNamesToEnableByDefault`); past it
#: they select none, and show nothing until runs are picked or filtered.
SELECTED_AT_FIRST = 40


def count_runs(directory):
    """How many TensorBoard runs `tensorboard --logdir directory` lists: the folders under it,
    itself too, that hold event files."""
    directory = pathlib.Path(directory)
    return len({path.parent for path in directory.rglob(f"{events.EVENTS}*") if path.is_file()})


def bands_link(port=6006, host="localhost"):
    """The Custom Scalars tab with only the mean runs selected (its runs filter in the address:
    `regexInput`), which draws the bands however many runs a study has."""
    return f"http://{host}:{port}/#custom_scalars&regexInput=_mean"
