"""One run of a group as the compiled program trains it (`experiments.engine.train`): its model,
compiled with its optimizer and carried on from its checkpoint, its divergence watch, its
writer (one TensorBoard run, its directory) and callbacks, and what it has logged."""

from __future__ import annotations

import numpy as np

import callbacks as cb
import custom_optimizers as co
from callbacks import _writers as cb_writers
from callbacks.divergence import DivergenceWatch
from experiments.engine import protocol
from experiments.plan.optimizers import make_optimizer
from experiments.plan.planning import spec_key
from experiments.store import checkpoint, events
from experiments.workloads import models


def start_key(run):
    """What a run's first weights depend on, where a model built for another run of its group can
    stand for its own: a built-in model (a user's may draw from anywhere); else None."""
    if protocol.users_model(run):
        return None
    return spec_key(run.model), spec_key(run.init), run.dtype, run.seed


class Member:
    """One run of a group: its model (compiled with its optimizer; in a restarted group, the
    program's, once it has copied this run's first values in), its state carried from a
    checkpoint, and what it has logged."""

    def __init__(self, job, data, per_epoch, first_weights=None):
        """`first_weights`: a dict shared by the members of a group that restarts a kept program,
        none of them resumed (`None` otherwise): members whose first weights are the same
        (`start_key`) take them from one model, built by the first, instead of each building its
        own, which the program would only copy from; a suite optimizer gives its first state's
        values (`Optimizer.fresh_state`) without making variables for them."""
        run, directory = job.run, job.directory
        self.job, self.run, self.directory = job, run, directory
        key = start_key(run) if first_weights is not None else None
        if key is None or key not in first_weights:
            protocol.seed(run, run.seed)  # every member of a group: the same weights
            self.model = protocol.build_model(run, data)
        else:
            self.model = first_weights[key]
        optimizer = make_optimizer(run, per_epoch)
        if key is None:
            self.model.compile(optimizer=optimizer, loss=models.loss_for(self.model),
                               metrics=models.metrics_for(self.model))
            optimizer.build(self.model.trainable_variables)
            state = self.model.optimizer.variables  # Keras may wrap the run's
        else:  # no member trains this model: the program's own models, compiled, take its values
            first_weights.setdefault(key, self.model)
            if isinstance(optimizer, co.Optimizer):  # the suite's: the values, without the variables
                state = optimizer.fresh_state(self.model.trainable_variables)
            else:
                optimizer.build(self.model.trainable_variables)
                state = optimizer.variables
        # what a restarted program copies in (`loop.Program.restart`)
        self.start = (self.model.variables, state)
        stored = checkpoint.load(directory) if job.resume else None
        if stored is not None and not job.knows(stored[1].get("fingerprint")):
            stored = None
        arrays, meta = stored or ({}, {"epoch": 0, "best": {}, "seconds": 0.0})
        if stored is not None:
            checkpoint.restore_arrays(self.model.variables, arrays, "model")
            checkpoint.restore_arrays(optimizer.variables, arrays, "optimizer")
        self.epoch, self.best, self.seconds = meta["epoch"], dict(meta["best"]), meta["seconds"]
        state = meta.get("divergence_watch") or {"first": meta.get("first_loss"), "lowest": meta.get("lowest_loss")}
        self.watch = DivergenceWatch(run.divergence_factor, run.divergence_patience, **state)
        self.losses = [float(v) for v in arrays.get("step_loss", [])]
        self.times = [float(v) for v in arrays.get("step_seconds", [])]
        self.divergence = None
        self.done = False  # diverged (or failed): no more steps, no more events
        self.error = None  # the Failure of an error of its own (a callback's, a file's)
        self.writer = cb_writers.borrow(directory)  # its root's: the run is one TensorBoard run
        self.start_time = 0.0  # seconds of training before the current call (`train._train_cohort`)
        self.callbacks = []
        self.interrupted = False
        self.scores = {}  # split -> (loss, accuracy) once trained

    def add_callbacks(self, data, epochs):
        log, every = self.run.log, max(1, epochs // 10)  # the pictures: about 10 a run
        shown = data.x_val if len(data.x_val) else data.x_train  # what a VAE reconstructs, a language model starts from
        if log["histograms"]:
            self.callbacks.append(cb.HistogramLogger(self.directory, every_epochs=max(1, epochs // 20),
                                                     subdirectory=""))
        if log["decision_boundary"] and data.input_shape == (2,):
            self.callbacks.append(cb.DecisionBoundaryLogger(self.directory, data.x_train, data.y_train,
                                                            every_epochs=every, subdirectory=""))
        if log["pictures"] and cb.VAEImages.draws(self.model):
            self.callbacks.append(cb.VAEImages(self.directory, shown, data.image_shape, every_epochs=every,
                                               subdirectory=""))
        if log["pictures"] and self.model.sequences and getattr(data, "vocabulary", None):
            prompt = "".join(data.vocabulary[int(i)] for i in shown[0][:20])
            self.callbacks.append(cb.TextSamples(self.directory, data.vocabulary, prompt, data.seq_length,
                                                 every_epochs=every, subdirectory=""))
        for callback in self.callbacks:
            callback.set_model(self.model)
            callback.set_params({"epochs": epochs})
            callback.on_train_begin()

    def close(self):
        for callback in self.callbacks:
            callback.on_train_end()
        self.callbacks = []
        cb_writers.give_back(self.directory)

    def save(self, epoch, fingerprint, seconds):
        cb_writers.flush_under(self.directory)
        optimizer = self.model.optimizer
        checkpoint.save(self.directory, {
            **checkpoint.named_arrays(self.model.variables, "model"),
            **checkpoint.named_arrays(optimizer.variables, "optimizer"),
            "step_loss": np.array(self.losses, np.float64), "step_seconds": np.array(self.times, np.float64)},
            {"fingerprint": fingerprint, "epoch": epoch, "best": self.best,
             "divergence_watch": self.watch.state(), "seconds": self.seconds + seconds,
             "events": events.event_files(self.directory), "held": checkpoint.held(self.run)})
