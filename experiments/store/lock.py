"""`BatchLock`: an exclusive `flock` on `<batch>/.lock`, held while a batch runs, with the
holder's pid and batch fingerprint in it. The kernel releases it when the process dies, even
by SIGKILL, so a crash never leaves a stale lock behind."""

from __future__ import annotations

import os
import pathlib

LOCK = ".lock"
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
