"""Where a batch's runs execute: one after another here, or on Ray.

    with Pool() as pool: ...                      # in this process ("Panda")
    with Pool(workers=2) as pool: ...             # a new local Ray instance, 2 runs at once ("Caviar")
    with Pool(address="auto") as pool: ...        # an existing Ray cluster ("ray://host:10001" too)

`pool.map(jobs, groups)` yields `(index, Result)` as runs finish. Each group
of runs that train together (`planning.groups`) is one unit of work: on Ray one
task (`num_cpus=1`, no retries) in a worker process, so a group that
crashes its process or is killed for memory is reported as failed with
Ray's reason, and the other groups go on. Workers write the events straight
into the run's directory: on a cluster, `--logdir` must be a path that
every node sees (a shared filesystem), and the suite must be installed
on every node (README, "Running on a Ray cluster").
"""

from __future__ import annotations

import dataclasses
import logging
import os

from experiments.spec.validation import ConfigError, check_int
from experiments.store import files

#: Local Ray workers: each is a process running one run; more than this is a typo.
MAX_WORKERS = 1024


def check(workers=None, address=None):
    """Refuse bad `--workers`/`--address`, or Ray missing, before anything trains."""
    if workers is not None:
        check_int("--workers", workers, minimum=1, maximum=MAX_WORKERS)
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ConfigError(f"`--address` must be `auto` or `ray://host:port`. Received: {address!r}")
    if workers is not None or address is not None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError("--workers and --address run the batch on Ray, which is not installed: "
                              "pip install -e \".[ray]\"") from None


def _threads(count):
    """Give TensorFlow `count` threads in this process (only possible before its first op)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(count)
        tf.config.threading.set_inter_op_parallelism_threads(count)
    except RuntimeError:  # TensorFlow already ran something in this worker: keep its setting
        pass


def _in_worker(jobs, problem_data, threads):
    from experiments.engine import startup

    startup.quiet_tensorflow()
    from experiments.engine import executor

    _threads(threads)
    for job in jobs:
        job.problem_data = problem_data
    # its own ProgramCache, dropped at its end: the next task has its own copy of the data, so
    # it could not restart this task's program
    return executor.execute_group(jobs)


class Pool:
    """Executes jobs here (no workers, no address) or as Ray tasks."""

    def __init__(self, workers=None, address=None):
        check(workers, address)
        self.workers, self.address = workers, address
        self.local = workers is None and address is None
        self._started_ray = False
        self.programs = None  # here: the batch's `programs.ProgramCache`, made at the first group

    def __enter__(self):
        if self.local:
            return self
        import ray

        if not ray.is_initialized():
            options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                           runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"}})
            try:
                if self.address is not None:
                    ray.init(address=self.address, **options)
                else:  # "local": a new instance of our own, whatever cluster RAY_ADDRESS or
                    # /tmp/ray/ray_current_cluster names (ray.init() alone would join that one)
                    ray.init(address="local", num_cpus=self.workers, **options)
            except (ConnectionError, ValueError, RuntimeError) as error:
                raise ConfigError(f"cannot start Ray (address={self.address!r}, "
                                  f"workers={self.workers!r}): {error}") from None
            self._started_ray = True
        self._task = ray.remote(num_cpus=1, max_retries=0)(_in_worker)
        return self

    def __exit__(self, *exc):
        self.programs = None  # the last program, its models and its graph freed
        if self._started_ray:
            import ray

            ray.shutdown()
        return False

    def threads_per_run(self):
        if self.address is not None:
            return 1
        return max(1, (os.cpu_count() or 1) // self.workers)

    def map(self, jobs, groups=None):
        """Yield `(index, Result)` for every job, group by group (`groups`: lists of indices into
        `jobs`; default one group per job), in the order the groups finish."""
        from experiments.engine import executor

        groups = [[i] for i in range(len(jobs))] if groups is None else groups
        if self.local:
            if self.programs is None:
                from experiments.engine.programs import ProgramCache

                self.programs = ProgramCache()
            for group in groups:
                yield from zip(group, executor.execute_group([jobs[i] for i in group], self.programs))
            return
        import ray

        shared = {}  # one copy of each problem's data in Ray's object store
        pending = {}
        for group in groups:
            key = id(jobs[group[0]].problem_data)
            if key not in shared:
                shared[key] = ray.put(jobs[group[0]].problem_data)
            # an absolute path: a worker on another node does not share our working directory
            light = [dataclasses.replace(jobs[i], problem_data=None, directory=jobs[i].directory.resolve(),
                                         progress=False, keras_verbose=False) for i in group]
            pending[self._task.remote(light, shared[key], self.threads_per_run())] = group
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            group = pending.pop(done[0])
            try:
                yield from zip(group, ray.get(done[0]))
            except ray.exceptions.RayError as error:  # the worker died: a crash, or out of memory
                for i in group:
                    job = jobs[i]
                    fault = files.disk_fault(error, job.directory)
                    if fault is not None:  # the disk, not the run: stop the batch
                        raise fault from None
                    reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                    files.write(job.directory / "error.txt", f"{type(error).__name__}: {error}\n")
                    executor.close_failed(job)
                    yield i, executor.failed(job, f"{type(error).__name__}: {reason}")
