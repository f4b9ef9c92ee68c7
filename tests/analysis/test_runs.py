"""Run directories -> tables (analysis/runs.py), on run directories written by hand."""
import os

import numpy as np
import pandas as pd
import tensorflow as tf

from keras_initstudy import rundir
from keras_initstudy.analysis import deviation, runs
from tests.class_tempdir import TempDirTestCase

SLOPES = {"hidden_1": 0.9, "output": 1.2}  # w(epoch) = slope**epoch * w(0), per layer


def write_run(run_dir, epochs=(0, 2), done=True, rmsd=True, seed=7, init_seed=None, dataset="mnist"):
    """A run directory as train writes it: config.json, history.csv, snapshots, DONE."""
    os.makedirs(rundir.at(run_dir).snapshots, exist_ok=True)
    rundir.write_json(rundir.at(run_dir).config, {
        "run_name": os.path.basename(run_dir),
        "data": {"dataset": dataset, "batch_size": 128},
        "model": {"model": "mlp", "width": 30, "activation": "relu"},
        "training": {"seed": seed, "init_seed": init_seed, "learning_rate": 0.1},
        "run": {"experiment": ""},
    })
    rows = [{"epoch": e, "loss": 1.0 / e, **({"rmsd": 0.01 * e} if rmsd else {})} for e in (2, 1)]
    rundir.write_rows(rundir.at(run_dir).history, rows)
    rng = np.random.default_rng(seed)
    first = {"hidden_1/kernel": rng.uniform(-0.1, 0.1, (30, 30)), "hidden_1/bias": np.zeros(30),
             "output/kernel": rng.uniform(-0.2, 0.2, (30, 10)), "output/bias": np.zeros(10)}
    for epoch in epochs:
        rundir.write_npz(rundir.at(run_dir).snapshot(epoch),
                         {k: v * SLOPES[k.split("/")[0]] ** epoch for k, v in first.items()})
    if done:
        rundir.at(run_dir).mark_done()
    return first


class RunsTest(TempDirTestCase):

    def setUp(self):
        super().setUp()
        self.out = self.dir
        self.run_dir = os.path.join(self.out, "b")
        self.first = write_run(self.run_dir)

    def test_find_runs_lists_directories_with_a_config_sorted(self):
        write_run(os.path.join(self.out, "a"))
        os.makedirs(os.path.join(self.out, "not_a_run"))
        open(os.path.join(self.out, "file.txt"), "w").close()
        self.assertEqual(runs.find_runs(self.out), [os.path.join(self.out, n) for n in ("a", "b")])
        self.assertEqual(runs.find_runs(os.path.join(self.out, "missing")), [])

    def test_settings_flatten_the_sections_and_resolve_seeds(self):
        s = runs.settings(self.run_dir)
        self.assertEqual(s["run_name"], "b")
        self.assertEqual(s["run_dir"], self.run_dir)
        self.assertEqual((s["dataset"], s["width"], s["learning_rate"]), ("mnist", 30, 0.1))
        self.assertEqual(s["experiment"], "mlp_mnist")  # empty experiment: <model>_<dataset>
        self.assertEqual((s["seed"], s["init_seed"], s["data_seed"]), (7, 7, 7))
        other = os.path.join(self.out, "c")
        write_run(other, seed=3, init_seed=11)
        s = runs.settings(other)
        self.assertEqual((s["seed"], s["init_seed"], s["data_seed"]), (3, 11, 3))

    def test_settings_come_from_every_section(self):
        other = os.path.join(self.out, "c")
        write_run(other)
        cfg = runs.read_config(other)
        cfg.update(measure={"snapshots": "log:3"}, run={"experiment": "exp"}, pruning={"rounds": 4})
        rundir.write_json(rundir.at(other).config, cfg)
        s = runs.settings(other)
        self.assertEqual((s["snapshots"], s["experiment"], s["rounds"]), ("log:3", "exp", 4))

    def test_layer_names_with_slashes_and_a_single_snapshot(self):
        other = os.path.join(self.out, "nested")
        os.makedirs(rundir.at(other).snapshots)
        write_run(other, epochs=())
        kernel = np.random.default_rng(0).normal(size=(30, 30))
        rundir.write_npz(rundir.at(other).snapshot(0), {"stage1/conv/kernel": kernel, "out/kernel": kernel})
        self.assertEqual(runs.layers(other), ["stage1/conv", "out"])  # only epoch 0 has a snapshot
        w_i, _ = runs.weight_pairs(other, 0, "stage1/conv")
        self.assertLen(w_i, 900)

    def test_a_cache_without_a_version_is_recomputed_and_the_cache_has_no_index(self):
        cache = os.path.join(self.run_dir, "fits.csv")
        first = runs.fits(self.run_dir)
        self.assertEqual(list(pd.read_csv(cache).columns), list(first.columns) + ["fits_version"])
        rundir.write_text(cache, first.assign(a0=123.0).to_csv(index=False))  # no fits_version column
        self.assertAllClose(runs.fits(self.run_dir)["a0"], first["a0"])

    def test_history_missing_is_an_empty_table(self):
        os.remove(rundir.at(self.run_dir).history)
        history = runs.read_history(self.run_dir)
        self.assertEqual(list(history.columns), ["epoch"])
        self.assertEmpty(history)

    def test_weight_pairs_per_layer_and_pooled_kernels_only(self):
        w_i, w_f = runs.weight_pairs(self.run_dir, 2, "output")
        self.assertAllClose(w_i, self.first["output/kernel"].ravel())
        self.assertAllClose(w_f, 1.2 ** 2 * self.first["output/kernel"].ravel())
        w_i, w_f = runs.weight_pairs(self.run_dir, 2)
        self.assertAllClose(w_i, np.concatenate([self.first["hidden_1/kernel"].ravel(),
                                                 self.first["output/kernel"].ravel()]))  # file order, no biases
        self.assertAllClose(w_f[:900], 0.81 * w_i[:900])
        w_i, w_f = runs.weight_pairs(self.run_dir, 2, initial_epoch=2)
        self.assertAllClose(w_i, w_f)
        with self.assertRaisesRegex(KeyError, "no kernel of layer 'hidden_9'"):
            runs.weight_pairs(self.run_dir, 2, "hidden_9")
        self.assertEqual(runs.layers(self.run_dir), ["hidden_1", "output"])

    def test_fits_per_snapshot_epoch_pooled_and_per_layer(self):
        table = runs.compute_fits(self.run_dir)
        self.assertEqual(list(table["epoch"]), [0, 2])
        for layer, slope in SLOPES.items():
            self.assertAllClose(table[f"a1/{layer}"], [1.0, slope ** 2], atol=3e-3)
            self.assertAllClose(table[f"c_opt/{layer}"], [1.0, slope ** 2], atol=1e-3)
        self.assertAllEqual(table["n/hidden_1"], [900, 900])
        self.assertAllEqual(table["n/output"], [300, 300])
        expected = deviation.fit(*runs.weight_pairs(self.run_dir, 2))
        for key, value in expected.as_dict().items():
            self.assertAllClose(table[key].iloc[1], value, rtol=1e-9, msg=key)

    def test_fits_are_cached_once_the_run_is_done(self):
        cache = os.path.join(self.run_dir, "fits.csv")
        first = runs.fits(self.run_dir)
        self.assertTrue(os.path.exists(cache))
        self.assertEqual(pd.read_csv(cache)["fits_version"].iloc[0], runs.FITS_VERSION)
        self.assertNotIn("fits_version", first.columns)
        # The cache is what a later call returns ...
        rundir.write_text(cache, first.assign(a0=123.0, fits_version=runs.FITS_VERSION).to_csv(index=False))
        self.assertAllEqual(runs.fits(self.run_dir)["a0"], [123.0, 123.0])
        # ... unless it was written by another version of the fits.
        rundir.write_text(cache, first.assign(a0=123.0, fits_version=runs.FITS_VERSION - 1).to_csv(index=False))
        self.assertAllClose(runs.fits(self.run_dir)["a0"], first["a0"])

    def test_fits_of_an_unfinished_run_are_not_cached(self):
        running = os.path.join(self.out, "running")
        write_run(running, done=False)
        self.assertLen(runs.fits(running), 2)
        self.assertFalse(os.path.exists(os.path.join(running, "fits.csv")))
        bare = os.path.join(self.out, "bare")
        write_run(bare, epochs=())
        empty = runs.fits(bare)
        self.assertEqual(list(empty.columns), ["epoch"])
        self.assertEmpty(empty)

    def test_run_table_rows_and_columns(self):
        table = runs.run_table(self.run_dir)
        self.assertEqual(list(table["epoch"]), [0, 1, 2])  # sorted; epoch 0 added for RMSD 0
        self.assertAllClose(table["rmsd"], [0.0, 0.01, 0.02])
        self.assertTrue(np.isnan(table["loss"].iloc[0]))
        self.assertAllClose(table["a1/output"].iloc[[0, 2]], [1.0, 1.44], atol=3e-3)
        self.assertTrue(np.isnan(table["a1/output"].iloc[1]))  # no snapshot at epoch 1
        settings = ["run_name", "run_dir", "batch_size", "dataset", "model", "width", "init_seed", "learning_rate",
                    "seed", "experiment", "data_seed"]  # config.json order (sorted keys), then the resolved ones
        self.assertEqual(list(table.columns[:len(settings)]), settings)
        self.assertEqual(table.columns[len(settings)], "epoch")
        self.assertNotIn("activation", table.columns)  # not a setting column
        self.assertEqual(set(table["experiment"]), {"mlp_mnist"})
        self.assertEqual(set(table["seed"]), {7})
        plain = runs.run_table(self.run_dir, with_fits=False)
        self.assertNotIn("a1", plain.columns)
        self.assertEqual(list(plain["epoch"]), [0, 1, 2])

    def test_run_table_without_rmsd_has_no_epoch_0_row(self):
        other = os.path.join(self.out, "c")
        write_run(other, rmsd=False, epochs=())
        self.assertEqual(list(runs.run_table(other)["epoch"]), [1, 2])

    def test_table_concatenates_runs(self):
        other = os.path.join(self.out, "c")
        write_run(other, seed=3, dataset="fashion_mnist")
        both = runs.table([self.run_dir, other], with_fits=False)
        self.assertLen(both, 6)
        self.assertNotIn("c_opt", both.columns)
        self.assertEqual(list(both["dataset"]), ["mnist"] * 3 + ["fashion_mnist"] * 3)
        self.assertAllEqual(both.index, np.arange(6))
        self.assertTrue(runs.table([]).empty)
        self.assertIn("c_opt", runs.table([self.run_dir]).columns)  # with fits by default


if __name__ == "__main__":
    tf.test.main()
