"""One summary writer per directory, shared by every callback writing there.

TensorBoard reads a run directory's event files in name order; two writers
open on one directory at once would make two files whose events interleave
in time. The callbacks of the suite therefore borrow the directory's single
writer, opened lazily on first use and closed when the last borrower returns it.
"""

from __future__ import annotations

import os

import tensorflow as tf

_open: dict[str, list] = {}  # absolute path -> [writer, borrowers]


def borrow(path):
    key = os.path.abspath(os.fspath(path))
    if key not in _open:
        _open[key] = [tf.summary.create_file_writer(key), 0]
    _open[key][1] += 1
    return _open[key][0]


def give_back(path):
    key = os.path.abspath(os.fspath(path))
    entry = _open.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        entry[0].close()
        del _open[key]


def flush_under(path):
    """Flush every open writer of `path` and of the directories under it."""
    root = os.path.abspath(os.fspath(path))
    for key, (writer, _) in _open.items():
        if key == root or key.startswith(root + os.sep):
            writer.flush()


def close_under(path):
    """Close and forget every writer of `path` and under it, borrowed or not
    (after a run that raised: its callbacks never gave theirs back)."""
    root = os.path.abspath(os.fspath(path))
    for key in [k for k in _open if k == root or k.startswith(root + os.sep)]:
        _open.pop(key)[0].close()


class Borrowed:
    """Mixin for callbacks: `self._writer(sub)` borrows `<logdir>/<sub>`'s writer."""

    def _writer(self, sub):
        borrowed = self.__dict__.setdefault("_borrowed", {})
        if sub not in borrowed:
            borrowed[sub] = borrow(os.path.join(self.logdir, sub))
        return borrowed[sub]

    def _give_back_writers(self):
        for sub in self.__dict__.pop("_borrowed", {}):
            give_back(os.path.join(self.logdir, sub))
