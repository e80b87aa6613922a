"""A run's TensorBoard event files, measured and cut back.

* `event_files`: the size of every event file under a run, which a checkpoint and a sealed
  result record.
* `rewind_events`: cut the run's event files back to those sizes and delete the files
  started since. TensorBoard's event files are append-only records, so what was logged
  after the checkpoint disappears and the resumed run logs those steps again exactly once.
"""

from __future__ import annotations

import pathlib

from experiments.store.files import inside, remove_inside

#: Where an older version of the suite wrote a run's curves, as TensorBoard runs of their own
#: (today a run is one, its directory).
OLDER_RUNS = ("train", "validation")


def todays_tag(run, tag):
    """The name today of `tag` in an older version's `run` (`OLDER_RUNS`): both wrote
    `epoch_loss`; the validation run's is `epoch_val_loss`."""
    return tag.replace("epoch_", "epoch_val_", 1) if run == "validation" and tag.startswith("epoch_") else tag

EVENTS = "events.out.tfevents"


def event_files(directory):
    """{path relative to `directory`: size in bytes} of every event file under it, but its
    HParams session (`*.session`): `dashboard.unify` may replace that one at any time, so it is
    neither sealed with a result nor cut back with a checkpoint."""
    directory = pathlib.Path(directory)
    return {str(path.relative_to(directory)): path.stat().st_size
            for path in sorted(directory.rglob(f"{EVENTS}*")) if path.is_file() and not path.name.endswith(".session")}


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
