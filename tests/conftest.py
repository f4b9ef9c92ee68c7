"""What a test process that holds TensorFlow pays once, and the order of a mutant's tests.

- Garbage collection: every full collection (Keras's `clear_session`, pytest's at exit)
  scans every object TensorFlow and Keras hold. Once the test modules are imported,
  `gc.freeze` moves everything alive into the permanent generation, which collections
  skip; what the tests themselves make is collected as before. No test depends on
  collecting an object that existed before its module was imported.
- TensorFlow's `googletest.GetTempDir`, under every `tf.test.TestCase.get_temp_dir`,
  finds its folder by walking the stack and calling `inspect.getmodule` over every
  loaded module (about 0.4 s). Computed here once, it is inherited by the forks in which
  the mutation runs (tools/mutation/mutation_test.py) rerun tests for every mutant; each test
  still gets its own folder below it.
- In such a fork (mutmut names the mutant in MUTANT_UNDER_TEST) the selected tests run
  fastest class first and fastest test first within a class, by the durations mutmut
  recorded, so the first failure, which ends the run, comes as early as it can.
"""
import gc
import json
import os

MUTMUT_STATS = "mutmut-stats.json"  # in mutmut's mutants/ folder, where it runs the tests


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: papers-scale or every-flagfile tests (minutes); "
                                       "-m 'not slow' leaves them out while iterating, CI runs them")


def pytest_collection_finish(session):
    del session  # unused
    from tensorflow.python.platform import googletest
    googletest.GetTempDir()
    gc.freeze()


def pytest_collection_modifyitems(session, config, items):
    del session, config  # unused
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        return
    try:
        with open(MUTMUT_STATS, encoding="utf-8") as f:
            durations = json.load(f)["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    took = lambda item: durations.get(item.nodeid, float("inf"))
    fastest_in_class = {}
    for item in items:
        fastest_in_class[item.parent.nodeid] = min(fastest_in_class.get(item.parent.nodeid, float("inf")), took(item))
    items.sort(key=lambda item: (fastest_in_class[item.parent.nodeid], item.parent.nodeid, took(item)))
