"""The figures of a batch: one PNG each beside the logs, and the same images
in TensorBoard (the batch's own run, `<batch>`, Images dashboard).

* `loss_curves.png`: every run's training loss per step, smoothed, against
  steps, epochs and seconds (the material's MNIST figure; epochs and
  seconds are the batch-size experiment's "fast but noisy" trade-off). The
  seconds are those of training alone, from the first step: the program's
  calls, not the logging between them, and the first call's steps at the
  second call's pace (the first also traces and compiles).

Each trial (an optimizer's configuration) has one colour and one legend
entry (`trials`): its optimizer's, the same in every figure and report,
when every trial is another optimizer. More than `LEGEND_INSIDE` entries (a
search's trials) go below the panels, the figure made taller. A trial of
several seeds is drawn as their mean with a ± one standard deviation band
in `loss_curves.png`, and as thin lines of its colour in the other figures.
* `textbook_loss.png`, for runs that share batches drawn with replacement
  (`order = "numpy_choice"`, the textbook's MNIST loop): each run's loss on
  every iteration's batch, smoothed as the textbook smooths it, y from 0 to 1.
* `paths_<objective>.png`: the trajectories of all runs over the contour plot.
* `decision_boundaries.png`: one panel per run, for two-feature datasets.
* `averages.png`: the series and every run's weighted average.
"""

from __future__ import annotations

import numpy as np

from callbacks.decision_boundary import draw, image_summary, png_bytes
from experiments.store import files


def smooth(values, weight):
    """TensorBoard's smoothing: a debiased exponentially weighted average (`a_t = weight a_{t-1}
    + (1 - weight) v_t`, `a_0 = 0`, shown as `a_t / (1 - weight^t)`)."""
    from scipy.signal import lfilter

    values = np.asarray(values, np.float64)
    average = lfilter([1 - weight], [1, -weight], values)
    return average / (1 - weight ** np.arange(1, len(values) + 1))


#: A curve is drawn through at most about this many of its points (every k-th and the last):
#: a figure's panel is a few hundred pixels wide, and a 50000-step run's three smoothed curves
#: took half a second to draw.
CURVE_POINTS = 2000


def thin(*arrays):
    """Every k-th point of equally long `arrays` (and the last), at most about `CURVE_POINTS`."""
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"thin: arrays of lengths {[len(a) for a in arrays]}, expected equal lengths")
    keep = np.unique(np.r_[np.arange(0, n, max(1, -(-n // CURVE_POINTS))), n - 1]) if n else np.arange(0)
    return [np.asarray(a)[keep] for a in arrays]


def smoothing_weight(length):
    """0.9 for short curves, more for long ones, so ~1 % of a curve is averaged."""
    return float(min(0.999, max(0.9, 1 - 100 / max(length, 1))))


def smooth_curve(values):
    """The textbook's smoothing (`common/util.py`): an 11-point Kaiser window (beta 2), the
    ends mirrored."""
    values = np.asarray(values, np.float64)
    window = 11
    if len(values) < window:
        return values
    padded = np.r_[values[window - 1:0:-1], values, values[-1:-window:-1]]
    weights = np.kaiser(window, 2)
    out = np.convolve(weights / weights.sum(), padded, mode="valid")
    return out[5:len(out) - 5]


#: One colour per optimizer in every figure of every batch and report (matplotlib's tab10 and
#: black): the material's five first, in its order.
OPTIMIZER_COLOURS = {"sgd": "C0", "momentum": "C1", "adagrad": "C2", "rmsprop": "C3", "adam": "C4",
                     "nesterov": "C5", "adamw": "C6", "nadam": "C7", "radam": "C8", "adabelief": "C9",
                     "lion": "k"}


def optimizer_colours(names):
    """{optimizer name: colour} for `names`: `OPTIMIZER_COLOURS`'s, and tab20's paler shades, in
    order, for names it does not know (a user's optimizer)."""
    known = {name: OPTIMIZER_COLOURS[name.lower()] for name in names if name.lower() in OPTIMIZER_COLOURS}
    others = [name for name in dict.fromkeys(names) if name not in known]
    return {**known, **{name: _colormap("tab20")((2 * i + 1) % 20) for i, name in enumerate(others)}}


def _optimizer(result):
    return (result.run.optimizer or {}).get("name", "?")


def trials(results):
    """[(result, colour, legend label or None, one of several seeds)]: one colour per trial (an
    optimizer's configuration), its seeds drawn in it, one legend entry per trial. When every
    trial is another optimizer, each has its optimizer's colour (`optimizer_colours`), the same
    in every figure; trials that share an optimizer (a search) get a colour each, in order."""
    groups = {}
    for r in results:
        groups.setdefault(r.run.group or r.run.name, []).append(r)
    optimizers = [_optimizer(members[0]) for members in groups.values()]
    if len(set(optimizers)) == len(optimizers):
        by_name = optimizer_colours(optimizers)
        palette = [by_name[name] for name in optimizers]
    else:
        palette = [f"C{i}" for i in range(10)] if len(groups) <= 10 else \
            [_colormap("tab20")(i % 20) for i in range(len(groups))]
    out = []
    for (trial, members), colour in zip(groups.items(), palette):
        for i, r in enumerate(members):
            label = (trial if len(members) == 1 else f"{trial} ({len(members)} seeds)") if i == 0 else None
            out.append((r, colour, label, len(members) > 1))
    return out


def _colormap(name):
    import matplotlib

    return matplotlib.colormaps[name]


def textbook_loss(results):
    """The textbook's MNIST figure: every run's smoothed loss on each iteration's shared batch."""
    fig = _figure(7, 5)
    ax = fig.subplots()
    for r, colour, label, seeded in trials(results):
        steps, losses = thin(np.arange(len(r.curves["step_loss"])), smooth_curve(r.curves["step_loss"]))
        ax.plot(steps, losses, label=label, color=colour, linewidth=0.6 if seeded else 1)
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.set_title("loss on each iteration's shared batch (textbook smoothing)", fontsize=10)
    fig.tight_layout()
    return fig


def _figure(width, height):
    from matplotlib.figure import Figure  # no pyplot: no global state, nothing to close

    return Figure(figsize=(width, height))


def loss_curves(results):
    """Training loss against steps, epochs and seconds. A trial of several seeds is drawn as
    its mean over the seeds with a band of one standard deviation (over the steps every seed
    trained; its seeds' own curves are in TensorBoard), a single run as its curve."""
    fig = _figure(15, 4.5)
    by_step, by_epoch, by_time = fig.subplots(1, 3)
    drawn = set()
    for r, colour, label, seeded in trials(results):
        trial = r.run.group or r.run.name
        if seeded:
            if trial not in drawn:
                drawn.add(trial)
                _seed_band(by_step, by_epoch, by_time,
                           [m for m in results if (m.run.group or m.run.name) == trial], colour, label)
        else:
            raw = r.curves["step_loss"]
            losses = smooth(raw, smoothing_weight(len(raw)))
            steps, losses, seconds = thin(np.arange(len(losses)), losses, r.curves["step_seconds"])
            by_step.plot(steps, losses, label=label, color=colour, linewidth=1)
            by_epoch.plot((steps + 1) / r.curves["steps_per_epoch"], losses, color=colour, linewidth=1)
            by_time.plot(seconds, losses, color=colour, linewidth=1)
        raw = r.curves["step_loss"]
        spike = r.metrics.get("worst_spike_step")
        if spike is not None and 0 < spike <= len(raw):  # the worst spike: a loss too large, for a while
            by_step.plot(spike - 1, raw[spike - 1], "v", color=colour, markersize=7,
                         label=f"{r.run.name}: worst of {r.metrics['spikes']} spike(s)")
    for ax, label in ((by_step, "step"), (by_epoch, "epoch"),
                      (by_time, "seconds of training, from the first step")):
        ax.set_xlabel(label)
        ax.set_ylabel("training loss")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    fig.suptitle("training loss per step, smoothed over ~1 % of each run (as TensorBoard smooths)")
    _legend(fig, by_step)
    return fig


#: Legend entries a panel holds inside it; more (a search's trials) go below the panels.
LEGEND_INSIDE = 8


def _legend(fig, ax, fontsize=7):
    """`ax`'s legend inside it when it is short; else below the figure's panels, in as many
    columns as its labels fit across, the figure made taller to hold it (in the panel, 32 trials'
    entries covered the panel and ran off the figure); then the layout."""
    handles, labels = ax.get_legend_handles_labels()
    if len(labels) <= LEGEND_INSIDE:
        if labels:
            ax.legend(fontsize=fontsize)
        fig.tight_layout()
        return
    width, height = fig.get_size_inches()
    em = fontsize / 72 * 0.6  # about a character's width, in inches
    columns = max(1, min(len(labels), int(width // (max(map(len, labels)) * em + 0.6))))
    rows = -(-len(labels) // columns)
    below = rows * fontsize / 72 * 1.45 + 0.2
    fig.set_size_inches(width, height + below)
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=fontsize, frameon=False)
    fig.tight_layout(rect=(0, below / (height + below), 1, 1))


def _seed_band(by_step, by_epoch, by_time, members, colour, label):
    """A trial's seeds as one curve per panel, over the steps they all trained: on the figure's
    log axis, the mean of their smoothed losses' logarithms (the geometric mean) with ± one
    standard deviation (the sample's) of the logarithms shaded. A band in the losses themselves
    would reach below zero wherever the seeds spread more than their mean, which a log axis
    cannot draw (TensorBoard's Custom Scalars draw that one, on a linear axis)."""
    length = min(len(m.curves["step_loss"]) for m in members)
    logs = np.log([np.maximum(smooth(m.curves["step_loss"][:length], smoothing_weight(length)),
                              np.finfo(np.float64).tiny) for m in members])
    seconds = np.mean([np.asarray(m.curves["step_seconds"][:length], np.float64) for m in members], axis=0)
    mean, std = logs.mean(axis=0), logs.std(axis=0, ddof=1)
    steps, mean, std, seconds = thin(np.arange(length), mean, std, seconds)
    epochs = (steps + 1) / members[0].curves["steps_per_epoch"]
    label = label and f"{label}: geometric mean, ± std of log"
    for ax, x in ((by_step, steps), (by_epoch, epochs), (by_time, seconds)):
        ax.plot(x, np.exp(mean), color=colour, linewidth=1.2, label=label if ax is by_step else None)
        ax.fill_between(x, np.exp(mean - std), np.exp(mean + std), color=colour, alpha=0.2, linewidth=0)


def paths(objective, results):
    fig = _figure(8, 6)
    ax = fig.subplots()
    xlim, ylim = _window(objective, [r.curves["path"] for r in results])
    x, y = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
    ax.contour(x, y, objective.f(np.stack([x, y])), levels=sorted(objective.levels),
               colors="0.7", linewidths=0.8)
    for r, colour, label, seeded in trials(results):
        if label:  # the trial's legend entry: its final f, or their range over its seeds
            final = [m.metrics["loss"] for m in results if (m.run.group or m.run.name) == (r.run.group or r.run.name)]
            label += f": f={final[0]:.3g}" if len(set(final)) == 1 else f": f={min(final):.3g}..{max(final):.3g}"
        path = r.curves["path"]
        ax.plot(path[:, 0], path[:, 1], "-" if seeded else "o-", markersize=2.5, linewidth=0.6 if seeded else 1,
                color=colour, label=label)
    ax.plot(*objective.start, "s", color="k", markersize=6)
    if objective.minimum is not None:
        ax.plot(*objective.minimum, "+", color="k", markersize=12)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{objective.title} from {objective.start}")
    fig.tight_layout()
    return fig


#: A path is followed out of the objective's window up to this many window sizes away from its
#: centre; farther (a diverging run) it leaves the figure.
PATH_REACH = 3.0


def _window(objective, paths):
    """The objective's window, widened (5 % margin) to hold every path's points that lie within
    `PATH_REACH` window sizes of its centre."""
    limits = []
    for axis, (low, high) in enumerate((objective.xlim, objective.ylim)):
        centre, size = (low + high) / 2, high - low
        values = np.concatenate([np.asarray(p, np.float64)[:, axis] for p in paths] or [np.zeros(0)])
        values = values[np.isfinite(values) & (np.abs(values - centre) <= PATH_REACH * size)]
        lo, hi = min(low, values.min(initial=low)), max(high, values.max(initial=high))
        margin = 0.05 * (hi - lo) if (lo, hi) != (low, high) else 0.0
        limits.append((lo - margin, hi + margin))
    return limits


def decision_boundaries(results):
    columns = min(3, len(results))
    rows = -(-len(results) // columns)
    fig = _figure(4 * columns, 4 * rows)
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax, r in zip(axes, results):
        x, y = r.curves["points"]
        draw(ax, r.curves["grid"], x, y, f"{r.run.name}\ntrain accuracy {r.metrics['train_accuracy']:.3f}")
    for ax in axes[len(results):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def averages(results):
    fig = _figure(10, 5)
    ax = fig.subplots()
    series = results[0].curves["series"]
    t = np.arange(1, len(series.values) + 1)
    ax.plot(t, series.values, ".", color="0.6", markersize=4, label="series")
    ax.plot(t, series.trend, "--", color="k", linewidth=1, label="trend (no noise)")
    for r, colour, label, seeded in trials(results):
        ax.plot(t, r.curves["average"], linewidth=0.6 if seeded else 1.2, color=colour, label=label)
    ax.set_xlabel("t")
    ax.legend(fontsize=8)
    ax.set_title("exponentially weighted averages, with and without bias correction")
    fig.tight_layout()
    return fig


def batch_figures(directory, results, prepared):
    """Draw every figure that fits the batch's runs; return the PNG paths."""
    import tensorflow as tf

    done = [r for r in results if not r.error]
    loaded = {run.name: problem_data for run, _, problem_data in prepared}
    figures = {}
    fitted = [r for r in done if r.kind == "dataset" and r.curves.get("step_loss")]
    if fitted:
        figures["loss_curves"] = loss_curves(fitted)
        if all(r.run.order["name"] == "numpy_choice" for r in fitted):
            figures["textbook_loss"] = textbook_loss(fitted)
    boundaries = [r for r in done if r.kind == "dataset" and "grid" in r.curves]
    if boundaries:
        figures["decision_boundaries"] = decision_boundaries(boundaries)
    by_objective = {}
    for r in done:
        if r.kind == "objective":
            by_objective.setdefault(r.run.problem["name"], []).append(r)
    for name, group in by_objective.items():
        figures[f"paths_{name}"] = paths(loaded[group[0].run.name], group)
    averaged = [r for r in done if r.kind == "series"]
    if averaged:
        figures["averages"] = averages(averaged)

    written = []
    with tf.summary.create_file_writer(str(directory)).as_default():  # the batch's own run
        for name, fig in figures.items():
            png = png_bytes(fig)
            path = directory / f"{name}.png"
            files.write(path, png)
            image_summary(name, png, step=0)
            written.append(path)
    return written
