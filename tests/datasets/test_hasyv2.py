"""The HASYv2 TFDS builder, its archive checks and its loader, on synthetic data in the
real archive's layout (hasyv2_dummy_data.py)."""
import contextlib
import csv
import os
import shutil
import tempfile
from unittest import mock

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl.testing import parameterized
from etils import epath

from keras_initstudy import errors
from keras_initstudy.datasets import hasyv2, hasyv2_checks
from tests.datasets import hasyv2_dummy_data as dummy

PER_FOLD = 2  # test images per fold: 20 images in all


@contextlib.contextmanager
def registered_as(archive: str):
    """The checks expect `archive`'s size and sha256, and the dummy's image count."""
    with mock.patch.object(hasyv2_checks, "expected_archive", return_value=dummy.registered(archive)), \
            mock.patch.object(hasyv2_checks, "NUM_IMAGES", dummy.NUM_FOLDS * PER_FOLD):
        yield


class Hasyv2BuilderTest(tfds.testing.DatasetBuilderTestCase):
    """TFDS's builder test over two configs, archive placed in the manual folder."""

    DATASET_CLASS = hasyv2.Hasyv2
    BUILDER_CONFIG_NAMES_TO_TEST = ["fold-1", "fold-2"]
    SPLITS = {"train": 18, "test": 2}

    @classmethod
    def setUpClass(cls):
        cls._dummy = tempfile.TemporaryDirectory()
        cls.EXAMPLE_DIR = cls._dummy.name
        cls._registered = registered_as(dummy.write_archive(cls._dummy.name, PER_FOLD))
        cls._registered.__enter__()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls._registered.__exit__(None, None, None)
        cls._dummy.cleanup()


class ChecksumTest(tf.test.TestCase):

    def test_the_zenodo_archive_is_registered_the_tfds_way(self):
        self.assertEqual(hasyv2_checks.expected_archive(),
                         (34_597_561, "7c3ffe709e8c2b83f6ab7d8afc79f7b5f46421657981b1752d22a0ed0052aa2d"))
        info = hasyv2.Hasyv2.url_infos[hasyv2.URL]  # what TFDS verifies a download against
        self.assertEqual(int(info.size), 34_597_561)
        self.assertEqual(info.filename, hasyv2.ARCHIVE_NAME)

    def test_size_then_sha256_are_checked(self):
        path = epath.Path(self.get_temp_dir()) / "HASYv2.tar.bz2"
        path.write_bytes(b"x" * 100)
        digest = hasyv2_checks.sha256_of(path)
        with mock.patch.object(hasyv2_checks, "expected_archive", return_value=(99, digest)):
            with self.assertRaisesRegex(errors.DataError, "100 bytes, HASYv2.tar.bz2 has 99; .*incomplete"):
                hasyv2_checks.verify_archive(path)
        with mock.patch.object(hasyv2_checks, "expected_archive", return_value=(100, "0" * 64)):
            with self.assertRaisesRegex(errors.DataError, f"sha256 {digest} does not match"):
                hasyv2_checks.verify_archive(path)
        with mock.patch.object(hasyv2_checks, "expected_archive", return_value=(100, digest)):
            hasyv2_checks.verify_archive(path)


def rewrite_csv(path, edit):
    """Applies edit(rows) -> rows to a csv (header kept as the first row)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f, quotechar="'"))
    with open(path, "w", newline="") as f:
        csv.writer(f, quotechar="'", lineterminator="\n").writerows(edit(rows))


def drop_fold_file(root):
    os.remove(os.path.join(root, "classification-task", "fold-7", "test.csv"))


def delete_an_image(root):
    os.remove(os.path.join(root, "hasy-data", "v2-00003.png"))


def point_a_row_at_no_image(root):
    rewrite_csv(os.path.join(root, "classification-task", "fold-4", "train.csv"),
                lambda rows: [rows[0], ["../../hasy-data/v2-99999.png", *rows[1][1:]]] + rows[2:])


def overlap_splits(root):
    folder = os.path.join(root, "classification-task", "fold-1")
    with open(os.path.join(folder, "test.csv"), newline="") as f:
        first_test = list(csv.reader(f, quotechar="'"))[1]
    rewrite_csv(os.path.join(folder, "train.csv"), lambda rows: rows + [first_test])


def drop_a_symbol(root):
    rewrite_csv(os.path.join(root, "symbols.csv"), lambda rows: rows[:-1])


def wrong_header(root):
    rewrite_csv(os.path.join(root, "classification-task", "fold-2", "train.csv"),
                lambda rows: [["path", "symbol", "latex", "user_id"]] + rows[1:])


def miscount_a_symbol(root):
    rewrite_csv(os.path.join(root, "symbols.csv"),
                lambda rows: [rows[0], [rows[1][0], rows[1][1], str(int(rows[1][2]) + 1), rows[1][3]]] + rows[2:])


def wrong_latex_in_a_fold(root):
    rewrite_csv(os.path.join(root, "classification-task", "fold-3", "test.csv"),
                lambda rows: [rows[0], [rows[1][0], rows[1][1], "B", rows[1][3]]] + rows[2:])


def put_an_image_in_two_test_splits(root):
    """Fold 2's first test image is in fold 3's test split too (moved there from its train split)."""
    fold2, fold3 = (os.path.join(root, "classification-task", f"fold-{k}") for k in (2, 3))
    with open(os.path.join(fold2, "test.csv"), newline="") as f:
        moved = list(csv.reader(f, quotechar="'"))[1]
    rewrite_csv(os.path.join(fold3, "test.csv"), lambda rows: rows + [moved])
    rewrite_csv(os.path.join(fold3, "train.csv"), lambda rows: [r for r in rows if r != moved])


class LayoutTest(parameterized.TestCase, tf.test.TestCase):
    """check_layout on the synthetic layout, whole and broken one way at a time."""

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.get_temp_dir(), "layout")
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root)
        dummy.write_layout(self.root, PER_FOLD)
        patcher = mock.patch.object(hasyv2_checks, "NUM_IMAGES", dummy.NUM_FOLDS * PER_FOLD)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_the_synthetic_layout_passes(self):
        root = epath.Path(self.root)
        hasyv2_checks.check_layout(root)  # raises on any fault
        images = hasyv2_checks.check_labels(root, hasyv2_checks.check_symbols(root), dummy.NUM_FOLDS * PER_FOLD)
        self.assertLen(images, dummy.NUM_FOLDS * PER_FOLD)
        self.assertEqual(images["v2-00002.png"], ("1400", "a,b", "12"))
        tests = [hasyv2_checks.check_fold(root, fold, images) for fold in range(1, dummy.NUM_FOLDS + 1)]
        self.assertEqual([len(t) for t in tests], [PER_FOLD] * dummy.NUM_FOLDS)
        self.assertEqual(set().union(*tests), set(images))

    @parameterized.named_parameters(
        ("missing_fold_file", drop_fold_file, r"fold-7/test.csv: missing"),
        ("image_file_missing", delete_an_image, r"hasy-data/v2-00003.png: image missing"),
        ("row_whose_image_is_missing", point_a_row_at_no_image,
         r"fold-4/train.csv: ../../hasy-data/v2-99999.png: image missing \(not in hasy-data-labels.csv\)"),
        ("overlapping_splits", overlap_splits, r"fold-1: 1 images in both train and test"),
        ("wrong_symbol_count", drop_a_symbol, r"symbols.csv: 368 symbols, expected 369"),
        ("wrong_header", wrong_header, r"fold-2/train.csv: header path,symbol,latex,user_id, expected "
                                       r"path,symbol_id,latex,user_id"),
        ("symbol_sample_count", miscount_a_symbol, r"symbol 31 \(A\): training_samples \+ test_samples = 6, "
                                                   r"but 5 images"),
        ("latex_disagrees", wrong_latex_in_a_fold, r"fold-3/test.csv: .*v2-00004.png: symbol 31 'B', "
                                                   r"hasy-data-labels.csv says 31 'A'"),
        ("image_tested_twice", put_an_image_in_two_test_splits, r"1 images in several folds' test splits"))
    def test_a_broken_copy_fails_with_one_line_naming_it(self, damage, message):
        damage(self.root)
        with self.assertRaisesRegex(errors.DataError, "HASYv2 layout: .*" + message) as caught:
            hasyv2_checks.check_layout(epath.Path(self.root))
        self.assertNotIn("\n", str(caught.exception))

    def test_a_split_size_that_does_not_add_up(self):
        with mock.patch.object(hasyv2_checks, "NUM_IMAGES", 21):
            with self.assertRaisesRegex(errors.DataError, "20 images, expected 21"):
                hasyv2_checks.check_layout(epath.Path(self.root))


class LoadHasyv2Test(tf.test.TestCase):

    def setUp(self):
        super().setUp()
        self.data_dir = self.get_temp_dir()

    def test_loads_fold_with_symbols_csv_labels_and_latex_names(self):
        archive = dummy.write_archive(self.data_dir, PER_FOLD)
        with registered_as(archive):
            data = hasyv2.load_hasyv2(self.data_dir, download=False, fold=1)
        self.assertEqual(data.train.images.shape, (18, 32, 32, 1))
        self.assertEqual(data.test.images.shape, (2, 32, 32, 1))
        self.assertEqual(data.info.num_classes, 369)
        self.assertEqual(data.info.input_shape, (32, 32, 1))
        # Labels are symbols.csv row indices: symbol 31 -> 0, 36 -> 5, 1400 -> 368, 38 -> 7.
        self.assertCountEqual(data.test.labels.tolist(), [0, 5])
        self.assertCountEqual(set(data.train.labels.tolist()), [0, 5, 368, 7])
        self.assertEqual(data.info.class_names[368], "a,b")
        self.assertEqual(data.info.class_names[5], r"\alpha")
        # Black-on-white pixels survive as 0 and 1 after grey conversion and scaling.
        self.assertEqual(set(np.unique(data.train.images).tolist()), {0.0, 1.0})

    def test_a_broken_archive_is_one_line_before_anything_is_written(self):
        with tempfile.TemporaryDirectory() as root:
            dummy.write_layout(root, PER_FOLD)
            drop_fold_file(root)
            archive = dummy.pack(root, os.path.join(self.data_dir, "HASYv2.tar.bz2"))
        with registered_as(archive):
            with self.assertRaisesRegex(errors.DataError, r"^HASYv2 layout: .*fold-7/test.csv: missing$"):
                hasyv2.load_hasyv2(self.data_dir, download=False, fold=1)

    def test_missing_archive_without_download_says_where_to_put_it(self):
        with self.assertRaisesRegex(errors.DataError,
                                    "HASYv2 archive not found.*put it in .*downloads/manual"):
            hasyv2.load_hasyv2(self.data_dir, download=False)

    def test_offline_download_fails_fast_with_the_same_advice(self):
        with mock.patch.object(hasyv2, "host_reachable", return_value=False):
            with self.assertRaisesRegex(errors.DataError, "zenodo.org is unreachable.*HASYv2.tar.bz2"):
                hasyv2.load_hasyv2(self.data_dir, download=True)

    def test_an_archive_that_is_not_the_registered_one_is_reported(self):
        dummy.write_archive(self.data_dir, PER_FOLD)
        with self.assertRaisesRegex(errors.UserError, "bytes, HASYv2.tar.bz2 has 34,597,561"):
            hasyv2.load_hasyv2(self.data_dir, download=False)

    def test_archive_in_data_dir_is_used_as_manual_dir(self):
        dummy.write_archive(self.data_dir, PER_FOLD)
        self.assertEqual(hasyv2.manual_dir_for(self.data_dir), self.data_dir)
        self.assertEqual(hasyv2.manual_dir_for(None),
                         os.path.join(os.path.expanduser(tfds.core.constants.DATA_DIR), "downloads", "manual"))


if __name__ == "__main__":
    tf.test.main()
