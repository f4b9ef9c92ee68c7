"""Paper 000 Figs. A.1 and A.2: c_opt, a0, a1 and sigma(w_i = 0) of each layer over
training, one curve per width (mean over seeds, shaded +- std), from the Appendix B
fits the sweep stores at snapshot epochs.

    python tools/figA_fits.py --table=runs/jesus2021_sweep_quick-table.parquet --out=figA.png
"""
from absl import app, flags

import figure_common as common

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", None, "Dataset to plot (default: the first in the table).")
common.define_table_flags()

QUANTITIES = (("c_opt", "c_opt (A.1: slope of the peak)"), ("a0", "a0 (A.2)"), ("a1", "a1 (A.2)"),
              ("sigma0", "σ_wf(w_i = 0) (A.2)"))


def main(argv):
    del argv
    table = common.read_table(FLAGS.table)
    dataset = FLAGS.dataset or sorted(table["dataset"].unique())[0]
    table = table[(table["dataset"] == dataset) & table["c_opt"].notna()]
    layers = [c.split("/", 1)[1] for c in table.columns if c.startswith("c_opt/")]
    colors = common.width_colors(table["width"].unique())
    fig, axes = common.plt.subplots(len(QUANTITIES), len(layers), figsize=(4.2 * len(layers), 11),
                                    squeeze=False, sharex=True)
    for row, (quantity, label) in enumerate(QUANTITIES):
        for col, layer in enumerate(layers):
            ax = axes[row, col]
            for width, group in table.groupby("width"):
                stats = common.mean_std(group, "epoch", f"{quantity}/{layer}")
                stats = stats[stats["epoch"] > 0]
                ax.plot(stats["epoch"], stats["mean"], color=colors[width], marker=".", label=f"width {width}")
                ax.fill_between(stats["epoch"], stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                                color=colors[width], alpha=0.2)
            ax.set_xscale("log")
            if row == 0:
                ax.set_title(layer)
            if col == 0:
                ax.set_ylabel(label)
            if row == len(QUANTITIES) - 1:
                ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Appendix B fits of w(t) against w(0), {dataset}")
    fig.tight_layout()
    common.save(fig, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
