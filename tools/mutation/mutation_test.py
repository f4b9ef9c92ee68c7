"""Mutation testing of the core modules with mutmut (issue 14): do the tests catch
the bugs they are there for?

    pip install -e ".[mutation]"
    python tools/mutation/mutation_test.py                       # every group
    python tools/mutation/mutation_test.py --groups=masks,idx    # some groups
    python tools/mutation/mutation_test.py --report_only         # re-read the last run

Each group mutates some modules and runs only those modules' own test files
(mutmut further narrows each mutant to the tests that call the mutated function).
A group runs in its own scratch directory, `<workdir>/<group>/`, that links the
package and the tests and holds the group's `[mutmut]` settings; mutmut copies the
package into `mutants/` there and never touches the working tree.

The report prints, per module: mutants, killed (a test failed, timed out or
crashed), survived (all its tests passed, or no selected test calls the function),
the mutants listed as equivalent in `tools/mutation/mutation_equivalents.tsv` (a change that
cannot alter behaviour, with a one-line reason), and the score
killed / (mutants - equivalent). Survivors that are not listed are printed with
their diff: each must be killed by a new or sharper test, or listed with its reason.
A listed mutant that is now killed or no longer exists is reported as stale.
"""
import collections
import csv
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

from absl import app, flags

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
EQUIVALENTS = ROOT / "tools" / "mutation" / "mutation_equivalents.tsv"

# group -> (modules to mutate, their own test files). Each group runs the module's unit
# tests; the end-to-end tests (training runs, subprocesses) stay out, since every mutant
# reruns the tests that call the mutated function.
GROUPS = {
    "analysis": (["keras_initstudy/analysis/*"], ["tests/analysis"]),
    # the callbacks driven by hand; tests/callbacks' other classes train a model per class
    "callbacks": (["keras_initstudy/callbacks/*"], ["tests/callbacks/test_units.py",
                                                    "tests/callbacks/test_loggers.py",
                                                    "tests/callbacks/test_measurements.py::ScheduleTest"]),
    "models": (["keras_initstudy/models/*"], ["tests/models"]),
    "initializers": (["keras_initstudy/initializers.py", "keras_initstudy/variance_initializers.py",
                      "keras_initstudy/zero_init.py"],
                     ["tests/test_initializers.py", "tests/test_variance_initializers.py", "tests/test_masks.py"]),
    "masks": (["keras_initstudy/masks.py"], ["tests/test_masks.py"]),
    "pipeline": (["keras_initstudy/pipeline.py"], ["tests/test_pipeline.py"]),
    "rundir": (["keras_initstudy/rundir.py"], ["tests/test_rundir.py"]),
    "config": (["keras_initstudy/config.py"], ["tests/test_config.py"]),
    "idx": (["keras_initstudy/datasets/idx.py"], ["tests/datasets/test_idx.py"]),
    "pruning": (["keras_initstudy/pruning/masks.py", "keras_initstudy/pruning/strategies.py",
                 "keras_initstudy/pruning/perturb.py", "keras_initstudy/pruning/config.py",
                 "keras_initstudy/pruning/layout.py"],
                ["tests/pruning/test_masks_and_strategies.py", "tests/pruning/test_perturb.py",
                 "tests/pruning/test_config_and_layout.py"]),
    # the loop's parts and 2-round loops on a tiny MLP; test_rounds.py's papers-scale loops
    # (15-60 s a test) would make every mutant take minutes
    "pruning_loop": (["keras_initstudy/pruning/rounds.py", "keras_initstudy/pruning/pretraining.py"],
                     ["tests/pruning/test_loop_parts.py", "tests/pruning/test_pretraining.py::TasksTest"]),
}

# mutmut's exit-code verdicts (mutmut.stats.status_by_exit_code): a test failed (1, 3),
# a timeout (SIGXCPU: 24, -24, 152, 255, or mutmut's 36), a crash (-11, -9).
KILLED = {1, 3, 24, -24, 36, 152, 255, -11, -9}
NOT_RUN = {None, 2, 34}  # not checked, interrupted, skipped

FLAGS = flags.FLAGS
flags.DEFINE_list("groups", list(GROUPS), f"groups to run (default: all), of: {', '.join(GROUPS)}")
flags.DEFINE_string("workdir", str(ROOT / "mutation_runs"), "scratch directory, one folder per group")
flags.DEFINE_integer("max_children", os.cpu_count() or 2, "mutants tested at once", lower_bound=1)
flags.DEFINE_bool("report_only", False, "do not run mutmut; report the last run's results")
flags.DEFINE_bool("diffs", True, "print the diff of every unexplained survivor")
flags.register_validator("groups", lambda gs: set(gs) <= set(GROUPS),
                         message=f"--groups takes names from: {', '.join(GROUPS)}")


def settings(modules, tests) -> str:
    """The `[mutmut]` section of a group's scratch setup.cfg."""
    lines = ["[mutmut]", "source_paths = keras_initstudy", "only_mutate ="]
    lines += [f"    {m}" for m in modules]
    lines += ["pytest_add_cli_args_test_selection ="] + [f"    {t}" for t in tests]
    lines += ["pytest_add_cli_args =", "    -p", "    no:cacheprovider",
              # the parent stays free of TensorFlow; a fork server imports it once
              "process_isolation = forkserver", ""]
    return "\n".join(lines)


def prepare(group: str, workdir: pathlib.Path) -> pathlib.Path:
    """A fresh scratch directory for `group`, linking the package and the tests."""
    where = workdir / group
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    for name in ("keras_initstudy", "tests"):
        (where / name).symlink_to(ROOT / name, target_is_directory=True)
    modules, tests = GROUPS[group]
    (where / "setup.cfg").write_text(settings(modules, tests))
    return where


def mutmut_executable() -> str:
    """mutmut beside this Python (the virtual environment's), else on PATH."""
    found = shutil.which("mutmut", path=os.path.dirname(sys.executable)) or shutil.which("mutmut")
    if found is None:
        raise SystemExit('mutation_test: error: mutmut is not installed (pip install -e ".[mutation]")')
    return found


def run_group(group: str, workdir: pathlib.Path, max_children: int) -> float:
    """Runs mutmut for one group; returns the seconds it took."""
    mutmut = mutmut_executable()  # before prepare() clears the group's last results
    where = prepare(group, workdir)
    start = time.monotonic()
    with open(where / "mutmut.log", "w") as log:
        code = subprocess.call([mutmut, "run", "--max-children", str(max_children)],
                               cwd=where, stdout=log, stderr=subprocess.STDOUT)
    took = time.monotonic() - start
    (where / "seconds").write_text(f"{took:.0f}\n")
    if code != 0:
        print(f"{group}: mutmut exited {code}; see {where / 'mutmut.log'}", file=sys.stderr)
    return took


def verdicts(where: pathlib.Path):
    """{module path: {mutant name: exit code}} from mutmut's .meta files."""
    out = {}
    for meta in sorted((where / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(where / "mutants"))[:-len(".meta")]
        out[module] = json.loads(meta.read_text())["exit_code_by_key"]
    return out


def load_equivalents(path=EQUIVALENTS):
    """{mutant name: reason} from the tab-separated list (comment lines start with #)."""
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f, delimiter="\t") if r and not r[0].startswith("#")]
    bad = [r for r in rows if len(r) != 2 or not r[1].strip()]
    if bad:
        raise SystemExit(f"mutation_test: error: {path}: each line needs a mutant name and a reason, got {bad[0]}")
    return {name: reason for name, reason in rows}


def tally(codes, equivalents):
    """Counts for one module; the score is killed / (mutants - equivalent)."""
    count = collections.Counter()
    survivors = []
    for name, code in codes.items():
        count["mutants"] += 1
        if code in KILLED:
            count["killed"] += 1
        elif code in NOT_RUN:
            count["not run"] += 1
        elif name in equivalents:
            count["equivalent"] += 1
        else:
            count["survived"] += 1
            survivors.append(name)
    scored = count["mutants"] - count["equivalent"]
    count["score"] = 100.0 * count["killed"] / scored if scored else 100.0
    return count, survivors


def report(groups, workdir: pathlib.Path, diffs: bool) -> int:
    equivalents = load_equivalents()
    seen = {}
    rows, unexplained = [], []
    total = collections.Counter()
    for group in groups:
        where = workdir / group
        if not (where / "mutants").exists():
            print(f"{group}: no results in {where}")
            continue
        seconds = (where / "seconds").read_text().strip() if (where / "seconds").exists() else "?"
        print(f"{group}: {seconds} s")
        for module, codes in verdicts(where).items():
            if not codes:  # nothing to mutate (__init__.py, or only decorated functions, which mutmut skips)
                continue
            seen.update(codes)
            count, survivors = tally(codes, equivalents)
            total.update({k: v for k, v in count.items() if k != "score"})
            rows.append((module, count))
            unexplained += [(where, name) for name in survivors]
    print(f"\n{'module':48s} {'mutants':>7s} {'killed':>6s} {'surv.':>5s} {'equiv.':>6s} {'score':>6s}")
    for module, c in rows:
        print(f"{module:48s} {c['mutants']:7d} {c['killed']:6d} {c['survived']:5d} "
              f"{c['equivalent']:6d} {c['score']:5.1f}%")
    scored = total["mutants"] - total["equivalent"]
    score = 100.0 * total["killed"] / scored if scored else 100.0
    print(f"{'all':48s} {total['mutants']:7d} {total['killed']:6d} {total['survived']:5d} "
          f"{total['equivalent']:6d} {score:5.1f}%")
    if total["not run"]:
        print(f"{total['not run']} mutants were not run (interrupted?)")
    stale = sorted(n for n in equivalents if n in seen and seen[n] in KILLED)
    gone = sorted(n for n in equivalents if n not in seen and any(n.startswith(m.replace("/", ".")[:-3])
                                                                  for m, _ in rows))
    for name in stale:
        print(f"stale equivalent (now killed): {name}")
    for name in gone:
        print(f"stale equivalent (no such mutant): {name}")
    print(f"\n{len(unexplained)} survivors are neither killed nor listed as equivalent")
    mutmut = mutmut_executable() if diffs and unexplained else None
    for where, name in unexplained:
        if diffs:
            shown = subprocess.run([mutmut, "show", name], cwd=where, capture_output=True, text=True)
            print(shown.stdout.rstrip())
        else:
            print(name)
    return 0 if not unexplained and score >= 90.0 else 1


def main(argv):
    del argv
    workdir = pathlib.Path(FLAGS.workdir).resolve()
    if not FLAGS.report_only:
        for group in FLAGS.groups:
            took = run_group(group, workdir, FLAGS.max_children)
            print(f"{group}: {took:.0f} s", flush=True)
    return report(FLAGS.groups, workdir, FLAGS.diffs)


if __name__ == "__main__":
    app.run(main)
