"""Run names pinned for every flagfile's runs (issue 26): a change to how the identity is
computed must not rename a run directory by accident. Regenerate only on purpose, with a
hash-version bump: python -m tests.test_run_identity --write"""
import json
import os
import sys

import tensorflow as tf

from keras_initstudy import grid
from keras_initstudy.pruning.config import PruneExperimentConfig
from tests import test_flagfiles

PINNED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "run_names.json")


def flagfile_run_names() -> dict:
    """{flagfile: sorted run names of its runs (a sweep's grid points)}."""
    from keras_initstudy import flagdefs, runners
    found = {}
    for path in test_flagfiles.FLAGFILES:
        with open(path) as f:
            binary = test_flagfiles.binary_for(f.read())
        if binary == "replicate_features":  # no run directories of its own
            continue
        fv = test_flagfiles.flag_values(binary)
        fv(["prog", f"--flagfile={path}"])
        runner = fv["runner"].value if binary == "sweep" else ("prune" if binary == "prune" else "train")
        config_cls = runners.config_class(runner)
        base = flagdefs.config_from_flags(fv, config_cls)
        configs = grid.expand(base, grid.parse_axes(fv["axis"].value, config_cls)) if binary == "sweep" else [base]
        found[os.path.basename(path)] = sorted(c.run_name() for c in configs)
    return found


def variant_run_names() -> dict:
    """Settings whose canonical form the identity decides (seeds, steps, optimizer options)."""
    from keras_initstudy import config
    base = config.ExperimentConfig()
    variants = {
        "default": base, "seed=3": base.replace(seed=3), "init_seed=3": base.replace(init_seed=3),
        "steps=500,epochs=7": base.replace(steps=500, epochs=7), "simulated": base.replace(nondeterminism="simulated"),
        "simulated,noise": base.replace(nondeterminism="simulated", noise_scale=1e-3),
        "momentum": base.replace(momentum=0.9), "momentum,keras": base.replace(momentum=0.9, momentum_form="keras"),
        "adam": base.replace(optimizer="adam"), "adam,eps": base.replace(optimizer="adam", adam_epsilon=1e-8),
        "validation": base.replace(validation_split=7000), "pad,normalize": base.replace(pad_to=32,
                                                                                      normalize="per_channel"),
        "constnet": base.replace(model="constnet"), "width=512": base.replace(width=512),
        "prune": PruneExperimentConfig(), "prune,rewind=0": PruneExperimentConfig().replace(rewind="0it"),
        "prune,pretrain": PruneExperimentConfig().replace(pretrain="blur"),
        "prune,output": PruneExperimentConfig().replace(prune_output_fraction=0.1),
    }
    return {name: cfg.run_name() for name, cfg in variants.items()}


def current() -> dict:
    return {"flagfiles": flagfile_run_names(), "variants": variant_run_names()}


class RunIdentityTest(tf.test.TestCase):

    def test_every_run_keeps_its_name(self):
        with open(PINNED) as f:
            pinned = json.load(f)
        now = current()
        self.assertEqual(now["variants"], pinned["variants"])
        for name, names in pinned["flagfiles"].items():
            self.assertEqual(now["flagfiles"].get(name), names, name)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        with open(PINNED, "w") as f:
            json.dump(current(), f, indent=1, sort_keys=True)
            f.write("\n")
    else:
        tf.test.main()
