"""Rank a batch's trials by a metric, mean +- std over their seeds.

A trial is a `group`: the runs that differ only by seed. Each run leaves a
`result.json` beside its events (`runner.Result.record()`); `load_records`
reads them back, so `python -m experiments best logs/lr_search` ranks a
batch long after it ran, without importing TensorFlow.
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np

from experiments.spec.search import default_mode
from experiments.store import records


def default_metric(record):
    """Validation loss where there is a validation split, else the kind's own loss."""
    kind, metrics = record["kind"], record.get("metrics") or {}
    if kind == "dataset":
        return "validation_loss" if "validation_loss" in metrics or not metrics else "train_loss"
    return {"objective": "loss", "series": "rms_error"}.get(kind, "loss")


def value_of(record, metric):
    """A run's `metric`: a final metric (`validation_loss`) or `best/<metric>`; NaN if absent."""
    if record.get("status") != "ok":
        return math.nan
    table, name = (record.get("best"), metric[5:]) if metric.startswith("best/") else (record.get("metrics"), metric)
    value = (table or {}).get(name)
    return math.nan if value is None else float(value)


def rank_groups(records, metric=None, mode=None):
    """One row per group, best first (NaN last), within each problem kind.

    A row: group, kind, metric, mode, runs, ok (seeds that finished with a
    finite value), mean, std (the sample's, n - 1, over those; 0 for one),
    min, max, trial (the sampled values, or None), statuses. A trial with a
    seed that failed or ended at NaN ranks below every trial whose seeds
    all finished.
    """
    groups = {}
    for record in records:
        groups.setdefault((record["kind"], record.get("group") or record["run"]), []).append(record)
    rows_by_kind = {}
    for (kind, group), members in groups.items():
        name = metric or default_metric(members[0])
        values = np.array([value_of(r, name) for r in members])
        finite = values[np.isfinite(values)]
        row = {"group": group, "kind": kind, "metric": name, "mode": mode or default_mode(name),
               "runs": len(members), "ok": len(finite),
               "mean": float(finite.mean()) if len(finite) else math.nan,
               "std": float(finite.std(ddof=1)) if len(finite) > 1 else 0.0 if len(finite) else math.nan,
               "min": float(finite.min()) if len(finite) else math.nan,
               "max": float(finite.max()) if len(finite) else math.nan,
               "seeds": [r.get("seed") for r in members], "trial": members[0].get("trial"),
               "round": members[0].get("round"), "index": members[0].get("index"),
               "statuses": sorted({r.get("status", "?") for r in members})}
        rows_by_kind.setdefault(kind, []).append(row)
    rows = []
    for kind in sorted(rows_by_kind):
        ordered = sorted(rows_by_kind[kind], key=_order)
        rows += [dict(row, rank=k + 1) for k, row in enumerate(ordered)]
    return rows


def _order(row):
    """Complete trials first, then a finite mean, best first for the row's mode."""
    finite = math.isfinite(row["mean"])
    sign = 1.0 if row["mode"] == "min" else -1.0
    return (row["ok"] < row["runs"], not finite, sign * row["mean"] if finite else 0.0)


def load_records(logdir):
    """({batch directory: [result.json records]}, [(path, why it was left out)])
    for every run under `logdir`; a damaged `result.json` (`records.read_result`)
    is left out and named, never trusted."""
    logdir = pathlib.Path(logdir)
    batches, damaged = {}, []
    for path in sorted(logdir.rglob(records.RESULT)):
        record, damage = records.read_result(path.parent)
        if damage is None and not isinstance(record.get("kind"), str):
            damage = "it names no problem kind"
        if damage is not None:
            damaged.append((path, damage))
            continue
        batches.setdefault(path.parent.parent, []).append(record)
    return batches, damaged


def search_metric(batch_directory):
    """The metric and mode the batch's `[search]` ranks by, if it had one (and its
    `search.json` is readable)."""
    path = pathlib.Path(batch_directory) / "search.json"
    try:
        search = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None, None
    if not isinstance(search, dict):
        return None, None
    metric, mode = search.get("metric"), search.get("mode")
    return (metric if isinstance(metric, str) else None), (mode if mode in ("min", "max") else None)


def _number(value):
    return f"{value:.4g}" if math.isfinite(value) else "nan"


def format_ranking(rows, top=None):
    """The ranking as aligned text: rank, trial, seeds finished, mean +- std, min, max, values."""
    if not rows:
        return "no finished runs\n"
    lines = []
    for kind in dict.fromkeys(r["kind"] for r in rows):
        kind_rows = [r for r in rows if r["kind"] == kind][:top]
        metric, mode = kind_rows[0]["metric"], kind_rows[0]["mode"]
        width = max(len("trial"), *(len(r["group"]) for r in kind_rows))
        lines.append(f"{kind} runs ranked by {metric} ({mode}), mean +- std over seeds:")
        lines.append(f"{'rank':>4s}  {'trial':{width}s}  {'seeds':>5s}  {'mean +- std':>21s}  "
                     f"{'min':>10s}  {'max':>10s}")
        for r in kind_rows:
            seeds = f"{r['ok']}/{r['runs']}"
            spread = f"{_number(r['mean'])} +- {_number(r['std'])}"
            note = "" if r["statuses"] == ["ok"] else "  (" + ", ".join(r["statuses"]) + ")"
            lines.append(f"{r['rank']:4d}  {r['group']:{width}s}  {seeds:>5s}  {spread:>21s}  "
                         f"{_number(r['min']):>10s}  {_number(r['max']):>10s}{note}")
        all_rows = [r for r in rows if r["kind"] == kind]
        entries = list(dict.fromkeys(r["index"] for r in all_rows if r.get("index") is not None))
        if 1 < len(entries) < len(all_rows):  # a search over several [[runs]] entries: the best of each
            lines.append("best of each [[runs]] entry: " + ", ".join(
                f"runs[{i}] {next(r['group'] for r in all_rows if r.get('index') == i)}" for i in entries))
        lines.append("")
    return "\n".join(lines)
