"""When a callback records: every `every_epochs` epochs, or every `every_steps` steps."""

from __future__ import annotations


def check_frequency(name, value, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer or None. Received: {name}={value!r}")
    return value


def logged_epoch(epoch, every, epochs=None):
    """Whether epoch `epoch` (from 0) is one the epoch loggers record: every
    `every`-th from the first, and the last of `epochs`. The runner validates
    at exactly these epochs (`model.fit`'s `validation_freq` as a list), so
    every logged epoch has its validation values beside it."""
    return epoch % every == 0 or (epochs is not None and epoch == epochs - 1)


def learning_rate_now(optimizer):
    """The rate the optimizer's next update will use.

    Keras evaluates a schedule at `iterations` (updates applied so far) when
    it applies an update, so read before a step this is the rate of that
    step. (Keras's TensorBoard callback reads it after the epoch's last step
    and so logs the next epoch's rate.)
    """
    return float(optimizer.learning_rate)
