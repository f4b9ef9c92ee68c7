"""Shows where deterministic ConstNet loses its symmetry on this machine (paper 002, issue 24.2).

    python tools/symmetry_probe.py [--trials=5]

ConstNet's channels are identical at init, so every kernel gradient of a layer should hold
one value per tap, whatever the input and output channel. This feeds the layers of the
quick ConstNet's shapes inputs and output gradients that are identical across channels and
prints, per shape, the largest difference between entries that are equal in exact
arithmetic (the "spread"), for TensorFlow's own ops (Conv2DBackpropFilter, MatMul) and for
symmetric_arithmetic.py's sums of products. A spread above 0 is rounding that
differs between output channels: the seed of the asymmetry that training then amplifies.
It depends on the CPU and the BLAS kernel, so it is measured here, not asserted in a test.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_integer("trials", 5, "Random draws per shape.", lower_bound=1)
FLAGS = flags.FLAGS

# (in channels, out channels, kernel, stride, input size): the quick ConstNet's convolutions
SHAPES = ((1, 16, 3, 1, 28), (16, 16, 3, 1, 28), (16, 32, 1, 2, 28), (16, 32, 3, 2, 28), (32, 32, 3, 1, 14),
          (32, 64, 1, 2, 14), (32, 64, 3, 2, 14), (64, 64, 3, 1, 7))
BATCH = 128


def spread(kernel: np.ndarray) -> float:
    """Largest difference, over taps, between the entries of one tap (all channel pairs)."""
    return float(np.max(kernel.max(axis=(2, 3)) - kernel.min(axis=(2, 3))))


def main(argv):
    del argv
    from keras_initstudy import quiet
    quiet.start_tensorflow()
    import tensorflow as tf
    from keras_initstudy import symmetric_arithmetic
    tf.config.experimental.enable_op_determinism()
    rng = np.random.default_rng(0)

    def same_across_channels(shape):
        return np.repeat(rng.standard_normal(shape[:-1] + (1,)).astype(np.float32), shape[-1], axis=-1)

    print(f"{tf.__version__=}; batch {BATCH}; {FLAGS.trials} draws per shape; spread = max over taps of "
          "(max - min) over channel pairs, in float32")
    print("c_in  c_out  k  stride  size   Conv2DBackpropFilter   symmetric_matmul (1x1 only)")
    for c_in, c_out, k, stride, size in SHAPES:
        tf_spreads, symmetric_spreads = [], []
        for _ in range(FLAGS.trials):
            out_size = -(-size // stride)
            x = same_across_channels((BATCH, size, size, c_in))
            g = same_across_channels((BATCH, out_size, out_size, c_out))
            grad = tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=[k, k, c_in, c_out], out_backprop=g,
                                                   strides=[1, stride, stride, 1], padding="SAME").numpy()
            tf_spreads.append(spread(grad))
            if k == 1:
                w = tf.Variable(tf.zeros((c_in, c_out)))
                with tf.GradientTape() as tape:
                    flat = tf.reshape(x[:, ::stride, ::stride, :], (-1, c_in))
                    loss = tf.reduce_sum(symmetric_arithmetic.symmetric_matmul(flat, w) * g.reshape(-1, c_out))
                symmetric_spreads.append(spread(tape.gradient(loss, w).numpy()[None, None]))
        symmetric = f"{max(symmetric_spreads):.3g}" if symmetric_spreads else "-"
        print(f"{c_in:4d}  {c_out:5d}  {k}  {stride:6d}  {size:4d}   {max(tf_spreads):20.3g}   {symmetric:>26}")


if __name__ == "__main__":
    app.run(main)
