"""TensorBoard's epoch scalars on the package's one clock: step = epochs completed.

Keras writes a run's epoch scalars (loss, accuracy, test metrics, RMSD, correlations) at
step = the epoch's 0-based index, so the first epoch's values sit at step 0, where the
weight images and histograms (weight_images.py) show the initial weights. Here step e is
the end of epoch e for every summary, and step 0 the initialisation.
"""
import keras


class EpochsDoneTensorBoard(keras.callbacks.TensorBoard):
    """keras.callbacks.TensorBoard with epoch summaries at step epoch + 1 (epochs completed)."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch + 1, logs)
