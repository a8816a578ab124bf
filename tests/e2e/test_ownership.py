"""Who owns an experiment and its files: a folder of its own per experiment under the output dir, one live
orchestrator per experiment (--resume is refused while another run is alive, accepted once it is dead), --resume
refusing a changed objective or seed, and programs without a #! line that must not be handed to /bin/sh."""

import os
import re
import signal
import socket
import stat
import time
import unittest

from e2e_support import HyperionTestCase, pid_alive

# loss = x at every step given; grid order is x = LOW..HIGH.
REPORT = """
name: %(name)s
command: [@PY@, @FIX@/trial.py, report, %(steps)s]
objective: {metric: loss, mode: min}
space:
  x: {type: int, low: %(low)d, high: %(high)d}
strategy: {type: grid}
parallel: 1
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""

# Every trial hangs until records/release exists (then reports loss = its number). The grid (6 points) is larger
# than max_trials, so only the budget stops the run.
GATED = """
name: owned
command: [@PY@, @FIX@/trial.py, gated, slow, "{k}"]
objective: {metric: loss, mode: min}
space:
  k: [1, 2, 3, 4, 5, 6]
strategy: {type: grid}
parallel: 2
budget: {max_trials: 3}
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""

QUICK = """
name: quick
command: [@PY@, @FIX@/trial.py, report, "{x}"]
objective: {metric: %s, mode: %s}
space:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 2}
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""

STAMP = "%Y%m%d-%H%M%S"


class OwnershipTestCase(HyperionTestCase):
    def runs(self):
        path = os.path.join(self.records, "runs.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return sorted(f.read().split("\n")[:-1])

    def status_of(self, name):
        for e in self.query("status"):
            if e["name"] == name:
                return e
        self.fail("no experiment %r in status --json" % name)

    def release(self):
        open(os.path.join(self.records, "release"), "w").close()

    def experiment_dir(self, trial):
        """The experiment folder holding `trial`'s folder, checked to be <out>/<folder>/trial-NNNN."""
        trial_dir = trial["trial_dir"]
        self.assertEqual(os.path.basename(trial_dir), "trial-%04d" % trial["number"], trial)
        parent = os.path.dirname(trial_dir)
        self.assertEqual(os.path.dirname(parent), self.out, "not directly under --output-dir: %s" % trial_dir)
        return parent


class ExperimentFolderTest(OwnershipTestCase):
    def test_folder_is_name_and_timestamp(self):
        before = time.time()
        r = self.run_experiment(self.write_config(REPORT % dict(name="foldered", steps='"{x}"', low=1, high=2)),
                                "-q")
        after = time.time()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        self.assertEqual(len(trials), 2)
        dirs = {self.experiment_dir(t) for t in trials}
        self.assertEqual(len(dirs), 1, "one folder per experiment: %s" % dirs)
        folder = os.path.basename(dirs.pop())
        m = re.fullmatch(r"foldered-(\d{8}-\d{6})", folder)
        self.assertTrue(m, folder)
        stamp = time.mktime(time.strptime(m.group(1), STAMP))
        self.assertGreaterEqual(stamp, int(before) - 1, folder)
        self.assertLessEqual(stamp, after + 1, folder)
        for t in trials:
            self.assertTrue(os.path.isdir(t["trial_dir"]), t)
        self.assertEqual(sorted(os.listdir(self.out)), [folder])

    def test_taken_folder_gets_a_suffix(self):
        # Take <name>-<stamp> and <name>-<stamp>-2 for every second the run may start in: it must use -3.
        now = int(time.time())
        stamps = [time.strftime(STAMP, time.localtime(now + d)) for d in range(-1, 20)]
        for s in stamps:
            os.makedirs(os.path.join(self.out, "taken-" + s))
            os.makedirs(os.path.join(self.out, "taken-" + s + "-2"))
        r = self.run_experiment(self.write_config(REPORT % dict(name="taken", steps='"{x}"', low=1, high=2)), "-q")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        folder = os.path.basename(self.experiment_dir(trials[0]))
        m = re.fullmatch(r"taken-(\d{8}-\d{6})-3", folder)
        self.assertTrue(m, "expected taken-<stamp>-3, got %s" % folder)
        self.assertIn(m.group(1), stamps)
        self.assertEqual(self.experiment_dir(trials[1]), os.path.join(self.out, folder))
        # The folders that were there are left alone (still empty).
        for s in stamps:
            self.assertEqual(os.listdir(os.path.join(self.out, "taken-" + s)), [])
            self.assertEqual(os.listdir(os.path.join(self.out, "taken-" + s + "-2")), [])

    def test_unsafe_name_gives_one_folder_under_output_dir(self):
        r = self.run_experiment(self.write_config(REPORT % dict(name='"a b/../c"', steps='"{x}"', low=1, high=2)),
                                "-q")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        dirs = {self.experiment_dir(t) for t in self.trials()}
        self.assertEqual(len(dirs), 1, dirs)
        folder = os.path.basename(dirs.pop())
        self.assertNotIn("/", folder)
        self.assertTrue(re.fullmatch(r"[A-Za-z0-9._-]+-\d{8}-\d{6}", folder), folder)
        self.assertEqual(os.listdir(self.out), [folder])

    def test_same_name_after_deleting_database_uses_own_trials_only(self):
        # First run: loss = x (1 or 2) at steps 1, 2 and 3 — better than anything the second run reports.
        first_cfg = self.write_config(REPORT % dict(name="again", steps='"{x}", "{x}", "{x}"', low=1, high=2))
        r = self.run_experiment(first_cfg, "-q")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        first = self.trials()
        self.assertEqual([(t["number"], t["value"]) for t in first], [(1, 1.0), (2, 2.0)])
        first_dirs = [t["trial_dir"] for t in first]
        self.assertEqual(self.query("best")["value"], 1.0)

        os.remove(self.db)
        for suffix in ("-wal", "-shm", "-journal"):
            if os.path.exists(self.db + suffix):
                os.remove(self.db + suffix)

        # Second run, same name and output dir, another space: loss = x (5 or 6) at step 1 only.
        second_cfg = self.write_config(REPORT % dict(name="again", steps='"{x}"', low=5, high=6), name="second.yaml")
        r = self.run_experiment(second_cfg, "-q")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        second = self.trials()
        self.assertEqual([(t["number"], t["state"], t["params"], t["value"]) for t in second],
                         [(1, "completed", {"x": 5}, 5.0), (2, "completed", {"x": 6}, 6.0)],
                         "a value of the first run's metrics.jsonl leaked into the second run")
        best = self.query("best")
        self.assertEqual((best["number"], best["value"], best["params"]), (1, 5.0, {"x": 5}))
        self.assertIn("best: trial #1", r.stdout)
        shown = self.query("show", "1")
        self.assertEqual([(rep["step"], rep["metric"], rep["value"]) for rep in shown["reports"]],
                         [(1, "loss", 5.0)])

        second_dirs = [t["trial_dir"] for t in second]
        for old, new in zip(first_dirs, second_dirs):
            self.assertNotEqual(old, new)
        self.assertNotEqual(self.experiment_dir(first[0]), self.experiment_dir(second[0]))
        for d in first_dirs + second_dirs:
            self.assertTrue(os.path.isdir(d), d)
        folders = sorted(os.listdir(self.out))
        self.assertEqual(len(folders), 2, folders)
        for f in folders:
            self.assertTrue(re.fullmatch(r"again-\d{8}-\d{6}(-\d+)?", f), f)


class SingleOwnerTest(OwnershipTestCase):
    def start_and_wait_for_hang(self, config, *args, attempt=1):
        proc = self.start_experiment(config, *args)
        self.wait_for(lambda: {(1, attempt), (2, attempt)} <= set(self.pid_records()), timeout=15,
                      what="trials #1 and #2 (attempt %d) to hang" % attempt, proc=proc)
        return proc

    def test_resume_while_another_run_is_alive_is_refused(self):
        config = self.write_config(GATED)
        first = self.start_and_wait_for_hang(config)
        owner = self.status_of("owned")["owner"]
        self.assertEqual(owner, "%s:%d" % (socket.gethostname(), first.pid))
        before = self.trials()
        self.assertEqual([(t["number"], t["state"], t["attempt"]) for t in before],
                         [(1, "running", 1), (2, "running", 1)])

        for args in ((), ("--max-trials", "5")):
            r = self.run_experiment(config, "--resume", *args, timeout=30)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("is being run by", r.stderr)
            self.assertIn(owner, r.stderr)
            self.assertIsNone(first.poll(), "the first run stopped: %s" % (self.output(first),))
            self.assertEqual(self.trials(), before, "a refused --resume touched the trials")
            self.assertEqual(self.status_of("owned")["owner"], owner)
        self.assertEqual(self.runs(), ["1 1", "2 1"], "a refused --resume ran a trial")
        recs = self.pid_records()
        self.assertEqual(sorted(recs), [(1, 1), (2, 1)])
        for rec in recs.values():
            self.assertTrue(pid_alive(rec["pid"]) and pid_alive(rec["child"]),
                            "a refused --resume stopped the live run's trials")

        self.release()
        first.wait(timeout=30)
        self.assertEqual(first.returncode, 0, self.output(first))
        trials = self.trials()
        self.assertEqual([(t["number"], t["state"], t["attempt"]) for t in trials],
                         [(1, "completed", 1), (2, "completed", 1), (3, "completed", 1)])
        self.assertEqual([t["params"]["k"] for t in trials], [1, 2, 3], "duplicate or skipped grid points")
        self.assertEqual(self.runs(), ["1 1", "2 1", "3 1"])
        status = self.status_of("owned")
        self.assertEqual(status["status"], "finished")
        self.assertIsNone(status["owner"])

    def test_resume_after_owner_was_killed_is_accepted_at_once(self):
        config = self.write_config(GATED)
        first = self.start_and_wait_for_hang(config)
        first.kill()
        first.wait()
        old = self.pid_records()
        old_pids = [p for rec in old.values() for p in (rec["pid"], rec["child"])]
        self.assertEqual([t["state"] for t in self.trials()], ["running", "running"])
        self.assertEqual(self.status_of("owned")["owner"], "%s:%d" % (socket.gethostname(), first.pid),
                         "a SIGKILLed run cannot release its claim")

        # The dead pid's heartbeat is fresh (well under the 30 s staleness window), yet --resume goes ahead.
        started = time.monotonic()
        second = self.start_and_wait_for_hang(config, "--resume", attempt=2)
        self.assertLess(time.monotonic() - started, 20.0, "--resume waited for the dead owner's claim to go stale")
        self.assertProcessesGone(old_pids, within=5.0)
        self.assertEqual(self.status_of("owned")["owner"], "%s:%d" % (socket.gethostname(), second.pid))
        self.release()
        second.wait(timeout=30)
        self.assertEqual(second.returncode, 0, self.output(second))
        trials = self.trials()
        self.assertEqual([(t["number"], t["state"], t["attempt"]) for t in trials],
                         [(1, "completed", 2), (2, "completed", 2), (3, "completed", 1)],
                         "max_trials 3 counts the killed run's trials")
        self.assertEqual([t["params"]["k"] for t in trials], [1, 2, 3])
        self.assertEqual(self.runs(), ["1 1", "1 2", "2 1", "2 2", "3 1"])
        self.assertIsNone(self.status_of("owned")["owner"])

    def test_owner_is_null_after_finished_and_interrupted_runs(self):
        r = self.run_experiment(self.write_config(REPORT % dict(name="done", steps='"{x}"', low=1, high=2)), "-q")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        status = self.status_of("done")
        self.assertEqual(status["status"], "finished")
        self.assertIn("owner", status)
        self.assertIsNone(status["owner"])

        # SIGINT: the run stops its trials and gives the experiment up; --resume needs no waiting.
        config = self.write_config(GATED)
        proc = self.start_and_wait_for_hang(config)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        self.assertEqual(proc.returncode, 130, self.output(proc))
        status = self.status_of("owned")
        self.assertEqual(status["status"], "interrupted")
        self.assertIsNone(status["owner"])
        self.release()
        r = self.run_experiment(config, "--resume", "-q")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([t["state"] for t in self.trials("owned")], ["completed"] * 3)
        self.assertIsNone(self.status_of("owned")["owner"])
        self.assertIsNone(self.status_of("done")["owner"])


class ResumeChecksTest(OwnershipTestCase):
    def test_changed_objective_or_seed_is_refused(self):
        r = self.run_experiment(self.write_config(QUICK % ("loss", "min")), "-q", "--seed", "42")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        before = self.trials()
        self.assertEqual(len(before), 2)
        status_before = self.status_of("quick")

        refusals = [
            ("max.yaml", QUICK % ("loss", "max"), (), "objective"),
            ("acc.yaml", QUICK % ("acc", "min"), (), "objective"),
            ("seed.yaml", QUICK % ("loss", "min"), ("--seed", "43"), "seed 42"),
            ("cfgseed.yaml", QUICK % ("loss", "min") + "strategy: {seed: 7}\n", (), "seed"),
        ]
        for name, text, args, word in refusals:
            with self.subTest(config=name, args=args):
                r = self.run_experiment(self.write_config(text, name=name), "--resume", "--max-trials", "4", *args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn(word, r.stderr)
                self.assertEqual(self.trials(), before, "a refused --resume changed the trials")
                self.assertEqual(self.status_of("quick"), status_before)
        self.assertEqual(self.runs(), ["1 1", "2 1"], "a refused --resume ran a trial")

        # The same objective and seed are accepted and continue the experiment.
        r = self.run_experiment(self.write_config(QUICK % ("loss", "min"), name="same.yaml"), "-q", "--resume",
                                "--seed", "42", "--max-trials", "3")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        after = self.trials()
        self.assertEqual(len(after), 3)
        self.assertEqual(after[:2], before)
        self.assertIsNone(self.status_of("quick")["owner"])


class NoShebangTest(OwnershipTestCase):
    def script_config(self, body):
        path = os.path.join(self.tmp, "prog")
        with open(path, "w") as f:
            f.write(body.replace("@REC@", self.records))
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return self.write_config("""
            name: noshebang
            command: [%s, "{x}"]
            objective: {metric: loss, mode: min}
            space:
              x: {type: float, low: 0, high: 1}
            budget: {max_trials: 1}
            trial: {kill_grace: 1s}
            """ % path)

    def test_executable_without_shebang_is_not_run_by_sh(self):
        config = self.script_config("echo hi\ntouch @REC@/ran\n")
        r = self.run_experiment(config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.records, "ran")), "the file was run through /bin/sh")
        self.assertNotIn("hi\n", r.stdout)
        t = self.only_trial()
        self.assertEqual(t["state"], "failed", t)
        self.assertIn("cannot run", t["error"])
        self.assertIn("#! line", t["error"])
        status = self.status_of("noshebang")
        self.assertEqual(status["counts"], {"failed": 1})
        self.assertIsNone(status["owner"])

    def test_shebang_naming_missing_interpreter(self):
        config = self.script_config("#!/nonexistent/interpreter\ntouch @REC@/ran\n")
        r = self.run_experiment(config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        t = self.only_trial()
        self.assertEqual(t["state"], "failed", t)
        self.assertIn("cannot run", t["error"])
        self.assertIn("#! line", t["error"])
        self.assertFalse(os.path.exists(os.path.join(self.records, "ran")))

    def test_script_with_shebang_still_runs(self):
        config = self.script_config('#!/bin/sh\necho \'{"step": 1, "metrics": {"loss": 0.5}}\' '
                                    '>> "$HYPERION_METRICS_FILE"\n')
        r = self.run_experiment(config, "-q")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        t = self.only_trial()
        self.assertEqual((t["state"], t["value"]), ("completed", 0.5), t)


if __name__ == "__main__":
    unittest.main()
