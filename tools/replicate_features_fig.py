"""Paper 002 Figs. 1 and 5: test accuracy vs the number of unique features at
initialisation, one curve per (replicas, noise), mean +- std over seeds.

    python tools/replicate_features_fig.py --table=runs/replicate_features.csv --out=replicate.png
"""
from absl import app, flags

import figure_common as common

FLAGS = flags.FLAGS
flags.DEFINE_integer("width", None, "Only networks of this width U*r, one curve per noise level "
                     "(the paper's question: fewer unique features at a fixed width).")
common.define_table_flags()


def main(argv):
    del argv
    table = common.read_table(FLAGS.table)
    if FLAGS.width:
        table = table[table["width"] == FLAGS.width]
        if table.empty:
            raise SystemExit(f"error: no runs of width {FLAGS.width} in {FLAGS.table}")
    fig, ax = common.plt.subplots(figsize=(7, 5))
    for key, group in table.groupby(["noise"] if FLAGS.width else ["replicas", "noise"]):
        stats = common.mean_std(group, "unique", "test_accuracy")
        label = (f"width {FLAGS.width}, ε = {key[0]:g}" if FLAGS.width else f"r = {key[0]}, ε = {key[1]:g}")
        ax.errorbar(stats["unique"], stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=label)
    ax.set(xscale="log", xlabel="unique features U at initialisation (width U·r)", ylabel="test accuracy",
           title=f"Replicated features, {int(table['steps'].iloc[0])} SGD steps")
    ax.legend(fontsize=8)
    fig.tight_layout()
    common.save(fig, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
