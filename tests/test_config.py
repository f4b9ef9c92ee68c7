"""Configs: self-validation, run identity (hash v2), generated flags, parameterised initializers."""
import dataclasses
import os

import numpy as np
import tensorflow as tf
from absl import flags
from absl.testing import parameterized

from keras_initstudy import config, flagdefs, initializers, models, rundir, settings
from keras_initstudy.datasets import base as datasets_base
from keras_initstudy.models import resnet

MLP_ONLY = ("width", "depth", "activation", "mask", "mask_layer", "bias_initializer")


def parse(*args):
    fv = flags.FlagValues()
    flagdefs.define_train_flags(fv)
    fv(["prog", *args])
    return fv


class ChecksTest(tf.test.TestCase, parameterized.TestCase):
    """Every cross-field check of the config sections, with the one line it prints."""

    @parameterized.parameters(
        (dict(optimizer="adam", momentum=0.9), "momentum and weight_decay need optimizer=sgd"),
        (dict(optimizer="adam", weight_decay=1e-4), "momentum and weight_decay need optimizer=sgd"),
        (dict(optimizer="adam", nondeterminism="simulated"), "nondeterminism=simulated needs optimizer=sgd"),
        (dict(rmsd=False, rmsd_every_steps=3), "rmsd_every_steps needs rmsd"),
        (dict(telemetry_eval_every="0it"), "telemetry_eval_every=0it: must be at least one step"),
        (dict(telemetry_state_every="0ep"), "telemetry_state_every=0ep: must be at least one step"),
        (dict(widht=3, lenght=2), "unknown config fields: lenght, widht"),
        (dict(model="constnet", width=3, depth=2), "depth, width does not apply to model constnet"))
    def test_refused_with_its_message(self, change, message):
        with self.assertRaises(settings.ConfigError) as caught:
            config.ExperimentConfig().replace(**change)
        self.assertEqual(str(caught.exception), message)

    @parameterized.parameters(
        dict(optimizer="sgd", momentum=0.9, weight_decay=1e-4, nondeterminism="simulated"),
        dict(optimizer="adam", nondeterminism="deterministic"), dict(optimizer="adam"),
        dict(telemetry_eval_every="1it", telemetry_state_every="1it"), dict(snapshots="log:1"),
        dict(rmsd=True, rmsd_every_steps=1))
    def test_accepted(self, **change):
        cfg = config.ExperimentConfig().replace(**change)
        for name, value in change.items():
            self.assertEqual(cfg.flat()[name], value)

    def test_the_model_must_be_a_registered_model_config(self):
        for model in ("mlp", models.ModelConfig()):
            with self.assertRaises(settings.ConfigError) as caught:
                config.ExperimentConfig(model=model)
            self.assertEqual(str(caught.exception), f"model must be a registered model config, got {model!r}")

    @parameterized.parameters(("deterministic", True), ("simulated", True), ("default", False))
    def test_op_determinism_and_mechanism(self, nondeterminism, deterministic_ops):
        training = config.TrainingConfig(nondeterminism=nondeterminism)
        self.assertEqual(training.op_determinism(), deterministic_ops)
        self.assertEqual(training.mechanism(), nondeterminism)

    def test_end_is_steps_or_epochs(self):
        self.assertEqual(config.TrainingConfig(epochs=3).end(10).iteration, 30)
        end = config.TrainingConfig(epochs=3, steps=25).end(10)
        self.assertEqual((end.iteration, end.epoch, end.at_epoch_end), (25, 2, False))

    def test_training_identity_keeps_what_decides_the_run(self):
        plain = settings.identity(config.TrainingConfig(seed=4, epochs=3))
        self.assertEqual((plain["init_seed"], plain["data_seed"], plain["epochs"]), (4, 4, 3))
        self.assertNotIn("seed", plain)
        self.assertNotIn("noise_scale", plain)
        self.assertNotIn("epochs", settings.identity(config.TrainingConfig(epochs=3, steps=25)))
        simulated = settings.identity(config.TrainingConfig(nondeterminism="simulated", noise_scale=0.5))
        self.assertEqual(simulated["noise_scale"], 0.5)

    def test_sections_nested_and_identity_keys(self):
        cfg = config.ExperimentConfig().replace(validation_split=0.1)
        self.assertEqual(config.ExperimentConfig.section_names(), ("data", "model", "training", "measure", "run"))
        from keras_initstudy.pruning.config import PruneExperimentConfig
        self.assertEqual(PruneExperimentConfig.section_names(),
                         ("data", "model", "training", "measure", "run", "pruning"))  # a runner's section last
        self.assertEqual(list(cfg.sections()), [cfg.data, cfg.model, cfg.training, cfg.measure, cfg.run])
        nested = cfg.nested()
        self.assertEqual(list(nested["model"])[:2], ["model", "width"])
        self.assertEqual(nested["model"]["model"], "mlp")
        identity = cfg.identity()
        self.assertEqual((identity["model"], identity["dataset"], identity["validation_split"]),
                         ("mlp", cfg.data.dataset, 0.1))
        self.assertNotIn("pad_to", identity)  # data fields count only when set
        self.assertEqual(config.ExperimentConfig().non_default_identity(), {})
        self.assertEqual(config.ExperimentConfig().replace(model="constnet").non_default_identity(),
                         {"model": "constnet", "model_revision": 2})  # a revision always counts
        self.assertEqual(config.ExperimentConfig.from_flat({"width": 64}).model_name, "mlp")

    def test_a_model_field_declared_unhashed_stays_out_of_the_identity(self):
        @dataclasses.dataclass(frozen=True)
        class Probed(models.config_class("mlp")):
            probe: int = settings.setting(0, "where a result goes, not what is computed", hashed=False)
            sampled: int = settings.setting(0, "an instrument", measure=True)

        identity = config.ExperimentConfig(model=Probed(probe=5, sampled=2, width=7)).identity()
        self.assertEqual(identity["width"], 7)
        self.assertNotIn("probe", identity)
        self.assertNotIn("sampled", identity)

    def test_model_fields_not_hashed_stay_out_of_the_identity(self):
        unhashed = [(cls, f) for cls, f in settings.fields_of(models.config_classes())
                    if not f.metadata.get("hashed", True)]
        hashed = [(cls, f) for cls, f in settings.fields_of(models.config_classes()) if f.metadata.get("hashed", True)]
        self.assertNotEmpty(hashed)
        for cls, f in hashed[:5]:
            cfg = config.ExperimentConfig(model=cls())
            self.assertIn(f.name, cfg.identity(), f.name)
        for cls, f in unhashed:
            self.assertNotIn(f.name, config.ExperimentConfig(model=cls()).identity(), f.name)


class IdentityTest(tf.test.TestCase):

    def test_run_hash_is_pinned(self):
        # Changing these values renames existing run directories: only with a new HASH_VERSION.
        # Version 1 named these runs 44136fa3 and dfa9e4f3; version 2 (this one) counts only the
        # fields of the chosen model, canonical seeds, and no instruments.
        self.assertEqual(config.HASH_VERSION, 2)
        self.assertEqual(config.ExperimentConfig().run_hash(), "6f1ce07a")
        self.assertEqual(config.ExperimentConfig().replace(width=512, seed=3).run_hash(), "291b92ec")

    def test_a_rebuilt_model_gets_new_run_names(self):
        """ConstNet and LeakyNet were rebuilt as the authors' code builds them (revision 1, issue 11), then
        all four PyTorch convnets padded as PyTorch pads and LeakyNet's batch norms put on odd blocks
        (issue 25): their runs are renamed so an old run directory is never resumed with the new graph;
        other models keep theirs."""
        for name, revision in (("constnet", 2), ("leakynet", 2), ("wide_resnet", 1), ("resnet", 1),
                               ("resnet20", 1)):
            cfg = config.ExperimentConfig().replace(model=name)
            self.assertEqual(cfg.non_default_identity()["model_revision"], revision)
            self.assertEqual(config.ExperimentConfig().replace(model=name, correlation="cosine").run_hash(),
                             cfg.run_hash())
        self.assertNotIn("model_revision", config.ExperimentConfig().replace(model="lenet_300_100").identity())

    def test_paper_001_released_options_count_only_when_set(self):
        base = config.ExperimentConfig()
        adam = base.replace(optimizer="adam")
        for field, value, cfg in (("loss_reduction", "sum", base), ("reshuffle", False, base),
                                  ("adam_epsilon", 1e-8, adam)):
            self.assertNotIn(field, cfg.non_default_identity())
            changed = cfg.replace(**{field: value})
            self.assertEqual(changed.non_default_identity()[field], value)
            self.assertNotEqual(changed.run_hash(), cfg.run_hash())

    def test_momentum_form_counts_only_with_momentum(self):
        """Runs with momentum computed Keras's form before issue 25: they are renamed; runs without keep
        their names."""
        base = config.ExperimentConfig()
        self.assertNotIn("momentum_form", base.identity())
        with_momentum = base.replace(momentum=0.9)
        self.assertEqual(with_momentum.non_default_identity()["momentum_form"], "pytorch")
        self.assertNotEqual(with_momentum.replace(momentum_form="keras").run_hash(), with_momentum.run_hash())
        self.assertEqual(base.replace(momentum_form="keras").run_hash(), base.run_hash())

    def test_only_settings_that_change_the_run_count(self):
        base = config.ExperimentConfig()
        self.assertEqual(base.non_default_identity(), {})
        moved = base.replace(output_dir="/elsewhere", data_dir="/data", download=False, experiment="x",
                             checkpoint_every="10it")
        self.assertEqual(moved.run_hash(), base.run_hash())
        self.assertNotEqual(base.replace(seed=1).run_hash(), base.run_hash())
        self.assertEqual(base.replace(seed=1, width=32).non_default_identity(),
                         {"init_seed": 1, "data_seed": 1, "width": 32})

    def test_instruments_are_not_part_of_the_identity(self):
        base = config.ExperimentConfig()
        measured = base.replace(rmsd_every_steps=10, snapshots="none", weight_images=False,
                                correlations=False, save_points="0it,5it", perturbation_layers="auto")
        self.assertEqual(measured.run_name(), base.run_name())
        self.assertNotEqual(measured.instruments(), base.instruments())

    def test_equivalent_settings_hash_the_same(self):
        base = config.ExperimentConfig()
        self.assertEqual(base.replace(seed=3).run_hash(), base.replace(init_seed=3, data_seed=3).run_hash())
        self.assertNotEqual(base.replace(init_seed=3).run_hash(), base.replace(data_seed=3).run_hash())
        self.assertEqual(base.replace(steps=500, epochs=7).run_hash(), base.replace(steps=500).run_hash())
        self.assertEqual(base.replace(noise_scale=1e-3).run_hash(), base.run_hash())  # used by 'simulated' only
        via_flag = flagdefs.config_from_flags(parse("--deterministic"))
        self.assertEqual(via_flag.run_hash(), base.replace(nondeterminism="deterministic").run_hash())

    def test_constnets_differing_only_in_mlp_fields_share_a_run(self):
        names = {config.ExperimentConfig.from_flat({"model": "constnet", "width": w, "depth": d}).run_name()
                 for w, d in ((10, 2), (50, 2), (250, 5))}
        self.assertLen(names, 1)
        self.assertEqual(config.ExperimentConfig.from_flat({"model": "constnet", "width": 10}).run_name(),
                         config.ExperimentConfig().replace(model="constnet").run_name())

    def test_run_name_and_path(self):
        cfg = config.ExperimentConfig().replace(dataset="mnist", output_dir="out")
        self.assertEqual(cfg.run_name(), f"mlp_mnist-{cfg.run_hash()}")
        self.assertEqual(rundir.path_for(cfg), os.path.join("out", cfg.run_name()))
        self.assertStartsWith(cfg.replace(experiment="fig2").run_name(), "fig2-")


class ValidationTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(
        dict(mask_layer=7), dict(learning_rate=-1.0), dict(width=0), dict(epochs=0), dict(batch_size=0),
        dict(optimizer="lbfgs"), dict(dataset="nope"), dict(kernel_initializer="nope"), dict(activation="nope"),
        dict(experiment="a/b"), dict(seed=-1), dict(init_seed=-2), dict(lr_boundaries="3,x"),
        dict(snapshots="log:0"), dict(save_points="2ep3"), dict(checkpoint_every="soon"),
        dict(optimizer="adam", momentum=0.9), dict(rmsd=False, rmsd_every_steps=3), dict(width=3.5),
        dict(dropout=1.5), dict(kernel_initializer="random_normal(stddev=0.5, seed=1)"))
    def test_replace_with_an_invalid_value_raises(self, **change):
        with self.assertRaises(settings.ConfigError) as caught:
            config.ExperimentConfig().replace(**change)
        self.assertIn(next(iter(change)) if len(change) == 1 else "", str(caught.exception))

    def test_replace_rejects_unknown_and_foreign_fields(self):
        with self.assertRaisesRegex(settings.ConfigError, "widht"):
            config.ExperimentConfig().replace(widht=3)
        with self.assertRaisesRegex(settings.ConfigError, "width does not apply to model constnet"):
            config.ExperimentConfig().replace(model="constnet", width=3)
        with self.assertRaisesRegex(settings.ConfigError, "1 \\+ 3 letters"):
            config.ExperimentConfig().replace(model="leakynet", num_blocks=3)
        with self.assertRaisesRegex(settings.ConfigError, "multiple of 3"):
            config.ExperimentConfig().replace(model="constnet", num_blocks=4)

    def test_a_config_is_valid_whenever_it_exists(self):
        with self.assertRaises(settings.ConfigError):
            config.TrainingConfig(learning_rate=0.0)
        with self.assertRaises(settings.ConfigError):
            models.config_class("mlp")(mask_layer=3, depth=2)

    def test_changing_model_starts_from_its_defaults(self):
        cfg = config.ExperimentConfig().replace(dropout=0.3)
        convnet = cfg.replace(model="wide_resnet")
        self.assertEqual((convnet.model.wrn_depth, convnet.model.dropout), (28, 0.0))
        self.assertEqual(cfg.replace(model="wide_resnet", dropout=0.2).model.dropout, 0.2)
        self.assertEqual(cfg.replace(model="resnet").model.kernel_initializer, resnet.KAIMING_NORMAL)

    def test_defaults_are_paper_000s(self):
        cfg = config.ExperimentConfig()
        self.assertEqual((cfg.model.width, cfg.model.depth, cfg.model.activation), (256, 2, "relu"))
        self.assertEqual((cfg.model.kernel_initializer, cfg.model.bias_initializer), ("glorot_uniform", "zeros"))
        self.assertEqual((cfg.training.optimizer, cfg.training.learning_rate, cfg.training.batch_size),
                         ("sgd", 0.1, 128))

    def test_model_fields_do_not_reuse_names_of_other_sections(self):
        fixed = config.ExperimentConfig.fixed_field_names()
        for cls in models.config_classes():
            with self.subTest(cls.name):
                self.assertEmpty({f.name for f in dataclasses.fields(cls)} & (fixed | {"model"}))


class FlagsTest(tf.test.TestCase):

    def test_every_field_is_a_flag_with_its_default_and_help(self):
        fv = flags.FlagValues()
        flagdefs.define_train_flags(fv)
        for name in config.ExperimentConfig.field_names():
            with self.subTest(name):
                self.assertIn(name, fv)
                self.assertTrue(fv[name].help)
        self.assertEqual(fv["width"].default, 256)
        self.assertEqual(fv["learning_rate"].default, 0.1)
        self.assertIsNone(fv["kernel_initializer"].default)  # glorot_uniform for mlp, kaiming for resnet
        self.assertIn("mlp: glorot_uniform", fv["kernel_initializer"].help)

    def test_unset_per_model_flags_take_the_models_default(self):
        self.assertEqual(flagdefs.config_from_flags(parse()).model.kernel_initializer, "glorot_uniform")
        self.assertEqual(flagdefs.config_from_flags(parse("--model=resnet")).model.kernel_initializer,
                         resnet.KAIMING_NORMAL)
        self.assertEqual(flagdefs.config_from_flags(parse("--model=resnet", "--kernel_initializer=zeros"))
                         .model.kernel_initializer, "zeros")

    def test_validators_are_the_fields_checks(self):
        for bad in ("--width=0", "--depth=-1", "--epochs=0", "--batch_size=0", "--learning_rate=0",
                    "--optimizer=lbfgs", "--dataset=nope", "--kernel_initializer=nope", "--activation=nope",
                    "--experiment=a/b", "--seed=-1", "--lr_boundaries=x", "--snapshots=log:0",
                    "--kernel_initializer=random_normal(stdev=1)", "--checkpoint_every=often"):
            with self.subTest(bad), self.assertRaises(flags.Error):
                parse(bad)
        self.assertEqual(parse("--width=3", "--kernel_initializer=he_normal").width, 3)

    def test_cross_field_errors_are_config_errors(self):
        with self.assertRaisesRegex(settings.ConfigError, "mask_layer=3"):
            flagdefs.config_from_flags(parse("--mask_layer=3"))
        with self.assertRaisesRegex(settings.ConfigError, "contradicts"):
            flagdefs.config_from_flags(parse("--deterministic", "--nondeterminism=simulated"))

    def test_old_flag_name_still_works(self):
        self.assertEqual(flagdefs.config_from_flags(parse("--snapshot_epochs=0,5")).measure.snapshots, "0,5")

    def test_flag_lines_round_trip_through_flagfile(self):
        for cfg in (config.ExperimentConfig().replace(width=17, nondeterminism="deterministic", download=False,
                                                      learning_rate=0.05, data_dir="/d", experiment="x",
                                                      init_seed=4, steps=30),
                    config.ExperimentConfig().replace(model="resnet", resnet_width=2,
                                                      kernel_initializer="variance_scaling(scale=2.0)"),
                    config.ExperimentConfig().replace(model="leakynet", channel_init="1_ii_11_ii", num_blocks=6)):
            with self.subTest(cfg.model_name):
                folder = os.path.join(self.get_temp_dir(), cfg.model_name)
                rundir.write_settings(folder, cfg)
                fv = flags.FlagValues()
                flagdefs.define_train_flags(fv)
                fv(["prog", f"--flagfile={rundir.at(folder).flags}"])
                self.assertEqual(flagdefs.config_from_flags(fv), cfg)


INFO = datasets_base.DatasetInfo("t", 3, (4, 4, 3), ("a", "b", "c"))


class InitializerSpecTest(tf.test.TestCase, parameterized.TestCase):

    def test_parse(self):
        self.assertEqual(initializers.parse_spec("zeros"), ("zeros", {}))
        self.assertEqual(initializers.parse_spec("random_normal(stddev=0.5)"), ("random_normal", {"stddev": 0.5}))
        self.assertEqual(initializers.parse_spec(" variance_scaling(scale=2.0, mode='fan_out') "),
                         ("variance_scaling", {"scale": 2.0, "mode": "fan_out"}))
        for bad in ("random_normal(0.5)", "random_normal(stddev=x)", "a.b", "1+1", ""):
            with self.subTest(bad), self.assertRaises(ValueError):
                initializers.parse_spec(bad)

    def test_parameters_reach_the_initializer(self):
        init = initializers.from_spec("random_normal(mean=3.0, stddev=0.5)", seed=1)
        draw = init((200, 200)).numpy()
        self.assertNear(draw.mean(), 3.0, 0.01)
        self.assertNear(draw.std(), 0.5, 0.01)
        self.assertAllEqual(draw, init((200, 200)).numpy())  # Keras 3: an integer seed repeats its draw
        self.assertNotAllEqual(draw, initializers.from_spec("random_normal(mean=3.0, stddev=0.5)", seed=2)(
            (200, 200)).numpy())

    @parameterized.parameters("mlp", "resnet")
    def test_every_model_with_an_initializer_takes_parameters(self, model):
        cfg = config.ExperimentConfig().replace(model=model, kernel_initializer="random_normal(stddev=0.5)",
                                                **({"resnet_width": 2, "resnet_depth": 8} if model == "resnet" else {}))
        spec = models.build(cfg.model, INFO, cfg.training.seeds)
        first = spec.kernel(spec.kernels[0]).numpy()
        self.assertNear(float(np.std(first)), 0.5, 0.15)
        kernels = [spec.kernel(n).numpy() for n in spec.kernels[:-1]]
        stds = [float(np.std(k)) for k in kernels if k.size > 100]
        self.assertAllClose(stds, [0.5] * len(stds), atol=0.1)


if __name__ == "__main__":
    tf.test.main()
