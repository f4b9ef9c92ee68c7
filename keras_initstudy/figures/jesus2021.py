"""Paper 000 (Jesus et al., jesus2021): Figs. 1, 2, 3, 5, 6 and A.1-A.2.

    python -m keras_initstudy.figures jesus2021/fig5 --inputs=runs/jesus2021_sweep_quick-table.parquet \
        --out=fig5.png
    python -m keras_initstudy.figures jesus2021/fig1 --inputs='runs/jesus2021_fig1_quick-*' --out=fig1.png
"""
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from keras_initstudy import errors
from keras_initstudy.analysis import deviation, regimes, runs
from keras_initstudy.figures import common
from keras_initstudy.figures.registry import RUNS, TABLES, Option, figure


def masked_kernel_name(run_dir: str) -> str:
    settings = runs.settings(run_dir)
    snapshot = runs.load_snapshot(run_dir, 0)
    return runs.edge_weight_names(snapshot)[settings.get("mask_layer", 1)]


@figure("jesus2021/fig1", "Loss and the masked weight matrix at snapshot epochs, one row per run", RUNS,
        [Option("panels", 5, "Number of snapshot epochs shown per run.")])
def fig1(inputs, options):
    """Paper 000 Fig. 1: train and test loss, and the masked weight matrix (|w|, scaled by
    max|w(0)|) at snapshot epochs, one row per run: the letter persists in networks that
    train well and fades in those that cross into untrainability."""
    run_dirs = inputs.run_dirs(lambda d: d.snapshot(0), "snapshots (train with --mask)")
    panels = options.panels
    fig, axes = common.plt.subplots(len(run_dirs), panels + 1, figsize=(2.6 * (panels + 1) + 1.5, 2.8 * len(run_dirs)),
                                    squeeze=False, gridspec_kw={"width_ratios": [1.6] + [1] * panels})
    for row, run_dir in enumerate(run_dirs):
        settings = runs.settings(run_dir)
        history = runs.read_history(run_dir)
        ax = axes[row, 0]
        ax.plot(history["epoch"], history["loss"], label="train")
        ax.plot(history["epoch"], history["test_loss"], label="test")
        ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel="loss",
               title=f"width {settings.get('width')}, mask {settings.get('mask')!r}")
        ax.legend(fontsize=8)
        epochs = run_dir.snapshot_epochs()
        shown = [epochs[i] for i in np.unique(np.linspace(0, len(epochs) - 1, panels).round().astype(int))]
        name = masked_kernel_name(run_dir)
        scale = np.abs(runs.load_snapshot(run_dir, 0)[name]).max()
        for col in range(1, panels + 1):
            axes[row, col].axis("off")
        for col, epoch in enumerate(shown, start=1):
            w = runs.load_snapshot(run_dir, epoch)[name]
            axes[row, col].imshow(np.clip(np.abs(w) / scale, 0, 1), cmap="gray_r", vmin=0, vmax=1,
                                  interpolation="nearest")
            axes[row, col].set_title(f"{name}\nepoch {epoch}", fontsize=8)
    fig.tight_layout()
    return fig


def regime_table(table: pd.DataFrame, jump_ratio: float, persist_fraction: float) -> pd.DataFrame:
    rows = []
    for (width, seed), run in table.groupby(["width", "seed"]):
        rows.append({"width": width, "seed": seed,  # NaN losses kept: they count as diverged
                     **regimes.regimes(run, jump_ratio, persist_fraction)})
    return pd.DataFrame(rows)


@figure("jesus2021/fig2", "Training regimes vs width", TABLES,
        [Option("seed", None, "Seed shown in panels a-b (default: the smallest)."),
         Option("jump_ratio", 3.0, "Divergence rule: loss rise factor (analysis.regimes)."),
         Option("persist_fraction", 0.9, "Divergence rule: fraction of later epochs on the plateau.")])
def fig2(inputs, options):
    """Paper 000 Fig. 2: (a) train and (b) test loss per width (one seed), (c) epochs of the
    minimum train loss, minimum test loss and divergence vs width (mean +- std over seeds),
    (d) the minimum losses vs width."""
    table = inputs.table()
    seed = int(options.seed) if options.seed is not None else int(table["seed"].min())
    colors = common.width_colors(table["width"].unique())
    fig, axes = common.plt.subplots(2, 2, figsize=(11, 8))
    for column, ax, title in (("loss", axes[0, 0], "(a) train loss"), ("test_loss", axes[0, 1], "(b) test loss")):
        for width, run in table[table["seed"] == seed].groupby("width"):
            run = run.dropna(subset=[column])
            ax.plot(run["epoch"], run[column], color=colors[width], label=f"width {width}")
        ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel=column, title=f"{title}, seed {seed}")
    axes[0, 0].legend(fontsize=8)
    times = regime_table(table, options.jump_ratio, options.persist_fraction)
    for column, marker, label in (("epoch_min_train_loss", "o", "min train loss"),
                                  ("epoch_min_test_loss", "s", "min test loss"),
                                  ("divergence_epoch", "^", "divergence")):
        stats = common.mean_std(times.dropna(subset=[column]), "width", column)
        if not stats.empty:
            axes[1, 0].errorbar(stats["width"], stats["mean"], yerr=stats["std"], marker=marker,
                                capsize=3, label=label)
    axes[1, 0].set(xscale="log", xlabel="width", ylabel="epoch", title="(c) regime times (mean ± std over seeds)")
    axes[1, 0].legend(fontsize=8)
    for column, marker, label in (("min_train_loss", "o", "train"), ("min_test_loss", "s", "test")):
        stats = common.mean_std(times, "width", column)
        axes[1, 1].errorbar(stats["width"], stats["mean"], yerr=stats["std"], marker=marker, capsize=3, label=label)
    axes[1, 1].set(xscale="log", yscale="log", xlabel="width", ylabel="minimum loss", title="(d) minimum losses")
    axes[1, 1].legend(fontsize=8)
    dataset = ", ".join(sorted(table["dataset"].unique()))
    diverged = int(np.isfinite(times["divergence_epoch"]).sum())
    fig.suptitle(f"Regimes vs width ({dataset}; divergences found: {diverged})")
    fig.tight_layout()
    return fig


@figure("jesus2021/fig3", "Final vs initial weights of one run, with the fitted peak line", RUNS,
        [Option("epoch", None, "Snapshot epoch of w_f (default: the last)."),
         Option("layer", None, "Layer, e.g. hidden_2 (default: all layers pooled)."),
         Option("skip_masked", True, "Leave out weights that a letter mask set to exactly 0 at init.")])
def fig3(inputs, options):
    """Paper 000 Fig. 3: density of final weights w_f against initial weights w_i, with the
    binned median and interquartile range, the line w_f = w_i, the fitted peak line (slope
    c_opt, Appendix B) and, on top, histograms of w_f - w_i for the lowest, middle and
    highest w_i (where the skew shows). The first run directory given."""
    run_dir = inputs.run_dirs(lambda d: d.snapshot(0), "snapshots")[0]
    epoch = int(options.epoch) if options.epoch is not None else run_dir.snapshot_epochs()[-1]
    w_i, w_f = runs.weight_pairs(run_dir, epoch, options.layer)
    if options.skip_masked:
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
    settings = runs.settings(run_dir)
    fig.suptitle(f"{settings.get('dataset')}, width {settings.get('width')}, {options.layer or 'all layers'}, "
                 f"{len(w_i)} weights")
    fig.tight_layout()
    return fig


@figure("jesus2021/fig5", "Loss and RMSD from the initial weights vs epoch, by width", TABLES)
def fig5(inputs, options):
    """Paper 000 Fig. 5: loss (top) and RMSD from the initial weights (eq. 3; bottom) vs epoch,
    one column per dataset, one curve per run (every seed), coloured by width."""
    table = inputs.table()
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
    return fig


@figure("jesus2021/fig6", "t_theta and RMSD(t_theta) vs width", TABLES,
        [Option("thetas", "1.0,0.5,0.2,0.1,0.01", "Loss thresholds theta, comma-separated.")])
def fig6(inputs, options):
    """Paper 000 Fig. 6: t_theta, the first epoch with train loss below theta (top), and
    RMSD(t_theta) (bottom) vs width, averaged over seeds; one column per dataset. Points
    are missing where no run of that width reached theta (as in the paper)."""
    table = inputs.table()
    try:
        thetas = [float(t) for t in str(options.thetas).split(",")]
    except ValueError:
        raise errors.UserError(f"--thetas={options.thetas}: must be comma-separated numbers") from None
    names = sorted(table["dataset"].unique())
    fig, axes = common.plt.subplots(2, len(names), figsize=(5 * len(names), 7), squeeze=False)
    for col, name in enumerate(names):
        rows = []
        for (width, seed), run in table[table["dataset"] == name].groupby(["width", "seed"]):
            history = run.dropna(subset=["loss"]).sort_values("epoch")
            for theta in thetas:
                rows.append({"width": width, "seed": seed, "theta": theta,
                             **regimes.threshold_time(history, theta)})
        times = pd.DataFrame(rows)
        for theta, group in times.groupby("theta", sort=False):
            for row, column in ((0, "t_theta"), (1, "rmsd_at_t_theta")):
                stats = common.mean_std(group.dropna(subset=[column]), "width", column)
                if not stats.empty:  # no width reached theta: no line, and no legend entry
                    axes[row, col].plot(stats["width"], stats["mean"], marker="o", label=f"θ = {theta:g}")
        axes[0, col].set(xscale="log", yscale="log", title=name, ylabel="t_θ (epochs)")
        axes[1, col].set(xscale="log", yscale="log", xlabel="width", ylabel="RMSD(t_θ)")
        if axes[0, col].get_legend_handles_labels()[0]:
            axes[0, col].legend(fontsize=8)
    fig.tight_layout()
    return fig


FIT_QUANTITIES = (("c_opt", "c_opt (A.1: slope of the peak)"), ("a0", "a0 (A.2)"), ("a1", "a1 (A.2)"),
                  ("sigma0", "σ_wf(w_i = 0) (A.2)"))


@figure("jesus2021/figA", "Appendix B fits (c_opt, a0, a1, sigma0) per layer over training", TABLES,
        [Option("dataset", None, "Dataset to plot (default: the first in the table).")])
def fig_a(inputs, options):
    """Paper 000 Figs. A.1 and A.2: c_opt, a0, a1 and sigma(w_i = 0) of each layer over
    training, one curve per width (mean over seeds, shaded +- std), from the Appendix B fits
    the sweep stores at snapshot epochs."""
    table = inputs.table()
    if "c_opt" not in table:
        raise errors.UserError("the tables have no fits (c_opt): sweep with snapshots")
    dataset = options.dataset or sorted(table["dataset"].unique())[0]
    table = table[(table["dataset"] == dataset) & table["c_opt"].notna()]
    layers = [c.split("/", 1)[1] for c in table.columns if c.startswith("c_opt/")]
    colors = common.width_colors(table["width"].unique())
    fig, axes = common.plt.subplots(len(FIT_QUANTITIES), len(layers), figsize=(4.2 * len(layers), 11),
                                    squeeze=False, sharex=True)
    for row, (quantity, label) in enumerate(FIT_QUANTITIES):
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
            if row == len(FIT_QUANTITIES) - 1:
                ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Appendix B fits of w(t) against w(0), {dataset}")
    fig.tight_layout()
    return fig
