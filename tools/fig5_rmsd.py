"""Paper 000 Fig. 5: loss (top) and RMSD from the initial weights (bottom) vs epoch,
one column per dataset, one curve per run (every seed), coloured by width.

    python tools/fig5_rmsd.py --table=runs/jesus2021_sweep_quick-table.parquet --out=fig5.png
"""
from absl import app, flags

import figure_common as common

FLAGS = flags.FLAGS
common.define_table_flags()


def main(argv):
    del argv
    table = common.read_table(FLAGS.table)
    names = sorted(table["dataset"].unique())
    colors = common.width_colors(table["width"].unique())
    fig, axes = common.plt.subplots(2, len(names), figsize=(5 * len(names), 7), squeeze=False)
    for col, name in enumerate(names):
        data = table[(table["dataset"] == name) & (table["epoch"] > 0)]
        for (width, seed), run in data.groupby(["width", "seed"]):
            label = f"width {width}" if seed == data["seed"].min() else None
            axes[0, col].plot(run["epoch"], run["loss"], color=colors[width], alpha=0.7, label=label)
            axes[1, col].plot(run["epoch"], run["rmsd"], color=colors[width], alpha=0.7)
        axes[0, col].set(xscale="log", yscale="log", title=name, ylabel="train loss")
        axes[1, col].set(xscale="log", yscale="log", xlabel="epoch", ylabel="RMSD(t) from w(0), eq. (3)")
        axes[0, col].legend(fontsize=8)
    fig.tight_layout()
    common.save(fig, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
