"""Products whose rounding is the same for every output channel (paper 002, issue 24.2).

Paper 002's claim is that deterministic training keeps ConstNet's identical channels
identical. In exact arithmetic it does; in float32 it holds only if every output channel
of an op is computed in the same order. A CPU matrix product (Eigen's, under MatMul and
Conv2DBackpropFilter) tiles its output and rounds edge tiles differently from inner ones:
tools/symmetry_probe.py shows a 1x1 convolution's kernel gradient whose entries, equal in
exact arithmetic, differ by a few ulps. Those ulps then grow over the epochs.

`symmetric_matmul(a, w)` computes a @ w, and its gradients, as elementwise products
summed along one axis: every output element is then summed in the same order, so
identical inputs give bit-identical outputs. It is slower and needs more memory than a
matrix product (the products are summed in chunks of at most CHUNK_ELEMENTS); it exists
to show that the symmetry is the arithmetic's, with `--symmetric_arithmetic`.
"""
import math

import keras
import tensorflow as tf

CHUNK_ELEMENTS = 1 << 24  # products held at once (64 MiB in float32)


def _sum_of_products(a: tf.Tensor, b: tf.Tensor, axis: int) -> tf.Tensor:
    """sum over `axis` of a * b (broadcast), in chunks along axis 0 when that is the summed
    axis; every output element sees the same order of additions."""
    if axis != 0:
        return tf.reduce_sum(a * b, axis=axis)
    rows = a.shape[0]
    per_row = max(1, math.prod(tf.broadcast_static_shape(a.shape[1:], b.shape[1:]).as_list()))
    chunk = max(1, CHUNK_ELEMENTS // per_row)
    if rows is None or rows <= chunk:
        return tf.reduce_sum(a * b, axis=0)
    total = None
    for start in range(0, rows, chunk):
        part = tf.reduce_sum(a[start:start + chunk] * b[start:start + chunk], axis=0)
        total = part if total is None else total + part
    return total


@tf.custom_gradient
def symmetric_matmul(a: tf.Tensor, w: tf.Tensor):
    """a (n, k) @ w (k, m), forward and backward as sums of elementwise products."""
    out = _sum_of_products(a[:, :, None], w[None, :, :], axis=1)

    def grad(dy):
        da = _sum_of_products(dy[:, None, :], w[None, :, :], axis=2)
        dw = _sum_of_products(a[:, :, None], dy[:, None, :], axis=0)
        return da, dw

    return out, grad


@keras.saving.register_keras_serializable(package="keras_initstudy")
class SymmetricPointwiseConv2D(keras.layers.Conv2D):
    """A 1x1 Conv2D (no bias, 'same' padding, any stride) through symmetric_matmul."""

    def convolution_op(self, inputs, kernel):
        if tuple(self.kernel_size) != (1, 1) or self.padding != "same":
            raise ValueError("SymmetricPointwiseConv2D is a 1x1 convolution with 'same' padding")
        sy, sx = self.strides
        picked = inputs[:, ::sy, ::sx, :]  # a 1x1 'same' convolution pads nothing: it samples these
        shape = tf.shape(picked)
        flat = tf.reshape(picked, [-1, picked.shape[-1]])
        out = symmetric_matmul(flat, tf.reshape(kernel, kernel.shape[2:]))
        return tf.reshape(out, tf.concat([shape[:3], [kernel.shape[-1]]], axis=0))


@keras.saving.register_keras_serializable(package="keras_initstudy")
class SymmetricDense(keras.layers.Dense):
    """A Dense layer on (batch, features) through symmetric_matmul."""

    def call(self, inputs, training=None):
        x = symmetric_matmul(tf.cast(inputs, self.compute_dtype), tf.cast(self.kernel, self.compute_dtype))
        if self.use_bias:
            x = x + self.bias
        return self.activation(x) if self.activation is not None else x
