"""A batch on disk: its directory and lock, each run's directory, and what
an earlier invocation left there (finished runs to skip, checkpoints to
resume, damage to redo). The files themselves are `experiments.store.checkpoint`'s.
"""

from __future__ import annotations

import json
import pathlib
import secrets

from experiments.spec.validation import ConfigError
from experiments.store import checkpoint, events, files, records
from experiments.store.lock import LOCK, BatchLock, LockedError
from experiments.store.fingerprints import batch_fingerprint, former_fingerprint, resolved_config, run_fingerprint
from experiments.store.results import FINISHED, Job, Result
from experiments.workloads import models


def read_json(path):
    """The JSON object in `path`, or None if there is none (missing, unreadable, not an object)."""
    try:
        value = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def open_batch_directory(logdir, batch, fresh=False):
    """(directory, lock, resuming) for `batch` under `logdir`, locked for this process.

    The same batch (`batch_fingerprint`) goes on in the directory it ran in
    before; another batch of that name gets `<name>_2`, `_3`, ... When the
    same batch is running there now, a ConfigError says so. `fresh`: a new
    directory even if the same batch ran before.
    """
    if isinstance(logdir, str) and not logdir:  # pathlib reads '' as the working directory
        raise ConfigError("`logdir` must name a directory; an empty one would put the batch in the "
                          "working directory. Received: logdir=''")
    logdir, key = pathlib.Path(logdir), batch_fingerprint(batch)
    n = 0
    while True:
        n += 1
        candidate = logdir / (batch.name if n == 1 else f"{batch.name}_{n}")
        if candidate.exists() and not candidate.is_dir():
            continue
        held = candidate.is_dir() and any(p.name != LOCK for p in candidate.iterdir())
        if held and (fresh or (read_json(candidate / "batch.json") or {}).get("fingerprint") != key):
            continue
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            lock = BatchLock(candidate).acquire(key)
        except LockedError as holder:
            if held or holder.key == key:  # the same batch, even if it has written nothing yet
                raise ConfigError(f"{str(candidate)!r} is being written by another run of batch "
                                  f"{batch.name!r} (pid {holder.pid}); wait for it to finish, or give "
                                  "another --logdir") from None
            continue  # another batch of that name has just started there
        except OSError as error:
            raise ConfigError(f"cannot write the logs to {str(candidate)!r}: {error.strerror}") from None
        if not held and any(p.name != LOCK for p in candidate.iterdir()):
            lock.release()  # filled between our look and our lock
            continue
        return candidate, lock, held


def batch_id(directory, resuming):
    """The batch directory's id: eight random hex digits, drawn when the directory is first
    used and kept while the batch goes on in it (None for a directory an older version made:
    its runs' session groups keep their names)."""
    previous = read_json(directory / "batch.json") if resuming else None
    if previous is not None:
        return previous.get("id")
    return secrets.token_hex(4)


def job_for(directory, batch, run, kind, problem_data, progress, keras_verbose, report):
    """(Job, None) for a run to train, or (Job, Result) for one an earlier
    invocation of the batch finished (same fingerprint in its `result.json`).

    Nothing on disk is trusted unchecked (`records.read_result`): a
    finished run whose `result.json` was changed, whose event files are
    shorter than when it finished, or whose `curves.npz` is unreadable is
    not skipped. A run directory left unfinished (or so damaged) goes on
    from its checkpoint, its events cut back to the checkpoint's, if the
    checkpoint is readable and every event file is at least as long as it
    recorded; otherwise it is cleared and the run starts again. `report`
    says which runs were damaged and what is done about it.
    """
    run_dir = directory / run.name
    config = resolved_config(run, kind, problem_data, batch)
    config["fingerprint"] = key = run_fingerprint(config)
    job = Job(run, kind, problem_data, run_dir, progress, keras_verbose, fingerprint=key,
              former_fingerprint=former_fingerprint(config, problem_data))
    if run_dir.exists():
        record, damage = records.read_result(run_dir)
        if damage is None and record is not None and job.knows(record.get("fingerprint")) \
                and record.get("status") in FINISHED:
            try:
                curves = load_run_curves(run_dir, kind, problem_data)
            except Exception as error:  # a damaged curves.npz: never trusted, never fatal
                damage = f"{records.CURVES} is unreadable ({type(error).__name__})"
            else:
                return job, Result(run, kind, run_dir, record["metrics"], record["seconds"], curves,
                                   record.get("error"), record.get("best") or {}, record["status"],
                                   record.get("divergence"), key, skipped=True)
        stored = checkpoint.load(run_dir)
        ours = stored is not None and job.knows(stored[1].get("fingerprint"))
        if ours and any(name.split("/")[0] in events.OLDER_RUNS for name in stored[1]["events"]):
            damage = "its checkpoint is an older version's, with its curves in train/ and validation/"
        elif ours and stored[1].get("held", []) != checkpoint.held(run):
            damage = "its checkpoint is an older version's, without the variables its optimizer holds now"
        elif ours:
            lost = records.missing_data(run_dir, stored[1]["events"])
            if lost is None:
                if damage is not None:
                    report(f"{run.name}: {damage}; going on from its checkpoint")
                events.rewind_events(run_dir, stored[1]["events"])
                for stale in (records.RESULT, "error.txt", records.CURVES):
                    files.remove_inside(run_dir / stale, run_dir, missing_ok=True)
                job.resume, job.start_epoch = True, stored[1].get("epoch", 0)
                return job, None
            damage = f"{lost} (its checkpoint recorded more)"
        if damage is not None:
            report(f"{run.name}: {damage}; running it again from the start")
        files.remove_inside(run_dir, directory)
    run_dir.mkdir()
    if kind == "dataset":  # for the record, after the fingerprint: it follows from the model and data
        config["model_parameters"] = models.count_parameters(run.model, problem_data)
    files.write(run_dir / "config.json", json.dumps(config, indent=2, default=str))
    return job, None


def load_run_curves(directory, kind, problem_data):
    """A finished run's figure data (`records.load_curves`); a series run's series is its problem."""
    curves = records.load_curves(directory)
    if kind == "series":
        curves["series"] = problem_data
    return curves


def clear_batch_outputs(directory):
    """Drop what a batch writes once all its runs are done (root events, figures,
    mean runs): an invocation that goes on writes them anew, not twice."""
    for path in [*directory.glob(f"{events.EVENTS}*"), directory / "figures", *directory.glob("*_mean")]:
        files.remove_inside(path, directory, missing_ok=True)


def count_finished(directory):
    return sum((read_json(path) or {}).get("status") in FINISHED for path in directory.glob("*/result.json"))
