"""Letter masks (paper 000 footnote 5) and the MaskedInitializer."""
import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import config, initializers, masks, settings


class GlyphMaskTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(((256, 256),), ((784, 256),), ((10, 30),))
    def test_binary_of_the_matrix_shape_and_partly_on(self, shape):
        mask = masks.glyph_mask(shape, "a")
        self.assertEqual(mask.shape, shape)
        self.assertEqual(set(np.unique(mask).tolist()), {0.0, 1.0})
        self.assertBetween(float(mask.mean()), 0.2, 0.8)

    def test_centred_and_filling_with_margin(self):
        mask = masks.glyph_mask((100, 100), "a")
        rows, cols = np.nonzero(mask)
        # 5% margins: the mark spans about 90% of each side, centred.
        self.assertBetween(int(rows.min()), 4, 7)
        self.assertBetween(int(rows.max()), 92, 95)
        self.assertBetween(int(cols.min()), 4, 7)
        self.assertBetween(int(cols.max()), 92, 95)
        self.assertAllEqual(mask[:4], np.zeros((4, 100)))

    def test_the_hole_of_a_is_open(self):
        """Even-odd filling: the counter of 'a' (lower middle of the glyph) is empty."""
        mask = masks.glyph_mask((100, 100), "a")
        row_profile = mask[70]  # through the bowl of the 'a'
        on = np.flatnonzero(row_profile)
        self.assertGreater(len(on), 0)
        self.assertLess(row_profile[on.min():on.max() + 1].mean(), 0.9)  # a gap inside the stroke

    def test_upright_letter_differs_from_flipped(self):
        mask = masks.glyph_mask((60, 60), "L")
        # An upright L has its foot at the bottom: more ink in the bottom rows' width than the top's.
        self.assertGreater(mask[-10:].sum(axis=1).max(), mask[:10].sum(axis=1).max())

    def test_text_changes_the_mark(self):
        self.assertNotAllEqual(masks.glyph_mask((50, 50), "a"), masks.glyph_mask((50, 50), "b"))

    def test_pixel_centres_and_margin_on_a_rectangle(self):
        """'I' is a rectangle stretched to fill the matrix less 5% a side: on a 20 x 20
        matrix the pixel centres (k + 0.5) / 20 are inside for k = 1..18, exactly."""
        expected = np.zeros((20, 20), np.float32)
        expected[1:19, 1:19] = 1
        mask = masks.glyph_mask((20, 20), "I")
        self.assertEqual(mask.dtype, np.float32)
        self.assertAllEqual(mask, expected)
        self.assertAllEqual(masks.glyph_mask((1, 1), "I"), [[1.0]])  # the smallest matrix
        self.assertAllEqual(masks.glyph_mask((3, 20), "I", margin=0.0), np.ones((3, 20)))

    def test_the_default_mark_is_a_bold_a(self):
        """Paper 000's mark is an 'a'; the bold face covers ~56% of a 64 x 64 matrix (the
        regular face ~41%)."""
        mask = masks.glyph_mask((64, 64))
        self.assertAllEqual(mask, masks.glyph_mask((64, 64), "a"))
        self.assertBetween(float(mask.mean()), 0.53, 0.60)

    def test_render(self):
        self.assertEqual(masks.render(np.array([[1, 0], [0, 1]])), "#.\n.#")
        self.assertEqual(masks.render(np.array([[1, 0]]), on="x", off="-"), "x-")

    def test_rejects_empty_text_and_bad_shape(self):
        with self.assertRaisesRegex(ValueError, "^mask text must contain a visible character$"):
            masks.glyph_mask((10, 10), " ")
        for shape in ((0, 10), (10, 0)):
            with self.assertRaisesRegex(ValueError, r"^mask shape must be positive, got \((0, 10|10, 0)\)$"):
                masks.glyph_mask(shape, "a")

    def test_a_character_the_font_lacks_is_refused_not_drawn_as_a_box(self):
        """Without the check, '漢' rasterised as DejaVu's missing-glyph frame."""
        self.assertEqual(masks.missing_characters("a漢bΩ"), ["漢"])
        with self.assertRaisesRegex(ValueError, "no glyph for '漢'"):
            masks.glyph_mask((20, 20), "漢")
        with self.assertRaisesRegex(ValueError, "^the mask font \\(DejaVu Sans bold\\) has no glyph for '漢', '字'$"):
            masks.check_text("a漢字漢")
        for drawable in ("Ω", "é", "ж", "∑"):
            self.assertGreater(float(masks.glyph_mask((20, 20), drawable).sum()), 0.0, drawable)
        with self.assertRaisesRegex(settings.ConfigError, "mask font can draw"):
            config.ExperimentConfig().replace(mask="漢")


class MaskedInitializerTest(tf.test.TestCase):

    def test_zero_outside_the_mark_and_base_values_inside(self):
        keras.utils.set_random_seed(1)
        init = initializers.MaskedInitializer(keras.initializers.GlorotUniform(seed=3), "a")
        weights = keras.ops.convert_to_numpy(init((64, 48)))
        mask = masks.glyph_mask((64, 48), "a")
        self.assertAllEqual(weights[mask == 0], np.zeros(int((mask == 0).sum())))
        base = keras.ops.convert_to_numpy(keras.initializers.GlorotUniform(seed=3)((64, 48)))
        self.assertAllEqual(weights[mask == 1], base[mask == 1])

    def test_array_mask_and_shape_check(self):
        mask = np.eye(4, dtype=np.float32)
        init = initializers.MaskedInitializer("ones", mask)
        self.assertAllEqual(keras.ops.convert_to_numpy(init((4, 4))), mask)
        with self.assertRaisesRegex(ValueError, "does not match"):
            init((4, 5))

    def test_serialization_round_trip(self):
        for mask in ("a", np.eye(3, dtype=np.float32)):
            init = initializers.MaskedInitializer(keras.initializers.Ones(), mask)
            copy = keras.initializers.deserialize(keras.initializers.serialize(init))
            self.assertIsInstance(copy, initializers.MaskedInitializer)
            self.assertAllEqual(keras.ops.convert_to_numpy(copy((3, 3))),
                                keras.ops.convert_to_numpy(init((3, 3))))
            self.assertEqual(copy.get_config(), init.get_config())

    def test_masked_or_plain(self):
        self.assertEqual(initializers.masked_or_plain("glorot_uniform", "none"), "glorot_uniform")
        self.assertIsInstance(initializers.masked_or_plain("glorot_uniform", "a"),
                              initializers.MaskedInitializer)


if __name__ == "__main__":
    tf.test.main()
