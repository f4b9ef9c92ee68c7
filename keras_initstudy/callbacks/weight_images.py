"""WeightImages: TensorBoard pictures of one weight matrix and histograms of w(t) - w(0).

Paper 000 Fig. 1 shows a letter stamped on the hidden-to-hidden matrix fading (or
persisting) during training; this callback draws |w| of the chosen kernel, scaled
by max|w(0)| so that images of different epochs compare, and a histogram of
w(t) - w(0) per layer. Steps count completed epochs; step 0 is the initialisation.
Written to <log_dir> (the run's tb/weights/).
"""
import keras
import tensorflow as tf

from keras_initstudy.callbacks.reference import ReferenceWeights, layer_of


class WeightImages(keras.callbacks.Callback):
    def __init__(self, initial: ReferenceWeights, log_dir: str, kernel_index: int = 1,
                 histograms: bool = True):
        super().__init__()
        kernels = initial.kernel_indices()
        if not 0 <= kernel_index < len(kernels):
            raise ValueError(f"kernel index {kernel_index} out of range 0..{len(kernels) - 1}")
        self.initial = initial
        self.index = kernels[kernel_index]
        self.log_dir = log_dir
        self.histograms = histograms
        self.scale = float(tf.reduce_max(tf.abs(initial.reference[self.index]))) or 1.0
        self._writer = None
        self._summaries = None

    def image(self) -> tf.Tensor:
        """|w| / max|w(0)|, clipped to [0, 1], as a (1, rows, cols, 1) image batch."""
        w = tf.cast(self.initial.variables[self.index].value, tf.float32)
        w = tf.reshape(w, (-1, w.shape[-1]))  # conv kernels: (kh * kw * c_in) x c_out
        return tf.clip_by_value(tf.abs(w) / self.scale, 0.0, 1.0)[tf.newaxis, :, :, tf.newaxis]

    def _summarise(self, step: tf.Tensor) -> None:
        tf.summary.image(f"weights/{layer_of(self.initial.names[self.index])}", self.image(), step=step)
        if self.histograms:
            for name, v, w0 in zip(self.initial.names, self.initial.variables, self.initial.reference):
                tf.summary.histogram(f"deviation/{name}", v.value - w0, step=step)

    def write(self, step: int) -> None:
        if self._writer is None:  # a graph per writer: it captures the writer it is traced with
            self._writer = tf.summary.create_file_writer(self.log_dir)
            self._summaries = tf.function(self._summarise)  # one call, not dozens of eager ops
        with self._writer.as_default():
            self._summaries(tf.constant(step, tf.int64))
        self._writer.flush()

    def on_train_begin(self, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == 0:
            self.write(0)

    def on_epoch_end(self, epoch, logs=None):
        self.write(epoch + 1)

    def on_train_end(self, logs=None):
        if self._writer is not None:  # one fit per segment (loop.py): reopened by the next write
            self._writer.close()
            self._writer = self._summaries = None
