"""The run directory: one folder per run, one object that owns every path in it, every
file written atomically.

    run_dir = rundir.path_for(cfg)            # a RunDir: a str with the run's paths
    run_dir.history                           # <run>/history.csv
    run_dir.round(2).branch("init").mask      # <run>/round-02/branches/init/mask.npz

No path inside a run directory is assembled anywhere else: writers, readers, tools and
analysis ask the RunDir. Layout:
    flags.txt, config.json   the resolved settings (flags.txt works with --flagfile)
    environment.json         device, versions, op determinism and symmetry-breaking mechanism
    data.json                the examples each split holds
    history.csv              one row per completed epoch
    checkpoint/              the state an interrupted run resumes from
    snapshots/epoch-N.npz    every kernel and bias after N epochs (0 = initial weights);
                             step-N.npz after N updates, for steps between epoch ends
    savepoints/step-N.*      complete state (weights, optimizer) kept for rewinding
    rmsd_steps.csv           RMSD every K optimizer steps, when asked for
    gradients.csv            gradient quantiles, when asked for
    telemetry.csv, telemetry_final.csv, telemetry/   paper 004's early-phase telemetry
    tb/                      TensorBoard events (tb/weights/: weight images; tb/NAME/: step logs)
    model.keras              the final model
    summary.json             final and best test accuracy (analysis/summary.py)
    fits.csv                 paper 000's final-vs-initial fits, cached once DONE
    LOCK                     held (fcntl.flock) by the one process writing the run; names it
    DONE                     written last; its presence means the run is complete
A pruning run (pruning/rounds.py) adds rounds and branches, each a run directory itself:
    round-NN/                mask.npz, final.npz, round.json, NAME.weights.h5 + NAME.json
                             (optimizer state kept between rounds), and a run's files
    round-NN/branches/NAME/  one re-initialised training on round NN's mask
    pretrain/                task.json, final.npz: the altered-task pre-training
                             (round-NN/pretrain/ when sparse)
    summary.csv, .parquet    one row per round and branch
"""
import contextlib
import csv
import datetime
import fcntl
import io
import json
import os
import socket
import tempfile
from typing import Any, Dict, Iterator, List, Mapping, Optional

import numpy as np

from keras_initstudy import errors

TEMPORARY_PREFIX = ".tmp-"


class RunDir(str):
    """A run directory's path (a str, so it goes wherever a path goes) with every path inside it."""

    def _join(self, *parts: str) -> str:
        return os.path.join(self, *parts)

    # -- settings and records --------------------------------------------------------------------
    flags = property(lambda self: self._join("flags.txt"), doc="the resolved flags, for --flagfile")
    config = property(lambda self: self._join("config.json"), doc="the resolved settings, nested")
    environment = property(lambda self: self._join("environment.json"), doc="device, versions, determinism")
    data_sizes = property(lambda self: self._join("data.json"), doc="the examples each split holds")
    history = property(lambda self: self._join("history.csv"), doc="one row per completed epoch")
    rmsd_steps = property(lambda self: self._join("rmsd_steps.csv"), doc="RMSD every K steps")
    gradients = property(lambda self: self._join("gradients.csv"), doc="gradient quantiles")
    model = property(lambda self: self._join("model.keras"), doc="the final model")
    summary = property(lambda self: self._join("summary.json"), doc="final and best test accuracy")
    fits = property(lambda self: self._join("fits.csv"), doc="final-vs-initial fits (paper 000)")
    done = property(lambda self: self._join("DONE"), doc="written last")
    lock = property(lambda self: self._join("LOCK"), doc="held by the one writer")

    # -- training state ---------------------------------------------------------------------------
    checkpoints = property(lambda self: self._join("checkpoint"), doc="what an interrupted run resumes from")
    save_points = property(lambda self: self._join("savepoints"), doc="complete states kept for rewinding")
    tensorboard = property(lambda self: self._join("tb"), doc="TensorBoard events")
    snapshots = property(lambda self: self._join("snapshots"), doc="weights at scheduled steps")

    def tensorboard_run(self, name: str) -> str:
        """A TensorBoard run of its own under tb/ (weight images, step logs)."""
        return os.path.join(self.tensorboard, name)

    def state_weights(self, name: str) -> str:
        """A named complete state's weights (training_state.py)."""
        return self._join(f"{name}.weights.h5")

    def state_index(self, name: str) -> str:
        """A named complete state's index, written once its weights are complete."""
        return self._join(f"{name}.json")

    def state_names(self, prefix: str = "") -> List[str]:
        """The complete states kept here (those with an index) whose names start with `prefix`."""
        if not os.path.isdir(self):
            return []
        return sorted(n[:-len(".json")] for n in os.listdir(self) if n.startswith(prefix) and n.endswith(".json"))

    def snapshot(self, epoch: int) -> str:
        return os.path.join(self.snapshots, f"epoch-{epoch:05d}.npz")

    def snapshot_at(self, step) -> str:
        """A steps.Step's snapshot: epoch-NNNNN.npz at an epoch end, step-NNNNNNNNN.npz between."""
        if step.at_epoch_end:
            return self.snapshot(step.epoch)
        return os.path.join(self.snapshots, f"step-{step.iteration:09d}.npz")

    def snapshot_epochs(self) -> List[int]:
        """The epochs that have a snapshot file, ascending."""
        return _numbered(self.snapshots, "epoch-", ".npz")

    # -- early-phase telemetry (paper 004 Fig. 3) -------------------------------------------------
    telemetry = property(lambda self: self._join("telemetry.csv"), doc="telemetry rows by step")
    telemetry_final = property(lambda self: self._join("telemetry_final.csv"), doc="distances to the final weights")
    telemetry_dir = property(lambda self: self._join("telemetry"), doc="the telemetry's working files")
    telemetry_states = property(lambda self: self._join("telemetry", "states"), doc="kernels kept for the end")
    telemetry_initial = property(lambda self: self._join("telemetry", "initial.npy"), doc="w(0), flattened")

    def telemetry_state(self, step: int) -> str:
        return os.path.join(self.telemetry_states, f"step-{step}.npy")

    def telemetry_state_steps(self) -> List[int]:
        """The steps whose kernels the telemetry keeps, ascending."""
        return _numbered(self.telemetry_states, "step-", ".npy")

    # -- pruning: rounds, branches, pre-training --------------------------------------------------
    mask = property(lambda self: self._join("mask.npz"), doc="a round's pruning mask")
    final_weights = property(lambda self: self._join("final.npz"), doc="every weight at the end")
    round_record = property(lambda self: self._join("round.json"), doc="what the summary reports of a round")
    task = property(lambda self: self._join("task.json"), doc="a pre-training's altered task")
    summary_table = property(lambda self: self._join("summary"), doc="prefix of summary.csv and .parquet")

    def round(self, r: int) -> "RunDir":
        """Round r of a pruning run."""
        return RunDir(self._join(f"round-{r:02d}"))

    def branch(self, name: str) -> "RunDir":
        """Branch NAME of this round."""
        return RunDir(self._join("branches", name))

    def branch_names(self) -> List[str]:
        """This round's branches that have a directory, sorted."""
        folder = self._join("branches")
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []

    def pretraining(self, r: int = 0) -> "RunDir":
        """The pre-training of round r: <run>/pretrain/ for round 0, round-NN/pretrain/ when sparse."""
        return RunDir(os.path.join(self if r == 0 else self.round(r), "pretrain"))

    # -- completion --------------------------------------------------------------------------------
    def is_done(self) -> bool:
        return os.path.exists(self.done)

    def mark_done(self) -> None:
        write_text(self.done, "")

    def clear_done(self) -> None:
        """Marks a finished run unfinished again (a pruning run given new branches)."""
        if os.path.exists(self.done):
            os.remove(self.done)


def _numbered(folder: str, prefix: str, suffix: str) -> List[int]:
    """N of every file <prefix>N<suffix> in folder (its writer's names only), ascending."""
    if not os.path.isdir(folder):
        return []
    return sorted(int(n[len(prefix):-len(suffix)]) for n in os.listdir(folder)
                  if n.startswith(prefix) and n.endswith(suffix) and n[len(prefix):-len(suffix)].isdigit())


def at(path: str) -> RunDir:
    """The RunDir of a path (itself when it is one)."""
    return path if isinstance(path, RunDir) else RunDir(path)


def path_for(cfg) -> RunDir:
    """<output_dir>/<run name> of an ExperimentConfig."""
    return RunDir(os.path.join(cfg.run.output_dir, cfg.run_name()))


def runs_in(output_dir: str) -> List[RunDir]:
    """Run directories (those with config.json) directly under output_dir, sorted."""
    if not os.path.isdir(output_dir):
        return []
    return sorted(RunDir(os.path.join(output_dir, n)) for n in os.listdir(output_dir)
                  if os.path.exists(RunDir(os.path.join(output_dir, n)).config))


def output_file(output_dir: str, name: str) -> str:
    """A file of an output folder's own, beside its run directories (a sweep's table, a comparison)."""
    return os.path.join(output_dir, name)


def file_mode() -> int:
    """The mode the umask gives a newly created file (0o644 under umask 022), read
    without changing the umask (which other threads may be relying on)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no /proc: the classic read-and-restore
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary path beside `path`; renames it onto `path` on success.

    The temporary name keeps `path`'s file name as its suffix, so writers that
    check extensions (Keras's `.keras`, `.weights.h5`) accept it. Readers never
    see a half-written file: a crash leaves only a stray temporary (a resumed
    run removes its own: remove_stale_temporaries). The file gets the mode the
    umask gives any new file, not mkstemp's 0600. An OS error (disk full, ...)
    names `path` when the writer did not say which file failed.
    """
    directory, name = os.path.split(path)
    os.makedirs(directory or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix="-" + name, dir=directory or ".")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except OSError as e:
        if e.filename and e.filename != tmp:
            raise
        raise OSError(e.errno, e.strerror or str(e), path) from e
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def remove_stale_temporaries(run_dir: str) -> int:
    """Deletes the temporaries a killed writer left anywhere under run_dir (call only
    while holding the run's lock: then no other writer's temporary can be there)."""
    removed = 0
    for folder, _, files in os.walk(run_dir):
        for name in files:
            if name.startswith(TEMPORARY_PREFIX):
                os.remove(os.path.join(folder, name))
                removed += 1
    return removed


class RunInProgress(errors.UserError):
    """Another process holds the run directory's lock."""


@contextlib.contextmanager
def writer_lock(run_dir: str, wait: bool = False) -> Iterator[None]:
    """Holds the exclusive lock of run_dir (run_dir/LOCK): one writer per run directory."""
    with exclusive_lock(at(run_dir).lock, run_dir, wait):
        yield


@contextlib.contextmanager
def exclusive_lock(lock_file: str, what: str, wait: bool = False) -> Iterator[None]:
    """Holds an exclusive OS lock (fcntl.flock) on lock_file while `what` is written.

    The lock ends with its process, however that process ends; NFS v4 and most
    shared file systems honour it across hosts. The file records the holder (host,
    PID, start) for the message the next process gives: RunInProgress, or with
    `wait` a one-line notice and a wait. The file itself stays (removing it would
    let a waiting process and a new one lock two different files).
    """
    os.makedirs(os.path.dirname(lock_file) or ".", exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd) or "another process"
            if not wait:
                raise RunInProgress(f"{what} is being written by {holder}; rerun when it has finished, or "
                                    "pass --wait_for_lock to wait for it") from None
            print(f"waiting for {holder} to finish writing {what}", flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        started = datetime.datetime.now().isoformat(timespec="seconds")
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _read_holder(fd: int) -> Optional[str]:
    try:
        return os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or None
    except OSError:
        return None


def write_text(path: str, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_rows(path: str, rows) -> None:
    """A CSV of dict rows; the columns are every key, in order of first appearance."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for r in rows for k in r)), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, out.getvalue())


def write_npz(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Named arrays as a compressed .npz (snapshots, masks, round weights), written atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object keeps numpy from appending .npz
            np.savez_compressed(f, **arrays)


def read_npz(path: str) -> Dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def write_table(frame, prefix: str) -> None:
    """A pandas table as <prefix>.csv and <prefix>.parquet, each written atomically."""
    write_text(prefix + ".csv", frame.to_csv(index=False))
    with atomic_path(prefix + ".parquet") as tmp:
        frame.to_parquet(tmp, index=False)


def write_json(path: str, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_settings(run_dir: str, cfg) -> None:
    """flags.txt (for --flagfile) and config.json (nested, for analysis)."""
    run_dir = at(run_dir)
    write_text(run_dir.flags, "\n".join(cfg.to_flag_lines()) + "\n")
    write_json(run_dir.config, {
        "run_name": cfg.run_name(),
        "hash_version": cfg.hash_version,
        "non_default": cfg.non_default_identity(),
        **cfg.nested(),
    })
