"""A real batch process killed with SIGKILL, or stopped with Ctrl-C, then run
again: every run finishes exactly once, every event step is there once, and
the numbers equal those of a batch that ran uninterrupted in another process.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from tb_events import raw_events

from experiments import runner
from experiments.spec import config
from experiments.store import checkpoint

pytestmark = pytest.mark.slow

BATCH = """
[batch]
name = "long"

[defaults]
problem = { name = "digits", validation = 0.2, test = 0.2 }
batch_size = 128
log = { every_epochs = 1, every_steps = 5 }

[[runs]]
name = "adam"
model = "mnist_mlp"
epochs = 30
optimizer = { name = "adam", learning_rate = 0.003 }

[[runs]]
name = "momentum"
model = "mnist_mlp"
epochs = 30
seed = 1  # not adam's: the two train one after the other, not as one group
optimizer = { name = "momentum", learning_rate = 0.05 }
schedule = { name = "inverse_time", decay_rate = 0.1 }

[[runs]]
name = "sgd_path"
problem = "material"
steps = 30
optimizer = { name = "sgd", learning_rate = 0.95 }
"""

NAMES = ["adam", "momentum", "sgd_path"]


@pytest.fixture(scope="module")
def batch_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("batch") / "long.toml"
    path.write_text(BATCH)
    return path


def command(batch_file, logdir):
    return [sys.executable, "-m", "experiments", "run", str(batch_file), "--logdir", str(logdir), "--quiet",
            "--checkpoint-seconds", "0"]  # at every epoch end: a kill after epoch 4 finds one there


def run_to_the_end(batch_file, logdir):
    done = subprocess.run(command(batch_file, logdir), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def start_and_wait_for(batch_file, logdir, run_name, epoch):
    """Start the batch in a new process; return it once `run_name` has a checkpoint at `epoch` or later."""
    process = subprocess.Popen(command(batch_file, logdir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    run_dir = logdir / "long" / run_name
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        meta = checkpoint.load_meta(run_dir)
        if meta is not None and meta["epoch"] >= epoch:
            return process
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.kill()
    raise AssertionError(f"{run_name} never reached epoch {epoch}")


@pytest.fixture(scope="module")
def reference(batch_file, tmp_path_factory):
    """The batch run uninterrupted, in a process of its own."""
    logdir = tmp_path_factory.mktemp("reference")
    run_to_the_end(batch_file, logdir)
    return logdir / "long"


def records(directory):
    return {name: json.loads((directory / name / "result.json").read_text()) for name in NAMES}


def assert_equal_batches(ours, reference):
    """Same results, same final state, and every event step exactly once with the same value."""
    mine, theirs = records(ours), records(reference)
    for name in NAMES:
        for key in ("status", "metrics", "best", "fingerprint"):
            assert mine[name][key] == theirs[name][key], (name, key)
    for name in NAMES[:2]:
        a, b = checkpoint.load(ours / name)[0], checkpoint.load(reference / name)[0]
        for key in b:
            if key != "step_seconds":
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name} {key}")
    for name in NAMES:
        got, expected = raw_events(ours / name), raw_events(reference / name)
        assert got.keys() == expected.keys(), name
        for tag, entries in expected.items():
            assert [s for s, _ in got[tag]] == [s for s, _ in entries], (name, tag)
            if tag != "summary/wall_seconds":
                assert [v for _, v in got[tag]] == [v for _, v in entries], (name, tag)
        # the run finished exactly once: one session start, one end, one set of finals
        for tag in ("_hparams_/session_start_info", "_hparams_/session_end_info", "summary/wall_seconds"):
            assert len(got[tag]) == 1, (name, tag)
        assert not [p for p in (ours / name).iterdir() if p.is_dir()], name  # one TensorBoard run


def test_sigkill_in_the_middle_of_a_run_then_the_same_command_finishes_it(batch_file, reference, tmp_path):
    process = start_and_wait_for(batch_file, tmp_path, NAMES[1], 4)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed = tmp_path / "long" / NAMES[1]
    assert (tmp_path / "long" / NAMES[0] / "result.json").exists()  # the first run had finished
    assert not (killed / "result.json").exists()  # killed in the middle of the second
    saved = checkpoint.load_meta(killed)["epoch"]
    assert 4 <= saved < 30

    done = run_to_the_end(batch_file, tmp_path)
    assert (f"going on in {tmp_path / 'long'}: 1 finished run(s) skipped, 1 resumed from a checkpoint, "
            "1 to run") in done.stderr
    assert "(finished before)" in done.stdout and "(resumed)" in done.stdout
    assert_equal_batches(tmp_path / "long", reference)


@pytest.mark.parametrize("signum,name,status", [(signal.SIGINT, "Ctrl-C", 130), (signal.SIGTERM, "SIGTERM", 143)])
def test_ctrl_c_or_sigterm_stops_after_saving_says_how_to_go_on_and_going_on_finishes(
        batch_file, reference, tmp_path, signum, name, status):
    process = start_and_wait_for(batch_file, tmp_path, NAMES[0], 3)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == status, err[-3000:]
    assert f"{name}: stopping after saving the running run at its next epoch end" in err
    assert "stopped: 0 of 3 runs in" in err and f"{NAMES[0]} saved at epoch" in err
    assert "To go on where it stopped, run the same command again:\n  python -m experiments run " in err
    assert "Traceback" not in err
    stopped = tmp_path / "long" / NAMES[0]
    assert not (stopped / "result.json").exists() and checkpoint.load_meta(stopped)["epoch"] < 30

    run_to_the_end(batch_file, tmp_path)
    assert_equal_batches(tmp_path / "long", reference)


def test_same_batch_same_numbers_in_this_process_as_in_another(batch_file, reference, tmp_path):
    result = runner.run_batch(config.load_batch(batch_file), tmp_path, progress=False)
    ours = {r.run.name: r.record() for r in result.results}
    theirs = records(reference)
    for name in NAMES:
        assert ours[name]["metrics"] == theirs[name]["metrics"] and ours[name]["best"] == theirs[name]["best"]


@pytest.mark.parametrize("signum,name,status", [(signal.SIGINT, "Ctrl-C", 130), (signal.SIGTERM, "SIGTERM", 143)])
def test_a_signal_during_start_up_is_one_line(batch_file, tmp_path, signum, name, status):
    """Sent while the command still imports TensorFlow: no traceback, nothing written."""
    process = subprocess.Popen(command(batch_file, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    time.sleep(0.8)  # the command has started; TensorFlow takes seconds to import
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == status, err[-3000:]
    ours = [line for line in err.splitlines() if "experiments" in line]
    assert ours == [f"python -m experiments: stopped by {name} before anything ran; nothing was written"]
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []
