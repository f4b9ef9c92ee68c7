"""Regime times from loss curves with planted minima, jumps and thresholds."""
import numpy as np
import pandas as pd
import tensorflow as tf

from keras_initstudy.analysis import regimes


def history(loss, test_loss=None, rmsd=None):
    epochs = np.arange(1, len(loss) + 1)
    frame = pd.DataFrame({"epoch": epochs, "loss": loss})
    if test_loss is not None:
        frame["test_loss"] = test_loss
    if rmsd is not None:
        frame["rmsd"] = rmsd
    return frame


class RegimesTest(tf.test.TestCase):

    def test_planted_minimum_and_jump_to_plateau(self):
        loss = np.concatenate([np.geomspace(2.0, 0.01, 40),            # epochs 1-40, minimum at 40
                               np.full(5, 0.012),                      # 41-45
                               np.full(55, 5.9)])                      # diverges at 46: plateau ln(369)
        test = np.concatenate([np.geomspace(2.0, 0.5, 20), np.linspace(0.5, 3.0, 80)])  # minimum at 20
        result = regimes.regimes(history(loss, test))
        self.assertEqual(result["epoch_min_train_loss"], 40)
        self.assertNear(result["min_train_loss"], 0.01, 1e-9)
        self.assertEqual(result["epoch_min_test_loss"], 20)
        self.assertNear(result["min_test_loss"], 0.5, 1e-9)
        self.assertEqual(result["divergence_epoch"], 46)

    def test_a_single_spike_is_not_a_divergence(self):
        loss = np.geomspace(2.0, 0.01, 100)
        loss[50] = 10.0
        self.assertTrue(np.isnan(regimes.regimes(history(loss))["divergence_epoch"]))

    def test_a_rise_in_small_steps_is_measured_from_the_lowest_loss(self):
        """Two doublings (1/8 -> 1/4 -> 1/2) never triple the previous epoch's loss, but
        the second reaches 4x the lowest loss so far and stays there: a divergence at 46."""
        loss = np.concatenate([np.geomspace(2.0, 0.25, 39), [0.125], np.full(5, 0.25), np.full(55, 0.5)])
        self.assertEqual(regimes.divergence_epoch(np.arange(1, 101), loss), 46)
        # A lower jump ratio finds the first doubling; a plateau too short for persist_fraction finds none.
        self.assertEqual(regimes.divergence_epoch(np.arange(1, 101), loss, jump_ratio=2.0), 41)
        self.assertIsNone(regimes.divergence_epoch(np.arange(1, 101), loss, persist_fraction=1.0, jump_ratio=5.0))

    def test_the_plateau_must_hold_for_persist_fraction_of_the_rest(self):
        """From epoch 41 on, 9 of 10 epochs (90%) stay high: diverged with the default 0.9,
        not with 0.95; a jump exactly at the ratio counts."""
        high = np.full(10, 0.375)  # exactly 3 x 0.125
        high[-1] = 0.125
        loss = np.concatenate([np.geomspace(1.0, 0.25, 39), [0.125], high])
        self.assertEqual(regimes.divergence_epoch(np.arange(1, 51), loss), 41)
        self.assertIsNone(regimes.divergence_epoch(np.arange(1, 51), loss, persist_fraction=0.95))
        self.assertEqual(regimes.divergence_epoch(np.arange(11, 14), [1.0, 3.0, 3.0]), 12)

    def test_default_jump_ratio_is_three(self):
        """3.5x the lowest loss diverges with the default ratio 3 (not with 4)."""
        loss = np.concatenate([np.full(10, 1.0), np.full(10, 3.5)])
        self.assertEqual(regimes.divergence_epoch(np.arange(1, 21), loss), 11)
        self.assertEqual(regimes.regimes(history(loss))["divergence_epoch"], 11)
        self.assertIsNone(regimes.divergence_epoch(np.arange(1, 21), loss, jump_ratio=4.0))
        self.assertTrue(np.isnan(regimes.regimes(history(loss), jump_ratio=4.0)["divergence_epoch"]))

    def test_regimes_passes_persist_fraction_on(self):
        loss = np.concatenate([np.full(10, 1.0), np.full(9, 5.0), [1.0]])  # 90% of the rest stays high
        self.assertEqual(regimes.regimes(history(loss))["divergence_epoch"], 11)
        self.assertTrue(np.isnan(regimes.regimes(history(loss), persist_fraction=0.95)["divergence_epoch"]))

    def test_the_first_epoch_is_never_a_jump_and_an_inf_second_epoch_is(self):
        self.assertIsNone(regimes.divergence_epoch([1, 2, 3], [9.0, 1.0, 1.0]))
        self.assertEqual(regimes.divergence_epoch([1, 2, 3], [1.0, np.inf, np.inf]), 2)
        self.assertEqual(regimes.divergence_epoch([5], [np.inf]), 5)
        self.assertIsNone(regimes.divergence_epoch([], []))

    def test_losses_are_compared_in_double_precision(self):
        """A float32 history (as Keras logs it): m = 0.11632653 and l = float32(3 m), which
        rounds below 3 m. In double precision l < 3 m (no divergence); computed in float32,
        3 m would round to l and the plateau would count."""
        m = np.float32(0.11632653)
        loss = np.array([m, np.float32(3 * np.float64(m))] * 1 + [np.float32(3 * np.float64(m))], np.float32)
        self.assertLess(np.float64(loss[1]), 3 * np.float64(m))
        self.assertEqual(loss[1], np.float32(3) * m)
        self.assertIsNone(regimes.divergence_epoch([1, 2, 3], loss))
        self.assertTrue(np.isnan(regimes.regimes(history(loss))["divergence_epoch"]))

    def test_nan_loss_counts_as_diverged(self):
        loss = np.concatenate([np.geomspace(2.0, 0.1, 30), np.full(20, np.nan)])
        self.assertEqual(regimes.divergence_epoch(np.arange(1, 51), loss), 31)

    def test_a_run_whose_loss_becomes_nan_or_inf_diverged_where_it_did(self):
        """The history as train writes it (NaN/inf rows kept) and as a sweep table has it
        (with an epoch-0 row that holds no loss): both give the first non-finite epoch."""
        for bad in (np.nan, np.inf):
            loss = np.concatenate([np.geomspace(2.0, 0.1, 30), np.full(20, bad)])
            frame = history(loss, test_loss=np.where(np.isfinite(loss), loss + 0.1, bad))
            with_epoch_0 = pd.concat([pd.DataFrame({"epoch": [0], "rmsd": [0.0]}), frame], ignore_index=True)
            for table in (frame, with_epoch_0):
                result = regimes.regimes(table)
                self.assertEqual(result["divergence_epoch"], 31, msg=bad)
                self.assertEqual(result["epoch_min_train_loss"], 30)
                self.assertNear(result["min_train_loss"], 0.1, 1e-12)
                self.assertEqual(result["epoch_min_test_loss"], 30)

    def test_a_run_that_is_nan_from_the_start(self):
        result = regimes.regimes(history(np.full(10, np.nan)))
        self.assertTrue(np.isnan(result["min_train_loss"]))
        self.assertEqual(result["divergence_epoch"], 1)

    def test_steady_training_never_diverges(self):
        self.assertIsNone(regimes.divergence_epoch(np.arange(1, 101), np.geomspace(2, 1e-4, 100)))

    def test_threshold_time_and_rmsd_there(self):
        loss = np.geomspace(2.0, 0.001, 100)
        rmsd = np.linspace(0.001, 0.1, 100)
        frame = history(loss, rmsd=rmsd)
        first = int(np.argmax(loss < 0.1))
        out = regimes.threshold_time(frame, 0.1)
        self.assertEqual(out["t_theta"], first + 1)
        self.assertNear(out["rmsd_at_t_theta"], rmsd[first], 1e-12)
        self.assertTrue(np.isnan(regimes.threshold_time(frame, 1e-6)["t_theta"]))
        never = regimes.threshold_time(frame, 1e-6)
        self.assertEqual(set(never), {"t_theta", "rmsd_at_t_theta"})
        self.assertTrue(np.isnan(never["rmsd_at_t_theta"]))
        # strictly below theta; a history without RMSD gives NaN for it
        exact = history(np.array([0.5, 0.25, 0.125]))
        self.assertEqual(regimes.threshold_time(exact, 0.25)["t_theta"], 3)
        self.assertTrue(np.isnan(regimes.threshold_time(exact, 0.25)["rmsd_at_t_theta"]))

    def test_a_history_without_test_loss_has_no_test_minimum(self):
        result = regimes.regimes(history(np.array([2.0, 1.0, 1.5])))
        self.assertEqual((result["epoch_min_train_loss"], result["min_train_loss"]), (2, 1.0))
        self.assertNotIn("epoch_min_test_loss", result)
        self.assertTrue(np.isnan(regimes._minimum(history(np.array([1.0])), "test_loss")).all())


if __name__ == "__main__":
    tf.test.main()
