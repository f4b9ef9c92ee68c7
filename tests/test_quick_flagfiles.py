"""Every quick flagfile of every paper runs end to end (issue 24.1), shrunk to seconds.

Each flagfile is run through its binary's own path (sweeps through run_grid with the
default ensemble size, so seeds train together as they do for a user), with a few of its
lines replaced so that it takes seconds: a few steps instead of epochs, two rounds. What
makes a flagfile's structure is kept: every axis value (rewind points scaled down with the
rounds), branches, pre-training, seeds grouped into ensembles, and in paper 004's Fig. 1 a
rewind point inside an epoch, so that a round is two fits, as at full length.
A quick flagfile that no longer runs fails here, not in a user's hands. Papers-scale:
marked slow (`-m "not slow"` leaves it out while iterating; CI runs it).
"""
import glob
import os
import subprocess
import sys

import pytest
import tensorflow as tf
from absl.testing import parameterized
from tensorflow.python.framework import config as tf_config

from keras_initstudy import determinism_compare, flagdefs, grid, rundir, runners, sweep
from keras_initstudy.ensemble import grouping
from tests.class_tempdir import ClassTempDirTestCase
from tests.test_flagfiles import binary_for, flag_values

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = sorted(set(glob.glob(os.path.join(ROOT, "flags", "*_quick.flags"))
                   + glob.glob(os.path.join(ROOT, "flags", "*_quick_*.flags"))))

# Lines replaced per flagfile (prefix match on the flag, value after '='); every flagfile gets
# its output_dir. 47 steps make an epoch of fashion_mnist_mini.
SHRINK = {
    "blumenfeld2020_constnet_quick": {"epochs": None, "steps": "2"},
    "blumenfeld2020_constnet_symmetric_arithmetic_quick": {"steps": "2"},  # its epochs: the nested flagfile's
    "blumenfeld2020_replicate_features_quick": {"steps": "3", "unique": "1,4", "replicas": "1,4", "seeds": "0"},
    # rounds of 60 steps: the rewind to 10it is a round of two fits (10..47, 47..60), as 50it is at full length
    "frankle2020_fig1_rewind_quick": {"epochs": None, "steps": "60", "rounds": "2", "axis=rewind": "0it,10it,50it"},
    "frankle2020_fig3_telemetry_quick": {"epochs": None, "steps": "12", "resnet_width": "1", "resnet_depth": "8",
                                         "telemetry_window": "6it", "telemetry_eval_every": "3it",
                                         "telemetry_state_every": "2it"},
    "frankle2020_fig4_signs_quick": {"epochs": None, "steps": "12", "rounds": "2", "axis=rewind": "5it"},
    "frankle2020_fig5_permute_quick": {"epochs": None, "steps": "6", "rounds": "2", "resnet_width": "1",
                                       "resnet_depth": "8",
                                       "axis=rewind": "2it,4it"},
    "frankle2020_pretrain_quick": {"epochs": None, "steps": "6", "rounds": "2", "pretrain_length": "4it"},
    "jesus2021_fig1_quick": {"epochs": None, "steps": "10"},
    "jesus2021_fig3_quick": {"epochs": None, "steps": "10"},
    "jesus2021_mlp_quick": {"epochs": None, "steps": "10"},
    "schicho2022_quick_cnn": {"epochs": None, "steps": "4", "gradient_steps": "2"},
    "schicho2022_quick_fnn": {"epochs": None, "steps": "4", "gradient_steps": "2"},
}
# jesus2021's sweeps (one grid, four figures: the first trains it, the others find it done) and
# wijnja2020's eight initialisations
DEFAULT_SHRINK = {"epochs": None, "steps": "6", "rounds": "2"}


def shrunk_flagfile(path: str, folder: str, output_dir: str) -> str:
    """`path` with SHRINK's lines replaced (None: removed), written into `folder`; only
    --output_dir (shared: identical grids are trained once) and --steps are added where the
    flagfile did not set them."""
    name = os.path.basename(path)[:-len(".flags")]
    changes = dict(SHRINK.get(name, DEFAULT_SHRINK), output_dir=output_dir)
    with open(path) as f:
        lines = f.read().splitlines()
    given = lambda line, flag: line.startswith(f"--{flag}=")  # noqa: E731
    kept = [line for line in lines if not any(given(line, flag) for flag in changes)]
    added = [f"--{flag}={value}" for flag, value in changes.items() if value is not None
             and (flag in ("output_dir", "steps") or any(given(line, flag) for line in lines))]
    out = os.path.join(folder, os.path.basename(path))
    with open(out, "w") as f:
        f.write("\n".join(kept + added) + "\n")
    return out


@pytest.mark.slow
class QuickFlagfilesTest(ClassTempDirTestCase, parameterized.TestCase):

    def tearDown(self):
        tf_config.disable_op_determinism()
        super().tearDown()

    def test_every_paper_has_quick_flagfiles_and_each_has_its_shrink(self):
        names = [os.path.basename(p)[:-len(".flags")] for p in QUICK]
        self.assertEqual({n.split("_")[0] for n in names},
                         {"jesus2021", "schicho2022", "blumenfeld2020", "wijnja2020", "frankle2020"})
        self.assertEmpty(set(SHRINK) - set(names))  # no shrink left for a flagfile that is gone

    @parameterized.named_parameters((os.path.basename(p)[:-len(".flags")], p) for p in QUICK)
    def test_runs(self, path):
        with open(path) as f:
            binary = binary_for(f.read())
        folder = os.path.join(self.out, os.path.basename(path)[:-len(".flags")])
        os.makedirs(folder)
        flagfile = shrunk_flagfile(path, folder, os.path.join(self.out, "runs"))
        if binary == "replicate_features":
            done = subprocess.run([sys.executable, "-m", "keras_initstudy.replicate_features",
                                   f"--flagfile={flagfile}"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                                  env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
            self.assertEqual(done.returncode, 0, done.stderr[-3000:])
            self.assertLen(glob.glob(os.path.join(self.out, "runs", "*replicate*.csv")), 1)
            return
        fv = flag_values(binary)
        fv(["prog", f"--flagfile={flagfile}"])
        runner = fv["runner"].value if binary == "sweep" else ("prune" if binary == "prune" else "train")
        base = flagdefs.config_from_flags(fv, runners.config_class(runner))
        if binary == "determinism_compare":
            table = determinism_compare.compare(base, fv["mechanisms"].value, fv["repeats"].value,
                                                fv["compare_dropout"].value)
            self.assertEqual(sorted(table["mechanism"]), sorted(fv["mechanisms"].value))
            return
        configs = [base] if binary != "sweep" else grid.expand(base, grid.parse_axes(fv["axis"].value,
                                                                                    runners.config_class(runner)))
        run_dirs, failures = sweep.run_grid(configs, runner, progress=False,
                                            ensemble_size=grouping.default_size())
        self.assertEqual(failures, [])
        self.assertLen(run_dirs, len(configs))
        for cfg in configs:
            self.assertTrue(runners.get(runner).is_complete(cfg, rundir.path_for(cfg)), cfg.run_name())
        self.assertNotEmpty(runners.get(runner).table(run_dirs))


if __name__ == "__main__":
    tf.test.main()
