"""Batches as data: TOML, defaults, --set overrides, run names, validation of fields."""

import pathlib

import pytest

from experiments.plan import planning
from experiments.spec import config
from experiments.spec.validation import ConfigError

BATCH = """
[batch]
name = "small"
reproduces = "a test"
runtime = "seconds"
expected = "adam below sgd"

[defaults]
problem = "digits"
model = "mnist_mlp"
batch_size = 32
epochs = 2
optimizer = { learning_rate = 0.05 }

[[runs]]
optimizer = { name = "sgd" }

[[runs]]
optimizer = { name = "momentum", momentum = 0.8 }
batch_size = 64
"""


def write(tmp_path, text=BATCH, name="small.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_merge_into_every_run(tmp_path):
    batch = config.load_batch(write(tmp_path))
    assert batch.header() == {"name": "small", "reproduces": "a test", "runtime": "seconds",
                              "expected": "adam below sgd", "source": str(tmp_path / "small.toml"), "targets": {}}
    sgd, momentum = batch.runs
    assert sgd.optimizer == {"name": "sgd", "learning_rate": 0.05}
    assert momentum.optimizer == {"name": "momentum", "learning_rate": 0.05, "momentum": 0.8}
    assert (sgd.batch_size, momentum.batch_size) == (32, 64)
    assert sgd.problem == {"name": "digits"} and sgd.model == {"name": "mnist_mlp"}
    assert sgd.log == config.LOG_DEFAULTS


def test_names_are_readable_and_show_what_differs(tmp_path):
    batch = config.load_batch(write(tmp_path))
    assert [r.name for r in batch.runs] == ["sgd_lr0.05_bs32_s0", "momentum_lr0.05_mom0.8_bs64_s0"]


def test_set_overrides_every_run(tmp_path):
    batch = config.load_batch(write(tmp_path), overrides=[
        "epochs=5", "optimizer.learning_rate=0.2", "problem.normalize=true", "seed=3",
        "log.every_steps=10", 'model={name="mlp", hidden=[8]}'])
    for run in batch.runs:
        assert run.epochs == 5 and run.seed == 3
        assert run.optimizer["learning_rate"] == 0.2
        assert run.problem == {"name": "digits", "normalize": True}
        assert run.model == {"name": "mlp", "hidden": [8]}
        assert run.log["every_steps"] == 10
    assert batch.runs[0].name == "sgd_lr0.2_bs32_s3"


def test_set_reads_bare_words_as_strings(tmp_path):
    batch = config.load_batch(write(tmp_path), overrides=["optimizer.name=adam", "batch_size=full"])
    assert {r.optimizer["name"] for r in batch.runs} == {"adam"}
    assert {r.batch_size for r in batch.runs} == {"full"}


#: The sources `docs/sources.md` cites, by their headings: every built-in batch names one first.
SOURCES = tuple(line[3:].strip() for line in
                (pathlib.Path(__file__).parents[2] / "docs" / "sources.md").read_text().splitlines()
                if line.startswith("## "))


def test_builtin_batches_are_listed_and_each_one_validates():
    names = set(config.builtin_batches())
    assert names == {"naive2d", "mnist", "moons", "lr_decay", "batch_size", "batchnorm",
                     "rmsprop_rho", "ewa", "lr_search", "moons_keras", "deepobs_small", "char_rnn"}
    for name in sorted(names):
        batch = config.load_batch(name)
        assert batch.reproduces.startswith(SOURCES) and batch.runtime and batch.expected
        prepared = planning.prepare(batch)
        assert len(prepared) == len(batch.runs)
        assert len({r.name for r in batch.runs}) == len(batch.runs)


@pytest.mark.parametrize("text,message", [
    ("[[runs]]\nproblem='digits'\noptimiser='sgd'", "Unknown field in runs[0] 'optimiser'. Did you mean 'optimizer'?"),
    ("[batch]\nnam='x'\n[[runs]]\nproblem='digits'", "Unknown key in [batch] 'nam'. Did you mean 'name'?"),
    ("[defaults]\nproblem='digits'", "a batch needs at least one [[runs]] entry"),
    ("[[runs]]\noptimizer='sgd'", "runs[0]: `problem` is required"),
    ("[[runs]]\nproblem='digits'\nepochs=0", "`runs[0].epochs` must be an integer in [1, 1000000000]. "
                                              "Received: runs[0].epochs=0"),
    ("[[runs]]\nproblem='digits'\nepochs=2\nsteps=3", "give `epochs` or `steps`, not both"),
    ("[[runs]]\nproblem='digits'\nbatch_size=-4",
     "`runs[0].batch_size` must be an integer >= 1. Received: runs[0].batch_size=-4"),
    ("[[runs]]\nproblem='digits'\nbatch_size='half'", "`runs[0].batch_size` must be an integer"),
    ("[[runs]]\nproblem='digits'\nlog={every_step=3}",
     "Unknown log setting in runs[0] 'every_step'. Did you mean 'every_steps'?"),
    ("[[runs]]\nproblem='digits'\noptimizer={learning_rate=1}", "`runs[0].optimizer` needs a `name`"),
    ("[[runs]]\nproblem='digits'\nname='a b'", "`runs[0].name` names a directory: it may hold ASCII letters"),
    ("[[runs]]\nproblem='digits'\n[[runs]]\nproblem='digits'", "two runs are both named 'digits_s0'"),
    ("[[runs]\nproblem='digits'", "is not valid TOML"),
])
def test_bad_batch_files(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        config.load_batch(write(tmp_path, text))
    assert message in str(error.value)


@pytest.mark.parametrize("override,message", [
    ("epochs", "--set expects key=value. Received: 'epochs'"),
    ("epoch=3", "Unknown field for --set 'epoch'. Did you mean 'epochs'?"),
    ("optimizer..lr=3", "--set: bad key 'optimizer..lr'"),
    ("epochs=2.5", "`runs[0].epochs` must be an integer in [1, 1000000000]. Received: runs[0].epochs=2.5"),
])
def test_bad_overrides(tmp_path, override, message):
    with pytest.raises(ConfigError) as error:
        config.load_batch(write(tmp_path), overrides=[override])
    assert message in str(error.value)


@pytest.mark.parametrize("change,message", [
    ({"optimizer": {"name": "adamm"}}, "Unknown optimizer 'adamm'. Did you mean 'adam'?"),
    ({"optimizer": {"name": "adam", "beta_1": 1.5}}, "`beta_1` must be in [0, 1). Received: beta_1=1.5"),
    ({"optimizer": {"name": "sgd", "rho": 0.9}}, "Unknown argument of optimizer 'sgd' 'rho'. Known: clipnorm"),
    ({"optimizer": {"name": "sgd", "learning_rate": -1}},
     "`learning_rate` must be in (0, inf). Received: learning_rate=-1"),
    ({"schedule": {"name": "cosine"}}, "Unknown schedule 'cosine'"),
    ({"schedule": {"name": "step", "factor": 2.0}}, "`factor` must be in (0, 1]"),
    ({"model": None}, "a dataset problem needs `model`"),
    ({"average": {"name": "ewa"}}, "a dataset problem takes no `average`"),
    ({"problem": {"name": "material"}}, "an objective problem takes no `model`"),
])
def test_prepare_rejects_bad_runs_before_training(tmp_path, change, message):
    batch = config.load_batch(write(tmp_path))
    for key, value in change.items():
        setattr(batch.runs[0], key, value)
    with pytest.raises(ConfigError) as error:
        planning.prepare(batch)
    assert str(error.value).startswith("run 'sgd_lr0.05_bs32_s0' (runs[0]): ")
    assert message in str(error.value)


def test_names_show_problem_arguments_when_problems_differ():
    batch = config.parse_batch({"defaults": {"model": "mlp", "epochs": 1, "optimizer": "sgd"},
                                "runs": [{"problem": {"name": "digits", "normalize": n}} for n in (False, True)]})
    assert [r.name for r in batch.runs] == ["sgd_digits-normalizefalse_s0", "sgd_digits-normalizetrue_s0"]
    mixed = config.parse_batch({"runs": [{"problem": "material", "steps": 3, "optimizer": "sgd"},
                                         {"problem": "noisy_series", "average": "ewa"}]})
    assert [r.name for r in mixed.runs] == ["sgd_material_steps3_s0", "ewa_noisy_series_s0"]


@pytest.mark.parametrize("average,message", [
    ({"name": "ewa", "beta": 1.5}, "average: `beta` must be in [0, 1). Received: beta=1.5"),
    ({"name": "ewa", "bias_correction": "yes"}, "`average.bias_correction` must be true or false"),
    ({"name": "ewa", "alpha": 0.1}, "average: unknown argument(s) ['alpha']"),
])
def test_prepare_rejects_bad_averages_before_the_first_run(average, message):
    batch = config.parse_batch({"runs": [{"problem": "material", "steps": 3, "optimizer": "sgd"},
                                         {"problem": "noisy_series", "average": average}]})
    with pytest.raises(ConfigError) as error:
        planning.prepare(batch)
    assert "(runs[1]): " in str(error.value) and message in str(error.value)


def test_a_log_key_added_later_leaves_earlier_runs_fingerprints_as_they_were():
    """`log.pictures` came after runs had been finished: at its default a run's dict (what its
    fingerprint hashes) leaves it out, so those runs are still recognised and not redone."""
    def run(**log):
        return config.parse_batch({"batch": {"name": "b"}, "defaults": {"problem": "digits", "model": "mnist_mlp",
                                                                         "epochs": 1, "log": log},
                                   "runs": [{"optimizer": "sgd"}]}).runs[0]

    default, off = run(), run(pictures=False)
    assert default.log["pictures"] is True and "pictures" not in default.to_dict()["log"]
    assert off.to_dict()["log"]["pictures"] is False
    fields = {k: v for k, v in default.to_dict().items() if k in ("problem", "model", "optimizer", "epochs", "log")}
    assert config.Run.from_dict(fields).log["pictures"] is True
    assert set(default.to_dict()["log"]) == {"every_epochs", "every_steps", "histograms", "update_ratio",
                                             "decision_boundary", "step_losses"}  # as before log.pictures


def test_a_named_entrys_search_trials_are_numbered_like_unnamed_ones():
    batch = config.parse_batch({"search": {"trials": 3}, "runs": [{
        "problem": "digits", "model": "mnist_mlp", "steps": 1, "name": "digits_sgd", "seeds": [0, 1],
        "optimizer": {"name": "sgd"}, "space": {"optimizer.learning_rate": {"log_uniform": [1e-3, 1e-1]}}}]})
    assert [r.name for r in batch.runs] == [f"t{i:02d}_digits_sgd_s{s}" for i in range(3) for s in (0, 1)]
    assert [r.group for r in batch.runs] == [f"t{i:02d}_digits_sgd" for i in range(3) for _ in (0, 1)]
