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
    DONE                     written last; its presence means the run is complete
"""
import contextlib
import csv
import io
import json
import os
import tempfile
from typing import Any, Dict, Iterator, Mapping

import numpy as np


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


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary path beside `path`; renames it onto `path` on success.

    The temporary name keeps `path`'s file name as its suffix, so writers that
    check extensions (Keras's `.keras`, `.weights.h5`) accept it. Readers never
    see a half-written file: a crash leaves only a stray temporary.
    """
    directory, name = os.path.split(path)
    os.makedirs(directory or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + name, dir=directory or ".")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
