"""Helpers for the Slurm executor's end-to-end tests: what Slurm itself says about a job (squeue, scontrol), so the
tests check the cluster's view and not only Hyperion's. The cluster is started by scripts/start-slurm (the CTest
fixture `slurm`)."""

import re
import subprocess
import time

from e2e_support import HyperionTestCase


def queued_jobs():
    """{job id: state} of the jobs squeue lists (pending, running, completing)."""
    out = subprocess.run(["squeue", "--noheader", "--format=%i|%T"], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    return dict(line.split("|", 1) for line in out.split())


def job_record(job_id):
    """{"JobState": .., "Reason": .., "ExitCode": .., "JobName": ..} from `scontrol show job`, or None when Slurm
    no longer knows the job."""
    r = subprocess.run(["scontrol", "show", "job", str(job_id)], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return None
    fields = dict(re.findall(r"(\w+)=(\S*)", r.stdout))
    return {k: fields.get(k) for k in ("JobState", "Reason", "ExitCode", "JobName", "WorkDir")}


class SlurmTestCase(HyperionTestCase):
    def setUp(self):
        super().setUp()
        # The fixture started the cluster; fail loudly (never skip) when it is not there.
        r = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, "Slurm does not answer; run scripts/start-slurm: " + r.stderr)
        self.assertIn(r.stdout.split()[0] if r.stdout.split() else "", ("idle", "mixed", "allocated", "completing"),
                      "the Slurm node is not ready: %r" % r.stdout)
        self.addCleanup(self._cancel_leftover_jobs)

    def _cancel_leftover_jobs(self):
        """Jobs that a failing test left behind: those whose output goes into this test's folder."""
        for job_id in queued_jobs():
            r = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, timeout=30)
            if self.tmp in r.stdout:
                subprocess.run(["scancel", job_id], timeout=30)

    def wait_for_job_state(self, job_id, states, timeout=30.0):
        """Waits until Slurm shows the job in one of `states` (COMPLETED, CANCELLED...); returns its record."""
        deadline = time.monotonic() + timeout
        record = None
        while time.monotonic() < deadline:
            record = job_record(job_id)
            if record and record["JobState"] in states and job_id not in queued_jobs():
                return record
            time.sleep(0.2)
        self.fail("Slurm job %s did not reach %s within %.0fs (last: %s)" % (job_id, states, timeout, record))

    def assertRanAsJob(self, trial):
        """The trial's stored job id is the job its batch script ran in."""
        job_id = trial["external_id"]
        self.assertRegex(job_id or "", r"^[0-9]+$", trial)
        with open(trial["trial_dir"] + "/job_started") as f:
            started_job, started_at = f.read().split()
        self.assertEqual(started_job, job_id, trial)
        with open(trial["trial_dir"] + "/job.sh") as f:
            self.assertTrue(f.read().startswith("#!/bin/bash\n"))
        return job_id, float(started_at)
