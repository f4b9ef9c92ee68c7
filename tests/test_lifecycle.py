"""The one run lifecycle (lifecycle.py), driven by a kind that records what it is asked to do."""
import os
import threading

import tensorflow as tf

from keras_initstudy import config, datasets, errors, lifecycle, rundir


class RecordingKind(lifecycle.RunKind):
    name = "recording"

    def __init__(self, fail_schedule=False):
        self.calls, self.fail_schedule = [], fail_schedule

    def schedule(self, cfg, data):
        self.calls.append(("schedule", cfg.training.seed))
        if self.fail_schedule:
            raise errors.UserError("bad setting")
        return "the schedule"

    def prepare(self, member, schedule):
        self.calls.append(("prepare", member.index, os.path.exists(member.run_dir)))
        return f"prepared {member.index}"

    def train(self, members, prepared, schedule, execution):
        self.calls.append(("train", [m.index for m in members], [prepared[m.index] for m in members], schedule,
                           execution.together))

    def close(self, member, prepared):
        self.calls.append(("close", member.index, prepared))
        rundir.at(member.run_dir).mark_done()


def configs(out, seeds=(0, 1, 2)):
    return [config.ExperimentConfig().replace(output_dir=out, width=8, seed=s) for s in seeds]


class LifecycleTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = datasets.load("fashion_mnist_mini")

    def test_the_steps_in_order_for_every_member(self):
        cfgs = configs(self.get_temp_dir())
        kind = RecordingKind()
        outcomes = lifecycle.run(kind, cfgs, dataset=self.data)
        self.assertEqual(outcomes, [rundir.path_for(c) for c in cfgs])
        self.assertEqual(kind.calls, [
            ("schedule", 0),
            ("prepare", 0, False), ("prepare", 1, False), ("prepare", 2, False),  # before any directory exists
            ("train", [0, 1, 2], ["prepared 0", "prepared 1", "prepared 2"], "the schedule", True),
            ("close", 0, "prepared 0"), ("close", 1, "prepared 1"), ("close", 2, "prepared 2")])
        for cfg in cfgs:  # settings, environment and data sizes, written once the lock was held
            for name in ("flags", "config", "environment", "data_sizes"):
                self.assertTrue(os.path.exists(getattr(rundir.path_for(cfg), name)), name)

    def test_finished_members_are_skipped_and_a_rerun_does_nothing(self):
        cfgs = configs(self.get_temp_dir())
        lifecycle.run(RecordingKind(), cfgs[1:2], dataset=self.data)
        kind = RecordingKind()
        lifecycle.run(kind, cfgs, dataset=self.data)
        self.assertEqual([c[1] for c in kind.calls if c[0] == "train"], [[0, 2]])
        again = RecordingKind()
        self.assertEqual(lifecycle.run(again, cfgs, dataset=self.data), [rundir.path_for(c) for c in cfgs])
        self.assertEqual(again.calls, [])  # not even the data's schedule

    def test_a_bad_setting_fails_before_any_directory_exists(self):
        cfgs = configs(self.get_temp_dir())
        with self.assertRaisesRegex(errors.UserError, "bad setting"):
            lifecycle.run(RecordingKind(fail_schedule=True), cfgs, dataset=self.data)
        self.assertFalse(any(os.path.exists(rundir.path_for(c)) for c in cfgs))

    def test_a_member_another_process_writes_is_left_to_it(self):
        cfgs = configs(self.get_temp_dir())
        held, release = threading.Event(), threading.Event()

        def hold():  # flock is per open file: a second open in this process conflicts as another process would
            with rundir.writer_lock(rundir.path_for(cfgs[1])):
                held.set()
                release.wait(30)

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait(30)
        try:
            kind = RecordingKind()
            outcomes = lifecycle.run(kind, cfgs, dataset=self.data)
            self.assertIsInstance(outcomes[1], rundir.RunInProgress)
            self.assertEqual([c[1] for c in kind.calls if c[0] == "train"], [[0, 2]])
            self.assertFalse(rundir.at(rundir.path_for(cfgs[1])).is_done())
            with self.assertRaises(rundir.RunInProgress):  # a single run raises it
                lifecycle.run_one(RecordingKind(), cfgs[1], dataset=self.data)
        finally:
            release.set()
            holder.join()

    def test_a_single_run_trains_alone_and_takes_per_member_callbacks(self):
        cfg = configs(self.get_temp_dir(), seeds=(4,))[0]
        kind = RecordingKind()
        self.assertEqual(lifecycle.run_one(kind, cfg, lifecycle.Execution(callbacks=["probe"]), self.data),
                         rundir.path_for(cfg))
        self.assertFalse([c for c in kind.calls if c[0] == "train"][0][-1])  # together=False
        with self.assertRaisesRegex(ValueError, "single run"):
            lifecycle.run(RecordingKind(), configs(self.get_temp_dir()), lifecycle.Execution(callbacks=["probe"]),
                          self.data)

    def test_two_members_that_are_one_run_are_refused(self):
        cfg = configs(self.get_temp_dir())[0]
        with self.assertRaisesRegex(errors.UserError, "two members are one run"):
            lifecycle.run(RecordingKind(), [cfg, cfg], dataset=self.data)

    def test_an_unfinished_run_refuses_other_instruments_and_a_finished_one_says_so(self):
        cfg = configs(self.get_temp_dir())[0]
        run_dir = rundir.path_for(cfg)
        rundir.write_settings(run_dir, cfg)
        with self.assertRaisesRegex(errors.UserError, "started with other instruments.*snapshots.*: resume it with"):
            lifecycle.run(RecordingKind(), [cfg.replace(snapshots="none")], dataset=self.data)
        rundir.at(run_dir).mark_done()
        self.assertEqual(lifecycle.run(RecordingKind(), [cfg.replace(snapshots="none")], dataset=self.data),
                         [run_dir])


if __name__ == "__main__":
    tf.test.main()
