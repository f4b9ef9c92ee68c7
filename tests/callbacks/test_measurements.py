"""Paper 000's instruments inside real training runs: masks, snapshots, RMSD, images."""
import os

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from absl.testing import parameterized
from tensorflow.python.framework import config as tf_config

from tests.class_tempdir import ClassTempDirTestCase
from keras_initstudy import callbacks, config, masks, rundir, steps, train_runner
from keras_initstudy.analysis import correlations, runs
from tests import tb_events


class ScheduleTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(
        ("0,1,2,5,10", 100, [0, 1, 2, 5, 10, 100]),
        ("5,500", 100, [0, 5, 100]),
        ("none", 100, []),
        ("log:4", 1000, [0, 1, 10, 100, 1000]),
        ("log:1", 7, [0, 1, 7]),
    )
    def test_parse_epochs(self, spec, epochs, expected):
        end = steps.Step.from_epochs(epochs, 47)
        self.assertEqual([s.iteration for s in callbacks.parse_schedule(spec, end)], [47 * e for e in expected])

    def test_parse_steps_between_epochs(self):
        end = steps.Step(130, 47)  # a run that ends mid-epoch
        self.assertEqual([s.iteration for s in callbacks.parse_schedule("20it,1,1ep3it,500it", end)],
                         [0, 20, 47, 50, 130])
        self.assertEqual([s.iteration for s in callbacks.parse_schedule("log:3", end)], [0, 47, 94, 130])

    def test_bad_specs(self):
        for spec in ("log:0", "-1,2", "x", "3it2ep"):
            with self.subTest(spec), self.assertRaises(ValueError):
                callbacks.parse_schedule(spec, steps.Step(10, 1))


class MeasuredRunTest(ClassTempDirTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cfg = config.ExperimentConfig().replace(
            output_dir=cls.out, width=24, epochs=3, mask="a", snapshots="0,2",
            rmsd_every_steps=20, nondeterminism="deterministic")
        cls.run_dir = train_runner.run(cfg, verbose=0)
        tf_config.disable_op_determinism()

    def test_masked_weights_are_exactly_zero_at_epoch_zero(self):
        w0 = runs.load_snapshot(self.run_dir, 0)["hidden_2/kernel"]
        mask = masks.glyph_mask(w0.shape, "a")
        self.assertAllEqual(w0[mask == 0], np.zeros(int((mask == 0).sum()), np.float32))
        self.assertEqual(int(np.count_nonzero(w0[mask == 1])), int(mask.sum()))
        # Other layers are not masked.
        self.assertEqual(int(np.count_nonzero(runs.load_snapshot(self.run_dir, 0)["hidden_1/kernel"])), 784 * 24)

    def test_snapshots_at_schedule_and_last_epoch(self):
        self.assertEqual(rundir.at(self.run_dir).snapshot_epochs(), [0, 2, 3])
        snap = runs.load_snapshot(self.run_dir, 3)
        self.assertEqual(sorted(snap), ["hidden_1/bias", "hidden_1/kernel", "hidden_2/bias",
                                        "hidden_2/kernel", "output/bias", "output/kernel"])
        final = [w.numpy() for w in keras.models.load_model(rundir.at(self.run_dir).model).weights]
        self.assertAllEqual(snap["hidden_1/kernel"], final[0])

    def test_rmsd_in_history_matches_snapshots(self):
        """Eq. (3) over the edge weights, recomputed on the host from the npz files."""
        history = pd.read_csv(rundir.at(self.run_dir).history)
        w0, w3 = runs.load_snapshot(self.run_dir, 0), runs.load_snapshot(self.run_dir, 3)
        kernels = [k for k in w0 if k.endswith("kernel")]
        squared = sum(float(np.sum((w3[k].astype(np.float64) - w0[k]) ** 2)) for k in kernels)
        count = sum(w0[k].size for k in kernels)
        last = history.iloc[-1]
        self.assertNear(last["rmsd"], np.sqrt(squared / count), 1e-6)
        layer = np.sqrt(np.mean((w3["hidden_2/kernel"].astype(np.float64) - w0["hidden_2/kernel"]) ** 2))
        self.assertNear(last["rmsd/hidden_2"], layer, 1e-6)
        self.assertTrue(np.all(np.diff(history["rmsd"]) > 0))

    def test_correlations_in_history_are_the_authors_pearson_of_the_snapshot(self):
        """Default --correlation=pearson (BeyondSigProp correlation.py); cosine is the paper's text."""
        last = pd.read_csv(rundir.at(self.run_dir).history).iloc[-1]
        w3 = runs.load_snapshot(self.run_dir, 3)
        for layer in ("hidden_1", "hidden_2", "output"):
            kernel = w3[f"{layer}/kernel"]
            self.assertNear(last[f"corr_fwd/{layer}"], correlations.forward(kernel, "pearson"), 1e-12)
            self.assertNear(last[f"corr_bwd/{layer}"], correlations.backward(kernel, "pearson"), 1e-12)
        values = callbacks.correlations.kernel_correlations({"k/kernel": tf.Variable(w3["hidden_2/kernel"])},
                                                            "cosine")
        self.assertNear(values["corr_fwd/k"], correlations.forward(w3["hidden_2/kernel"], "cosine"), 1e-12)
        self.assertNotAlmostEqual(values["corr_fwd/k"], last["corr_fwd/hidden_2"], places=4)

    def test_rmsd_every_k_steps(self):
        steps = pd.read_csv(rundir.at(self.run_dir).rmsd_steps)
        # 6000 examples / 128 = 47 steps per epoch, 3 epochs: steps 20, 40, ..., 140
        self.assertEqual(steps["step"].tolist(), list(range(20, 141, 20)))
        self.assertEqual(steps["epoch"].tolist(), [0, 0, 1, 1, 2, 2, 2])

    def test_tensorboard_has_rmsd_image_and_histograms(self):
        tb = rundir.at(self.run_dir).tensorboard
        self.assertIn("epoch_rmsd", tb_events.tags(os.path.join(tb, "train")))
        weights = tb_events.tags(os.path.join(tb, "weights"))
        self.assertIn("weights/hidden_2", weights)
        self.assertIn("deviation/hidden_1/kernel", weights)

    def test_tensorboard_image_at_step_zero_shows_the_letter(self):
        folder = os.path.join(rundir.at(self.run_dir).tensorboard, "weights")
        for event in tb_events.events(folder):
            for value in event.summary.value:
                if value.tag == "weights/hidden_2" and event.step == 0:
                    png = tf.make_ndarray(value.tensor)[2]  # [width, height, encoded PNG]
                    image = tf.io.decode_png(png).numpy()[..., 0]
                    mark = masks.glyph_mask((24, 24), "a") > 0
                    self.assertAllEqual(image[~mark], np.zeros(int((~mark).sum()), np.uint8))
                    # Inside the mark a pixel is dark only where |w| / max|w| rounds to 0 in 8 bits.
                    w0 = np.abs(runs.load_snapshot(self.run_dir, 0)["hidden_2/kernel"])
                    self.assertAllEqual((image > 0)[mark], (w0 / w0.max() >= 1 / 255)[mark])
                    return
        self.fail("no step-0 image of hidden_2")


if __name__ == "__main__":
    tf.test.main()
