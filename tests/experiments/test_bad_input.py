"""Bad input through the real command line: each gets one line naming the
field and the value received, exit status 2, no traceback, and nothing written.

Each case is (id, what it changes, value, the message expected on stderr):
`file` is the whole batch file (built from BASE), `bytes` its raw bytes,
`set` one `--set`, `logdir` the `--logdir` (relative to the test's folder),
`args` the whole command line. The runs are real: a valid BASE trains.
"""

import subprocess
import sys

import pytest

from experiments import __main__ as cli

BASE = """[batch]
name = "b"
[defaults]
problem = "digits"
model = "mnist_mlp"
epochs = 1
[[runs]]
optimizer = { name = "sgd", learning_rate = 0.1 }
"""


def with_(old, new):
    assert old in BASE
    return BASE.replace(old, new)


CASES = [
 ("toml_syntax", "file", with_("epochs = 1", "epochs = = 1"),
  "batch file '{dir}/b.toml' is not valid TOML: Invalid value (at line 6, column 10)"),
 ("toml_unclosed", "file", BASE + "oops = [1, 2\n",
  "batch file '{dir}/b.toml' is not valid TOML: Unclosed array (at end of document)"),
 ("unknown_section", "file", BASE.replace("[defaults]", "[defualts]"),
  "Unknown section in batch file 'defualts'. Did you mean 'defaults'?"),
 ("unknown_header_key", "file", BASE.replace('name = "b"', 'name = "b"\nnmae = "c"'),
  "Unknown key in [batch] 'nmae'. Did you mean 'name'?"),
 ("unknown_run_field", "file", with_('optimizer = {', 'optimzer = {'),
  "Unknown field in runs[0] 'optimzer'. Did you mean 'optimizer'?"),
 ("no_runs", "file", BASE.split("[[runs]]")[0],
  '{dir}/b.toml: a batch needs at least one [[runs]] entry'),
 ("missing_problem", "file", BASE.replace('problem = "digits"\n', ''),
  "runs[0]: `problem` is required. Received fields: ['epochs', 'model', 'optimizer', 'seed']"),
 ("epochs_string", "file", with_("epochs = 1", 'epochs = "ten"'),
  "`runs[0].epochs` must be an integer in [1, 1000000000]. Received: runs[0].epochs='ten'"),
 ("epochs_float", "file", with_("epochs = 1", 'epochs = 1.5'),
  '`runs[0].epochs` must be an integer in [1, 1000000000]. Received: runs[0].epochs=1.5'),
 ("batch_size_zero", "file", with_("epochs = 1", "epochs = 1\nbatch_size = 0"),
  '`runs[0].batch_size` must be an integer >= 1. Received: runs[0].batch_size=0'),
 ("batch_size_negative", "file", with_("epochs = 1", "epochs = 1\nbatch_size = -5"),
  '`runs[0].batch_size` must be an integer >= 1. Received: runs[0].batch_size=-5'),
 ("steps_zero", "file", with_("epochs = 1", "steps = 0"),
  '`runs[0].steps` must be an integer in [1, 1000000000]. Received: runs[0].steps=0'),
 ("epochs_and_steps", "file", with_("epochs = 1", "epochs = 1\nsteps = 5"),
  'runs[0]: give `epochs` or `steps`, not both. Received: epochs=1, steps=5'),
 ("seed_negative", "file", with_("epochs = 1", "epochs = 1\nseed = -1"),
  '`runs[0].seed` must be an integer in [0, 4294967295]. Received: runs[0].seed=-1'),
 ("run_name", "file", with_("epochs = 1", 'epochs = 1\nname = "a/b"'),
  "`runs[0].name` names a directory: it may hold ASCII letters, digits and . = + - _ only, and may not start with . or -. Received: runs[0].name='a/b'"),
 ("optimizer_number", "file", with_('optimizer = { name = "sgd", learning_rate = 0.1 }', "optimizer = 5"),
  '`runs[0].optimizer` must be a name or a table with a `name`. Received: runs[0].optimizer=5'),
 ("optimizer_no_name", "file", with_('optimizer = { name = "sgd", learning_rate = 0.1 }', "optimizer = { learning_rate = 0.1 }"),
  "`runs[0].optimizer` needs a `name`. Received: runs[0].optimizer={'learning_rate': 0.1}"),
 ("log_not_table", "file", with_("epochs = 1", "epochs = 1\nlog = 3"),
  '`runs[0].log` must be a table. Received: log=3'),
 ("log_unknown", "file", with_("epochs = 1", "epochs = 1\nlog = { histogram = false }"),
  "Unknown log setting in runs[0] 'histogram'. Did you mean 'histograms'?"),
 ("log_bool", "file", with_("epochs = 1", 'epochs = 1\nlog = { histograms = "yes" }'),
  "`runs[0].log.histograms` must be true or false. Received: histograms='yes'"),
 ("log_every_zero", "file", with_("epochs = 1", "epochs = 1\nlog = { every_epochs = 0 }"),
  '`runs[0].log.every_epochs` must be an integer >= 1. Received: runs[0].log.every_epochs=0'),
 ("unknown_optimizer", "file", with_('name = "sgd"', 'name = "adma"'),
  "run 'adma_lr0.1_s0' (runs[0]): optimizer 'adma': Unknown optimizer 'adma'. Did you mean 'adam'?"),
 ("unknown_schedule", "file", with_("epochs = 1", 'epochs = 1\nschedule = { name = "cosinee" }'),
  "run 'sgd_lr0.1_cosinee_s0' (runs[0]): optimizer 'sgd': Unknown schedule 'cosinee'. Did you mean 'warmup_cosine'?"),
 ("unknown_problem", "file", with_('problem = "digits"', 'problem = "digit"'),
  "run 'sgd_lr0.1_s0' (runs[0]): Unknown problem 'digit'. Did you mean 'digits'?"),
 ("unknown_model", "file", with_('model = "mnist_mlp"', 'model = "mnist_mpl"'),
  "run 'sgd_lr0.1_s0' (runs[0]): Unknown model 'mnist_mpl'. Did you mean 'mnist_mlp'?"),
 ("lr_negative", "file", with_("learning_rate = 0.1", "learning_rate = -0.1"),
  "run 'sgd_lr-0.1_s0' (runs[0]): optimizer 'sgd': `learning_rate` must be in (0, inf). Received: learning_rate=-0.1"),
 ("lr_zero", "file", with_("learning_rate = 0.1", "learning_rate = 0"),
  "run 'sgd_lr0_s0' (runs[0]): optimizer 'sgd': `learning_rate` must be in (0, inf). Received: learning_rate=0.0"),
 ("lr_string", "file", with_("learning_rate = 0.1", 'learning_rate = "fast"'),
  "run 'sgd_lrfast_s0' (runs[0]): optimizer 'sgd': `learning_rate` must be a number. Received: learning_rate='fast' (of type str)"),
 ("adam_beta_1", "file", with_('name = "sgd", learning_rate = 0.1', 'name = "adam", beta_1 = 1.0'),
  "run 'adam_beta_11_s0' (runs[0]): optimizer 'adam': `beta_1` must be in [0, 1). Received: beta_1=1.0"),
 ("adam_beta_2", "file", with_('name = "sgd", learning_rate = 0.1', 'name = "adam", beta_2 = -0.1'),
  "run 'adam_beta_2-0.1_s0' (runs[0]): optimizer 'adam': `beta_2` must be in [0, 1). Received: beta_2=-0.1"),
 ("momentum_big", "file", with_('name = "sgd", learning_rate = 0.1', 'name = "momentum", momentum = 1.5'),
  "run 'momentum_mom1.5_s0' (runs[0]): optimizer 'momentum': `momentum` must be in [0, 1). Received: momentum=1.5"),
 ("rho_big", "file", with_('name = "sgd", learning_rate = 0.1', 'name = "rmsprop", rho = 1.5'),
  "run 'rmsprop_rho1.5_s0' (runs[0]): optimizer 'rmsprop': `rho` must be in [0, 1]. Received: rho=1.5"),
 ("epsilon_negative", "file", with_('name = "sgd", learning_rate = 0.1', 'name = "adam", epsilon = -1e-8'),
  "run 'adam_eps-1e-08_s0' (runs[0]): optimizer 'adam': `epsilon` must be in [0, inf). Received: epsilon=-1e-08"),
 ("optimizer_unknown_arg", "file", with_("learning_rate = 0.1", "learning_rat = 0.1"),
  "run 'sgd_learning_rat0.1_s0' (runs[0]): Unknown argument of optimizer 'sgd' 'learning_rat'. Did you mean 'learning_rate'?"),
 ("schedule_decay_negative", "file", with_("epochs = 1", 'epochs = 1\nschedule = { name = "inverse_time", decay_rate = -1 }'),
  "run 'sgd_lr0.1_inverse_time_decay_rate-1_s0' (runs[0]): optimizer 'sgd': `decay_rate` must be in [0, inf). Received: decay_rate=-1.0"),
 ("schedule_steps_per_epoch", "file", with_("epochs = 1", 'epochs = 1\nschedule = { name = "inverse_time", decay_rate = 1, steps_per_epoch = 0 }'),
  "run 'sgd_lr0.1_inverse_time_decay_rate1_steps_per_epoch0_s0' (runs[0]): optimizer 'sgd': `steps_per_epoch` must be a positive integer. Received: steps_per_epoch=0"),
 ("problem_unknown_arg", "file", with_('problem = "digits"', 'problem = { name = "digits", nrmalize = true }'),
  "run 'sgd_lr0.1_s0' (runs[0]): Unknown argument of problem 'digits' 'nrmalize'. Did you mean 'normalize'?"),
 ("dataset_no_length", "file", BASE.replace("epochs = 1\n", ""),
  "run 'sgd_lr0.1_s0' (runs[0]): a dataset problem needs `epochs` or `steps`"),
 ("objective_with_model", "file", with_('problem = "digits"', 'problem = "material"').replace("epochs = 1", "steps = 3"),
  "run 'sgd_lr0.1_s0' (runs[0]): an objective problem takes no `model`. Received: model={'name': 'mnist_mlp'}"),
 ("series_with_optimizer", "file", with_('problem = "digits"', 'problem = "noisy_series"').replace('model = "mnist_mlp"\n', '').replace("epochs = 1\n", ""),
  "run 'sgd_lr0.1_s0' (runs[0]): a series problem takes no `optimizer`. Received: optimizer={'name': 'sgd', 'learning_rate': 0.1}"),
 ("divergence_factor_one", "file", with_("epochs = 1", "epochs = 1\ndivergence_factor = 1"),
  '`runs[0].divergence_factor` must be > 1 (inf: stop only at NaN or inf). Received: divergence_factor=1'),
 ("divergence_factor_string", "file", with_("epochs = 1", 'epochs = 1\ndivergence_factor = "big"'),
  "`runs[0].divergence_factor` must be a number. Received: runs[0].divergence_factor='big'"),
 ("batch_name", "file", BASE.replace('name = "b"', 'name = "my batch"'),
  "`batch.name` names a directory: it may hold ASCII letters, digits and . = + - _ only, and may not start with . or -. Received: batch.name='my batch'"),
 ("seeds_duplicate", "file", with_("epochs = 1", "epochs = 1\nseeds = [1, 1]"),
  '`runs[0].seeds` lists a seed twice. Received: seeds=[1, 1]'),
 ("space_distribution", "file", with_("epochs = 1", 'epochs = 1\nspace = { "optimizer.learning_rate" = { distribution = "log_unifrom", low = 1e-4, high = 1 } }'),
  "`runs[0].space.optimizer.learning_rate` must be one distribution, e.g. {log_uniform = [1e-4, 1.0]}. Received: {'distribution': 'log_unifrom', 'low': 0.0001, 'high': 1}"),
 ("not_utf8", "bytes", b"[batch]\nname = \"\xff\"\n",
  "batch file '{dir}/b.toml' is not valid TOML: 'utf-8' codec can't decode byte 0xff in position 16: invalid start byte"),
 ("set_no_equals", "set", "epochs",
  "--set expects key=value. Received: 'epochs'"),
 ("set_bad_key", "set", "optimizer..learning_rate=1",
  "--set: bad key 'optimizer..learning_rate' in 'optimizer..learning_rate=1'"),
 ("set_unknown_field", "set", "epoch=3",
  "Unknown field for --set 'epoch'. Did you mean 'epochs'?"),
 ("set_lr_negative", "set", "optimizer.learning_rate=-1",
  "run 'sgd_lr-1_s0' (runs[0]): optimizer 'sgd': `learning_rate` must be in (0, inf). Received: learning_rate=-1.0"),
 ("set_batch_size_zero", "set", "batch_size=0",
  '`runs[0].batch_size` must be an integer >= 1. Received: runs[0].batch_size=0'),
 ("set_epochs_word", "set", "epochs=ten",
  "`runs[0].epochs` must be an integer in [1, 1000000000]. Received: runs[0].epochs='ten'"),
 ("set_momentum_one", "set", 'optimizer={name="momentum", momentum=1.0}',
  "run 'momentum_mom1_s0' (runs[0]): optimizer 'momentum': `momentum` must be in [0, 1). Received: momentum=1.0"),
 ("logdir_unwritable", "logdir", "/proc/experiments-logs",
  "cannot write the logs to '/proc/experiments-logs/b': No such file or directory"),
 ("logdir_file", "logdir", "file",
  "`--logdir` must be a directory, and '{dir}/file' is a file. Received: --logdir='{dir}/file'"),
 ("logdir_under_file", "logdir", "file/sub",
  "`--logdir` must be a directory, and '{dir}/file' is a file. Received: --logdir='{dir}/file/sub'"),
 ("logdir_empty", "args", ["run", "{dir}/b.toml", "--logdir", "", "--quiet"],
  "`--logdir` must name a directory; an empty one would put the batch in the working directory. "
  "Received: --logdir=''"),
 # hostile input (issue 15): wrong types at the top level, absurd sizes, infinities, out-of-range seeds
 ("top_runs_not_tables", "file", "runs = [1, 2]\n",
  "`runs` must be an array of tables, [[runs]]. Received: runs=[1, 2]"),
 ("top_batch_not_table", "file", "batch = 3\n" + BASE.split('[batch]\nname = "b"\n')[1],
  "`batch` must be a table, [batch]. Received: batch=3"),
 ("top_defaults_not_table", "file", 'defaults = 3\n[[runs]]\nproblem = "material"\n',
  "`defaults` must be a table, [defaults]. Received: defaults=3"),
 ("top_search_not_table", "file", "search = 3\n" + BASE.split('[batch]\nname = "b"\n')[1],
  "`search` must be a table, [search]. Received: search=3"),
 ("nested_3000_deep", "file", "x = " + "[" * 3000 + "]" * 3000 + "\n" + BASE,
  "batch file '{dir}/b.toml' nests arrays or tables too deeply to read"),
 ("set_into_a_number", "set", "epochs.x=1",
  "`--set epochs.x`: `epochs` is not a table, so it has no `x`. Received: epochs=1"),
 ("set_into_a_list", "file+set", (with_("epochs = 1", "epochs = 1\nseeds = [0, 1]"), "seeds.x=1"),
  "`--set seeds.x`: `seeds` is not a table, so it has no `x`. Received: seeds=[0, 1]"),
 ("validation_too_small", "file", with_('problem = "digits"', 'problem = {name = "digits", validation = 0.001}'),
  "run 'sgd_lr0.1_s0' (runs[0]): the validation split would hold 2 of 1797 points, fewer than the 10 classes; "
  "give it at least 0.00556 of the data. Received: validation=0.001, test=0.2"),
 ("series_data_seed", "file", '[[runs]]\nproblem = {name = "noisy_series", data_seed = -1}\naverage = "ewa"\n',
  "run 'ewa_s0' (runs[0]): `noisy_series.data_seed` must be an integer in [0, 4294967295]. "
  "Received: noisy_series.data_seed=-1"),
 ("seed_too_big", "file", with_("epochs = 1", "epochs = 1\nseed = 4294967296"),
  "`runs[0].seed` must be an integer in [0, 4294967295]. Received: runs[0].seed=4294967296"),
 ("seeds_too_big", "file", with_("epochs = 1", "epochs = 1\nseeds = [0, 99999999999]"),
  "`runs[0].seeds` must be an integer in [0, 4294967295]. Received: runs[0].seeds=99999999999"),
 ("lr_inf", "file", with_("learning_rate = 0.1", "learning_rate = inf"),
  "run 'sgd_lrinf_s0' (runs[0]): optimizer 'sgd': `learning_rate` must be in (0, inf). Received: learning_rate=inf"),
 ("set_lr_inf", "set", "optimizer.learning_rate=inf",
  "run 'sgd_lrinf_s0' (runs[0]): optimizer 'sgd': `learning_rate` must be in (0, inf). Received: learning_rate=inf"),
 ("epsilon_inf", "file", with_('name = "sgd", learning_rate = 0.1', 'name = "adam", epsilon = inf'),
  "run 'adam_epsinf_s0' (runs[0]): optimizer 'adam': `epsilon` must be in [0, inf). Received: epsilon=inf"),
 ("start_inf", "file", '[[runs]]\nproblem = {name = "material", start = [inf, 1.0]}\nsteps = 3\noptimizer = "sgd"\n',
  "run 'sgd_s0' (runs[0]): `material.start.x` must be a finite number. Received: material.start.x=inf"),
 ("start_nan", "file", '[[runs]]\nproblem = {name = "material", start = [1.0, nan]}\nsteps = 3\noptimizer = "sgd"\n',
  "run 'sgd_s0' (runs[0]): `material.start.y` must be a number. Received: material.start.y=nan"),
 ("model_too_large", "file", with_('model = "mnist_mlp"', 'model = {name = "mlp", hidden = [100000000000]}'),
  "run 'sgd_lr0.1_s0' (runs[0]): model 'mlp' has 7.5e+12 parameters: with their gradients and the "
  "optimizer's slots it needs about 1.4e+05 GiB, and this machine has "),
 ("epochs_absurd", "file", with_("epochs = 1", "epochs = 9223372036854775807"),
  "`runs[0].epochs` must be an integer in [1, 1000000000]. Received: runs[0].epochs=9223372036854775807"),
 ("epochs_times_steps_absurd", "file", with_("epochs = 1", "epochs = 999999999"),
  "run 'sgd_lr0.1_s0' (runs[0]): `epochs` makes 16999999983 steps (17 per epoch), more than 1000000000 can "
  "finish. Received: epochs=999999999"),
 ("path_steps_absurd", "file", '[[runs]]\nproblem = "material"\nsteps = 9223372036854775807\noptimizer = "sgd"\n',
  "`runs[0].steps` must be an integer in [1, 1000000000]. Received: runs[0].steps=9223372036854775807"),
 ("path_steps_too_many", "file", '[[runs]]\nproblem = "material"\nsteps = 100001\noptimizer = "sgd"\n',
  "run 'sgd_s0' (runs[0]): a 2-D path keeps and logs every point: `steps` must be at most 100000. "
  "Received: steps=100001"),
 ("trials_absurd", "file", '[search]\ntrials = 1000000000\n[[runs]]\nproblem = "material"\nsteps = 3\n'
  'optimizer = "sgd"\nspace = { "optimizer.learning_rate" = { log_uniform = [1e-4, 1.0] } }\n',
  "{dir}/b.toml: the batch makes 1000000000 runs (each [[runs]] entry's trials x its seeds), more than 10000 "
  "can finish. Received: strategy=random, trials=1000000000, points=5"),
 ("grid_absurd", "file", '[search]\nstrategy = "grid"\npoints = 1000\n[[runs]]\nproblem = "material"\nsteps = 3\n'
  'optimizer = "adam"\nspace = { "optimizer.learning_rate" = { log_uniform = [1e-4, 1.0] }, '
  '"optimizer.beta_1" = { uniform = [0.5, 0.9] } }\n',
  "the batch makes 1000000 runs"),
 ("workers_absurd", "args", ["run", "naive2d", "--workers", "1180591620717411303424", "--logdir", "{dir}/logs"],
  "`--workers` must be an integer in [1, 1024]. Received: --workers=1180591620717411303424"),
 ("batch_name_300", "file", BASE.replace('name = "b"', 'name = "' + "n" * 300 + '"'),
  "`batch.name` names a directory: it may be at most 100 characters long. "
  "Received: batch.name='nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn'... (300 characters)"),
 ("unknown_batch", "args", ["run", "mnsit"],
  "Unknown batch 'mnsit'. Did you mean 'mnist'?"),
 ("missing_file", "args", ["run", "{dir}/missing.toml"],
  "batch file '{dir}/missing.toml' does not exist"),
 ("workers_zero", "args", ["run", "naive2d", "--workers", "0"],
  '`--workers` must be an integer in [1, 1024]. Received: --workers=0'),
 ("address_blank", "args", ["run", "naive2d", "--address", " "],
  "`--address` must be `auto` or `ray://host:port`. Received: ' '"),
]


def command_line(tmp_path, kind, value):
    """The arguments of a case; writes its batch file."""
    (tmp_path / "file").write_text("")
    batch = tmp_path / "b.toml"
    args = ["run", str(batch), "--logdir", str(tmp_path / "logs"), "--quiet"]
    if kind == "file+set":
        value, setting = value
        kind = "file"
        args += ["--set", setting]
    if kind == "file":
        batch.write_text(value)
    elif kind == "bytes":
        batch.write_bytes(value)
    else:
        batch.write_text(BASE)
    if kind == "set":
        args += ["--set", value]
    elif kind == "logdir":
        args[3] = str(tmp_path / value)
    elif kind == "args":
        args = [a.replace("{dir}", str(tmp_path)) for a in value]
    return args


def test_there_are_at_least_40_distinct_bad_inputs():
    assert len({case[0] for case in CASES}) == len(CASES) >= 40
    assert len({case[3] for case in CASES}) >= 40  # as many different messages


@pytest.mark.parametrize("name,kind,value,message", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_clear_line_and_exit_2_with_nothing_written(tmp_path, capsys, monkeypatch, name,
                                                                       kind, value, message):
    args = command_line(tmp_path, kind, value)
    monkeypatch.chdir(tmp_path)  # what a relative or empty --logdir would write lands in tmp_path
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err == f"python -m experiments: error: {err.split('error: ', 1)[1]}"  # one prefix
    assert message.replace("{dir}", str(tmp_path)) in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.toml", "file"]  # no logs/


def test_the_real_process_prints_no_traceback_from_tensorflow(tmp_path):
    """Through `python -m experiments` itself, for bad inputs found before and
    after TensorFlow is imported: only the one line (and TensorFlow's own
    start-up notices, which it prints before anything of ours runs)."""
    for name in ("unknown_optimizer", "schedule_steps_per_epoch", "logdir_file"):
        kind, value, message = next(case[1:] for case in CASES if case[0] == name)
        args = command_line(tmp_path, kind, value)
        done = subprocess.run([sys.executable, "-m", "experiments", *args], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        ours = [line for line in done.stderr.splitlines() if "experiments" in line]
        assert len(ours) == 1 and message.replace("{dir}", str(tmp_path)) in ours[0]
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "logs").exists()


def test_an_unreadable_batch_file_is_one_line(tmp_path, capsys, monkeypatch):
    """(Root reads any file whatever its mode, so the refusal is made to happen.)"""
    import pathlib

    batch = tmp_path / "b.toml"
    batch.write_text(BASE)
    real = pathlib.Path.read_text

    def refuse(path, *args, **kwargs):
        if path == batch:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", refuse)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", str(batch), "--logdir", str(tmp_path / "logs"), "--quiet"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (f"python -m experiments: error: cannot read batch file {str(batch)!r}: "
                                       "Permission denied\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.toml"]


@pytest.mark.parametrize("name", ["nested_3000_deep", "seed_too_big", "top_runs_not_tables", "trials_absurd",
                                  "workers_absurd", "batch_name_300"])
def test_checks_that_need_no_tensorflow_print_nothing_else(tmp_path, name):
    """Found before TensorFlow loads: the one line is all of stderr (no C++ start-up notices)."""
    kind, value, message = next(case[1:] for case in CASES if case[0] == name)
    args = command_line(tmp_path, kind, value)
    done = subprocess.run([sys.executable, "-m", "experiments", *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"python -m experiments: error: {message.replace('{dir}', str(tmp_path))}"]


def test_run_batch_refuses_an_empty_logdir_before_writing(tmp_path, monkeypatch):
    """The Python API as the command line: '' would be the working directory."""
    import tomllib

    from experiments import runner
    from experiments.spec import config
    from experiments.spec.validation import ConfigError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^`logdir` must name a directory; .* Received: logdir=''$"):
        runner.run_batch(config.parse_batch(tomllib.loads(BASE)), "", progress=False)
    assert list(tmp_path.iterdir()) == []
