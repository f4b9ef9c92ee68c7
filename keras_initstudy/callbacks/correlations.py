"""Forward/backward correlations of every kernel (paper 002 eqs. 5-6), each epoch.

Values go into the epoch's logs as `corr_fwd/<layer>` and `corr_bwd/<layer>`, so
history.csv and TensorBoard get them (place before HistoryCSV and TensorBoard).
Kernels are copied to the host once per epoch; the arithmetic is
analysis.correlations.
"""
import keras

from keras_initstudy.analysis import correlations


def kernel_correlations(kernels: dict, kind: str = "pearson") -> dict:
    """{'corr_fwd/<layer>': ..., 'corr_bwd/<layer>': ...} for {'<layer>/kernel': variable};
    `kind` is pearson (the authors' code) or cosine (the paper's text)."""
    values = {}
    for name, variable in kernels.items():
        kernel = variable.numpy()
        layer = name.rsplit("/", 1)[0]
        values[f"corr_fwd/{layer}"] = correlations.forward(kernel, kind)
        values[f"corr_bwd/{layer}"] = correlations.backward(kernel, kind)
    return values


class CorrelationLogger(keras.callbacks.Callback):
    """Logs the correlations of the kernels a ModelSpec names (spec.kernel_variables())."""

    def __init__(self, kernels: dict, kind: str = "pearson"):
        super().__init__()
        self.kernels = kernels
        self.kind = kind

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(kernel_correlations(self.kernels, self.kind))
