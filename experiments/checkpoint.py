"""What lets a batch stop anywhere and go on later with nothing lost or logged twice.

* `fingerprint(config)`: a short hash of a run's (or a batch's) resolved
  config. A run directory whose `result.json` carries the same hash is a
  finished run and is skipped; a checkpoint carrying it is resumed.
* `save` / `load`: a run's state at an epoch end in `<run>/checkpoint.npz`,
  written to a temporary file and renamed, so a kill at any moment leaves
  either the old checkpoint or the new one. It holds every model and
  optimizer variable (the optimizer's `iterations` is the schedule's
  position), the epoch (the data order is a function of seed and epoch:
  `runner.training_dataset`), the run's best values and per-step losses so
  far, and the size of every event file under the run at that moment.
* `rewind_events`: cut the run's event files back to those sizes and delete
  the files started since. TensorBoard's event files are append-only
  records, so what was logged after the checkpoint disappears and the
  resumed run logs those steps again exactly once.
* `BatchLock`: an exclusive `flock` on `<batch>/.lock`, held while a batch
  runs. The kernel releases it when the process dies, even by SIGKILL, so
  a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib

import numpy as np

FILE = "checkpoint.npz"
LOCK = ".lock"
EVENTS = "events.out.tfevents"


def fingerprint(config):
    """16 hex digits of SHA-256 over `config` as canonical JSON."""
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def event_files(directory):
    """{path relative to `directory`: size in bytes} of every event file under it."""
    directory = pathlib.Path(directory)
    return {str(path.relative_to(directory)): path.stat().st_size
            for path in sorted(directory.rglob(f"{EVENTS}*")) if path.is_file()}


def rewind_events(directory, sizes):
    """Truncate each event file under `directory` to `sizes[relative path]`;
    delete event files that `sizes` does not list (started after it was taken)."""
    directory = pathlib.Path(directory)
    for relative, size in event_files(directory).items():
        if relative not in sizes:
            (directory / relative).unlink()
        elif size > sizes[relative]:
            with open(directory / relative, "r+b") as file:
                file.truncate(sizes[relative])


def save(directory, arrays, meta):
    """Write `arrays` ({name: array}) and `meta` (JSON-able) to `<directory>/checkpoint.npz` atomically."""
    directory = pathlib.Path(directory)
    temporary = directory / f".{FILE}.tmp"
    with open(temporary, "wb") as file:  # no fsync: a killed process's writes survive it
        np.savez(file, __meta__=np.array(json.dumps(meta, default=float)), **arrays)
    os.replace(temporary, directory / FILE)


def load(directory, meta_only=False):
    """(arrays, meta) from `<directory>/checkpoint.npz`, or just `meta` with
    `meta_only` (an npz member is read only when asked for); None if there is
    none or it is unreadable."""
    path = pathlib.Path(directory) / FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["__meta__"]))
            if meta_only:
                return meta
            arrays = {name: stored[name] for name in stored.files if name != "__meta__"}
    except Exception:  # truncated (a full disk) or not ours: the run starts again
        return None
    return arrays, meta


def load_meta(directory):
    return load(directory, meta_only=True)


class LockedError(RuntimeError):
    """Another process holds the batch directory's lock."""


class BatchLock:
    """An exclusive, non-blocking `flock` on `<directory>/.lock`; records the holder's pid."""

    def __init__(self, directory):
        self.path = pathlib.Path(directory) / LOCK
        self._file = None

    def acquire(self):
        import fcntl

        file = open(self.path, "a+")
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise LockedError(holder) from None
        file.seek(0)
        file.truncate()
        file.write(str(os.getpid()))
        file.flush()
        self._file = file
        return self

    def release(self):
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
