"""The digits example on the local Slurm cluster: examples/digits/slurm.yaml (a PyTorch MLP on scikit-learn's digits)
with every trial an sbatch job, two at a time. Checked from Slurm's side too: each trial's stored job id is the job
its batch script ran in, Slurm finished it COMPLETED, and at most (and at some moment exactly) two jobs ran at once."""

import os
import unittest

from e2e_support import HERE, max_overlap
from slurm_support import SlurmTestCase, job_record

EXAMPLE = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "digits", "slurm.yaml"))


class SlurmDigitsTest(SlurmTestCase):
    def test_digits_trials_run_as_slurm_jobs_two_at_a_time(self):
        r = self.run_experiment(EXAMPLE, "--max-trials", "4", "--parallel", "2", timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("finished: budget reached: 4 trials", r.stdout)

        status = self.query("status")
        self.assertEqual(status[0]["name"], "digits-mlp-slurm")
        self.assertEqual(status[0]["executor"], "slurm")
        best = self.query("best")
        self.assertEqual(best["state"], "completed")
        self.assertGreaterEqual(best["value"], 0.9, best)
        self.assertLessEqual(best["value"], 1.0, best)

        trials = self.trials()
        self.assertEqual([t["number"] for t in trials], [1, 2, 3, 4])
        job_ids, spans = set(), []
        for t in trials:
            self.assertEqual(t["state"], "completed", t)
            self.assertEqual(t["attempt"], 1, t)
            job_id, started = self.assertRanAsJob(t)
            job_ids.add(job_id)
            record = job_record(job_id)
            self.assertEqual(record["JobState"], "COMPLETED", record)
            self.assertEqual(record["ExitCode"], "0:0", record)
            self.assertEqual(record["JobName"], "digits-mlp-slurm-%d" % t["number"], record)
            exit_code_file = os.path.join(t["trial_dir"], "exit_code")
            with open(exit_code_file) as f:
                self.assertEqual(f.read(), "0\n")
            spans.append((started, os.path.getmtime(exit_code_file)))
            # 20 epochs reported through the trial folder on the "shared" filesystem, as steps 1..20.
            shown = self.query("show", str(t["number"]))
            steps = [r["step"] for r in shown["reports"] if r["metric"] == "val_acc"]
            self.assertEqual(steps, list(range(1, 21)))
            self.assertTrue(0.0 <= t["value"] <= 1.0, t)
            text = self.hyperion("show", str(t["number"]), "--storage", self.storage).stdout
            self.assertIn("  job        %s (slurm)\n" % job_id, text)
        self.assertEqual(len(job_ids), 4, job_ids)
        # The jobs' own start and end: the queue held two at a time, and used both slots.
        self.assertEqual(max_overlap(spans), 2, spans)
        stored = [(t["started_at"], t["ended_at"]) for t in trials]
        self.assertLessEqual(max_overlap(stored), 2, stored)


if __name__ == "__main__":
    unittest.main()
