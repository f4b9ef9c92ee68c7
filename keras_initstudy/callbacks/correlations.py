"""Forward/backward correlations of every kernel (paper 002 eqs. 5-6), each epoch.

Values go into the epoch's logs as `corr_fwd/<layer>` and `corr_bwd/<layer>`, so
history.csv and TensorBoard get them (place before HistoryCSV and TensorBoard).
Kernels are copied to the host once per epoch; the arithmetic is
analysis.correlations.
"""
import keras

from keras_initstudy.analysis import correlations
from keras_initstudy.callbacks.initial_weights import is_edge_weight, layer_of, variable_name


def kernel_correlations(model: keras.Model) -> dict:
    values = {}
    for variable in model.trainable_weights:
        if is_edge_weight(variable):
            kernel = variable.numpy()
            layer = layer_of(variable_name(model, variable))
            values[f"corr_fwd/{layer}"] = correlations.forward(kernel)
            values[f"corr_bwd/{layer}"] = correlations.backward(kernel)
    return values


class CorrelationLogger(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(kernel_correlations(self.model))
