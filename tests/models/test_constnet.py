"""ConstNet at initialisation (paper 002 §2.2, App. A, C, D) and its He twin."""
import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy.analysis import correlations
from keras_initstudy.models.constnet import build_constnet

SHAPE = (28, 28, 1)


def images(n=4, seed=0, shape=SHAPE):
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def all_activations(model, x, training=True):
    layers = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    outputs = keras.Model(model.inputs, [l.output for l in layers])(x, training=training)
    return {l.name: np.asarray(o) for l, o in zip(layers, outputs)}


class ConstNetInitTest(tf.test.TestCase, parameterized.TestCase):

    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    @parameterized.parameters((True, (28, 28, 1)), (False, (28, 28, 1)), (True, (32, 32, 3)))
    def test_every_channel_of_every_hidden_activation_is_identical(self, batch_norm, shape):
        model = build_constnet(shape, 10, widen_factor=2, num_blocks=6, batch_norm=batch_norm)
        for name, value in all_activations(model, images(shape=shape)).items():
            if value.ndim == 4:
                self.assertAllEqual(value, np.broadcast_to(value[..., :1], value.shape), msg=name)

    def test_forward_correlation_of_every_hidden_kernel_is_exactly_one(self):
        model = build_constnet(SHAPE, 10, widen_factor=2, num_blocks=6)
        for variable in model.trainable_weights:
            if variable.ndim == 4:
                self.assertEqual(correlations.forward(variable.numpy()), 1.0, variable.path)

    def test_output_and_features_do_not_depend_on_the_number_of_blocks(self):
        x = images()
        results = []
        for blocks in (2, 6, 12):
            model = build_constnet(SHAPE, 10, widen_factor=1, num_blocks=blocks)
            acts = all_activations(model, x)
            results.append((acts["pool"], acts["output"]))
        for pooled, probs in results[1:]:
            self.assertAllClose(pooled, results[0][0], rtol=1e-6, atol=1e-6)
            self.assertAllEqual(probs, results[0][1])
        self.assertAllClose(results[0][1], np.full((4, 10), 0.1))  # zero Dense: uniform prediction

    def test_only_the_final_dense_gets_a_gradient_at_step_zero(self):
        """App. C/D: with the final Dense at zero, no signal flows back into the network."""
        model = build_constnet(SHAPE, 10, widen_factor=1, num_blocks=6)
        labels = np.arange(4) % 10
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, model(images(), training=True)))
        grads = tape.gradient(loss, model.trainable_weights)
        for variable, grad in zip(model.trainable_weights, grads):
            if variable.path.split("/")[-2] == "output":
                self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0.0, variable.path)
            else:
                self.assertAllEqual(grad, np.zeros(grad.shape), msg=variable.path)

    def test_exact_parameter_count(self):
        model = build_constnet(SHAPE, 10, widen_factor=1, num_blocks=3)
        convs = 3 * 3 * 1 * 16 + (16 * 16 + 16 * 32 + 32 * 64) + 9 * (16 * 16 + 32 * 32 + 64 * 64)
        batch_norms = 4 * (16 + 32 + 64) + 4 * 64  # one per block + the final one
        self.assertEqual(model.count_params(), convs + batch_norms + 64 * 10 + 10)
        self.assertEqual(model.count_params(), 52_698)

    def test_wide_resnet_baseline_has_diverse_features(self):
        model = build_constnet(SHAPE, 10, widen_factor=2, num_blocks=6, init="he")
        self.assertEqual(model.name, "wrn")
        kernel = model.get_layer("stage2_block1_conv").kernel.numpy()
        self.assertLess(abs(correlations.forward(kernel)), 0.05)
        acts = all_activations(model, images())["stage1_block1_add"]
        self.assertGreater(float(np.abs(acts - acts[..., :1]).max()), 0.01)

    def test_dropout_follows_every_conv_including_the_first(self):
        model = build_constnet(SHAPE, 10, widen_factor=1, num_blocks=3, dropout=0.1)
        dropouts = [l.name for l in model.layers if isinstance(l, keras.layers.Dropout)]
        self.assertEqual(dropouts, ["stem_dropout", "stage1_block1_dropout", "stage2_block1_dropout",
                                    "stage3_block1_dropout"])


if __name__ == "__main__":
    tf.test.main()
