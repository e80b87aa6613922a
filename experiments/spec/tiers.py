"""The benchmark's tiers and its protocol as a batch: what `python -m experiments benchmark`
runs (`benchmark_batch`), before anything is loaded.

The protocol, AlgoPerf's external tuning with DeepOBS's stored baselines:

* a tier is a few problems, each a problem, model, batch size and length (`TierProblem`);
* on each problem an optimizer gets `studies` independent studies of `trials` trials: study
  k samples its own `trials` points of the optimizer's search space (`experiments.spec.spaces`;
  random search, sampling seed (`seed`, its [[runs]] entry)) and trains every one with seed k,
  so study k gives every optimizer the same initial weights and batches;
* a study's result is its best trial by `METRIC` (the final validation loss: the test split
  stays held out); an optimizer's result on a problem is the median over its studies, of that
  trial's final numbers and of its steps and seconds to the problem's target on `METRIC`'s
  curve (`epoch_val_loss`). The target is the median of the baselines' results, so that the
  middle baseline just reaches it (AlgoPerf sets its targets from tuned baselines too);
* the baselines (`BASELINES`) run the same protocol with their default spaces, once: their
  results are stored (`experiments/baselines/`) and reused while the protocol and every run's
  fingerprint match.
"""

from __future__ import annotations

import dataclasses

from experiments.spec import config, plugins
from experiments.spec.validation import ConfigError, check_int, check_seed, lookup

#: The built-in baselines every benchmark compares with: name and the fixed arguments.
BASELINES = ({"name": "sgd"}, {"name": "momentum"}, {"name": "adam"})
#: What a study's best trial is chosen by, and the curve its target is set on.
METRIC = "validation_loss"
#: What every benchmark run logs: curves and the HParams session, not the weights' histograms.
LOG = {"histograms": False, "update_ratio": False, "decision_boundary": False, "pictures": False}


@dataclasses.dataclass(frozen=True)
class TierProblem:
    """One problem of a tier: `run` holds the [[runs]] fields (problem, model, batch size,
    length); `seconds`, a run's measured seconds on 2 cores (in a group), for the estimate."""

    name: str
    run: dict
    seconds: float
    about: str = ""


@dataclasses.dataclass(frozen=True)
class Tier:
    name: str
    about: str
    problems: tuple
    trials: int  # per study
    studies: int


_DIGITS_28 = {"name": "digits", "image_size": 28}
TIERS = {
    "smoke": Tier("smoke", "three small problems that ship offline, a few minutes on 2 cores: for trying "
                  "the protocol and for tests, not for conclusions", (
                      TierProblem("digits_mlp", {"problem": "digits", "model": "mnist_mlp", "batch_size": 128,
                                                 "steps": 200}, 0.35,
                                  "scikit-learn's digits (1,077 training images), the material's MNIST MLP"),
                      TierProblem("moons", {"problem": {"name": "moons", "validation": 0.2, "test": 0.2},
                                            "model": "moons_net", "batch_size": 64, "epochs": 200}, 0.15,
                                  "the material's moons (300 points) and its 3-layer net"),
                      TierProblem("quadratic_deep", {"problem": {"name": "quadratic_deep", "validation": 0.1},
                                                     "batch_size": 128, "epochs": 20}, 0.1,
                                  "DeepOBS's noisy quadratic, 100 dimensions"),
                  ), trials=4, studies=2),
    "small": Tier("small", "DeepOBS's small benchmark set (deepobs/config.py SMALL_TEST_SET) at its batch sizes "
                  "and epochs; offline, the image problems run on digits resized (as the deepobs_small batch)", (
                      TierProblem("quadratic_deep", {"problem": {"name": "quadratic_deep", "validation": 0.1},
                                                     "batch_size": 128, "epochs": 100}, 1.0),
                      TierProblem("mnist_vae", {"problem": {"name": "mnist", "fallback": _DIGITS_28}, "model": "vae",
                                                "batch_size": 64, "epochs": 50}, 146.0),
                      TierProblem("fmnist_2c2d", {"problem": {"name": "fashion_mnist", "fallback": _DIGITS_28},
                                                  "model": "2c2d", "batch_size": 128, "epochs": 100}, 69.0),
                      TierProblem("cifar10_3c3d", {"problem": {"name": "cifar10", "fallback": {
                          **_DIGITS_28, "image_size": 32, "channels": 3}}, "model": "3c3d", "batch_size": 128,
                          "epochs": 100}, 76.0),
                  ), trials=5, studies=2),
}


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A tier, its trials x studies, and the sampling seed: what makes stored baselines reusable."""

    tier: Tier
    trials: int
    studies: int
    seed: int = 0

    @classmethod
    def of(cls, tier, trials=None, studies=None, seed=0):
        tier = lookup("--tier", TIERS, tier)
        trials = tier.trials if trials is None else check_int("--trials", trials, minimum=1, maximum=1000)
        studies = tier.studies if studies is None else check_int("--studies", studies, minimum=1, maximum=100)
        return cls(tier, trials, studies, check_seed("--seed", seed))

    def describe(self):
        return {"tier": self.tier.name, "trials": self.trials, "studies": self.studies, "seed": self.seed,
                "metric": METRIC, "problems": {p.name: p.run for p in self.tier.problems}}

    def runs_per_optimizer(self):
        return len(self.tier.problems) * self.studies * self.trials

    def estimate_seconds(self, optimizers):
        """The tier's measured seconds per run (in a group, 2 cores) times the runs, plus start-up."""
        per = sum(p.seconds for p in self.tier.problems) * self.studies * self.trials
        return 25.0 + per * optimizers


def label(spec):
    """A batch-directory-safe label of an optimizer spec: `sgd`, `Fromage`."""
    return plugins.short_name(spec["name"]).replace(":", "_")


def benchmark_batch(protocol, optimizers, name):
    """The batch of `optimizers` [(spec, spaces.Space)] under `protocol`: one [[runs]] entry per
    optimizer, problem and study (seed = the study), `trials` random trials each."""
    runs = []
    for spec, space in optimizers:
        for problem in protocol.tier.problems:
            for study in range(protocol.studies):
                runs.append({**problem.run, "optimizer": dict(spec), "seeds": [study], "space": dict(space.space),
                             "name": f"{problem.name}_{label(spec)}"})  # t03_digits_mlp_sgd_s0
    data = {"batch": {"name": name, "reproduces": f"benchmark, tier {protocol.tier.name}: {protocol.tier.about}; "
                      f"{protocol.studies} studies x {protocol.trials} trials per optimizer and problem"},
            "defaults": {"log": dict(LOG)},
            "search": {"strategy": "random", "trials": protocol.trials, "seed": protocol.seed, "metric": METRIC},
            "runs": runs}
    try:
        return config.parse_batch(data, source=f"benchmark {name}", default_name=name)
    except ConfigError as error:
        raise ConfigError(f"benchmark {name}: {error}") from None


def locate(protocol, run):
    """(optimizer's position in the batch, TierProblem, study) of a run of `benchmark_batch`."""
    per_optimizer = len(protocol.tier.problems) * protocol.studies
    within = run.index % per_optimizer
    return run.index // per_optimizer, protocol.tier.problems[within // protocol.studies], within % protocol.studies
