"""`python -m experiments list | run`: what it prints, and how it refuses bad input."""

import json

import pytest

from experiments import __main__ as cli


def test_workers_without_ray_installed_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "naive2d", "--workers", "2", "--logdir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "Ray, which is not installed: pip install -e \".[ray]\"" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_list_shows_every_builtin_batch(capsys):
    assert cli.main(["list"]) == 0
    printed = capsys.readouterr().out
    for name in ("naive2d", "mnist", "moons", "lr_decay", "batch_size", "batchnorm", "rmsprop_rho", "ewa"):
        assert f"\n{name} " in printed
    assert "Deep Learning Specialization, course 2 (week 2, 'Optimization Methods'): the moons experiment" in printed
    assert "the sources each names first: docs/sources.md" in printed


def test_run_prints_a_summary_and_the_tensorboard_command(tmp_path, capsys):
    assert cli.main(["run", "naive2d", "--logdir", str(tmp_path), "--quiet", "--set", "steps=5"]) == 0
    printed = capsys.readouterr().out
    assert "sgd_lr0.95_material_s0" in printed and "final f" in printed
    assert f"tensorboard --logdir {tmp_path / 'naive2d'}" in printed
    assert f"figure: {tmp_path / 'naive2d' / 'paths_material.png'}" in printed


def test_an_overridden_batch_says_what_it_ran_and_compares_with_expected_only_when_it_applies(
        tmp_path, capsys, monkeypatch):
    """The header describes the batch as written: with `--set`, a line says what runs instead, and
    its runtime and expected result are shown only when `--set` left the experiment as it is
    (`seeds`: more of it; `log`: what is written)."""
    batch = tmp_path / "b.toml"
    batch.write_text('[batch]\nname = "b"\nreproduces = "paths, 6 steps"\nruntime = "a second"\n'
                     'expected = "SGD ends at f = 0.5"\n[defaults]\nproblem = "material"\nsteps = 6\n'
                     '[[runs]]\noptimizer = { name = "sgd", learning_rate = 0.1 }\n')
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(batch), "--logdir", "plain"]) == 0
    printed = capsys.readouterr().out
    assert "expected runtime: a second" in printed and "\nexpected: SGD ends at f = 0.5" in printed
    assert "with --set" not in printed
    assert cli.main(["run", str(batch), "--logdir", "seeded", "--set", "seeds=[0,1]"]) == 0
    printed = capsys.readouterr().out
    assert "   with --set 'seeds=[0,1]': 2 run(s), 6 steps each, seed(s) 0, 1\n" in printed
    assert "\nexpected: SGD ends at f = 0.5" in printed
    assert cli.main(["run", str(batch), "--logdir", "short", "--set", "steps=3", "--set", "seeds=[0,1]"]) == 0
    printed = capsys.readouterr().out
    assert "   with --set steps=3 --set 'seeds=[0,1]': 2 run(s), 3 steps each, seed(s) 0, 1\n" in printed
    assert "expected runtime" not in printed and "SGD ends at" not in printed
    assert ("(not compared with the batch's expected result, which is for the batch as written: "
            "--set changed steps)") in printed
    assert json.loads((tmp_path / "short" / "b" / "batch.json").read_text())["overrides"] == ["steps=3", "seeds=[0,1]"]


@pytest.mark.parametrize("args,message", [
    (["run", "mnsit"], "Unknown batch 'mnsit'. Did you mean 'mnist'?"),
    (["run", "{dir}/missing.toml"], "missing.toml' does not exist"),
    (["run", "naive2d", "--set", "stpes=3"], "Unknown field for --set 'stpes'. Did you mean 'steps'?"),
    (["run", "naive2d", "--set", "optimizer.learning_rate=-1"],
     "`learning_rate` must be in (0, inf). Received: learning_rate=-1"),
    (["run", "naive2d", "moons", "--set", "epochs=0"],
     "must be an integer in [1, 1000000000]. Received: runs[0].epochs=0"),
    (["run", "naive2d", "--logdir", "{dir}/file"], "`--logdir` must be a directory, and '{dir}/file' is a file"),
    (["run", "naive2d", "--workers", "0"], "`--workers` must be an integer in [1, 1024]. Received: --workers=0"),
    (["run", "naive2d", "--checkpoint-seconds", "-1"],
     "`--checkpoint-seconds` must be a number >= 0. Received: --checkpoint-seconds=-1.0"),
    (["run", "naive2d", "--address", " "], "`--address` must be `auto` or `ray://host:port`. Received: ' '"),
    (["run", "lr_search", "--set", "seeds=[1, 1]"], "`runs[0].seeds` lists a seed twice. Received: seeds=[1, 1]"),
    (["run", "lr_search", "--set", "space={}"], "`runs[0].space` must be a table"),
])
def test_bad_input_exits_2_with_one_line_before_training(tmp_path, capsys, args, message):
    (tmp_path / "file").write_text("")
    args = [a.replace("{dir}", str(tmp_path)) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message.replace("{dir}", str(tmp_path)) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_run_says_when_a_problem_falls_back_to_offline_data(tmp_path, capsys):
    batch = tmp_path / "fallback.toml"
    batch.write_text(f"""
[batch]
name = "fallback"
reproduces = "test"
runtime = "s"
expected = "e"
[defaults]
problem = {{ name = "mnist", data_dir = "{tmp_path / 'empty'}", fallback = "digits" }}
model = "softmax_regression"
batch_size = 256
steps = 3
[[runs]]
optimizer = {{ name = "sgd", learning_rate = 0.1 }}
""")
    (tmp_path / "empty").mkdir()
    assert cli.main(["run", str(batch), "--logdir", str(tmp_path / "logs")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("   data: ")]
    assert lines == [f"   data: problem 'mnist' is not available: data_dir was given, so nothing is downloaded; "
                     f"its runs use the fallback, digits. To run on mnist, put mnist.npz from "
                     f"https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz into "
                     f"{tmp_path / 'empty'}/ (or pass data_dir=DIR holding them)"]


def test_a_folder_named_like_a_builtin_batch_does_not_hide_it(tmp_path, capsys, monkeypatch):
    """`--logdir .` leaves a folder `naive2d` in the working directory; the batch is still found."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "naive2d").mkdir()
    assert cli.main(["run", "naive2d", "--logdir", "logs", "--quiet", "--set", "steps=3"]) == 0
    assert (tmp_path / "logs" / "naive2d" / "batch.json").is_file()


def test_a_seed_study_says_where_its_bands_are_and_when_tensorboard_starts_empty(tmp_path, capsys, monkeypatch):
    from experiments.report import dashboard

    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "naive2d", "--logdir", "few", "--quiet", "--set", "steps=3"]) == 0
    assert "mean ± std over seeds" not in capsys.readouterr().out  # one seed: no means
    assert cli.main(["run", "naive2d", "--logdir", "seeded", "--quiet", "--set", "steps=3",
                     "--set", "seeds=[0,1]"]) == 0
    printed = capsys.readouterr().out
    assert "  mean ± std over seeds:  http://localhost:6006/#custom_scalars&regexInput=_mean\n" in printed
    runs = dashboard.count_runs(tmp_path / "seeded" / "naive2d")
    assert runs == 1 + 20 + 10 <= dashboard.SELECTED_AT_FIRST  # the batch, 20 runs, 10 means
    assert "TensorBoard runs: past" not in printed
    assert cli.main(["run", "naive2d", "--logdir", "more", "--quiet", "--set", "steps=3",
                     "--set", "seeds=[0,1,2,3]"]) == 0
    printed = capsys.readouterr().out
    runs = dashboard.count_runs(tmp_path / "more" / "naive2d")
    assert runs == 1 + 40 + 10  # 10 trials x 4 seeds
    assert f"({runs} TensorBoard runs: past 40, its Scalars" in printed
