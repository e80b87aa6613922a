"""A user's own optimizer and schedule, named in a batch file by import path (`module:Name`),
run beside the built-ins and Keras's own; broken ones are refused by name before anything
trains; an edited one is a new run."""

import json
import subprocess
import sys

import numpy as np
import pytest

from experiments import runner
from experiments.plan import planning
from experiments.spec import config
from experiments.spec.validation import ConfigError

SCRATCH = '''
import keras


class PlainSGD(keras.optimizers.Optimizer):
    """w <- w - lr * g, written here, not the suite's nor Keras's."""

    def __init__(self, learning_rate=0.01, name="plain_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        lr = keras.ops.cast(learning_rate, variable.dtype)
        self.assign_sub(variable, keras.ops.multiply(gradient, lr))


class Halving(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, initial_learning_rate, every):
        self.initial_learning_rate, self.every = initial_learning_rate, every

    def __call__(self, step):
        return self.initial_learning_rate * 0.5 ** keras.ops.floor(keras.ops.cast(step, "float32") / self.every)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "every": self.every}


not_an_optimizer = 3


class Fussy(PlainSGD):
    def __init__(self, **kwargs):
        raise RuntimeError("needs a GPU")
'''


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A module `scratch_opts` in a directory on `sys.path`, as the working directory is for
    `python -m experiments`."""
    (tmp_path / "scratch_opts.py").write_text(SCRATCH)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("scratch_opts", None)
    yield tmp_path
    sys.modules.pop("scratch_opts", None)


def batch(runs, name="p"):
    return config.parse_batch({"batch": {"name": name}, "defaults": {
        "problem": {"name": "digits"}, "model": "mnist_mlp", "batch_size": 128, "epochs": 3}, "runs": runs})


def test_a_user_s_optimizer_runs_beside_the_built_in_and_keras_s_own(scratch, tmp_path):
    """The scratch module's SGD, the suite's and Keras's, as one group: the same rule, the same
    numbers (the same ops on the same values: bit for bit); names from the class's name; where
    each came from in config.json."""
    runs = [{"optimizer": {"name": "scratch_opts:PlainSGD", "learning_rate": 0.05}},
            {"optimizer": {"name": "sgd", "learning_rate": 0.05}, "name": "suite_sgd"},
            {"optimizer": {"name": "keras.optimizers:SGD", "learning_rate": 0.05}}]
    result = runner.run_batch(batch(runs), tmp_path / "logs", progress=False)
    assert [r.run.name for r in result.results] == ["PlainSGD_lr0.05_s0", "suite_sgd", "SGD_lr0.05_s0"]
    losses = [np.array(r.curves["step_loss"]) for r in result.results]
    assert all(r.status == "ok" for r in result.results) and len(losses[0]) == 27
    np.testing.assert_array_equal(losses[0], losses[1])
    np.testing.assert_array_equal(losses[2], losses[1])
    saved = json.loads((result.results[0].directory / "config.json").read_text())["plugins"]["optimizer"]
    assert saved["module"] == "scratch_opts" and saved["name"] == "PlainSGD"
    assert saved["file"] == str(scratch / "scratch_opts.py") and len(saved["sha256"]) == 64
    assert "plugins" not in json.loads((result.results[1].directory / "config.json").read_text())


def test_a_user_s_schedule_by_import_path(scratch, tmp_path):
    runs = [{"optimizer": {"name": "scratch_opts:PlainSGD", "learning_rate": 0.1},
             "schedule": {"name": "scratch_opts:Halving", "initial_learning_rate": 0.1, "every": 9}}]
    result = runner.run_batch(batch(runs), tmp_path / "logs", progress=False)
    assert result.results[0].status == "ok" and result.results[0].run.name == "PlainSGD_lr0.1_Halving_lr00.1_every9_s0"


def test_an_edited_optimizer_is_a_new_run_and_an_unchanged_one_is_skipped(scratch, tmp_path):
    runs = [{"optimizer": {"name": "scratch_opts:PlainSGD", "learning_rate": 0.05}}]
    first = runner.run_batch(batch(runs), tmp_path / "logs", progress=False)
    again = runner.run_batch(batch(runs), tmp_path / "logs", progress=False)
    assert again.results[0].skipped
    (scratch / "scratch_opts.py").write_text(SCRATCH.replace("w - lr * g", "w - lr * g, edited"))
    edited = runner.run_batch(batch(runs), tmp_path / "logs", progress=False)
    assert not edited.results[0].skipped and edited.results[0].status == "ok"
    assert first.results[0].metrics == edited.results[0].metrics  # the same rule, trained again


@pytest.mark.parametrize("name, message", [
    ("no_such_module:Opt", "`optimizer.name` names module 'no_such_module', which Python cannot find "
                           "(from the working directory or PYTHONPATH). Received: optimizer.name='no_such_module:Opt'"),
    ("scratch_opts:Missing", "`optimizer.name`: module 'scratch_opts' has no 'Missing'. "
                             "Received: optimizer.name='scratch_opts:Missing'"),
    ("scratch_opts:not_an_optimizer", "`optimizer.name` must name a subclass of keras.optimizers.Optimizer. "
                                      "Received: optimizer.name='scratch_opts:not_an_optimizer', a int"),
    ("scratch_opts:Halving", "`optimizer.name` must name a subclass of keras.optimizers.Optimizer. "
                             "Received: optimizer.name='scratch_opts:Halving', the class Halving"),
    ("scratch_opts:", "`optimizer.name` must be a built-in name or an import path `module.path:Name`"),
    ("raising:Opt", "`optimizer.name`: importing module 'raising' raised RuntimeError: no GPU here"),
    ("scratch_opts:Fussy", "optimizer 'scratch_opts:Fussy' raised RuntimeError: needs a GPU"),
])
def test_a_broken_plug_in_is_refused_by_name_before_training(scratch, name, message):
    (scratch / "raising.py").write_text("raise RuntimeError('no GPU here')\n")
    sys.modules.pop("raising", None)
    with pytest.raises(ConfigError, match="run .*: " + message.replace("(", r"\(").replace(")", r"\)")
                       .replace("`", "`").replace(".", r"\.")):
        planning.prepare(batch([{"optimizer": {"name": name}}]))


def test_wrong_arguments_of_a_user_s_optimizer_are_named(scratch):
    with pytest.raises(ConfigError, match="Unknown argument of optimizer 'scratch_opts:PlainSGD' 'rho'"):
        planning.prepare(batch([{"optimizer": {"name": "scratch_opts:PlainSGD", "rho": 0.9}}]))


def test_the_command_line_refuses_a_missing_module_with_status_2_and_writes_nothing(tmp_path):
    (tmp_path / "b.toml").write_text('[batch]\nname = "b"\n[defaults]\nproblem = "digits"\nmodel = "mnist_mlp"\n'
                                     'epochs = 1\n[[runs]]\noptimizer = { name = "nowhere:Opt" }\n')
    done = subprocess.run([sys.executable, "-m", "experiments", "run", str(tmp_path / "b.toml"), "--logdir",
                           str(tmp_path / "logs")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert "`optimizer.name` names module 'nowhere', which Python cannot find" in done.stderr
    assert not (tmp_path / "logs").exists()


MODELS_AND_DATA = '''
import keras
import numpy as np

from experiments.workloads import problems


def small_net(data, width=8):
    inputs = keras.Input(shape=data.input_shape)
    hidden = keras.layers.Dense(width, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(data.num_classes, activation="softmax")(hidden))


def subclassed(data):
    class Net(keras.Model):
        def call(self, x):
            return x
    return Net()


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 4)) + y[:, None] * 2).astype("float32")
    return problems.Data("blobs", x[:80], y[:80], x[80:100], y[80:100], x[100:], y[100:], 3, "three gaussian blobs")


WIDTH = 8


def not_data():
    return [1, 2, 3]


def failing(n=3):
    raise OSError("the share is not mounted")
'''


@pytest.fixture
def user_code(scratch):
    (scratch / "user_code.py").write_text(MODELS_AND_DATA)
    sys.modules.pop("user_code", None)
    yield scratch
    sys.modules.pop("user_code", None)


def test_a_user_s_model_and_problem_by_import_path(user_code, tmp_path):
    """A builder of a plain functional keras.Model and a loader of Data, with arguments: trained
    by the engine like the built-ins (loss falling, accuracy), recorded in config.json."""
    result = runner.run_batch(config.parse_batch({"batch": {"name": "u"}, "defaults": {
        "problem": {"name": "user_code:blobs", "n": 150}, "model": {"name": "user_code:small_net", "width": 16},
        "batch_size": 20, "epochs": 20}, "runs": [{"optimizer": {"name": "adam", "learning_rate": 0.01}}]}),
        tmp_path / "logs", progress=False)
    run = result.results[0]
    assert run.status == "ok", run.error
    assert run.metrics["train_accuracy"] > 0.7 and np.mean(run.curves["step_loss"][-4:]) < run.curves["step_loss"][0]
    saved = json.loads((run.directory / "config.json").read_text())
    assert saved["plugins"]["model"]["name"] == "small_net" and saved["plugins"]["problem"]["name"] == "blobs"
    assert saved["model_parameters"] == 4 * 16 + 16 + 16 * 3 + 3 and saved["data"]["train"] == 80


@pytest.mark.parametrize("model, problem, message", [
    ("user_code:subclassed", "digits", "model 'user_code:subclassed' must return a functional or Sequential "
                                       "keras.Model"),
    ("user_code:not_data", "user_code:not_data", "problem 'user_code:not_data' must return an "
                                                 "experiments.workloads.problems.Data. Received: a list"),
    ("mnist_mlp", "user_code:failing", "problem 'user_code:failing' raised OSError: the share is not mounted"),
    ("mnist_mlp", {"name": "user_code:blobs", "size": 3}, "Unknown argument of problem 'user_code:blobs' 'size'"),
    ("user_code:WIDTH", "digits", "`model.name` must name a function of the problem's Data that builds a "
                                  "keras.Model. Received: model.name='user_code:WIDTH', a int"),
])
def test_a_broken_model_or_problem_plug_in_is_refused_by_name(user_code, model, problem, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        planning.prepare(config.parse_batch({"batch": {"name": "u"}, "defaults": {
            "problem": problem, "model": model, "epochs": 1}, "runs": [{"optimizer": "sgd"}]}))
