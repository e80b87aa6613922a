"""A run's hyperparameters for TensorBoard's HParams dashboard."""

from __future__ import annotations

import keras
from tensorboard.plugins.hparams import api as hp

from callbacks._writers import Borrowed


class HParamsLogger(Borrowed, keras.callbacks.Callback):
    """Records `hparams` (name -> bool, int, float or str) for this run.

    Written at the start of training into `<logdir>` itself, the run's root,
    so the dashboard lists the run as one session whose metrics come from
    its `train` and `validation` subdirectories. `trial_id` names the
    session (default: a hash of `hparams`, as TensorBoard does). Without an experiment
    definition (`hp.hparams_config`) TensorBoard infers the columns from the sessions.
    """

    def __init__(self, logdir, hparams, trial_id=None):
        super().__init__()
        self.logdir = str(logdir)
        self.hparams = dict(hparams)
        self.trial_id = trial_id

    def on_train_begin(self, logs=None):
        with self._writer(".").as_default():
            hp.hparams(self.hparams, trial_id=self.trial_id)
        self._writer(".").flush()

    def on_train_end(self, logs=None):
        self._give_back_writers()


#: Run outcomes -> the HParams dashboard's session status (its "Status" filter). The
#: dashboard has no "diverged": such a run ends as a failure, and its `diverged` metric is 1.
STATUSES = {"ok": "STATUS_SUCCESS", "failed": "STATUS_FAILURE", "diverged": "STATUS_FAILURE",
            "running": "STATUS_RUNNING"}


def write_status(writer, status):
    """Ends the HParams session in `writer`'s directory with `status` (a STATUSES key)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import summary as hp_summary

    pb = hp_summary.session_end_pb(api_pb2.Status.Value(STATUSES[status]))
    with writer.as_default():
        tf.summary.experimental.write_raw_pb(pb.SerializeToString(), step=0)
    writer.flush()
