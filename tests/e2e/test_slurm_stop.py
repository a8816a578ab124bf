"""Stopping trials that run as Slurm jobs: a prune, trial.timeout and an interrupt of `hyperion run` each end the job
(Slurm no longer lists it, and shows how it ended), and a job that dies, or that someone cancels with scancel, is a
failure (or a retry) with the reason."""

import os
import signal
import subprocess
import unittest

from slurm_support import SlurmTestCase, job_record, queued_jobs

HANG = """
name: %(name)s
command: [@PY@, @FIX@/trial.py, %(mode)s]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 0, high: 1}
parallel: 1
budget: {max_trials: 1}
trial: {kill_grace: 1s%(trial)s}
executor: {type: slurm, poll_interval: 300ms}
env: {RECORD_DIR: "@REC@"}
"""


class SlurmStopTest(SlurmTestCase):
    def config(self, mode, name="stop", trial=""):
        return self.write_config(HANG % {"name": name, "mode": mode, "trial": trial})

    def running_job(self, proc, attempt=1):
        """Waits until trial 1's command runs inside its job; returns the job id stored with the trial."""
        self.wait_for(lambda: (1, attempt) in self.pid_records(), timeout=60, what="the trial's job to run", proc=proc)
        job_id = self.only_trial()["external_id"]
        self.assertEqual(queued_jobs().get(job_id), "RUNNING")
        return job_id

    def finish(self, proc, timeout=60):
        proc.wait(timeout=timeout)
        return self.output(proc)

    def test_timeout_stops_the_job_with_sigterm_first(self):
        proc = self.start_experiment(self.config("hang", trial=", timeout: 3s"))
        job_id = self.running_job(proc)
        out, err = self.finish(proc)
        self.assertEqual(proc.returncode, 1, out + err)  # no trial completed
        t = self.only_trial()
        self.assertEqual(t["state"], "timed_out", t)
        self.assertEqual(t["error"], "timed out after 3.0s (trial.timeout)")
        self.assertNotIn(job_id, queued_jobs())
        # SIGTERM reached the command through Slurm (scancel --full --signal=TERM), which let the batch script
        # record how the command ended: the grace period works as for local trials.
        record = self.wait_for_job_state(job_id, {"FAILED"})
        self.assertEqual(record["ExitCode"], "143:0", record)
        with open(os.path.join(t["trial_dir"], "exit_code")) as f:
            self.assertEqual(f.read(), "143\n")

    def test_timeout_of_a_job_ignoring_sigterm_cancels_it(self):
        proc = self.start_experiment(self.config("hang, --ignore-term", trial=", timeout: 2s"))
        job_id = self.running_job(proc)
        out, err = self.finish(proc)
        t = self.only_trial()
        self.assertEqual(t["state"], "timed_out", t)
        # Past kill_grace Hyperion cancelled the job, and Slurm says so.
        self.wait_for_job_state(job_id, {"CANCELLED"})
        rec = self.pid_records()[(1, 1)]
        self.assertProcessesGone([rec["pid"], rec["child"]], within=10)

    def test_interrupt_cancels_the_job(self):
        proc = self.start_experiment(self.config("hang, --ignore-term"))
        job_id = self.running_job(proc)
        proc.send_signal(signal.SIGINT)
        out, err = self.finish(proc)
        self.assertEqual(proc.returncode, 130, out + err)
        t = self.only_trial()
        self.assertEqual(t["state"], "interrupted", t)
        self.assertIn("SIGINT", t["error"])
        self.wait_for_job_state(job_id, {"CANCELLED"})

    def test_pruned_trial_job_is_stopped(self):
        # Grid order over x: three trials report 3, 2, 1 and end (each no worse than the median before it); the
        # fourth reports 100 at step 1 and would hang for ever: the median pruner stops it, and its job with it.
        config = self.write_config("""
            name: prune
            command: [@PY@, @FIX@/trial.py, report-or-hang, "{x}", "50"]
            objective: {metric: loss, mode: min}
            space:
              x: [3, 2, 1, 100]
            strategy: {type: grid}
            pruner: {type: median, min_trials: 3}
            parallel: 1
            trial: {kill_grace: 1s}
            executor: {type: slurm, poll_interval: 300ms}
            env: {RECORD_DIR: "@REC@"}
            """)
        r = self.run_experiment(config, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        self.assertEqual([t["params"]["x"] for t in trials], [3, 2, 1, 100])
        self.assertEqual([t["state"] for t in trials], ["completed"] * 3 + ["pruned"])
        pruned = trials[3]
        self.assertIn("median", pruned["error"])
        job_id = pruned["external_id"]
        self.assertNotIn(job_id, queued_jobs())
        record = self.wait_for_job_state(job_id, {"FAILED", "CANCELLED"})
        self.assertIn(record["ExitCode"], ("143:0", "0:15"), record)

    def test_job_that_exits_non_zero_fails_with_the_reason(self):
        r = self.run_experiment(self.config('crash, "3", "ValueError: bad batch size"'), timeout=120)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        t = self.only_trial()
        self.assertEqual(t["state"], "failed", t)
        self.assertEqual(t["error"], "exit code 3: ValueError: bad batch size")
        record = self.wait_for_job_state(t["external_id"], {"FAILED"})
        self.assertEqual(record["ExitCode"], "3:0", record)

    def test_job_killed_by_a_signal_fails_with_the_signal(self):
        r = self.run_experiment(self.config("sigkill"), timeout=120)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        t = self.only_trial()
        self.assertEqual(t["state"], "failed", t)
        self.assertEqual(t["error"], "killed by signal 9 (SIGKILL)")
        self.wait_for_job_state(t["external_id"], {"FAILED"})
        # Its report before it died was read from the trial folder all the same.
        shown = self.query("show", "1")
        self.assertEqual([(r["step"], r["value"]) for r in shown["reports"]], [(1, 1.0)])

    def cancel_from_outside(self, mode, trial=""):
        """Runs one trial, scancels its job as a person would, and waits for `hyperion run` to end."""
        proc = self.start_experiment(self.config(mode, trial=trial))
        job_id = self.running_job(proc)
        subprocess.run(["scancel", job_id], check=True, timeout=30)
        out, err = self.finish(proc, timeout=120)
        return proc, job_id, out + err

    def test_job_cancelled_from_outside_is_retried_with_the_reason(self):
        proc, job_id, output = self.cancel_from_outside("hang-first", trial=", retries: 1")
        self.assertEqual(proc.returncode, 0, output)
        t = self.only_trial()
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual(t["attempt"], 2, t)
        self.assertEqual(t["value"], 0.5)
        self.assertNotEqual(t["external_id"], job_id, "the retry is a new job")
        retries = self.events("trial_retry")
        self.assertEqual(len(retries), 1, retries)
        self.assertEqual(retries[0]["reason"],
                         "Slurm job %s was cancelled outside Hyperion (scancel or an administrator)" % job_id)
        self.assertEqual(retries[0]["failed_state"], "failed")
        self.assertFalse(retries[0]["infrastructure"])
        self.assertEqual(job_record(job_id)["JobState"], "CANCELLED")

    def test_job_cancelled_from_outside_fails_without_retries(self):
        proc, job_id, output = self.cancel_from_outside("hang")
        self.assertEqual(proc.returncode, 1, output)
        t = self.only_trial()
        self.assertEqual(t["state"], "failed", t)
        self.assertEqual(t["error"], "Slurm job %s was cancelled outside Hyperion (scancel or an administrator)" % job_id)


if __name__ == "__main__":
    unittest.main()
