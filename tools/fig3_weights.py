"""Paper 000 Fig. 3: density of final weights w_f against initial weights w_i, with
the binned median and interquartile range, the line w_f = w_i, the fitted peak line
(slope c_opt, Appendix B) and, on top, histograms of w_f - w_i for the lowest,
middle and highest w_i (where the skew shows).

    python tools/fig3_weights.py --run_dir=runs/jesus2021_fig1_quick-XXXXXXXX --out=fig3.png
"""
import numpy as np
from absl import app, flags
from matplotlib.colors import LogNorm

import figure_common as common
from keras_initstudy import rundir
from keras_initstudy.analysis import deviation, runs

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", None, "A run directory with snapshots.")
flags.DEFINE_integer("epoch", None, "Snapshot epoch of w_f (default: the last).")
flags.DEFINE_string("layer", None, "Layer, e.g. hidden_2 (default: all layers pooled).")
flags.DEFINE_bool("skip_masked", True, "Leave out weights that a letter mask set to exactly 0 at init.")
flags.DEFINE_string("out", None, "PNG file to write.")
flags.mark_flags_as_required(["run_dir", "out"])


def main(argv):
    del argv
    epoch = FLAGS.epoch if FLAGS.epoch is not None else rundir.snapshot_epochs(FLAGS.run_dir)[-1]
    w_i, w_f = runs.weight_pairs(FLAGS.run_dir, epoch, FLAGS.layer)
    if FLAGS.skip_masked:
        w_i, w_f = w_i[w_i != 0], w_f[w_i != 0]
    bins = deviation.binned_quantiles(w_i, w_f, bins=40)
    c = deviation.c_opt(w_i, w_f)
    fig = common.plt.figure(figsize=(8, 8))
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 3])
    tops = [fig.add_subplot(grid[0, k]) for k in range(3)]
    ax = fig.add_subplot(grid[1, :])
    ax.hist2d(w_i, w_f, bins=200, norm=LogNorm(), cmap="Blues")
    ax.plot(bins["w_i_centre"], bins["median"], color="red", label="median")
    ax.fill_between(bins["w_i_centre"], bins["q25"], bins["q75"], color="red", alpha=0.25, label="IQR")
    x = np.array([w_i.min(), w_i.max()])
    ax.plot(x, x, "k--", lw=1, label="w_f = w_i")
    ax.plot(x, c * x, color="orange", lw=1, label=f"peak line, c_opt = {c:.3f}")
    ax.set(xlabel="initial weight w_i", ylabel=f"weight after {epoch} epochs, w_f")
    ax.legend(fontsize=8, loc="upper left")
    edges = np.linspace(w_i.min(), w_i.max(), 11)
    for top, k, name in zip(tops, (0, 5, 9), ("lowest", "middle", "highest")):
        in_slice = (w_i >= edges[k]) & (w_i <= edges[k + 1])
        top.hist(w_f[in_slice] - w_i[in_slice], bins=60, color="gray")
        top.set_title(f"{name} w_i: w_f - w_i", fontsize=8)
        top.set_yscale("log")
    settings = runs.settings(FLAGS.run_dir)
    fig.suptitle(f"{settings['dataset']}, width {settings['width']}, {FLAGS.layer or 'all layers'}, "
                 f"{len(w_i)} weights")
    fig.tight_layout()
    common.save(fig, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
