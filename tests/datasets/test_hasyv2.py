"""The HASYv2 TFDS builder and loader on synthetic data in the real archive layout."""
import os
import tempfile
from unittest import mock

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_initstudy import errors
from keras_initstudy.datasets import hasyv2
from tests.datasets import hasyv2_dummy_data as dummy


class Hasyv2BuilderTest(tfds.testing.DatasetBuilderTestCase):
    """TFDS's builder test over both configs, archive placed in the manual folder."""

    DATASET_CLASS = hasyv2.Hasyv2
    BUILDER_CONFIG_NAMES_TO_TEST = ["fold-1", "fold-2"]
    SPLITS = {"train": 4, "test": 2}

    @classmethod
    def setUpClass(cls):
        cls._dummy = tempfile.TemporaryDirectory()
        cls.EXAMPLE_DIR = cls._dummy.name
        cls._md5 = mock.patch.object(hasyv2, "ARCHIVE_MD5", dummy.write_archive(cls._dummy.name))
        cls._md5.start()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls._md5.stop()
        cls._dummy.cleanup()


class LoadHasyv2Test(tf.test.TestCase):

    def setUp(self):
        super().setUp()
        self.data_dir = self.get_temp_dir()

    def test_loads_fold_with_symbols_csv_labels_and_latex_names(self):
        md5 = dummy.write_archive(self.data_dir)
        with mock.patch.object(hasyv2, "ARCHIVE_MD5", md5):
            data = hasyv2.load_hasyv2(self.data_dir, download=False, fold=1)
        self.assertEqual(data.train.images.shape, (4, 32, 32, 1))
        self.assertEqual(data.test.images.shape, (2, 32, 32, 1))
        self.assertEqual(data.info.num_classes, 369)
        self.assertEqual(data.info.input_shape, (32, 32, 1))
        # Labels are symbols.csv row indices: symbol 31 -> 0, 36 -> 5, 1400 -> 368, 38 -> 7.
        by_user = dict(zip(range(4), [0, 5, 368, 7]))
        self.assertCountEqual(data.train.labels.tolist(), by_user.values())
        self.assertEqual(data.info.class_names[368], "a,b")
        self.assertEqual(data.info.class_names[5], r"\alpha")
        # Black-on-white pixels survive as 0 and 1 after grey conversion and scaling.
        self.assertEqual(set(np.unique(data.train.images).tolist()), {0.0, 1.0})

    def test_missing_archive_without_download_says_where_to_put_it(self):
        with self.assertRaisesRegex(errors.DataError,
                                    "HASYv2 archive not found.*put it in .*downloads/manual"):
            hasyv2.load_hasyv2(self.data_dir, download=False)

    def test_offline_download_fails_fast_with_the_same_advice(self):
        with mock.patch.object(hasyv2, "host_reachable", return_value=False):
            with self.assertRaisesRegex(errors.DataError, "zenodo.org is unreachable.*HASYv2.tar.bz2"):
                hasyv2.load_hasyv2(self.data_dir, download=True)

    def test_wrong_checksum_is_reported(self):
        dummy.write_archive(self.data_dir)
        with self.assertRaisesRegex(errors.UserError, "md5 .* does not match"):
            hasyv2.load_hasyv2(self.data_dir, download=False)

    def test_archive_in_data_dir_is_used_as_manual_dir(self):
        dummy.write_archive(self.data_dir)
        self.assertEqual(hasyv2.manual_dir_for(self.data_dir), self.data_dir)
        self.assertEqual(hasyv2.manual_dir_for(None),
                         os.path.join(os.path.expanduser(tfds.core.constants.DATA_DIR), "downloads", "manual"))


if __name__ == "__main__":
    tf.test.main()
