"""Run directories -> pandas tables (no TensorFlow).

One row per run and epoch: the run's settings (dataset, width, depth, seed, mask,
...), its history (losses, accuracies, RMSD total and per layer) and, at snapshot
epochs, the Appendix B fits of w(epoch) against w(0) for all edge weights and per
layer. Fits are cached in each run's fits.csv, computed once.
"""
import json
import os
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
import pandas as pd

from keras_initstudy import rundir
from keras_initstudy.analysis import deviation

# Bump when the fits change, so cached fits.csv files are recomputed.
FITS_VERSION = 2

SETTING_COLUMNS = ("experiment", "dataset", "model", "width", "depth", "mask", "seed", "init_seed", "data_seed",
                   "learning_rate", "batch_size", "epochs", "steps", "kernel_initializer", "init_scheme", "bias_scale",
                   "validation_split", "fnn_hidden", "cnn_pooling")


def find_runs(output_dir: str) -> List[str]:
    """Run directories (those with config.json) directly under output_dir, sorted."""
    return rundir.runs_in(output_dir)


def read_config(run_dir: str) -> Dict:
    with open(rundir.at(run_dir).config, encoding="utf-8") as f:
        return json.load(f)


def settings(run_dir: str) -> Dict:
    """The flat settings of a run, plus its run name and directory."""
    cfg = read_config(run_dir)
    flat = {k: v for section in ("data", "model", "training", "measure", "run", "pruning")
            for k, v in cfg.get(section, {}).items()}
    flat["experiment"] = flat.get("experiment") or f"{flat['model']}_{flat['dataset']}"
    for purpose in ("init_seed", "data_seed"):  # resolved as the run used them (config.TrainingConfig.seeds)
        if flat.get(purpose) is None and "seed" in flat:
            flat[purpose] = flat["seed"]
    return {"run_name": cfg["run_name"], "run_dir": run_dir, **flat}


def read_history(run_dir: str) -> pd.DataFrame:
    path = rundir.at(run_dir).history
    return pd.read_csv(path) if os.path.exists(path) else pd.DataFrame({"epoch": []})


def load_snapshot(run_dir: str, epoch: int) -> Dict[str, np.ndarray]:
    return rundir.read_npz(rundir.at(run_dir).snapshot(epoch))


def edge_weight_names(snapshot: Dict[str, np.ndarray]) -> List[str]:
    """Kernels (2-D or more), in file order: paper 000's 'weights' (edges)."""
    return [k for k, v in snapshot.items() if v.ndim >= 2]


def weight_pairs(run_dir: str, epoch: int, layer: Optional[str] = None,
                 initial_epoch: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """(w_i, w_f): the edge weights at `initial_epoch` and at `epoch`, flattened,
    for one layer ('hidden_1') or all layers (None)."""
    first, last = load_snapshot(run_dir, initial_epoch), load_snapshot(run_dir, epoch)
    names = [n for n in edge_weight_names(first) if layer is None or n.rsplit("/", 1)[0] == layer]
    if not names:
        raise KeyError(f"{run_dir}: no kernel of layer {layer!r}")
    return (np.concatenate([first[n].ravel() for n in names]),
            np.concatenate([last[n].ravel() for n in names]))


def layers(run_dir: str) -> List[str]:
    snapshot = load_snapshot(run_dir, rundir.at(run_dir).snapshot_epochs()[0])
    return [n.rsplit("/", 1)[0] for n in edge_weight_names(snapshot)]


def compute_fits(run_dir: str) -> pd.DataFrame:
    """One row per snapshot epoch: fits per layer (a0/hidden_1, ..., as in paper 000
    Figs. A.1-A.2) and for all edge weights pooled (a0, a1, ..., c_opt)."""
    rows = []
    layer_names = layers(run_dir)
    for epoch in rundir.at(run_dir).snapshot_epochs():
        row = {"epoch": epoch}
        row.update(deviation.fit(*weight_pairs(run_dir, epoch)).as_dict())
        for layer in layer_names:
            row.update(deviation.fit(*weight_pairs(run_dir, epoch, layer)).as_dict(f"/{layer}"))
        rows.append(row)
    return pd.DataFrame(rows)


def fits(run_dir: str) -> pd.DataFrame:
    """compute_fits, cached in <run_dir>/fits.csv once the run is DONE."""
    path = rundir.at(run_dir).fits
    if os.path.exists(path):
        cached = pd.read_csv(path)
        if cached.get("fits_version", pd.Series([None])).iloc[0] == FITS_VERSION:
            return cached.drop(columns="fits_version")
    if not rundir.at(run_dir).snapshot_epochs():
        return pd.DataFrame({"epoch": []})
    table = compute_fits(run_dir)
    if rundir.at(run_dir).is_done():
        rundir.write_text(path, table.assign(fits_version=FITS_VERSION).to_csv(index=False))
    return table


def run_table(run_dir: str, with_fits: bool = True) -> pd.DataFrame:
    """The run's rows: settings + history (+ an epoch-0 row with RMSD 0) + fits."""
    history = read_history(run_dir)
    if "rmsd" in history:
        history = pd.concat([pd.DataFrame({"epoch": [0], "rmsd": [0.0]}), history], ignore_index=True)
    if with_fits:
        history = history.merge(fits(run_dir), on="epoch", how="outer")
    history = history.sort_values("epoch", kind="stable").reset_index(drop=True)
    for key, value in reversed(list(settings(run_dir).items())):
        if key in SETTING_COLUMNS or key in ("run_name", "run_dir"):
            history.insert(0, key, value)
    return history


def table(run_dirs: Iterable[str], with_fits: bool = True) -> pd.DataFrame:
    frames = [run_table(d, with_fits) for d in run_dirs]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
