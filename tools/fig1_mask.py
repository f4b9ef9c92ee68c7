"""Paper 000 Fig. 1: train and test loss, and the masked weight matrix (|w|, scaled
by max|w(0)|) at snapshot epochs, one row per run: the letter persists in networks
that train well and fades in those that cross into untrainability.

    python -m keras_initstudy.train --flagfile=flags/jesus2021_fig1_quick.flags
    python tools/fig1_mask.py --run_dirs=runs/jesus2021_fig1_quick-XXXXXXXX --out=fig1.png
"""
import numpy as np
from absl import app, flags

import figure_common as common
from keras_initstudy import rundir
from keras_initstudy.analysis import runs

FLAGS = flags.FLAGS
flags.DEFINE_list("run_dirs", None, "Run directories of masked runs (--mask=a).")
flags.DEFINE_integer("panels", 5, "Number of snapshot epochs shown per run.")
flags.DEFINE_string("out", None, "PNG file to write.")
flags.mark_flags_as_required(["run_dirs", "out"])


def masked_kernel_name(run_dir: str) -> str:
    settings = runs.settings(run_dir)
    snapshot = runs.load_snapshot(run_dir, 0)
    return runs.edge_weight_names(snapshot)[settings.get("mask_layer", 1)]


def main(argv):
    del argv
    fig, axes = common.plt.subplots(len(FLAGS.run_dirs), FLAGS.panels + 1,
                                    figsize=(2.6 * (FLAGS.panels + 1) + 1.5, 2.8 * len(FLAGS.run_dirs)),
                                    squeeze=False, gridspec_kw={"width_ratios": [1.6] + [1] * FLAGS.panels})
    for row, run_dir in enumerate(FLAGS.run_dirs):
        settings = runs.settings(run_dir)
        history = runs.read_history(run_dir)
        ax = axes[row, 0]
        ax.plot(history["epoch"], history["loss"], label="train")
        ax.plot(history["epoch"], history["test_loss"], label="test")
        ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel="loss",
               title=f"width {settings['width']}, mask {settings['mask']!r}")
        ax.legend(fontsize=8)
        epochs = rundir.snapshot_epochs(run_dir)
        shown = [epochs[i] for i in np.unique(np.linspace(0, len(epochs) - 1, FLAGS.panels).round().astype(int))]
        name = masked_kernel_name(run_dir)
        scale = np.abs(runs.load_snapshot(run_dir, 0)[name]).max()
        for col in range(1, FLAGS.panels + 1):
            axes[row, col].axis("off")
        for col, epoch in enumerate(shown, start=1):
            w = runs.load_snapshot(run_dir, epoch)[name]
            axes[row, col].imshow(np.clip(np.abs(w) / scale, 0, 1), cmap="gray_r", vmin=0, vmax=1,
                                  interpolation="nearest")
            axes[row, col].set_title(f"{name}\nepoch {epoch}", fontsize=8)
    fig.tight_layout()
    common.save(fig, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
