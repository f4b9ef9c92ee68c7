"""Run identity (hash of non-default settings) and the flagfile round trip."""
import os

import tensorflow as tf
from absl import flags

from keras_initstudy import config, flagdefs, rundir


class ConfigTest(tf.test.TestCase):

    def test_run_hash_is_pinned(self):
        # Changing these values renames existing run directories: do not, unless on purpose.
        self.assertEqual(config.ExperimentConfig().run_hash(), "44136fa3")
        self.assertEqual(config.ExperimentConfig().replace(width=512, seed=3).run_hash(), "dfa9e4f3")

    def test_only_non_default_hashed_fields_count(self):
        base = config.ExperimentConfig()
        self.assertEqual(base.non_default_hashed(), {})
        moved = base.replace(output_dir="/elsewhere", data_dir="/data", download=False)
        self.assertEqual(moved.run_hash(), base.run_hash())
        self.assertNotEqual(base.replace(seed=1).run_hash(), base.run_hash())
        self.assertEqual(base.replace(seed=1, width=32).non_default_hashed(), {"seed": 1, "width": 32})

    def test_run_name_and_path(self):
        cfg = config.ExperimentConfig().replace(dataset="mnist", output_dir="out")
        self.assertEqual(cfg.run_name(), f"mlp_mnist-{cfg.run_hash()}")
        self.assertEqual(rundir.path_for(cfg), os.path.join("out", cfg.run_name()))
        self.assertStartsWith(cfg.replace(experiment="fig2").run_name(), "fig2-")

    def test_replace_rejects_unknown_fields(self):
        with self.assertRaisesRegex(KeyError, "widht"):
            config.ExperimentConfig().replace(widht=3)

    def test_flag_lines_round_trip_through_flagfile(self):
        cfg = config.ExperimentConfig().replace(width=17, deterministic=True, download=False,
                                                learning_rate=0.05, data_dir="/d", experiment="x")
        path = os.path.join(self.get_temp_dir(), "flags.txt")
        rundir.write_settings(self.get_temp_dir(), cfg)
        fv = flags.FlagValues()
        flagdefs.define_train_flags(fv)
        fv(["prog", f"--flagfile={path}"])
        self.assertEqual(flagdefs.config_from_flags(fv), cfg)

    def test_defaults_are_paper_000s(self):
        cfg = config.ExperimentConfig()
        self.assertEqual((cfg.model.width, cfg.model.depth, cfg.model.activation), (256, 2, "relu"))
        self.assertEqual((cfg.model.kernel_initializer, cfg.model.bias_initializer),
                         ("glorot_uniform", "zeros"))
        self.assertEqual((cfg.training.optimizer, cfg.training.learning_rate, cfg.training.batch_size),
                         ("sgd", 0.1, 128))


class FlagValidationTest(tf.test.TestCase):

    def parse(self, *args):
        fv = flags.FlagValues()
        flagdefs.define_train_flags(fv)
        fv(["prog", *args])
        return fv

    def test_good_flags_parse(self):
        self.assertEqual(self.parse("--width=3", "--kernel_initializer=he_normal").width, 3)

    def test_bad_values_are_rejected(self):
        for bad in ("--width=0", "--depth=-1", "--epochs=0", "--batch_size=0", "--learning_rate=0",
                    "--optimizer=lbfgs", "--dataset=nope", "--kernel_initializer=nope",
                    "--activation=nope", "--experiment=a/b", "--seed=-1"):
            with self.subTest(bad):
                with self.assertRaises(flags.Error):
                    self.parse(bad)


if __name__ == "__main__":
    tf.test.main()
