"""A test case whose classes share one temporary folder, for runs set up once per class."""
import tempfile

import tensorflow as tf


class ClassTempDirTestCase(tf.test.TestCase):
    """`cls.out`: a folder that lives from setUpClass to tearDownClass."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._class_tmp = tempfile.TemporaryDirectory()
        cls.out = cls._class_tmp.name

    @classmethod
    def tearDownClass(cls):
        cls._class_tmp.cleanup()
        super().tearDownClass()


class TempDirTestCase(tf.test.TestCase):
    """`self.dir`: a fresh folder for each test, removed after it."""

    def setUp(self):
        super().setUp()
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.dir = folder.name
