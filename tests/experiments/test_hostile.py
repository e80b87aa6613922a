"""Hostile input and faults: names that would escape or overwrite, guarded deletions.

Every name a user gives becomes a directory under `--logdir`; none may
reach outside it or land on the suite's own files. Each case goes through
the real command line and checks that nothing under the log directory, or
beside it, changed.
"""

import json
import os
import pathlib
import resource
import signal
import subprocess
import sys

import pytest

from experiments import __main__ as cli
from experiments import runner
from experiments.plan import planning
from experiments.spec import config
from experiments.spec.validation import ConfigError, check_path_name
from experiments.store import events, files, fingerprints, lock

BATCH = """[batch]
name = "{batch}"
[defaults]
problem = "material"
steps = 3
[[runs]]
optimizer = {{ name = "sgd", learning_rate = 0.1 }}
name = "{run}"
"""


def snapshot(root):
    """{relative path: bytes or None (a directory)} of everything under `root`."""
    root = pathlib.Path(root)
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in root.rglob("*")}


@pytest.fixture
def world(tmp_path):
    """A log directory that already holds another batch's finished results, beside a precious file."""
    logs = tmp_path / "logs"
    (logs / "other_batch" / "run_s0").mkdir(parents=True)
    (logs / "other_batch" / "batch.json").write_text("{}")
    (logs / "other_batch" / "run_s0" / "result.json").write_text('{"status": "ok"}')
    (tmp_path / "precious.txt").write_text("keep me")
    return tmp_path


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("batch,run,message", [
    ("b", "..", "`runs[0].name` names a directory: it may hold ASCII letters, digits and . = + - _ only, "
                "and may not start with . or -. Received: runs[0].name='..'"),
    ("b", ".", "Received: runs[0].name='.'"),
    ("b", ".hidden", "Received: runs[0].name='.hidden'"),
    ("b", "-rf", "Received: runs[0].name='-rf'"),
    ("b", "a/../..", "Received: runs[0].name='a/../..'"),
    ("b", "caf\u00e9", "Received: runs[0].name='caf\u00e9'"),
    ("b", "batch.json", "may not be, or end like, a file the suite writes itself"),
    ("b", "figures", "Received: runs[0].name='figures'"),
    ("b", "adam_mean", "Received: runs[0].name='adam_mean'"),
    ("b", "loss_curves.png", "Received: runs[0].name='loss_curves.png'"),
    ("b", "r" * 101, "`runs[0].name` names a directory: it may be at most 100 characters long. "
                     "Received: runs[0].name='rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr'... (101 characters)"),
    ("..", "r", "`batch.name` names a directory: it may hold ASCII letters, digits and . = + - _ only, "
                "and may not start with . or -. Received: batch.name='..'"),
    (".", "r", "Received: batch.name='.'"),
    ("other_batch/..", "r", "Received: batch.name='other_batch/..'"),
    ("b" * 300, "r", "`batch.name` names a directory: it may be at most 100 characters long. "
                     "Received: batch.name='bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'... (300 characters)"),
])
def test_a_name_that_would_escape_or_overwrite_is_refused_and_nothing_changes(world, capsys, batch, run,
                                                                                 message):
    (world / "b.toml").write_text(BATCH.format(batch=batch, run=run))
    before = snapshot(world)
    err = run_cli(["run", str(world / "b.toml"), "--logdir", str(world / "logs"), "--quiet"], capsys)
    assert message in err
    assert snapshot(world) == before  # nothing written, nothing deleted, no .lock anywhere


@pytest.mark.parametrize("run", ["..", "."])
def test_logdir_dot_with_a_run_named_dot_dot_keeps_the_working_directory(world, capsys, monkeypatch, run):
    monkeypatch.chdir(world)
    (world / "b.toml").write_text(BATCH.format(batch="b", run=run))
    before = snapshot(world)
    run_cli(["run", "b.toml", "--logdir", ".", "--quiet"], capsys)
    assert snapshot(world) == before


@pytest.mark.parametrize("setting", ["name=..", "name=figures", 'name="a/b"'])
def test_a_name_given_with_set_is_checked_too(world, capsys, setting):
    (world / "b.toml").write_text(BATCH.format(batch="b", run="fine"))
    before = snapshot(world)
    err = run_cli(["run", str(world / "b.toml"), "--logdir", str(world / "logs"), "--set", setting,
                   "--quiet"], capsys)
    assert "runs[0].name" in err
    assert snapshot(world) == before


def test_a_generated_name_too_long_for_a_directory_is_refused_before_anything_is_written():
    many = {f"argument_number_{i}": 0.5 for i in range(8)}
    with pytest.raises(ConfigError, match=r"`name of run \(runs\[0\]\)` names a directory: it may be at "
                                          r"most 100 characters long"):
        config.parse_batch({"defaults": {"problem": "material", "steps": 3},
                            "runs": [{"optimizer": {"name": "sgd", **many}}]})


def test_a_batch_made_in_python_is_checked_by_prepare():
    batch = config.parse_batch({"defaults": {"problem": "material", "steps": 3},
                                "runs": [{"optimizer": "sgd", "name": "fine"}]})
    batch.runs[0].name = ".."
    with pytest.raises(ConfigError, match=r"run '\.\.' \(runs\[0\]\): `name` names a directory"):
        planning.prepare(batch)
    batch.runs[0].name, batch.name = "fine", ".."
    with pytest.raises(ConfigError, match=r"`batch.name` names a directory"):
        planning.prepare(batch)


def test_every_name_the_suite_writes_is_reserved(tmp_path):
    """What a real batch writes beside its runs and inside them (figures, json,
    a mean-over-seeds run, checkpoints, events) can never be a user's name."""
    batch = config.parse_batch({"batch": {"name": "w"},
                                "runs": [{"problem": "material", "steps": 3, "optimizer": "sgd",
                                          "name": "path", "seeds": [0, 1]},
                                         {"problem": {"name": "digits", "validation": 0.2, "test": 0.2},
                                          "model": "mnist_mlp", "epochs": 1, "batch_size": 512,
                                          "optimizer": "sgd", "name": "fit"}]})
    result = runner.run_batch(batch, tmp_path, progress=False, checkpoint_seconds=0)
    runs = {r.run.name for r in result.results}
    written = set()
    for path in result.directory.iterdir():
        if path.name not in runs:
            written.add(path.name)
    for name in runs:
        written |= {p.name for p in (result.directory / name).iterdir()}
    assert {"batch.json", "summary.json", "path_mean", "checkpoint.npz", "curves.npz",
            "config.json", "result.json"} <= written
    for name in written:
        with pytest.raises(ConfigError):
            check_path_name("name", name)


# --- every deletion and truncation stays inside its owner --------------------


def test_remove_inside_deletes_what_is_inside(tmp_path):
    (tmp_path / "run" / "train").mkdir(parents=True)
    (tmp_path / "run" / "result.json").write_text("{}")
    files.remove_inside(tmp_path / "run" / "result.json", tmp_path / "run")
    files.remove_inside(tmp_path / "run" / "missing", tmp_path / "run", missing_ok=True)
    files.remove_inside(tmp_path / "run", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("relative", [".", "..", "run/../..", "../elsewhere", "run/../../elsewhere"])
def test_remove_inside_refuses_the_owner_itself_and_anything_beside_it(tmp_path, relative):
    owner = tmp_path / "batch"
    (owner / "run").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    before = snapshot(tmp_path)
    with pytest.raises(files.OutsideError, match="refusing to delete or truncate"):
        files.remove_inside(owner / relative, owner)
    assert snapshot(tmp_path) == before


def test_remove_inside_removes_a_link_never_its_target(tmp_path):
    owner, outside = tmp_path / "batch", tmp_path / "outside"
    owner.mkdir()
    outside.mkdir()
    (outside / "data.txt").write_text("keep")
    os.symlink(outside, owner / "link")
    with pytest.raises(files.OutsideError):  # followed, the link leads outside
        files.inside(owner / "link" / "data.txt", owner)
    files.remove_inside(owner / "link", owner)
    assert not (owner / "link").exists() and (outside / "data.txt").read_text() == "keep"


def test_a_run_directory_that_links_outside_is_not_followed_on_restart(tmp_path):
    """A run directory replaced by a link to someone's data: starting the run again
    removes the link, not the data behind it."""
    batch = config.parse_batch({"batch": {"name": "s"},
                                "runs": [{"problem": "material", "steps": 3, "optimizer": "sgd", "name": "p"}]})
    directory = tmp_path / "s"
    directory.mkdir()
    (directory / "batch.json").write_text(json.dumps({"fingerprint": fingerprints.batch_fingerprint(batch)}))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.txt").write_text("keep")
    os.symlink(outside, directory / "p")
    result = runner.run_batch(batch, tmp_path, progress=False)
    assert result.directory == directory and result.results[0].status == "ok"
    assert (outside / "data.txt").read_text() == "keep" and sorted(os.listdir(outside)) == ["data.txt"]
    assert not (directory / "p").is_symlink()


def test_rewind_events_stays_inside_the_run(tmp_path):
    run = tmp_path / "run"
    (run / "train").mkdir(parents=True)
    (run / "train" / f"{events.EVENTS}.1").write_bytes(b"x" * 10)
    (run / "train" / f"{events.EVENTS}.2").write_bytes(b"y" * 10)
    events.rewind_events(run, {f"train/{events.EVENTS}.1": 4, "../../etc/passwd": 0})
    assert [p.name for p in (run / "train").iterdir()] == [f"{events.EVENTS}.1"]
    assert (run / "train" / f"{events.EVENTS}.1").read_bytes() == b"xxxx"


# --- the lock -------------------------------------------------------------------


@pytest.mark.parametrize("same", [True, False])
def test_the_lock_on_a_still_empty_directory_tells_which_batch_holds_it(tmp_path, same):
    """A second process finds the lock held before the first has written anything:
    the same batch is refused (not run twice into `<name>_2`); another batch of
    that name goes on in `<name>_2`."""
    batch = config.parse_batch({"batch": {"name": "e"},
                                "runs": [{"problem": "material", "steps": 3, "optimizer": "sgd"}]})
    (tmp_path / "e").mkdir()
    key = fingerprints.batch_fingerprint(batch) if same else "0123456789abcdef"
    holder = lock.BatchLock(tmp_path / "e").acquire(key)
    try:
        if same:
            with pytest.raises(ConfigError, match=r"is being written by another run of batch 'e' \(pid \d+\)"):
                runner.run_batch(batch, tmp_path, progress=False)
            assert sorted(p.name for p in tmp_path.iterdir()) == ["e"]
        else:
            assert runner.run_batch(batch, tmp_path, progress=False).directory == tmp_path / "e_2"
        assert sorted(p.name for p in (tmp_path / "e").iterdir()) == [".lock"]
    finally:
        holder.release()


# --- a full disk ------------------------------------------------------------------


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    files.write(target, '{"old": 1}')
    monkeypatch.setattr(files, "open", lambda path, mode: open("/dev/full", mode), raising=False)
    with pytest.raises(files.WriteError) as error:
        files.write(target, '{"new": 2}' * 10000)
    assert str(error.value).startswith(f"cannot write {str(target)!r}: No space left on device; ")
    assert " free on the disk that holds " in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
    assert target.read_text() == '{"old": 1}'


FULL = """[batch]
name = "full"
[defaults]
problem = { name = "digits", validation = 0.2, test = 0.2 }
model = "mnist_mlp"
batch_size = 128
epochs = 6
log = { every_epochs = 1, every_steps = 1 }
[[runs]]
optimizer = { name = "sgd", learning_rate = 0.1 }
[[runs]]
optimizer = { name = "adam", learning_rate = 0.003 }
"""


def _cli(batch_file, logdir, file_size_limit=None):
    """The real command; with a limit on the size of every file it writes (what a
    nearly full disk does to the file that crosses it: the write fails)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG from the write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run([sys.executable, "-m", "experiments", "run", str(batch_file), "--logdir", str(logdir),
                           "--quiet", "--checkpoint-seconds", "0"], capture_output=True, text=True, timeout=300,
                          preexec_fn=limit if file_size_limit else None)


@pytest.fixture(scope="module")
def full_batch(tmp_path_factory):
    """The batch file, and the batch run to the end without a limit."""
    folder = tmp_path_factory.mktemp("full")
    batch_file = folder / "full.toml"
    batch_file.write_text(FULL)
    reference = _cli(batch_file, folder / "reference")
    assert reference.returncode == 0, reference.stderr[-2000:]
    return batch_file, folder / "reference" / "full"


@pytest.mark.slow
@pytest.mark.parametrize("limit", [8_000, 60_000])  # an event file, or the first checkpoint, fails
def test_a_full_disk_stops_the_batch_with_one_line_and_going_on_gives_the_same_results(tmp_path, full_batch,
                                                                                      limit):
    batch_file, reference = full_batch

    stopped = _cli(batch_file, tmp_path / "logs", limit)
    assert stopped.returncode == 1, stopped.stderr[-2000:]
    ours = [line for line in stopped.stderr.splitlines() if "experiments" in line]
    assert len(ours) == 1 and "Traceback" not in stopped.stderr
    assert ours[0].startswith("python -m experiments: error: cannot write ")
    assert ": File too large; " in ours[0] and " free on the disk that holds " in ours[0]
    assert ours[0].endswith("then run the same command again to go on.")
    batch_dir = tmp_path / "logs" / "full"
    assert not list(batch_dir.rglob("*.tmp")) and not list(batch_dir.rglob("result.json"))
    for path in batch_dir.rglob("*.json"):
        json.loads(path.read_text())  # whole, never half-written

    again = _cli(batch_file, tmp_path / "logs")
    assert again.returncode == 0, again.stderr[-2000:]
    for run in ("sgd_lr0.1_s0", "adam_lr0.003_s0"):
        mine = json.loads((batch_dir / run / "result.json").read_text())
        theirs = json.loads((reference / run / "result.json").read_text())
        for key in ("status", "metrics", "best", "fingerprint"):
            assert mine[key] == theirs[key], (run, key)
