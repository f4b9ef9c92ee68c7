"""The run directory: one folder per run, every file written atomically.

Layout (one function per path, so readers and writers agree):
    flags.txt, config.json   the resolved settings (flags.txt works with --flagfile)
    environment.json         device, versions, op determinism and symmetry-breaking mechanism
    history.csv              one row per completed epoch
    checkpoint/              the state an interrupted run resumes from
    snapshots/epoch-N.npz    every kernel and bias after N epochs (0 = initial weights);
                             step-N.npz after N updates, for steps between epoch ends
    savepoints/step-N.*      complete state (weights, optimizer) kept for rewinding
    rmsd_steps.csv           RMSD every K optimizer steps, when asked for
    tb/                      TensorBoard events
    model.keras              the final model
    summary.json             final and best test accuracy (analysis/summary.py)
    LOCK                     held (fcntl.flock) by the one process writing the run; names it
    DONE                     written last; its presence means the run is complete
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
from typing import Any, Dict, Iterator, Mapping, Optional

import numpy as np

from keras_initstudy import errors

TEMPORARY_PREFIX = ".tmp-"


def path_for(cfg) -> str:
    """<output_dir>/<run name> of an ExperimentConfig."""
    return os.path.join(cfg.run.output_dir, cfg.run_name())


def flags_path(run_dir: str) -> str:
    return os.path.join(run_dir, "flags.txt")


def config_path(run_dir: str) -> str:
    return os.path.join(run_dir, "config.json")


def environment_path(run_dir: str) -> str:
    return os.path.join(run_dir, "environment.json")


def history_path(run_dir: str) -> str:
    return os.path.join(run_dir, "history.csv")


def checkpoint_dir(run_dir: str) -> str:
    return os.path.join(run_dir, "checkpoint")


def tensorboard_dir(run_dir: str) -> str:
    return os.path.join(run_dir, "tb")


def snapshot_dir(run_dir: str) -> str:
    return os.path.join(run_dir, "snapshots")


def snapshot_path(run_dir: str, epoch: int) -> str:
    return os.path.join(snapshot_dir(run_dir), f"epoch-{epoch:05d}.npz")


def snapshot_path_for(run_dir: str, step) -> str:
    """A steps.Step's snapshot: epoch-NNNNN.npz at an epoch end, step-NNNNNNNNN.npz between."""
    if step.at_epoch_end:
        return snapshot_path(run_dir, step.epoch)
    return os.path.join(snapshot_dir(run_dir), f"step-{step.iteration:09d}.npz")


def snapshot_epochs(run_dir: str) -> list:
    """The epochs that have a snapshot file, ascending."""
    folder = snapshot_dir(run_dir)
    if not os.path.isdir(folder):
        return []
    return sorted(int(n[len("epoch-"):-len(".npz")]) for n in os.listdir(folder)
                  if n.startswith("epoch-") and n.endswith(".npz"))


def save_point_dir(run_dir: str) -> str:
    return os.path.join(run_dir, "savepoints")


def rmsd_steps_path(run_dir: str) -> str:
    return os.path.join(run_dir, "rmsd_steps.csv")


def model_path(run_dir: str) -> str:
    return os.path.join(run_dir, "model.keras")


def data_sizes_path(run_dir: str) -> str:
    return os.path.join(run_dir, "data.json")


def summary_path(run_dir: str) -> str:
    return os.path.join(run_dir, "summary.json")


def done_path(run_dir: str) -> str:
    return os.path.join(run_dir, "DONE")


def is_done(run_dir: str) -> bool:
    return os.path.exists(done_path(run_dir))


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


def lock_path(run_dir: str) -> str:
    return os.path.join(run_dir, "LOCK")


class RunInProgress(errors.UserError):
    """Another process holds the run directory's lock."""


@contextlib.contextmanager
def writer_lock(run_dir: str, wait: bool = False) -> Iterator[None]:
    """Holds the exclusive lock of run_dir (run_dir/LOCK): one writer per run directory."""
    with exclusive_lock(lock_path(run_dir), run_dir, wait):
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
    write_text(flags_path(run_dir), "\n".join(cfg.to_flag_lines()) + "\n")
    write_json(config_path(run_dir), {
        "run_name": cfg.run_name(),
        "hash_version": cfg.hash_version,
        "non_default": cfg.non_default_identity(),
        **cfg.nested(),
    })


def mark_done(run_dir: str) -> None:
    write_text(done_path(run_dir), "")


def clear_done(run_dir: str) -> None:
    """Marks a finished run unfinished again (a pruning run given new branches)."""
    if os.path.exists(done_path(run_dir)):
        os.remove(done_path(run_dir))
