"""Executors: run a list of configs with a runner, one after another here, or as Ray tasks.

    for finished in executor.run(runner_name, configs, ensemble_size=10):
        for index, outcome in finished: ...

Each item is one group's outcomes, which finish together: (index, outcome) pairs, an
outcome being the run directory or a Failure. With ensemble_size > 1, configs that
differ only in their seeds train together as seed ensembles of up to that many
(ensemble/grouping.py); each still gets its own run directory and outcome. Finished runs are not given to the
executor (the sweep skips them), and every run resumes from its own checkpoint, so
a retried or rerun run continues where it stopped.

local: in this process, datasets loaded once. No extra dependency.
ray:   each run is one Ray task in its own worker process (max_calls=1: TensorFlow
       keeps process-wide state such as op determinism and its thread pools),
       with cpus_per_run / gpus_per_run (fractions allowed) reserved for it and
       TensorFlow's thread pools sized to its CPUs. A worker that dies (killed,
       out of memory, node lost) is retried by Ray up to max_retries times and the
       run resumes from its last checkpoint; an exception inside a run is not
       retried, it is recorded.
"""
import dataclasses
import math
import os
import traceback
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from keras_initstudy import errors, runners  # no TensorFlow
from keras_initstudy.ensemble import grouping  # no TensorFlow


@dataclasses.dataclass(frozen=True)
class Failure:
    error: str  # one line: 'DataError: ...'
    traceback: str


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".splitlines()[0]


def run_one(runner_name: str, cfg, dataset=None) -> str:
    """Trains one config with the named runner and runs its after_run step."""
    runner = runners.get(runner_name)
    run_dir = runner.run(cfg, verbose=0, dataset=dataset)
    if runner.after_run is not None:
        runner.after_run(run_dir)
    return run_dir


def _failure(e: BaseException) -> Failure:
    return Failure(_one_line(e), "".join(traceback.format_exception(e)))


def run_group(runner_name: str, cfgs: Sequence, dataset=None) -> List[Union[str, Failure]]:
    """One outcome per config: a single config runs alone, several as one seed ensemble
    (whose after_run steps follow, member by member). Never raises: errors become Failures."""
    if len(cfgs) == 1:
        try:
            return [run_one(runner_name, cfgs[0], dataset)]
        except Exception as e:  # record and go on: one bad run must not end a long sweep
            return [_failure(e)]
    try:
        outcomes = runners.get(runner_name).run_all(cfgs, verbose=0, dataset=dataset)
    except Exception as e:  # the whole ensemble stopped: every member failed with it
        return [_failure(e)] * len(cfgs)
    after_run = runners.get(runner_name).after_run
    found = []
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            found.append(_failure(outcome))
            continue
        try:
            if after_run is not None:
                after_run(outcome)
            found.append(outcome)
        except Exception as e:
            found.append(_failure(e))
    return found


class LocalExecutor:
    def run(self, runner_name: str, configs: Sequence,
            ensemble_size: int = 1) -> Iterator[List[Tuple[int, Union[str, Failure]]]]:
        import keras
        from keras_initstudy import datasets
        loaded = {}
        for group in grouping.groups(configs, ensemble_size, runners.ensembles(runner_name)):
            cfg = configs[group[0]]
            try:
                key = (cfg.data.dataset, cfg.data.data_dir)
                if key not in loaded:
                    loaded[key] = datasets.load(cfg.data.dataset, cfg.data.data_dir, cfg.data.download)
                outcomes = run_group(runner_name, [configs[i] for i in group], loaded[key])
            except Exception as e:  # the dataset did not load: record and go on
                outcomes = [_failure(e)] * len(group)
            finally:
                keras.backend.clear_session()
            yield list(zip(group, outcomes))


TASK_NAME = "keras_initstudy_run"  # also the worker's process title while it runs: ray::keras_initstudy_run


def _ray_task(runner_name: str, cfgs, threads: int) -> List[Union[str, Failure]]:
    """Body of a Ray task, in a fresh worker process: size TensorFlow's pools, then run
    one config, or several as one seed ensemble."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    if len(cfgs) == 1:
        return [run_one(runner_name, cfgs[0])]  # its exception is Ray's to report
    return run_group(runner_name, cfgs)


class RayExecutor:
    """address: None starts a local Ray runtime (num_cpus: its size, default all CPUs);
    'auto' or 'ray://host:port' joins an existing cluster."""

    def __init__(self, address: Optional[str] = None, cpus_per_run: float = 1.0, gpus_per_run: float = 0.0,
                 max_retries: int = 3, num_cpus: Optional[int] = None):
        try:
            import ray
        except ImportError:
            raise errors.UserError("--executor=ray needs Ray: pip install \".[ray]\"") from None
        self.ray = ray
        self.cpus_per_run = cpus_per_run
        self.gpus_per_run = gpus_per_run
        self.max_retries = max_retries
        if not ray.is_initialized():
            kwargs = dict(address=address, log_to_driver=False, include_dashboard=False,
                          runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"}})
            if address is None and num_cpus is not None:
                kwargs["num_cpus"] = num_cpus
            ray.init(**kwargs)

    def run(self, runner_name: str, configs: Sequence,
            ensemble_size: int = 1) -> Iterator[List[Tuple[int, Union[str, Failure]]]]:
        ray = self.ray
        task = ray.remote(max_calls=1)(_ray_task).options(  # max_calls=1: a fresh worker process per run
            num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run,
            max_retries=self.max_retries, retry_exceptions=False, name=TASK_NAME)
        threads = max(1, math.floor(self.cpus_per_run))
        pending = {task.remote(runner_name, [configs[i] for i in group], threads): group
                   for group in grouping.groups(configs, ensemble_size, runners.ensembles(runner_name))}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            group = pending.pop(done[0])
            try:
                outcomes = ray.get(done[0])
            except Exception as e:  # RayTaskError wraps the run's own exception; WorkerCrashedError: retries spent
                cause = getattr(e, "cause", None) or e
                outcomes = [Failure(_one_line(cause), str(e))] * len(group)
            yield list(zip(group, outcomes))


def make(name: str, **kwargs) -> Union[LocalExecutor, RayExecutor]:
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(**kwargs)
    raise errors.UserError(f"unknown executor {name!r}; valid: local, ray")


def absolute_paths(configs: List) -> List:
    """Configs with output_dir and data_dir made absolute, so that workers whose
    current directory differs write and read the same places."""
    out = []
    for cfg in configs:
        changes = {"output_dir": os.path.abspath(cfg.run.output_dir)}
        if cfg.data.data_dir:
            changes["data_dir"] = os.path.abspath(cfg.data.data_dir)
        out.append(cfg.replace(**changes))
    return out
