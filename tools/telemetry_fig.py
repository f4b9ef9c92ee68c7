"""Paper 004 Fig. 3: early-phase telemetry of one or more runs, in the figure's two rows.

    python tools/telemetry_fig.py --run_dir=runs/frankle2020_fig3_telemetry_quick-* --out=fig3.png

Top row: test accuracy and loss; mean |w|; % of weights whose sign differs from w(0);
ten fixed weights. Bottom row: gradient norm; L2 distance to the initial and to the final
weights; cosine similarity to the initial and to the final weights. Reads telemetry.csv and
telemetry_final.csv (callbacks/telemetry.py); x is the iteration, up to --max_step
(default: the telemetry window, i.e. the last step logged every iteration).
"""
import os
import sys

import pandas as pd
from absl import app, flags

import figure_common as common
from keras_initstudy.callbacks import telemetry

flags.DEFINE_string("run_dir", None, "Run directories (comma-separated, globs allowed) with telemetry.csv.")
flags.DEFINE_string("out", None, "PNG file to write.")
flags.DEFINE_integer("max_step", None, "Last iteration shown (default: the end of the per-step window).")
flags.mark_flags_as_required(["run_dir", "out"])
FLAGS = flags.FLAGS


def run_dirs(spec: str):
    found = common.expand_paths(spec)
    missing = [d for d in found if not os.path.exists(telemetry.telemetry_path(d))]
    if missing or not found:
        sys.exit(f"error: no telemetry.csv in {', '.join(missing) or spec}; train with --telemetry first")
    return found


def window_end(rows: pd.DataFrame) -> int:
    """The last step of the leading run of consecutive steps (the per-iteration window)."""
    steps = rows["step"].tolist()
    end = 0
    while end + 1 < len(steps) and steps[end + 1] == steps[end] + 1:
        end += 1
    return int(steps[end])


def draw(axes, rows: pd.DataFrame, final: pd.DataFrame, name: str) -> None:
    tested = rows.dropna(subset=["test_accuracy"])
    axes[0, 0].plot(tested["step"], tested["test_accuracy"] * 100, label=f"{name} accuracy")
    twin = axes[0, 0].twinx()
    twin.plot(tested["step"], tested["test_loss"], ls="--", alpha=0.6)
    twin.set_ylabel("test loss (dashed)")
    axes[0, 1].plot(rows["step"], rows["mean_abs_weight"], label=name)
    axes[0, 2].plot(rows["step"], rows["sign_changed_pct"], label=name)
    for column in [c for c in rows.columns if c.startswith("weight_")]:
        axes[0, 3].plot(rows["step"], rows[column], lw=0.8)
    axes[1, 0].plot(rows["step"], rows["grad_norm"], lw=0.6, label=name)
    axes[1, 1].plot(rows["step"], rows["l2_to_init"], label=f"{name}: to init")
    axes[1, 1].plot(final["step"], final["l2_to_final"], ls="--", label=f"{name}: to final")
    axes[1, 2].plot(rows["step"], rows["cosine_to_init"], label=f"{name}: to init")
    axes[1, 2].plot(final["step"], final["cosine_to_final"], ls="--", label=f"{name}: to final")


def main(argv):
    del argv
    fig, axes = common.plt.subplots(2, 4, figsize=(20, 8))
    for run_dir in run_dirs(FLAGS.run_dir):
        rows = pd.read_csv(telemetry.telemetry_path(run_dir))
        final_path = telemetry.final_distances_path(run_dir)
        final = pd.read_csv(final_path) if os.path.exists(final_path) else rows.iloc[:0].assign(
            l2_to_final=[], cosine_to_final=[])
        last = FLAGS.max_step or window_end(rows)
        draw(axes, rows[rows["step"] <= last], final[final["step"] <= last], os.path.basename(run_dir))
    titles = [["test accuracy (%) and loss", "mean |w|", "weights with changed sign (%)", "ten fixed weights"],
              ["gradient norm (probe batch)", "L2 distance", "cosine similarity", ""]]
    for r in range(2):
        for c in range(4):
            axes[r, c].set(title=titles[r][c], xlabel="iteration")
    axes[1, 3].axis("off")
    for ax in (axes[1, 1], axes[1, 2]):
        ax.legend(fontsize=7)
    fig.suptitle("Early-phase telemetry (paper 004 Fig. 3)")
    fig.subplots_adjust(wspace=0.4, hspace=0.3)  # room for the loss axis on the first panel's right
    common.save(fig, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
