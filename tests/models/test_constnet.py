"""ConstNet, ConstNet He and WRN at initialisation (paper 002 §2.2, App. A, C, D), against the
structure and parameter counts of the authors' model.py and of WRN-28-10."""
import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy.analysis import correlations
from keras_initstudy.models.constnet import build_constnet
from keras_initstudy.models.wide_resnet import build_wide_resnet

SHAPE = (28, 28, 1)
CIFAR = (32, 32, 3)


def images(n=4, seed=0, shape=SHAPE):
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def all_activations(model, x, training=True):
    layers = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    outputs = keras.Model(model.inputs, [l.output for l in layers])(x, training=training)
    return {l.name: np.asarray(o) for l, o in zip(layers, outputs)}


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def authors_constnet_parameters(widen_factor, blocks_per_stage, in_channels=3, classes=10):
    """Trainable parameters of model.py's WideResNet (depth = 3 n + 4), term by term:
    stem conv3x3; per block bn(C_in) + conv3x3(C_in -> C_out) + a 1x1 shortcut when
    C_in != C_out; fc with bias. model.py's blocks also hold 3 scalars (`scale`,
    `biases`) the batch-norm path never uses: returned separately."""
    total, c_in = 9 * in_channels * 16, 16
    for width in (16, 32, 64):
        c_out = width * widen_factor
        for _ in range(blocks_per_stage):
            total += 2 * c_in + 9 * c_in * c_out + (c_in * c_out if c_in != c_out else 0)
            c_in = c_out
    return total + c_in * classes + classes, 3 * 3 * blocks_per_stage


class ConstNetInitTest(tf.test.TestCase, parameterized.TestCase):

    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    @parameterized.parameters((True, SHAPE), (False, SHAPE), (True, CIFAR))
    def test_every_channel_of_every_hidden_activation_is_identical(self, batch_norm, shape):
        model = build_constnet(shape, 10, widen_factor=2, num_blocks=6, batch_norm=batch_norm)
        for name, value in all_activations(model, images(shape=shape)).items():
            if value.ndim == 4:
                self.assertAllEqual(value, np.broadcast_to(value[..., :1], value.shape), msg=name)

    @parameterized.parameters(*correlations.KINDS)
    def test_forward_correlation_of_every_hidden_kernel_is_one(self, kind):
        model = build_constnet(CIFAR, 10, widen_factor=2, num_blocks=6)
        for variable in model.trainable_weights:
            if variable.ndim == 4:
                self.assertNear(correlations.forward(variable.numpy(), kind), 1.0, 1e-12, variable.path)

    def test_output_and_features_do_not_depend_on_the_number_of_blocks(self):
        x = images()
        results = []
        for blocks in (3, 6, 12):
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

    @parameterized.parameters((10, 12, CIFAR, 17_115_354), (1, 3, SHAPE, None), (2, 6, CIFAR, None))
    def test_parameter_count_is_the_authors_networks(self, widen_factor, num_blocks, shape, expected):
        model = build_constnet(shape, 10, widen_factor=widen_factor, num_blocks=num_blocks)
        theirs, unused_scalars = authors_constnet_parameters(widen_factor, num_blocks // 3, in_channels=shape[-1])
        self.assertEqual(trainable_count(model), theirs)
        if expected:  # depth 16, k = 10: model.py prints 17,115,390 = this + 36 unused scalars
            self.assertEqual(theirs, expected)
            self.assertEqual(unused_scalars, 36)

    def test_blocks_as_model_py_builds_them(self):
        """Widening block: shortcut conv1x1(stride) on bn(x), averaging; conv3x3(stride) on relu(bn(x)), zero.
        Other blocks: x + conv(relu(bn(x))). Then relu -> pool -> Dense, with no batch norm after the blocks."""
        model = build_constnet(CIFAR, 10, widen_factor=2, num_blocks=6)
        shortcuts = [l for l in model.layers if l.name.endswith("_shortcut")]
        self.assertEqual([l.name for l in shortcuts], ["stage1_block1_shortcut", "stage2_block1_shortcut",
                                                       "stage3_block1_shortcut"])
        for layer, stride, c_in in zip(shortcuts, (1, 2, 2), (16, 32, 64)):
            self.assertEqual(layer.kernel_size, (1, 1))
            self.assertEqual(layer.strides, (stride, stride))
            self.assertAllEqual(layer.kernel.numpy(), np.full(layer.kernel.shape, 1.0 / c_in, np.float32))
            prefix = layer.name[:-len("_shortcut")]
            self.assertIs(layer._inbound_nodes[0].parent_nodes[0].operation, model.get_layer(f"{prefix}_bn"))
            self.assertEqual(model.get_layer(f"{prefix}_conv").strides, (stride, stride))
        self.assertEqual([l.name for l in model.layers[-3:]], ["final_relu", "pool", "output"])
        self.assertLen([l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)], 6)
        # Narrow stage 1 (k = 1: 16 -> 16): its first block is an identity block, as model.py's equalInOut.
        narrow = build_constnet(SHAPE, 10, widen_factor=1, num_blocks=3)
        self.assertNotIn("stage1_block1_shortcut", [l.name for l in narrow.layers])

    def test_a_widening_block_averages_its_normalised_input(self):
        """With trained-looking batch-norm statistics and random convs, the block's output is
        avg1x1(bn(x)) + conv3x3(relu(bn(x))), not avg1x1(x) + ...: the shortcut reads bn(x)."""
        model = build_constnet(SHAPE, 10, widen_factor=2, num_blocks=3)
        rng = np.random.default_rng(2)
        bn = model.get_layer("stage2_block1_bn")
        bn.moving_mean.assign(rng.normal(size=bn.moving_mean.shape).astype(np.float32))
        bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=bn.moving_variance.shape).astype(np.float32))
        conv = model.get_layer("stage2_block1_conv")
        conv.kernel.assign(rng.normal(size=conv.kernel.shape).astype(np.float32) * 0.1)
        acts = all_activations(model, images(), training=False)
        x = acts["stage1_block1_add"].astype(np.float64)
        a = (x - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
        expected = a[:, ::2, ::2, :].mean(axis=-1, keepdims=True) + acts["stage2_block1_conv"]
        self.assertAllClose(acts["stage2_block1_add"], np.broadcast_to(expected, acts["stage2_block1_add"].shape),
                            rtol=1e-4, atol=1e-5)

    def test_constnet_he_draws_every_conv_as_model_py_varnet(self):
        """N(0, 2 / (9 C_out)) for block convs, N(0, 1 / C_out) for 1x1 shortcuts, N(0, 1 / (9 * 16)) for
        the stem, untruncated; the final Dense stays zero."""
        model = build_constnet(CIFAR, 10, widen_factor=4, num_blocks=6, init="he", init_seed=3)
        self.assertEqual(model.name, "constnet_he")
        for name, variance in (("stage3_block2_conv", 2 / (9 * 256)), ("stage3_block1_conv", 2 / (9 * 256)),
                               ("stage3_block1_shortcut", 1 / 256), ("stem_conv", 1 / (9 * 16))):
            kernel = model.get_layer(name).kernel.numpy().astype(np.float64)
            self.assertNear(kernel.var() / variance, 1.0, 6 * np.sqrt(2 / kernel.size), name)
            self.assertGreater(np.abs(kernel).max() / np.sqrt(variance), 3.0, name)  # not truncated at 2 sd
        self.assertAllEqual(model.get_layer("output").kernel.numpy(), np.zeros((256, 10)))
        acts = all_activations(model, images(shape=CIFAR))["stage1_block1_add"]
        self.assertGreater(float(np.abs(acts - acts[..., :1]).max()), 0.01)

    def test_dropout_after_block_convs_and_optionally_the_stem(self):
        model = build_constnet(SHAPE, 10, widen_factor=1, num_blocks=3, dropout=0.1)
        dropouts = [l.name for l in model.layers if isinstance(l, keras.layers.Dropout)]
        self.assertEqual(dropouts, ["stage1_block1_dropout", "stage2_block1_dropout", "stage3_block1_dropout"])
        for block in (1, 2, 3):  # dropout acts on the conv's output, not on the shortcut
            layer = model.get_layer(f"stage{block}_block1_dropout")
            self.assertIs(layer._inbound_nodes[0].parent_nodes[0].operation,
                          model.get_layer(f"stage{block}_block1_conv"))
        every = build_constnet(SHAPE, 10, widen_factor=1, num_blocks=3, dropout=0.1, dropout_stem=True)
        self.assertEqual([l.name for l in every.layers if isinstance(l, keras.layers.Dropout)][0], "stem_dropout")

    def test_batch_norm_momentum_as_released(self):
        model = build_constnet(SHAPE, 10, widen_factor=1, num_blocks=3, batch_norm_momentum=0.81)
        self.assertEqual({l.momentum for l in model.layers if isinstance(l, keras.layers.BatchNormalization)},
                         {0.81})

    def test_bad_block_counts(self):
        for blocks in (0, 4, 13):
            with self.assertRaisesRegex(ValueError, "multiple of 3"):
                build_constnet(SHAPE, 10, widen_factor=1, num_blocks=blocks)


def wrn_parameters(depth, k, in_channels=3, classes=10):
    """WRN-d-k's trainable parameters: stem; per block bn(C_in) conv3x3 bn(C_out) conv3x3 and a
    1x1 shortcut when widening; final bn; fc with bias."""
    total, c_in = 9 * in_channels * 16, 16
    for width in (16, 32, 64):
        c_out = width * k
        for _ in range((depth - 4) // 6):
            total += 2 * c_in + 9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + (c_in * c_out if c_in != c_out else 0)
            c_in = c_out
    return total + 2 * c_in + c_in * classes + classes


class WideResNetTest(tf.test.TestCase):

    def test_wrn_28_10_has_its_36_5_million_parameters(self):
        model = build_wide_resnet(CIFAR, 10, depth=28, widen_factor=10)
        self.assertEqual(trainable_count(model), wrn_parameters(28, 10))
        self.assertEqual(trainable_count(model), 36_479_194)

    def test_two_he_convs_per_block_and_diverse_features(self):
        model = build_wide_resnet(CIFAR, 10, depth=16, widen_factor=4, init_seed=1)
        self.assertEqual(trainable_count(model), wrn_parameters(16, 4))
        convs = [l.name for l in model.layers if isinstance(l, keras.layers.Conv2D)]
        self.assertEqual(len(convs), 1 + 2 * 6 + 3)
        kernel = model.get_layer("stage3_block2_conv2").kernel.numpy().astype(np.float64)
        self.assertNear(kernel.var() / (2 / (9 * 256)), 1.0, 6 * np.sqrt(2 / kernel.size))
        self.assertLess(abs(correlations.forward(kernel)), 0.01)
        acts = all_activations(model, images(shape=CIFAR))["stage1_block1_add"]
        self.assertGreater(float(np.abs(acts - acts[..., :1]).max()), 0.01)

    def test_bad_depth(self):
        with self.assertRaisesRegex(ValueError, "6 n \\+ 4"):
            build_wide_resnet(CIFAR, 10, depth=20)


if __name__ == "__main__":
    tf.test.main()
