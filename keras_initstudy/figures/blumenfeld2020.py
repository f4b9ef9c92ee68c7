"""Paper 002 (Blumenfeld, Gilboa, Soudry, blumenfeld2020): Figs. 1 and 5, test accuracy vs
the number of unique features at initialisation.

    python -m keras_initstudy.figures blumenfeld2020/fig1 --inputs=runs/replicate_features.csv \
        --out=replicate.png
"""
from keras_initstudy import errors
from keras_initstudy.figures import common
from keras_initstudy.figures.registry import TABLES, Option, figure


@figure("blumenfeld2020/fig1", "Test accuracy vs unique features at initialisation", TABLES,
        [Option("width", None, "Only networks of this width U*r, one curve per noise level (the paper's "
                "question: fewer unique features at a fixed width).")])
def replicated_features(inputs, options):
    """Paper 002 Figs. 1 and 5: one curve per (replicas, noise), mean +- std over seeds, from
    the table keras_initstudy.replicate_features writes."""
    table = inputs.table(dedup=())
    width = int(options.width) if options.width else None
    if width:
        table = table[table["width"] == width]
        if table.empty:
            raise errors.UserError(f"no runs of width {width} in {inputs.spec}")
    fig, ax = common.plt.subplots(figsize=(7, 5))
    for key, group in table.groupby(["noise"] if width else ["replicas", "noise"]):
        stats = common.mean_std(group, "unique", "test_accuracy")
        label = (f"width {width}, ε = {key[0]:g}" if width else f"r = {key[0]}, ε = {key[1]:g}")
        ax.errorbar(stats["unique"], stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=label)
    ax.set(xscale="log", xlabel="unique features U at initialisation (width U·r)", ylabel="test accuracy",
           title=f"Replicated features, {int(table['steps'].iloc[0])} SGD steps")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
