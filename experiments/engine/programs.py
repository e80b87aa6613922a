"""The compiled programs a batch keeps for its next group (`ProgramCache`).

Tracing a program is most of a short group's time. A group whose runs differ from the last
group's only by their seeds (which set values: the weights, the batches' order, never the
graph), the learning rates of built-in optimizers and the hyperparameters a suite optimizer
holds (variables, like the weights) restarts that group's program instead of tracing its own,
so a batch whose runs have several seeds, or a search's next round over learning rates and
momentum, traces once. Its results are those of a new program, bit for bit
(`tests/experiments/test_groups.py`).
"""

from __future__ import annotations

import dataclasses
import json

from experiments.engine import pacing, protocol
from experiments.engine.loop import Program
from experiments.spec import plugins
from experiments.store import checkpoint


class ProgramCache:
    """The last cohort's program and what it was traced for. One per batch in this process
    (`parallel.Pool` holds it and passes it down to `train.train_group`); each Ray task makes
    its own, since it has its own copy of the data. Dropping the cache frees the program, its
    models and its graph."""

    def __init__(self):
        self._kept = None  # (key, data, program)

    def make_room(self, runs, data, last_step):
        """Drop the kept program unless `runs` can restart it, so that its memory is freed
        before their models are built; returns whether it is kept."""
        if self._kept is not None and (self._kept[1] is not data or self._kept[0] != _key(runs, last_step)):
            self._kept = None
        return self._kept is not None

    def program(self, members, data, per_epoch, last_step):
        """The cohort's compiled program: the kept one, restarted, when its runs differed from
        these only by their seeds, else a new one."""
        run = members[0].run
        orders = pacing.orders(run, len(data.x_train), per_epoch)
        if self._kept is not None and self._kept[1] is data and self._kept[0] == _key([m.run for m in members],
                                                                                   last_step):
            program = self._kept[2]
            self._kept = None  # until it has trained them: an error leaves it in no known state
            models = program.restart([m.start for m in members], [m.watch for m in members], run.seed, orders)
            for member, model in zip(members, models):
                member.model, member.start = model, None
            return program
        self._kept = None  # the old one's memory is freed before the new one takes its own
        return Program([m.model for m in members], data, run.seed, run.batch_size, [m.watch for m in members],
                       steps=last_step, ratios=any(m.run.log["update_ratio"] for m in members),
                       orders=orders, full_batches=protocol.full_batches(run))

    def keep(self, program, members, data, last_step):
        """Keep `program` for the next cohort, once it has trained this one."""
        self._kept = (_key([m.run for m in members], last_step), data, program)

    def forget(self):
        """Drop the kept program, its models and its graph."""
        self._kept = None


def _key(runs, last_step):
    return last_step, tuple(_traced(run) for run in runs)


def _traced(run, hyperparameters=True):
    """What of a run its program's graph depends on: all but its seeds and names, the learning
    rate of a built-in optimizer without a schedule (Keras holds it in a variable, which a
    restart copies in like the weights: trials that differ only in it share a program), and
    the hyperparameters a suite optimizer holds in variables (`HELD`, e.g. Momentum's). A
    user's optimizer (`module:Name`) keeps its rate in the key: it may read a Python float.
    `hyperparameters=False` keeps the rate and the held ones in the key: a program restarts
    only across seeds (`benchmarks/restart.py` compares the two)."""
    fields = dataclasses.asdict(run)
    for name in ("seed", "name", "group", "index", "trial", "trial_id", "round", "init"):
        fields.pop(name)
    fields["order"] = run.order["name"]
    if not hyperparameters:
        return json.dumps(fields, sort_keys=True, default=repr)
    optimizer = fields.get("optimizer") or {}
    name = optimizer.get("name", "")
    rate = optimizer.get("learning_rate")
    if run.schedule is None and not plugins.is_path(name) \
            and isinstance(rate, (int, float)) and not isinstance(rate, bool):
        optimizer.pop("learning_rate")
    for held in checkpoint.held(run):  # a suite optimizer's hyperparameters held in variables
        optimizer.pop(held, None)
    return json.dumps(fields, sort_keys=True, default=repr)
