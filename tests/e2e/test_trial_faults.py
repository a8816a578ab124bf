"""How a trial can go wrong, and what Hyperion records: timeouts, NaN/inf objectives, missing or unreadable
metrics, crashes, signals, left-behind children, and retries."""

import os
import time
import unittest

from e2e_support import HyperionTestCase


def config_for(args, trial="{kill_grace: 1s}", extra=""):
    """One-trial experiment running fixtures/trial.py with `args` (a YAML flow list body)."""
    return """
name: faults
command: [@PY@, @FIX@/trial.py, %s]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 1}
trial: %s
env: {RECORD_DIR: "@REC@"}
%s""" % (args, trial, extra)


class TrialFaultTest(HyperionTestCase):
    def run_one(self, args, trial="{kill_grace: 1s}", expect_rc=1, extra=""):
        config = self.write_config(config_for(args, trial, extra))
        r = self.run_experiment(config)
        self.assertEqual(r.returncode, expect_rc, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        if expect_rc == 1:
            self.assertIn("best: none", r.stdout)
        self.last_run = r
        return self.only_trial()

    def assertFailedWith(self, trial, *fragments):
        self.assertEqual(trial["state"], "failed", trial)
        self.assertIsNone(trial["value"], trial)
        self.assertIsNotNone(trial["error"], trial)
        for fragment in fragments:
            self.assertIn(fragment, trial["error"])
        self.assertIsNotNone(trial["ended_at"], trial)

    # -- timeouts --------------------------------------------------------------------------------------------------

    def test_timeout_kills_trial_and_its_child(self):
        t = self.run_one("hang", trial="{timeout: 1s, kill_grace: 60s}")
        self.assertEqual(t["state"], "timed_out", t)
        self.assertIsNone(t["value"])
        self.assertIn("timed out", t["error"])
        self.assertIn("trial.timeout", t["error"])
        duration = t["ended_at"] - t["started_at"]
        self.assertGreaterEqual(duration, 0.9, t)
        self.assertLess(duration, 30.0, t)  # the trial dies on SIGTERM: no need to wait for kill_grace (60 s)
        rec = self.pid_records()[(1, 1)]
        self.assertEqual(rec["pgid"], rec["pid"], "the trial leads its own process group")
        self.assertProcessesGone([rec["pid"], rec["child"]])

    def test_timeout_of_trial_ignoring_sigterm_uses_sigkill_after_grace(self):
        t = self.run_one("hang, --ignore-term", trial="{timeout: 1s, kill_grace: 1s}")
        self.assertEqual(t["state"], "timed_out", t)
        duration = t["ended_at"] - t["started_at"]
        self.assertGreaterEqual(duration, 1.9, "SIGKILL came before timeout + kill_grace: %s" % t)
        rec = self.pid_records()[(1, 1)]
        self.assertProcessesGone([rec["pid"], rec["child"]])

    def test_timed_out_trial_is_retried(self):
        t = self.run_one("hang", trial="{timeout: 500ms, kill_grace: 1s, retries: 1}")
        self.assertEqual(t["state"], "timed_out", t)
        self.assertEqual(t["attempt"], 2, t)
        recs = self.pid_records()
        self.assertEqual(sorted(recs), [(1, 1), (1, 2)])
        self.assertProcessesGone([p for rec in recs.values() for p in (rec["pid"], rec["child"])])

    # -- objective values ------------------------------------------------------------------------------------------

    def test_nan_objective_fails(self):
        t = self.run_one("report, '0.5', nan")
        self.assertFailedWith(t, "objective 'loss' was nan at step 2")

    def test_infinite_objective_fails(self):
        t = self.run_one("report, inf")
        self.assertFailedWith(t, "objective 'loss' was inf at step 1")

    def test_negative_infinite_objective_fails(self):
        t = self.run_one("report, '0.5', '0.4', -inf")
        self.assertFailedWith(t, "objective 'loss' was -inf at step 3")

    def test_nan_through_python_client_fails(self):
        t = self.run_one("client-report, '0.5', nan")
        self.assertFailedWith(t, "objective 'loss' was nan at step 2")

    def test_nan_on_stdout_fails(self):
        t = self.run_one("print, 'epoch=1 loss=0.5', 'epoch=2 loss=nan'")
        self.assertFailedWith(t, "nan", "'loss'")

    def test_missing_objective_names_the_metric(self):
        t = self.run_one("metrics, acc=0.9, f1=0.5")
        self.assertFailedWith(t, "finished without reporting the objective 'loss'", "acc")

    def test_no_metrics_at_all(self):
        t = self.run_one("silent")
        self.assertFailedWith(t, "finished without reporting the objective 'loss'", "no metrics")

    def test_unreadable_objective_on_stdout(self):
        t = self.run_one("print, 'epoch=1 loss=abc'")
        self.assertFailedWith(t, "unreadable metric", "loss", "abc")

    def test_unreadable_metrics_file_line(self):
        # {{ and }} are literal braces in a command argument.
        t = self.run_one("""raw-line, '{{"step": -1, "metrics": {{"loss": 1}}}}'""")
        self.assertFailedWith(t, "unreadable metric", "metrics.jsonl line 1", "step")

    # -- crashes ---------------------------------------------------------------------------------------------------

    def test_exit_code_and_last_stderr_line(self):
        t = self.run_one("crash, '3', 'RuntimeError: disk on fire'")
        self.assertFailedWith(t)
        self.assertEqual(t["error"], "exit code 3: RuntimeError: disk on fire")

    def test_killed_by_sigkill(self):
        t = self.run_one("sigkill")
        self.assertFailedWith(t, "killed by signal 9", "SIGKILL")

    def test_children_left_behind_are_killed(self):
        t = self.run_one("leave-child", expect_rc=0)
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual(t["value"], 1.0)
        rec = self.pid_records()[(1, 1)]
        self.assertProcessesGone([rec["child"]])

    # -- retries ---------------------------------------------------------------------------------------------------

    def test_retry_succeeds_on_second_attempt(self):
        t = self.run_one("flaky", trial="{kill_grace: 1s, retries: 1}", expect_rc=0)
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual(t["attempt"], 2, t)
        self.assertEqual(t["number"], 1)
        self.assertEqual(t["value"], 0.25)
        self.assertIsNone(t["error"])
        with open(os.path.join(self.records, "runs.log")) as f:
            self.assertEqual(f.read().split("\n"), ["1 1", "1 2", ""])
        self.assertIn("best: trial #1", self.last_run.stdout)
        # The first attempt's files are kept apart from the second's.
        with open(os.path.join(t["trial_dir"], "attempt-1", "stderr.log")) as f:
            self.assertIn("transient failure on attempt 1", f.read())
        with open(os.path.join(t["trial_dir"], "stderr.log")) as f:
            self.assertEqual(f.read(), "")
        shown = self.query("show", "1")
        self.assertEqual(shown["attempt"], 2)
        self.assertEqual([(r["step"], r["metric"], r["value"]) for r in shown["reports"]], [(1, "loss", 0.25)])

    def test_without_retries_a_failure_is_final(self):
        t = self.run_one("flaky")
        self.assertFailedWith(t, "exit code 1", "transient failure on attempt 1")
        self.assertEqual(t["attempt"], 1, t)

    def test_retries_exhausted(self):
        t = self.run_one("crash, '3', 'still broken'", trial="{kill_grace: 1s, retries: 2}")
        self.assertFailedWith(t)
        self.assertEqual(t["error"], "exit code 3: still broken")
        self.assertEqual(t["attempt"], 3, t)
        with open(os.path.join(self.records, "runs.log")) as f:
            self.assertEqual(f.read().split(), ["1", "1", "1", "2", "1", "3"])


if __name__ == "__main__":
    unittest.main()
