"""keras_initstudy/symmetric_arithmetic.py: products that round every output channel alike
(paper 002's identical features, issue 24.2). Exactness here holds by construction (a sum
of elementwise products, in one order for every output element), on any CPU."""
from unittest import mock

import keras
import numpy as np
import tensorflow as tf

from keras_initstudy import symmetric_arithmetic as sa
from keras_initstudy.models import constnet


def same_across_last_axis(rng, shape):
    return np.repeat(rng.standard_normal(shape[:-1] + (1,)).astype(np.float32), shape[-1], axis=-1)


class SymmetricMatmulTest(tf.test.TestCase):

    def test_it_is_the_matrix_product_and_its_gradients(self):
        rng = np.random.default_rng(0)
        a, w, dy = (tf.constant(rng.standard_normal(s).astype(np.float32)) for s in ((50, 7), (7, 5), (50, 5)))
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([a, w])
            ours, theirs = sa.symmetric_matmul(a, w), tf.matmul(a, w)
        self.assertAllClose(ours, theirs, rtol=1e-5, atol=1e-5)
        for x in (a, w):
            self.assertAllClose(tape.gradient(ours, x, output_gradients=dy),
                                tape.gradient(theirs, x, output_gradients=dy), rtol=1e-5, atol=1e-5)

    def test_identical_channels_give_bit_identical_results(self):
        rng = np.random.default_rng(1)
        a = tf.constant(same_across_last_axis(rng, (6272, 32)))  # the quick ConstNet's stage-3 shortcut
        dy = tf.constant(same_across_last_axis(rng, (6272, 64)))
        w = tf.Variable(tf.fill((32, 64), 0.03125))
        with tf.GradientTape() as tape:
            tape.watch(a)
            out = sa.symmetric_matmul(a, w)
        da, dw = (g.numpy() for g in tape.gradient(out, [a, w], output_gradients=dy))
        for tensor in (out.numpy(), da, dw):
            self.assertAllEqual(tensor, np.repeat(tensor[:, :1], tensor.shape[1], axis=1))
        self.assertAllEqual(dw, np.full_like(dw, dw[0, 0]))  # one value: rows are identical as well

    def test_chunks_sum_as_one(self):
        rng = np.random.default_rng(2)
        a, w = (tf.constant(rng.standard_normal(s).astype(np.float32)) for s in ((100, 4), (4, 3)))
        with tf.GradientTape() as tape:
            tape.watch(w)
            whole = sa.symmetric_matmul(a, w)
        expected = tape.gradient(whole, w)
        with mock.patch.object(sa, "CHUNK_ELEMENTS", 24):  # 2 rows of 4 x 3 products per chunk
            with tf.GradientTape() as tape:
                tape.watch(w)
                chunked = sa.symmetric_matmul(a, w)
            self.assertAllClose(tape.gradient(chunked, w), expected, rtol=1e-6)


class SymmetricLayersTest(tf.test.TestCase):

    def test_the_pointwise_conv_is_keras_conv_for_odd_and_even_sizes(self):
        rng = np.random.default_rng(3)
        for size in (7, 8):
            x = rng.standard_normal((2, size, size, 3)).astype(np.float32)
            plain = keras.layers.Conv2D(4, 1, strides=2, padding="same", use_bias=False)
            ours = sa.SymmetricPointwiseConv2D(4, 1, strides=2, padding="same", use_bias=False)
            plain.build(x.shape)
            ours.build(x.shape)
            ours.kernel.assign(plain.kernel)
            self.assertAllClose(ours(x), plain(x), rtol=1e-5, atol=1e-6)

    def test_the_pointwise_conv_refuses_other_kernels(self):
        with self.assertRaisesRegex(ValueError, "1x1 convolution"):
            sa.SymmetricPointwiseConv2D(4, 3, padding="same")(np.zeros((1, 4, 4, 2), np.float32))

    def test_dense_is_keras_dense(self):
        x = np.random.default_rng(4).standard_normal((5, 6)).astype(np.float32)
        plain, ours = keras.layers.Dense(3, activation="softmax"), sa.SymmetricDense(3, activation="softmax")
        plain.build(x.shape)
        ours.build(x.shape)
        ours.set_weights(plain.get_weights())
        self.assertAllClose(ours(x), plain(x), rtol=1e-5, atol=1e-6)

    def test_constnet_with_it_has_the_same_graph_and_parameters(self):
        plain = constnet.build_constnet((28, 28, 1), 10, widen_factor=1, num_blocks=3)
        ours = constnet.build_constnet((28, 28, 1), 10, widen_factor=1, num_blocks=3, symmetric_arithmetic=True)
        self.assertEqual(ours.count_params(), plain.count_params())
        self.assertEqual([l.name for l in ours.layers], [l.name for l in plain.layers])
        self.assertEqual({type(l).__name__ for l in ours.layers if l.name.endswith(("_shortcut", "output"))},
                         {"SymmetricPointwiseConv2D", "SymmetricDense"})
        x = np.random.default_rng(5).random((2, 28, 28, 1)).astype(np.float32)
        self.assertAllClose(ours(x), plain(x), rtol=1e-5, atol=1e-6)


if __name__ == "__main__":
    tf.test.main()
