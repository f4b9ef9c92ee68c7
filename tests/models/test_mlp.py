"""The paper-000 MLP: shapes, parameter count, Glorot-uniform weights, zero biases."""
import math

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy.models import mlp


class MlpTest(tf.test.TestCase, parameterized.TestCase):

    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    def test_layer_shapes_and_parameter_count(self):
        model = mlp.build_mlp((28, 28, 1), 10, width=256, depth=2)
        dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
        self.assertEqual([l.name for l in dense], ["hidden_1", "hidden_2", "output"])
        self.assertEqual([tuple(l.kernel.shape) for l in dense], [(784, 256), (256, 256), (256, 10)])
        # 784*256+256 + 256*256+256 + 256*10+10
        self.assertEqual(model.count_params(), 269_322)
        self.assertEqual(model.output_shape, (None, 10))

    def test_hasyv2_shape(self):
        model = mlp.build_mlp((32, 32, 1), 369, width=512, depth=2)
        self.assertEqual(model.count_params(), 1024 * 512 + 512 + 512 * 512 + 512 + 512 * 369 + 369)

    def test_biases_start_at_zero(self):
        model = mlp.build_mlp((28, 28, 1), 10, width=64)
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dense):
                self.assertAllEqual(layer.bias.numpy(), np.zeros(layer.bias.shape))

    @parameterized.parameters(((784, 256),), ((256, 256),), ((256, 10),))
    def test_weights_are_glorot_uniform(self, shape):
        """Eq. (1): U(-sqrt(6/(m+n)), +sqrt(6/(m+n))): bounded, filling the range, variance limit^2/3."""
        model = mlp.build_mlp((28, 28, 1), 10, width=256)
        kernel = next(l.kernel.numpy() for l in model.layers
                      if isinstance(l, keras.layers.Dense) and tuple(l.kernel.shape) == shape)
        limit = math.sqrt(6.0 / sum(shape))
        self.assertLessEqual(np.abs(kernel).max(), limit)
        self.assertGreater(np.abs(kernel).max(), 0.98 * limit)
        self.assertNear(kernel.var(), limit ** 2 / 3, 0.1 * limit ** 2 / 3)
        self.assertNear(kernel.mean(), 0.0, 0.05 * limit)

    def test_softmax_output_sums_to_one(self):
        model = mlp.build_mlp((28, 28, 1), 10, width=8)
        probs = model(np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)).numpy()
        self.assertAllClose(probs.sum(axis=1), np.ones(4), atol=1e-6)

    def test_initializers_by_name_object_or_per_layer(self):
        model = mlp.build_mlp((4,), 2, width=3, depth=1, kernel_initializer=keras.initializers.Ones(),
                              bias_initializer=["ones", "zeros"])
        hidden, output = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
        self.assertAllEqual(hidden.kernel.numpy(), np.ones((4, 3)))
        self.assertAllEqual(hidden.bias.numpy(), np.ones(3))
        self.assertAllEqual(output.bias.numpy(), np.zeros(2))

    def test_layers_draw_independently_even_from_one_seeded_initializer(self):
        # Keras 3: an initializer with an integer seed draws the same values on every call,
        # so layers of one shape would be equal; each layer gets its own derived seed instead.
        seeded = keras.initializers.GlorotUniform(seed=1)
        model = mlp.build_mlp((8,), 8, width=8, depth=2, kernel_initializer=seeded)
        first, second, third = [l.kernel.numpy() for l in model.layers if isinstance(l, keras.layers.Dense)]
        self.assertNotAllEqual(first, second)
        self.assertNotAllEqual(second, third)
        self.assertIsNot(model.get_layer("hidden_1").kernel_initializer, model.get_layer("hidden_2").kernel_initializer)

    def test_initial_weights_depend_only_on_the_init_seed(self):
        keras.utils.set_random_seed(1)
        a = mlp.build_mlp((8,), 4, width=8, init_seed=5, data_seed=0)
        keras.utils.set_random_seed(2)  # other global state, other data seed: same weights
        keras.initializers.GlorotUniform()((3, 3))
        b = mlp.build_mlp((8,), 4, width=8, init_seed=5, data_seed=9)
        c = mlp.build_mlp((8,), 4, width=8, init_seed=6)
        for wa, wb, wc in zip(a.weights, b.weights, c.weights):
            self.assertAllEqual(wa.numpy(), wb.numpy())
        self.assertNotAllEqual(a.weights[0].numpy(), c.weights[0].numpy())

    def test_wrong_number_of_per_layer_initializers(self):
        with self.assertRaisesRegex(ValueError, "got 2 initializers for 3 Dense layers"):
            mlp.build_mlp((4,), 2, depth=2, kernel_initializer=["zeros", "ones"])


if __name__ == "__main__":
    tf.test.main()
