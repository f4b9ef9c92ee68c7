"""Final and best test accuracy from history rows (paper 002's code prints the best)."""
import math

import tensorflow as tf

from keras_initstudy.analysis import summary


def rows(test_accuracies):
    return [{"epoch": str(e), "accuracy": "0.5", "loss": "1.0", "test_accuracy": str(a)}
            for e, a in enumerate(test_accuracies, start=1)]


class AccuracySummaryTest(tf.test.TestCase):

    def test_best_is_the_maximum_over_epochs_and_final_the_last(self):
        result = summary.accuracy_summary(rows([0.1, 0.7, 0.9, 0.6, 0.9, 0.8]))
        self.assertEqual(result["final_test_accuracy"], 0.8)
        self.assertEqual(result["best_test_accuracy"], 0.9)
        self.assertEqual(result["best_test_epoch"], 3)  # the earliest of the tied best
        self.assertEqual(result["epochs"], 6)

    def test_nan_epochs_are_skipped_and_an_empty_history_gives_nothing(self):
        result = summary.accuracy_summary(rows([0.3, "nan", 0.2]))
        self.assertEqual((result["best_test_accuracy"], result["best_test_epoch"]), (0.3, 1))
        self.assertTrue(math.isnan(summary.accuracy_summary(rows(["nan"]))["best_test_accuracy"]))
        self.assertEqual(summary.accuracy_summary([]), {})

    def test_every_field_of_the_last_row(self):
        history = rows([0.1, 0.7])
        history[-1].update(accuracy="0.625", loss="0.25")
        self.assertEqual(summary.accuracy_summary(history),
                         {"epochs": 2.0, "final_test_accuracy": 0.7, "best_test_accuracy": 0.7,
                          "best_test_epoch": 2.0, "final_accuracy": 0.625, "final_loss": 0.25})

    def test_missing_empty_or_unreadable_cells_are_nan(self):
        history = [{"epoch": "1", "test_accuracy": "0.5", "accuracy": "", "loss": "oops"},
                   {"epoch": "", "test_accuracy": "0.6"}]
        result = summary.accuracy_summary(history)
        for key in ("final_accuracy", "final_loss", "epochs"):
            self.assertTrue(math.isnan(result[key]), key)
        # A best test accuracy in a row without an epoch is still the best; its epoch is unknown.
        self.assertEqual(result["best_test_accuracy"], 0.6)
        self.assertTrue(math.isnan(result["best_test_epoch"]))


if __name__ == "__main__":
    tf.test.main()
