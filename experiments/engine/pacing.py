"""How the training driver (`experiments.engine.train`) calls the compiled program: where each call
ends, the epochs where Python must act, the orders a group's batches come in, the progress bar."""

from __future__ import annotations

from callbacks._steps import logged_epoch
from experiments.engine import protocol

#: A call of the program aims at about this many seconds: Ctrl-C waits at most about as long.
CALL_SECONDS = 1.0


def orders(run, n, per_epoch):
    """The program's `orders` function for the group's `order` scheme (None: its own shuffle)."""
    if run.order["name"] == "stateless":
        return None
    size = n if run.batch_size == "full" else min(run.batch_size, n)
    return lambda first_epoch, epochs: protocol.orders(run, n, first_epoch, epochs, per_epoch, size)


def python_epochs(callbacks, epochs, every, checkpoint_seconds):
    """The epochs at whose end Python must act: a callback's, and with `checkpoint_seconds=0`
    every logged one (a checkpoint at each)."""
    wanted = set()
    for callback in callbacks:
        step = getattr(callback, "every_epochs", None) or epochs
        wanted |= {e for e in range(0, epochs, step)} | {epochs - 1}
    if checkpoint_seconds == 0:
        wanted |= {e for e in range(epochs) if logged_epoch(e, every, epochs)}
    return sorted(wanted)


def call_end(epoch, epochs, every, per_epoch, python_epochs, rate):
    """The epoch (exclusive) the next call trains to: the next epoch where Python must act at
    the latest, and about `CALL_SECONDS` of work once the rate is known (so that Ctrl-C is
    answered within about that long); until then, a logging interval."""
    limit = epochs
    for e in python_epochs:
        if e >= epoch:
            limit = e + 1
            break
    if rate is None:
        wanted = epoch + every
    else:
        wanted = epoch + max(1, int(CALL_SECONDS / (rate * per_epoch)))
    return min(limit, max(epoch + 1, wanted))


def bar(members, epochs, first_epoch, progress):
    if not progress:
        return None
    from tqdm.auto import tqdm

    names = members[0].run.name if len(members) == 1 else f"{members[0].run.name} +{len(members) - 1}"
    return tqdm(total=epochs, desc=names, unit="epoch", initial=first_epoch, position=1, leave=False,
                dynamic_ncols=True)
