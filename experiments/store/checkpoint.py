"""What lets a run stop at an epoch's end and go on later with nothing lost or logged twice.

A run is known again by its fingerprint (`fingerprints`): a run directory whose
`result.json` carries the same one is a finished run and is skipped (`records`); a
checkpoint carrying it is resumed.

`save` / `load`: a run's state at an epoch end in `<run>/checkpoint.npz`, written through
`files.write` (a temporary file renamed), so a kill at any moment leaves either the old
checkpoint or the new one. It holds every model and optimizer variable (the optimizer's
`iterations` is the schedule's position), the epoch (the data order is a function of seed
and epoch: `loop.Program`), the run's best values and per-step losses so far, and the size
of every event file under the run at that moment (`events.event_files`), to which the run's
events are cut back when it goes on (`events.rewind_events`).
"""

from __future__ import annotations

import io
import json
import pathlib

import numpy as np

from experiments.store.files import write

FILE = "checkpoint.npz"
def save(directory, arrays, meta):
    """Write `arrays` ({name: array}) and `meta` (JSON-able) to `<directory>/checkpoint.npz` atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array(json.dumps(meta, default=float)), **arrays)
    write(pathlib.Path(directory) / FILE, buffer.getvalue())


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


def held(run):
    """The hyperparameters `run`'s optimizer holds in variables (a suite optimizer's `HELD`):
    its checkpoint records them, since an older version's checkpoint lacks those variables."""
    import custom_optimizers as co

    from experiments.spec import plugins

    name = (run.optimizer or {}).get("name", "")
    return [] if plugins.is_path(name) else list(getattr(co.OPTIMIZERS.get(name.lower()), "HELD", ()))
