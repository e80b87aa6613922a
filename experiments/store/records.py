"""A finished run's record, trusted only while it is whole.

* `seal` / `read_result`: `result.json` carries a checksum and the size of every event file
  of its run and of its `curves.npz`; a changed or cut-short run is never trusted.
* `save_curves` / `load_curves`: the figures' data of a finished run.
* `missing_data`: what an event file lost against the sizes a checkpoint or record holds.
* `verify`: every run under a log directory checked the same way (`python -m experiments
  verify`).
"""

from __future__ import annotations

import io
import json
import pathlib

import numpy as np

from experiments.store.checkpoint import FILE, load
from experiments.store.events import event_files
from experiments.store.files import write
from experiments.store.fingerprints import fingerprint

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
