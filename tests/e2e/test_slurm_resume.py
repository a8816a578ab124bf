"""Resume re-attaches to Slurm jobs: `hyperion run` is killed with SIGKILL while a trial's job runs; `--resume`
follows the same job (its id stored with the trial) instead of running the trial again, stores what it reports after
(never twice what was stored before), and collects its end, also when the job ended while no orchestrator ran."""

import os
import unittest

from slurm_support import SlurmTestCase, queued_jobs

CONFIG = """
name: reattach
command: [@PY@, @FIX@/trial.py, step-hang]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 0, high: 1}
parallel: 1
budget: {max_trials: 1}
executor: {type: slurm, poll_interval: 300ms}
env: {RECORD_DIR: "@REC@"}
"""


class SlurmResumeTest(SlurmTestCase):
    def kill_while_job_runs(self):
        config = self.write_config(CONFIG)
        proc = self.start_experiment(config)
        self.wait_for(lambda: (1, 1) in self.pid_records(), timeout=60, what="the trial's job to run", proc=proc)
        # Its first report is stored before the orchestrator dies.
        self.wait_for(lambda: self.query("show", "1")["reports"], timeout=10, what="the first report", proc=proc)
        job_id = self.only_trial()["external_id"]
        proc.kill()
        proc.wait()
        self.assertEqual(queued_jobs().get(job_id), "RUNNING", "the job outlives its orchestrator")
        self.assertEqual(self.only_trial()["state"], "running")
        return config, job_id

    def release(self):
        open(os.path.join(self.records, "release"), "w").close()

    def assertCollectedOnce(self, job_id):
        t = self.only_trial()
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual(t["attempt"], 1, "re-attached, not run again: %s" % t)
        self.assertEqual(t["external_id"], job_id)
        self.assertEqual(t["value"], 1.0)
        with open(os.path.join(self.records, "runs.log")) as f:
            self.assertEqual(f.read(), "1 1\n", "the command ran once")
        # The report stored before the kill is read again from the file, and not stored twice.
        reports = [(r["step"], r["value"]) for r in self.query("show", "1")["reports"]]
        self.assertEqual(reports, [(1, 10.0), (2, 1.0)])
        reattached = self.events("trial_reattached")
        self.assertEqual(reattached, [{"number": 1, "external_id": job_id, "attempt": 1}])
        self.wait_for_job_state(job_id, {"COMPLETED"})

    def test_resume_follows_the_running_job(self):
        config, job_id = self.kill_while_job_runs()
        proc = self.start_experiment(config, "--resume")
        self.wait_for(lambda: self.events("trial_reattached"), timeout=30, what="the re-attach", proc=proc)
        self.assertEqual(queued_jobs().get(job_id), "RUNNING")
        self.release()
        proc.wait(timeout=60)
        out, err = self.output(proc)
        self.assertEqual(proc.returncode, 0, out + err)
        self.assertIn("finished", out)
        self.assertCollectedOnce(job_id)

    def test_resume_collects_a_job_that_ended_meanwhile(self):
        config, job_id = self.kill_while_job_runs()
        self.release()
        self.wait_for(lambda: job_id not in queued_jobs(), timeout=30, what="the job to end")
        r = self.run_experiment(config, "--resume", timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertCollectedOnce(job_id)


if __name__ == "__main__":
    unittest.main()
