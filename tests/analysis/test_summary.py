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


if __name__ == "__main__":
    tf.test.main()
