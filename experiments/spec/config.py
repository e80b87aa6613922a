"""Runs and batches as data: TOML files, `--set` overrides, readable run names.

A batch file looks like this (see `experiments/batches/*.toml`):

    [batch]
    name = "moons"
    reproduces = "Deep Learning Specialization, course 2 (week 2): the moons experiment ..."
    runtime = "about 6 minutes on 2 cores"
    expected = "training accuracy near 0.80 / 0.80 / 0.94"

    [defaults]                      # merged into every run (tables one level deep)
    problem = "moons"
    model = "moons_net"
    batch_size = 64
    epochs = 10000
    optimizer = { learning_rate = 0.0007 }

    [[runs]]
    optimizer = { name = "sgd" }

    [[runs]]
    optimizer = { name = "adam" }

The fields of a run are those of `Run`. `problem`, `model`, `optimizer`,
`schedule` and `average` are a name or a table `{name = ..., **arguments}`.
Two more fields make several runs of one entry: `seeds = [0, 1, 2]` runs it
once per seed (and the batch adds a mean-over-seeds run), and `space = {...}`
makes it a hyperparameter search sampled as `[search]` says (`experiments.spec.search`).
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import tomllib

from experiments.spec import metrics, search
from experiments.spec.naming import name_runs
from experiments.spec.overrides import assign, merge, parse_assignment
from experiments.spec.validation import ConfigError, check_int, check_number, check_path_name, check_seed, lookup

BATCH_DIR = pathlib.Path(__file__).parents[1] / "batches"  # experiments/batches

#: How a run logs; every key can be set per run as `log = {...}`.
LOG_DEFAULTS = {
    "every_epochs": None,  # scalars and validation every N epochs; None: about 100 per run
    "every_steps": None,  # per-step scalars every N steps; None: off
    "histograms": True,  # weights and slots, about 20 times per run
    "update_ratio": True,
    "decision_boundary": True,  # for problems with two input features
    "step_losses": True,  # keep every step's loss for the batch's loss figure
    "pictures": True,  # a model's own: a VAE's reconstructions and samples
}

#: Log keys added after runs had been finished with the suite: a run's `to_dict` leaves them out
#: at their default, so that those runs keep their fingerprints (`store.fingerprints`) and are
#: not trained again.
LOG_ADDED = ("pictures",)


#: The most steps (or epochs) a run may ask for, and runs a batch may make: what could not
#: finish on any machine is refused up front rather than left running silently.
MAX_STEPS = 10**9
MAX_RUNS = 10_000


def _internal():
    return dataclasses.field(default=None, metadata={"internal": True})


#: Fields of a [[runs]] entry that make several runs out of it (see `Template`).
TEMPLATE_FIELDS = ("seeds", "space")


#: A dataset run's `dtype`s, and its `init` and `order` schemes with the arguments each takes.
DTYPES = ("float32", "float64")
INITS = {"keras": ("seed",), "numpy_he": ("seed",)}
ORDERS = {"stateless": (), "numpy_permutation": ("seed",), "numpy_choice": ("seed",), "sequential": ()}

#: A run's default `divergence_patience`: `callbacks.divergence.DEFAULT_PATIENCE` (the same
#: number, kept here so that reading a batch file does not import TensorFlow; a test checks).
DEFAULT_PATIENCE = 200


@dataclasses.dataclass
class Run:
    """One run: problem x model x optimizer x schedule x batch size x length x seed."""

    problem: dict
    optimizer: dict | None = None
    model: dict | None = None
    schedule: dict | None = None
    average: dict | None = None  # for `series` problems: {beta, bias_correction}
    batch_size: int | str = 64  # or "full"
    epochs: int | None = None
    steps: int | None = None
    seed: int = 0
    name: str | None = None
    log: dict = dataclasses.field(default_factory=dict)
    # Stop as diverged once the loss exceeds this times its lowest value (and its first);
    # NaN or infinite always stops. inf: only NaN or infinite.
    divergence_factor: float = 100.0
    # ... but a finite loss only once it has stayed that large for more than this many steps in a
    # row (dataset runs; a shorter stretch is a spike, counted); 0: at once.
    divergence_patience: int = DEFAULT_PATIENCE
    # Dataset runs: the number type of the weights and of the computation, "float32" or "float64".
    dtype: str = "float32"
    # How the weights start: "keras" (each layer's initializer, seeded by init.seed, default `seed`) or "numpy_he"
    # (each Dense layer in order: W = randn(out, in) * sqrt(2 / in) from NumPy's
    # RandomState(init.seed, default `seed`), biases 0: the course's `initialize_parameters_he`).
    init: dict = dataclasses.field(default_factory=lambda: {"name": "keras"})
    # The mini-batch order: "stateless" (each epoch's shuffle seeded by (seed, epoch)) or
    # "numpy_permutation" (epoch e: RandomState(order.seed + 1 + e).permutation(n), default seed
    # `seed`: the course's `random_mini_batches` with its seed raised every epoch), or "numpy_choice"
    # (every batch drawn with replacement, all full: the textbook's MNIST loop).
    order: dict = dataclasses.field(default_factory=lambda: {"name": "stateless"})
    # Set by the batch, not by users: where the run comes from.
    group: str | None = _internal()  # the name without the seed: runs that differ only by seed
    index: int | None = _internal()  # its [[runs]] entry in the batch file
    trial: dict | None = _internal()  # a search's sampled values, {dotted key: value}
    trial_id: int | None = _internal()
    round: int | None = _internal()  # search round, from 1

    @classmethod
    def fields(cls):
        """The fields a batch file or `--set` may give."""
        return [f.name for f in dataclasses.fields(cls) if not f.metadata.get("internal")]

    @classmethod
    def from_dict(cls, values, where="run"):
        values = dict(values)
        fields = set(cls.fields())
        for key in values:
            if key not in fields:
                lookup(f"field in {where}", dict.fromkeys(fields | set(TEMPLATE_FIELDS)), key)
                raise ConfigError(f"`{where}.{key}` belongs in a [[runs]] entry or [defaults] "
                                  f"of a batch file. Received: {key}={values[key]!r}")
        if "problem" not in values:
            raise ConfigError(f"{where}: `problem` is required. Received fields: {sorted(values)}")
        for key in ("problem", "optimizer", "model", "schedule", "average", "init", "order"):
            if values.get(key) is not None:
                values[key] = _named_table(f"{where}.{key}", values[key])
        log = values.get("log", {})
        if not isinstance(log, dict):
            raise ConfigError(f"`{where}.log` must be a table. Received: log={log!r}")
        for key in log:
            lookup(f"log setting in {where}", LOG_DEFAULTS, key)
        values["log"] = {**LOG_DEFAULTS, **log}
        run = cls(**values)
        run.check(where)
        return run

    def check(self, where="run"):
        if self.batch_size != "full":
            check_int(f"{where}.batch_size", self.batch_size, minimum=1)
        for key in ("epochs", "steps"):
            if getattr(self, key) is not None:
                check_int(f"{where}.{key}", getattr(self, key), minimum=1, maximum=MAX_STEPS)
        if self.epochs is not None and self.steps is not None:
            raise ConfigError(f"{where}: give `epochs` or `steps`, not both. "
                              f"Received: epochs={self.epochs}, steps={self.steps}")
        check_seed(f"{where}.seed", self.seed)
        check_number(f"{where}.divergence_factor", self.divergence_factor, allow_inf=True)
        if not self.divergence_factor > 1:
            raise ConfigError(f"`{where}.divergence_factor` must be > 1 (inf: stop only at NaN or inf). "
                              f"Received: divergence_factor={self.divergence_factor!r}")
        check_int(f"{where}.divergence_patience", self.divergence_patience, minimum=0, maximum=MAX_STEPS)
        if self.dtype not in DTYPES:
            raise ConfigError(f"`{where}.dtype` must be one of {', '.join(map(repr, DTYPES))}. "
                              f"Received: dtype={self.dtype!r}")
        for key, schemes in (("init", INITS), ("order", ORDERS)):
            spec = getattr(self, key)
            lookup(f"{key} scheme in {where}", schemes, spec["name"])
            for arg in spec:
                if arg not in ("name", *schemes[spec["name"]]):
                    raise ConfigError(f"Unknown argument of {key} {spec['name']!r} {arg!r}. "
                                      f"Known: {', '.join(schemes[spec['name']]) or 'none'}")
            if "seed" in spec:
                check_seed(f"{where}.{key}.seed", spec["seed"])
        if self.name is not None:
            check_path_name(f"{where}.name", self.name)
        for key in ("every_epochs", "every_steps"):
            if self.log[key] is not None:
                check_int(f"{where}.log.{key}", self.log[key], minimum=1)
        for key in ("histograms", "update_ratio", "decision_boundary", "step_losses", "pictures"):
            if not isinstance(self.log[key], bool):
                raise ConfigError(f"`{where}.log.{key}` must be true or false. "
                                  f"Received: {key}={self.log[key]!r}")

    def to_dict(self):
        out = dataclasses.asdict(self)
        for key in LOG_ADDED:
            if out["log"][key] == LOG_DEFAULTS[key]:
                del out["log"][key]
        return out


def _named_table(where, value):
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, dict):
        if not isinstance(value.get("name"), str):
            raise ConfigError(f"`{where}` needs a `name`. Received: {where}={value!r}")
        return dict(value)
    raise ConfigError(f"`{where}` must be a name or a table with a `name`. Received: {where}={value!r}")


@dataclasses.dataclass
class Template:
    """One [[runs]] entry, before its `seeds` and `space` make runs of it."""

    index: int
    values: dict  # the entry merged with [defaults] and --set, without seeds and space
    seeds: list | None = None
    dimensions: list = dataclasses.field(default_factory=list)  # search.Dimension, narrowed per round

    @classmethod
    def from_dict(cls, index, merged):
        where = f"runs[{index}]"
        values = dict(merged)
        space, seeds = values.pop("space", None), values.pop("seeds", None)
        if seeds is not None:
            if not isinstance(seeds, list) or not seeds:
                raise ConfigError(f"`{where}.seeds` must be a non-empty list of integers. Received: seeds={seeds!r}")
            for seed in seeds:
                check_seed(f"{where}.seeds", seed)
            if len(set(seeds)) != len(seeds):
                raise ConfigError(f"`{where}.seeds` lists a seed twice. Received: seeds={seeds!r}")
            if "seed" in values:
                raise ConfigError(f"{where}: give `seed` or `seeds`, not both. "
                                  f"Received: seed={values['seed']!r}, seeds={seeds!r}")
        dimensions = [] if space is None else search.parse_space(f"{where}.space", space, Run.fields())
        template = cls(index, values, seeds, dimensions)
        template.run(template.values, template.seed_list()[0])  # check what is not searched
        return template

    def seed_list(self):
        return self.seeds or [self.values.get("seed", 0)]

    def run(self, values, seed):
        run = Run.from_dict({**values, "seed": seed}, where=f"runs[{self.index}]")
        run.index = self.index
        if self.seeds and run.name:  # an explicit name, several seeds
            run.group, run.name = run.name, f"{run.name}_s{seed}"
        return run

    def with_values(self, trial):
        values = self.values
        for key, value in trial.items():
            values = assign(values, key.split("."), value)
        return values

    def runs(self, trials, round_index=None, first_id=0):
        """One run per trial and seed; `trials` are {dotted key: value} (one `{}` if no space)."""
        runs = []
        for k, trial in enumerate(trials):
            values = self.with_values(trial)
            if self.dimensions and values.get("name"):  # a named entry's trials: numbered as unnamed ones are
                values = {**values, "name": f"t{first_id + k:02d}_{values['name']}"}
            for seed in self.seed_list():
                run = self.run(values, seed)
                if self.dimensions:
                    run.trial, run.trial_id, run.round = dict(trial), first_id + k, round_index
                runs.append(run)
        return runs

    def corners(self):
        """(description, run) at each end of each searched range: checked before anything trains."""
        probes = []
        for dimension in self.dimensions:
            for value in dimension.corners():
                where = f"runs[{self.index}].space.{dimension.key} = {value!r}"
                try:
                    probes.append((where, self.run(self.with_values({dimension.key: value}),
                                                   self.seed_list()[0])))
                except ConfigError as error:
                    raise ConfigError(f"{where}: {error}") from None
        return probes


@dataclasses.dataclass
class Batch:
    """A list of runs plus what they reproduce, how long they take, what to expect.

    A batch with a search also keeps its `templates` (to sample the next
    round from) and `probes` (each searched range's ends, checked up front);
    `runs` is then its first round.
    """

    name: str
    runs: list[Run]
    reproduces: str = ""
    runtime: str = ""
    expected: str = ""
    source: str = "python"
    search: search.Search | None = None
    templates: list[Template] = dataclasses.field(default_factory=list)
    probes: list = dataclasses.field(default_factory=list)
    targets: dict = dataclasses.field(default_factory=dict)  # {metric: value} its report times to
    overrides: tuple = ()  # the `--set` assignments applied to it, as given
    overridden: frozenset = frozenset()  # the fields they set (each one's first key)

    def changed_fields(self):
        """The fields `overrides` change, beyond those that leave the batch the experiment its
        header describes (`seeds`, more of the same; `log`, what is written)."""
        return sorted(self.overridden - {"seeds", "log"})

    def describe_runs(self):
        """What the batch runs, in a line: how many runs, how long, which seeds."""
        lengths = sorted({f"{r.steps} steps" if r.steps is not None else f"{r.epochs} epochs" for r in self.runs})
        seeds = sorted({r.seed for r in self.runs})
        return (f"{len(self.runs)} run(s), {' or '.join(lengths)} each, seed(s) {', '.join(map(str, seeds))}"
                + (" (the search's first round)" if self.search else ""))

    def header(self):
        return {"name": self.name, "reproduces": self.reproduces, "runtime": self.runtime,
                "expected": self.expected, "source": self.source, "targets": self.targets}

    def round(self, round_index, first_id):
        """Sample round `round_index` of every searched template (the first: `runs`)."""
        runs = []
        for template in self.templates:
            if template.dimensions:
                trials = self.search.sample(template.dimensions, template.index, round_index)
                runs += template.runs(trials, round_index, first_id)
                first_id += len(trials)
            elif round_index == 1:
                runs += template.runs([{}])
        return name_runs(runs)


def builtin_batches():
    """name -> path of the batches that ship with the suite."""
    return {path.stem: path for path in sorted(BATCH_DIR.glob("*.toml"))}


def load_batch(name_or_path, overrides=()):
    """Read a built-in batch by name, or a TOML file by path; apply `--set` overrides."""
    path = pathlib.Path(name_or_path)
    if not (path.suffix == ".toml" or path.is_file()):  # a folder named `moons` is not the batch
        path = lookup("batch", builtin_batches(), name_or_path)
    if not path.is_file():
        raise ConfigError(f"batch file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read batch file {str(path)!r}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"batch file {str(path)!r} is not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"batch file {str(path)!r} nests arrays or tables too deeply to read") from None
    return parse_batch(data, source=str(path), default_name=path.stem, overrides=overrides)


def parse_batch(data, source="python", default_name="batch", overrides=()):
    for key in data:
        lookup("section in batch file", {"batch": 0, "defaults": 0, "runs": 0, "search": 0}, key)
    for key in ("batch", "defaults", "search"):
        if key in data and not isinstance(data[key], dict):
            raise ConfigError(f"`{key}` must be a table, [{key}]. Received: {key}={data[key]!r}")
    raw_runs = data.get("runs", [])
    if not isinstance(raw_runs, list) or not all(isinstance(run, dict) for run in raw_runs):
        raise ConfigError(f"`runs` must be an array of tables, [[runs]]. Received: runs={raw_runs!r}")
    header = data.get("batch", {})
    for key in header:
        lookup("key in [batch]", {"name": 0, "reproduces": 0, "runtime": 0, "expected": 0, "targets": 0}, key)
    name = check_path_name("batch.name", header.get("name", default_name))
    defaults = data.get("defaults", {})
    if not raw_runs:
        raise ConfigError(f"{source}: a batch needs at least one [[runs]] entry")
    assignments = [parse_assignment(text, Run.fields() + list(TEMPLATE_FIELDS)) for text in overrides]
    templates = []
    for i, raw in enumerate(raw_runs):
        merged = merge(defaults, raw)
        for keys, value in assignments:
            merged = assign(merged, keys, value, where=f"--set {'.'.join(keys)}")
        templates.append(Template.from_dict(i, merged))
    searched = any(t.dimensions for t in templates)
    if "search" in data and not searched:
        raise ConfigError(f"{source}: [search] needs a `space` in [defaults] or a [[runs]] entry")
    search_plan = search.Search.from_dict(data.get("search")) if searched else None
    batch = Batch(name, [], header.get("reproduces", ""), header.get("runtime", ""),
                  header.get("expected", ""), source, search_plan, templates)
    batch.probes = [probe for t in templates for probe in t.corners()]
    batch.targets = metrics.check_targets(header.get("targets", {}), "batch.targets")
    planned = sum(len(t.seed_list()) * (search_plan.count(t.dimensions) if t.dimensions else 1) for t in templates)
    if planned > MAX_RUNS:  # before sampling: a billion trials would hold gigabytes for minutes
        received = (f"strategy={search_plan.strategy}, trials={search_plan.trials}, points={search_plan.points}"
                    if search_plan else f"{len(templates)} [[runs]] entries")
        raise ConfigError(f"{source}: the batch makes {planned} runs (each [[runs]] entry's trials x its "
                          f"seeds), more than {MAX_RUNS} can finish. Received: {received}")
    batch.runs = batch.round(1, first_id=0)
    batch.overrides = tuple(overrides)
    batch.overridden = frozenset(keys[0] for keys, _ in assignments)
    return batch


def steps_per_epoch(run, train_size):
    size = train_size if run.batch_size == "full" else min(run.batch_size, train_size)
    return math.ceil(train_size / size)
