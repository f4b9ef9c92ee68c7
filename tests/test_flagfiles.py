"""Every flagfile in flags/ parses with the flags of the binary it is written for."""
import glob
import os
import re

import tensorflow as tf
from absl import flags
from absl.testing import parameterized

from keras_initstudy import determinism_compare, flagdefs, grid, replicate_features, runners, sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(glob.glob(os.path.join(ROOT, "flags", "*.flags")))


def binary_for(text: str) -> str:
    if "--unique=" in text:
        return "replicate_features"
    if "--mechanisms=" in text:
        return "determinism_compare"
    if "--axis=" in text:
        return "sweep"
    if "--rounds=" in text:
        return "prune"
    return "train"


def flag_values(binary: str) -> flags.FlagValues:
    fv = flags.FlagValues()
    if binary == "replicate_features":
        replicate_features.define_flags(fv)
        return fv
    if binary in ("sweep", "prune"):
        sweep.define_runner_flags(fv)
    else:
        flagdefs.define_train_flags(fv)
    if binary == "sweep":
        sweep.define_sweep_flags(fv)
    if binary == "determinism_compare":
        determinism_compare.define_compare_flags(fv)
    return fv


AS_RELEASED_TWINS = {"schicho2022_resnet50_as_released.flags": "schicho2022_resnet50_cifar.flags",
                     "wijnja2020_as_released.flags": "wijnja2020_xavier_normal.flags"}


class FlagfileTest(tf.test.TestCase, parameterized.TestCase):

    def test_the_readme_status_table_says_what_exists(self):
        """Each paper's row names its author-year prefix, has flagfiles under it, and says done
        (issue 25.5: the table said 'planned' long after the experiments ran)."""
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            rows = [line for line in f if line.startswith("| 00")]
        self.assertLen(rows, 5)
        for row in rows:
            prefix = row.split("(`")[1].split("`)")[0]
            self.assertNotEmpty(glob.glob(os.path.join(ROOT, "flags", f"{prefix}_*.flags")), prefix)
            status = row.rstrip().rstrip("|").split("|")[-1].strip()
            self.assertStartsWith(status, "done", prefix)
            self.assertNotIn("planned", row)

    def test_the_training_page_names_every_model(self):
        from keras_initstudy import models
        with open(os.path.join(ROOT, "docs", "training.md"), encoding="utf-8") as f:
            row = next(line for line in f if line.startswith("| `--model` |"))
        self.assertEmpty([name for name in models.names() if f"`{name}`" not in row])

    def test_there_are_flagfiles_for_the_papers(self):
        names = [os.path.basename(f) for f in FLAGFILES]
        self.assertContainsSubset({"jesus2021_mlp_hasyv2.flags", "jesus2021_fig2_quick.flags",
                                   "blumenfeld2020_constnet_cifar10.flags",
                                   "blumenfeld2020_constnet_quick.flags"}, names)

    @parameterized.named_parameters((os.path.basename(f), f) for f in FLAGFILES if "_as_released" in f)
    def test_an_as_released_twin_comments_every_flag_it_changes(self, path):
        """One comment per difference from the paper's flagfile: each flag the twins set differently is
        named in a comment line of the _as_released file."""
        name = os.path.basename(path)
        twin = os.path.join(os.path.dirname(path), AS_RELEASED_TWINS.get(name, name.replace("_as_released", "")))
        self.assertTrue(os.path.exists(twin), f"{name}: no paper flagfile {twin}")
        lines = {}
        for p in (path, twin):
            with open(p) as f:
                lines[p] = [l.strip() for l in f if l.strip()]
        comments = " ".join(l for l in lines[path] if l.startswith("#"))
        flags_of = lambda p: {l for l in lines[p] if l.startswith("--") and not l.startswith("--experiment=")}
        changed = flags_of(path) ^ flags_of(twin)
        names = {re.sub(r"^--(no)?", "", l.split("=")[0]) for l in changed}
        self.assertEmpty([n for n in sorted(names) if n not in comments and n.replace("_", " ") not in comments],
                         f"{name}: flags changed from {os.path.basename(twin)} without a comment")

    @parameterized.named_parameters((os.path.basename(f), f) for f in FLAGFILES)
    def test_parses(self, path):
        with open(path) as f:
            text = f.read()
        binary = binary_for(text)
        self.assertIn(f"keras_initstudy.{binary}", text, "the header should say how to run it")
        fv = flag_values(binary)
        fv(["prog", f"--flagfile={path}"])
        if binary != "replicate_features":
            runner = fv["runner"].value if binary == "sweep" else ("prune" if binary == "prune" else "train")
            config_cls = runners.config_class(runner)
            self.assertEqual(flagdefs.misplaced_model_flags(fv, config_cls), [])
            self.assertEqual(flagdefs.foreign_flags(fv, config_cls), [])
            base = flagdefs.config_from_flags(fv, config_cls)
            if binary == "sweep":  # every grid point is a valid, distinct run
                configs = grid.expand(base, grid.parse_axes(fv["axis"].value, config_cls))
                self.assertLen({c.run_name() for c in configs}, len(configs))


if __name__ == "__main__":
    tf.test.main()
