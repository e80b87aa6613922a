"""Ctrl-C and SIGTERM: stop a batch cleanly, saving the running run first.

SIGTERM is what `timeout`, `docker stop`, systemd and cluster schedulers
send before they kill; it is treated exactly like Ctrl-C. The first one
sets `STOP`: the running run saves its checkpoint at its next epoch end
(`runner.EpochCheckpoint`), then the batch stops and says how to go on.
A second one stops at once (`Stop`), keeping the last checkpoint. Either
way the process exits with 128 + the signal's number (130, 143).

This module imports nothing heavy: the command line installs `on_start_up`
before TensorFlow loads, so a signal during the imports is one line too.
"""

from __future__ import annotations

import contextlib
import signal
import threading

#: Set by the first signal: the running run stops at its next epoch end, after saving.
STOP = threading.Event()

#: What a person calls each signal that stops a batch.
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}

_received = []  # the signal that set STOP


class Stop(KeyboardInterrupt):
    """A signal that stops at once (a second one, or one before anything ran)."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(NAMES.get(signum, str(signum)))
        self.signal = signal.Signals(signum)


def received():
    """The signal that set `STOP` (SIGINT if none did)."""
    return _received[-1] if _received else signal.SIGINT


def exit_status(signum):
    return 128 + int(signum)


def _stop_now(signum, frame):
    raise Stop(signum)


@contextlib.contextmanager
def _handling(handler):
    """`handler` for Ctrl-C and SIGTERM while inside; the handlers in place before
    (Python's, or Ray's) put back afterwards. Only the main thread may set them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, handler) for number in NAMES}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def on_start_up():
    """Until a batch starts, Ctrl-C and SIGTERM raise `Stop` (there is nothing to save yet)."""
    return _handling(_stop_now)


@contextlib.contextmanager
def stop_cleanly(report):
    """While a batch runs: the first Ctrl-C or SIGTERM sets `STOP`, a second raises `Stop`.

    `report(text)` tells the user what happens."""

    def handler(signum, frame):
        if STOP.is_set():
            raise Stop(signum)
        STOP.set()
        _received.append(signal.Signals(signum))
        name = NAMES[signum]
        report(f"\n{name}: stopping after saving the running run at its next epoch end "
               f"({name} again to stop at once; its last checkpoint is kept)")

    try:
        with _handling(handler):
            yield
    finally:
        STOP.clear()
        _received.clear()
