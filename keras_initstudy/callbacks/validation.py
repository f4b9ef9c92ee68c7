"""Evaluation on the validation split held out of the training data (paper 001 §3.1:
"monitored using a validation dataset"), every epoch end and at a mid-epoch end of
training, as validation_loss and validation_accuracy in the epoch's logs (history.csv,
TensorBoard). Keras's own validation_data stays the test split (test_ columns)."""
import keras
import tensorflow as tf


class HeldOutEvaluation(keras.callbacks.Callback):
    """`batches`: the validation split, batched (training.eval_batches)."""

    def __init__(self, batches: tf.data.Dataset):
        super().__init__()
        self.batches = batches

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        # model.evaluate at epoch end is what Keras does for validation_data itself.
        loss, accuracy = self.model.evaluate(self.batches, verbose=0)
        logs["validation_loss"], logs["validation_accuracy"] = float(loss), float(accuracy)
