"""Corrupt state is caught, never trusted: a damaged finished run is redone,
a damaged unfinished one starts again, and `verify` and `best` name what is
damaged. Each case damages a copy of one finished batch and runs it again;
the result must equal the undamaged batch, every event step once."""

import json
import shutil

import pytest
from tb_events import assert_same_run, raw_events

from experiments import __main__ as cli
from experiments import runner
from experiments.spec import config
from experiments.store import checkpoint, events, records

RUNS = [{"problem": {"name": "digits", "validation": 0.2, "test": 0.2}, "model": "mnist_mlp", "epochs": 3,
         "batch_size": 256, "optimizer": {"name": "momentum", "learning_rate": 0.05}, "name": "fit",
         "log": {"every_epochs": 1, "every_steps": 2}},
        {"problem": "material", "steps": 10, "optimizer": {"name": "sgd", "learning_rate": 0.95}, "name": "path"}]


def batch():
    return config.parse_batch({"batch": {"name": "c"}, "runs": RUNS})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("finished")
    return runner.run_batch(batch(), logdir, progress=False, checkpoint_seconds=0)


def root_events(run_dir):
    """The root's event file of curves, summaries and session end (not its HParams session's own)."""
    return next(p for p in sorted(run_dir.glob(f"{events.EVENTS}*")) if not p.name.endswith(".session"))


def drop_held(run_dir):
    arrays, meta = checkpoint.load(run_dir)
    assert meta.pop("held") == ["momentum"]
    checkpoint.save(run_dir, arrays, meta)


def edit_result(run_dir, change):
    record = json.loads((run_dir / "result.json").read_text())
    change(record)
    (run_dir / "result.json").write_text(json.dumps(record))


def truncate_to_half(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def as_an_older_version_left_it(run_dir):
    """Unfinished, with a checkpoint as an older version wrote it: its curves in `train/`."""
    (run_dir / "result.json").unlink()
    arrays, meta = checkpoint.load(run_dir)
    meta["events"] = {f"train/{name}": size for name, size in meta["events"].items()}
    checkpoint.save(run_dir, arrays, meta)


DAMAGE = {
    "garbage_curves": (lambda d: (d / "curves.npz").write_bytes(b"not a zip file" * 1000),
                       "fit: curves.npz is unreadable (ValueError); going on from its checkpoint"),
    "edited_result": (lambda d: edit_result(d, lambda r: r["metrics"].update(train_loss=999)),
                      "fit: result.json was changed after it was written (its checksum does not match); "
                      "going on from its checkpoint"),
    "result_is_a_list": (lambda d: (d / "result.json").write_text("[1, 2]"),
                         "fit: result.json is not a JSON object; going on from its checkpoint"),
    "result_not_json": (lambda d: (d / "result.json").write_bytes(b"\xff{"),
                        "fit: result.json is unreadable (UnicodeDecodeError); going on from its checkpoint"),
    "truncated_root_events": (lambda d: truncate_to_half(root_events(d)),
                               "(its checkpoint recorded more); running it again from the start"),
    "deleted_root_events": (lambda d: root_events(d).unlink(),
                            "is missing (its checkpoint recorded more); running it again from the start"),
    # an unfinished run (no result.json) whose event file lost what its checkpoint recorded
    "unfinished_truncated": (lambda d: ((d / "result.json").unlink(), truncate_to_half(root_events(d))),
                             "(its checkpoint recorded more); running it again from the start"),
    # an unfinished run checkpointed before Momentum held mu in variables: fewer optimizer variables
    "checkpoint_without_held": (lambda d: ((d / "result.json").unlink(), drop_held(d)),
                                "its checkpoint is an older version's, without the variables its optimizer holds "
                                "now; running it again from the start"),
    "older_versions_checkpoint": (as_an_older_version_left_it,
                                  "fit: its checkpoint is an older version's, with its curves in train/ and "
                                  "validation/; running it again from the start"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_run_is_redone_and_equals_the_undamaged_one(finished, tmp_path, damage):
    shutil.copytree(finished.directory, tmp_path / "c")
    harm, message = DAMAGE[damage]
    harm(tmp_path / "c" / "fit")
    notes = []
    again = runner.run_batch(batch(), tmp_path, progress=False, checkpoint_seconds=0, report=notes.append)
    assert again.directory == tmp_path / "c"
    damaged = [n for n in notes if n.startswith("fit: ")]
    assert len(damaged) == 1 and message in damaged[0], notes
    fit, path = again.results
    assert not fit.skipped and path.skipped and fit.status == "ok"
    assert_same_run(fit, finished.results[0])
    assert len(raw_events(fit.directory)["_hparams_/session_start_info"]) == 1
    record, problem = records.read_result(fit.directory)
    assert problem is None and record["metrics"] == finished.results[0].metrics


def test_a_run_without_a_checkpoint_is_run_again_from_the_start(finished, tmp_path):
    shutil.copytree(finished.directory, tmp_path / "c")
    (tmp_path / "c" / "path" / "curves.npz").write_bytes(b"garbage" * 1000)
    notes = []
    again = runner.run_batch(batch(), tmp_path, progress=False, report=notes.append)
    assert [n for n in notes if n.startswith("path: ")] == [
        "path: curves.npz is unreadable (ValueError); running it again from the start"]
    assert again.results[1].metrics == finished.results[1].metrics and not again.results[1].skipped
    assert again.results[0].skipped


def test_a_finished_run_whose_session_file_was_lost_gets_it_back_and_is_skipped(finished, tmp_path):
    shutil.copytree(finished.directory, tmp_path / "c")
    session, = (tmp_path / "c" / "fit").glob(f"{events.EVENTS}*.session")
    session.unlink()  # presentation, not results: rewritten by `dashboard.unify`, not sealed
    again = runner.run_batch(batch(), tmp_path, progress=False)
    assert all(r.skipped for r in again.results)
    assert len(raw_events(tmp_path / "c" / "fit")["_hparams_/session_start_info"]) == 1


def test_an_undamaged_batch_is_skipped_whole(finished, tmp_path):
    shutil.copytree(finished.directory, tmp_path / "c")
    notes = []
    again = runner.run_batch(batch(), tmp_path, progress=False, report=notes.append)
    assert all(r.skipped for r in again.results)
    assert notes == [f"going on in {tmp_path / 'c'}: 2 finished run(s) skipped, 0 resumed from a "
                     "checkpoint, 0 to run"]


def test_verify_names_each_damaged_run_and_exits_1(finished, tmp_path, capsys):
    shutil.copytree(finished.directory, tmp_path / "c")
    assert cli.main(["verify", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"ok       {tmp_path / 'c' / 'fit'}  finished (ok)" in out
    assert out.rstrip().endswith("2 run(s) checked, 0 damaged")

    edit_result(tmp_path / "c" / "path", lambda r: r["metrics"].update(loss=0.0))
    truncate_to_half(root_events(tmp_path / "c" / "fit"))
    assert cli.main(["verify", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"DAMAGED  {tmp_path / 'c' / 'fit'}  finished (ok): {events.EVENTS}")
    assert "bytes, " in lines[0] and lines[0].endswith(" when it was written")
    assert lines[1] == (f"DAMAGED  {tmp_path / 'c' / 'path'}  finished (ok): result.json was changed after "
                        "it was written (its checksum does not match)")
    assert lines[-1] == ("2 run(s) checked, 2 damaged; run each one's batch again: a damaged run is redone, "
                         "the others are kept")


def test_verify_checks_an_unfinished_runs_checkpoint(finished, tmp_path, capsys):
    shutil.copytree(finished.directory, tmp_path / "c")
    (tmp_path / "c" / "fit" / "result.json").unlink()
    assert cli.main(["verify", str(tmp_path / "c")]) == 0
    assert f"ok       {tmp_path / 'c' / 'fit'}  stopped at epoch 3" in capsys.readouterr().out
    (tmp_path / "c" / "fit" / "checkpoint.npz").write_bytes(b"garbage")
    assert cli.main(["verify", str(tmp_path / "c")]) == 1
    assert (f"DAMAGED  {tmp_path / 'c' / 'fit'}  stopped: checkpoint.npz is unreadable"
            in capsys.readouterr().out)


@pytest.mark.parametrize("harm,why", [
    (lambda d: (d / "result.json").write_text("[1, 2]"), "result.json is not a JSON object"),
    (lambda d: edit_result(d, lambda r: r.pop("kind")), "result.json was changed after it was written"),
    (lambda d: edit_result(d, lambda r: r["metrics"].update(loss="low")), "result.json was changed"),
    (lambda d: (d / "result.json").write_text("{"), "result.json is unreadable (JSONDecodeError)"),
])
def test_best_leaves_out_a_damaged_result_names_it_and_ranks_the_others(finished, tmp_path, capsys, harm, why):
    shutil.copytree(finished.directory, tmp_path / "c")
    (tmp_path / "c" / "search.json").write_text("\x00garbage")
    harm(tmp_path / "c" / "path")
    assert cli.main(["best", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"left out '{tmp_path / 'c' / 'path' / 'result.json'}': {why}"
        + captured.err.split(why, 1)[1].splitlines()[0]]
    assert captured.err.rstrip().endswith("(run its batch again to redo the run)")
    assert "fit" in captured.out and "path" not in captured.out
