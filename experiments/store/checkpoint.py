"""What lets a batch stop anywhere and go on later with nothing lost or logged twice.

A run is known again by its fingerprint (`fingerprints`): a run directory
whose `result.json` carries the same one is a finished run and is skipped;
a checkpoint carrying it is resumed.

* `save` / `load`: a run's state at an epoch end in `<run>/checkpoint.npz`,
  written to a temporary file and renamed, so a kill at any moment leaves
  either the old checkpoint or the new one. It holds every model and
  optimizer variable (the optimizer's `iterations` is the schedule's
  position), the epoch (the data order is a function of seed and epoch:
  `loop.Program`), the run's best values and per-step losses so
  far, and the size of every event file under the run at that moment.
* `write`: every file the suite writes (but TensorBoard's events) goes to
  a temporary file and is renamed into place; a failed write (a full disk)
  raises `WriteError`, naming the file and the space left.
* `seal` / `read_result`: `result.json` carries a checksum and the size of
  every event file of its run; a changed or cut-short run is never trusted
  (`verify` checks a whole log directory the same way).
* `rewind_events`: cut the run's event files back to those sizes and delete
  the files started since. TensorBoard's event files are append-only
  records, so what was logged after the checkpoint disappears and the
  resumed run logs those steps again exactly once.
* `remove_inside`: the only way anything is deleted; it refuses whatever is
  not strictly inside the directory that owns it.
* `BatchLock`: an exclusive `flock` on `<batch>/.lock`, held while a batch
  runs, with the holder's pid and batch fingerprint in it. The kernel
  releases it when the process dies, even by SIGKILL, so a crash never
  leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import pathlib
import shutil

import numpy as np

from experiments.store.fingerprints import fingerprint

FILE = "checkpoint.npz"
LOCK = ".lock"
EVENTS = "events.out.tfevents"


def event_files(directory):
    """{path relative to `directory`: size in bytes} of every event file under it, but its
    HParams session (`*.session`): `dashboard.unify` may replace that one at any time, so it is
    neither sealed with a result nor cut back with a checkpoint."""
    directory = pathlib.Path(directory)
    return {str(path.relative_to(directory)): path.stat().st_size
            for path in sorted(directory.rglob(f"{EVENTS}*")) if path.is_file() and not path.name.endswith(".session")}


RESULT = "result.json"
CURVES = "curves.npz"


def seal(record, directory):
    """`record` as `result.json` keeps it: with the size of every event file
    under the run and of its `curves.npz` (`files`), and a `checksum` over
    all of it. `read_result` trusts nothing that no longer matches."""
    directory = pathlib.Path(directory)
    files = event_files(directory)
    if (directory / CURVES).is_file():
        files[CURVES] = (directory / CURVES).stat().st_size
    sealed = {**record, "files": files}
    return {**sealed, "checksum": fingerprint(sealed)}


def save_curves(directory, curves):
    """The figures' data of a finished run, for a later invocation that skips it."""
    arrays = {}
    for key, value in curves.items():
        if key == "points":
            arrays["points_x"], arrays["points_y"] = value
        elif key != "series":  # the problem's own data: loaded again
            arrays[key] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write(pathlib.Path(directory) / CURVES, buffer.getvalue())


def load_curves(directory):
    """What `save_curves` kept, as the batch's figures take it; {} if there is none."""
    path = pathlib.Path(directory) / CURVES
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as stored:
        curves = {key: stored[key] for key in stored.files}
    if "points_x" in curves:
        curves["points"] = (curves.pop("points_x"), curves.pop("points_y"))
    for key in ("step_loss", "step_seconds"):
        if key in curves:
            curves[key] = curves[key].tolist()
    if "steps_per_epoch" in curves:
        curves["steps_per_epoch"] = int(curves["steps_per_epoch"])
    return curves


def missing_data(directory, sizes):
    """Why the files `sizes` ({relative path: bytes}) recorded are not all
    under `directory` at least that large, or None if they are."""
    directory = pathlib.Path(directory)
    for relative, size in sizes.items():
        path = directory / relative
        if not path.is_file():
            return f"{relative} is missing"
        if path.stat().st_size < size:
            return f"{relative} holds {path.stat().st_size} bytes, {size} when it was written"
    return None


def read_result(directory):
    """(record, None) for a run's sound `result.json`; (record or None, why
    not) for one that is unreadable, was changed after it was written, or
    whose files are no longer all there; (None, None) if there is none."""
    path = pathlib.Path(directory) / RESULT
    if not path.is_file():
        return None, None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return None, f"{RESULT} is unreadable ({type(error).__name__})"
    if not isinstance(record, dict):
        return None, f"{RESULT} is not a JSON object"
    if record.get("checksum") != fingerprint({k: v for k, v in record.items() if k != "checksum"}):
        return record, f"{RESULT} was changed after it was written (its checksum does not match)"
    return record, missing_data(directory, record.get("files") or {})


def rewind_events(directory, sizes):
    """Truncate each event file under `directory` to `sizes[relative path]`;
    delete event files that `sizes` does not list (started after it was taken)."""
    directory = pathlib.Path(directory)
    for relative, size in event_files(directory).items():
        if relative not in sizes:
            remove_inside(directory / relative, directory)
        elif size > sizes[relative]:
            with open(inside(directory / relative, directory), "r+b") as file:
                file.truncate(sizes[relative])


class OutsideError(RuntimeError):
    """The suite was about to delete or truncate something outside the directory it owns."""


def inside(path, owner):
    """`path`, if it lies strictly inside the directory `owner` once both are
    resolved (`..` and symbolic links followed); else OutsideError. Every
    deletion and truncation goes through here: nothing a user names can make
    the suite remove `owner` itself or anything beside it."""
    resolved, root = pathlib.Path(path).resolve(), pathlib.Path(owner).resolve()
    if root not in resolved.parents:
        raise OutsideError(f"refusing to delete or truncate {str(path)!r}: it is not inside {str(owner)!r}")
    return path


def remove_inside(path, owner, missing_ok=False):
    """Delete the file or directory tree `path`, which must be `inside(owner)`.

    A symbolic link is removed itself, never what it points to."""
    path = pathlib.Path(path)
    if path.is_symlink():
        inside(path.parent / "_", owner)  # the link's own place, not its target
        path.unlink()
        return
    if missing_ok and not path.exists():
        return
    inside(path, owner)
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def save(directory, arrays, meta):
    """Write `arrays` ({name: array}) and `meta` (JSON-able) to `<directory>/checkpoint.npz` atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array(json.dumps(meta, default=float)), **arrays)
    write(pathlib.Path(directory) / FILE, buffer.getvalue())


#: The errors that mean the disk, not the run, is at fault: no space, a quota, a file-size
#: limit, a read-only filesystem, an I/O error.
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO)


class WriteError(Exception):
    """A file of the batch could not be written. Nothing half-written is left
    behind; what finished is kept, and the same command goes on once the
    cause is fixed."""

    def __init__(self, path, reason):
        path = pathlib.Path(path)
        free = ""
        for place in (path, *path.parents):
            if place.exists():
                free = f"; {_size(shutil.disk_usage(place).free)} free on the disk that holds {str(place)!r}"
                break
        super().__init__(f"cannot write {str(path)!r}: {reason}{free}")
        self.path = path


def _size(count):
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if count < 1024 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024


def write(path, data):
    """Write `data` (str or bytes) to `path` atomically: to a temporary file
    beside it, then renamed over it. A kill or a full disk at any moment
    leaves the old file or the new one, never a part; a failed write raises
    WriteError and leaves no temporary file."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    data = data.encode() if isinstance(data, str) else data
    try:
        with open(temporary, "wb") as file:  # no fsync: a killed process's writes survive it
            file.write(data)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise WriteError(path, error.strerror or str(error)) from None


def disk_fault(error, directory):
    """A WriteError if `error` (raised anywhere while a run trains and logs,
    TensorFlow's event writers included) says the disk is at fault, else None."""
    if isinstance(error, WriteError):
        return error
    if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
        return WriteError(error.filename or directory, error.strerror)
    text = str(error)
    for number in DISK_ERRNOS:
        if os.strerror(number) in text:
            return WriteError(directory, os.strerror(number))
    return None


def named_arrays(variables, prefix):
    """{`prefix/i`: the i-th variable's value}: what `save` keeps of a model's or optimizer's state."""
    return {f"{prefix}/{i}": np.asarray(v.numpy()) for i, v in enumerate(variables)}


def restore_arrays(variables, arrays, prefix):
    """Assign `arrays[prefix/i]` to the i-th variable; refuse a checkpoint of another shape."""
    stored = sorted((k for k in arrays if k.startswith(prefix + "/")), key=lambda k: int(k.split("/")[1]))
    if len(stored) != len(variables):
        raise ValueError(f"the checkpoint holds {len(stored)} {prefix} variables, the run has {len(variables)}")
    for variable, key in zip(variables, stored):
        if tuple(variable.shape) != arrays[key].shape:
            raise ValueError(f"checkpoint {key} has shape {arrays[key].shape}, the run's {tuple(variable.shape)}")
        variable.assign(arrays[key])


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
    """Another process holds the batch directory's lock: `pid` and the `key`
    (batch fingerprint) it wrote there, None where it wrote none in time."""

    def __init__(self, pid, key):
        super().__init__(pid)
        self.pid, self.key = pid, key


class BatchLock:
    """An exclusive, non-blocking `flock` on `<directory>/.lock`.

    The holder writes `<pid> <key>` in it at once, `key` being the batch's
    fingerprint: a second process that finds the lock held learns which
    batch holds it even before the holder has written anything else (a
    still-empty directory), so the same batch is refused rather than run
    twice."""

    def __init__(self, directory):
        self.path = pathlib.Path(directory) / LOCK
        self._file = None

    def acquire(self, key=""):
        import fcntl
        import time

        file = open(self.path, "a+")
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            for _ in range(50):  # the holder writes its line right after locking: wait up to 1 s for it
                file.seek(0)
                words = file.read().split()
                if len(words) >= 2:
                    break
                time.sleep(0.02)
            file.close()
            raise LockedError(words[0] if words else "unknown", words[1] if len(words) >= 2 else None) \
                from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()} {key}\n" if key else f"{os.getpid()}\n")
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



def verify(logdir):
    """Yield (run directory, state, why it is damaged or None) for every run
    under `logdir` (a directory with a `config.json`): what `python -m
    experiments verify` prints. A finished run is checked as the runner
    checks it before skipping it (`read_result`, and a readable curves file);
    an unfinished one, that its checkpoint is readable and its event files
    are at least as long as the checkpoint recorded."""
    for config in sorted(pathlib.Path(logdir).rglob("config.json")):
        run = config.parent
        record, damage = read_result(run)
        if record is not None or damage is not None:
            state = f"finished ({record.get('status')})" if isinstance(record, dict) else "finished"
            if damage is None:
                try:
                    load_curves(run)  # reads every member: a damaged one fails its CRC
                except Exception as error:
                    damage = f"{CURVES} is unreadable ({type(error).__name__})"
        elif (run / FILE).is_file():
            stored = load(run)
            if stored is None:
                state, damage = "stopped", f"{FILE} is unreadable"
            else:
                state = f"stopped at epoch {stored[1].get('epoch')}"
                damage = missing_data(run, stored[1].get("events") or {})
        else:
            state = "not started or without a checkpoint"
        yield run, state, damage
