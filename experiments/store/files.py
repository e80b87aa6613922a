"""Every file the suite writes, and everything it deletes.

* `write`: every file the suite writes (but TensorBoard's events) goes to a temporary file
  and is renamed into place, so a kill at any moment leaves the old file or the new one; a
  failed write (a full disk) raises `WriteError`, naming the file and the space left.
* `disk_fault`: the `WriteError` an error is, if it is a failing disk's (no run's fault:
  it stops the batch, keeping what finished).
* `remove_inside`: the only way anything is deleted; it refuses whatever is not strictly
  inside the directory that owns it (`inside`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import shutil

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
