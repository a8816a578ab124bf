"""SIGINT / SIGTERM to `hyperion run`: trials stopped (TERM, then KILL after kill_grace), marked interrupted,
nothing left running, exit 128 + signal."""

import signal
import subprocess
import time
import unittest

from e2e_support import BIN, HyperionTestCase

CONFIG = """
name: sig
command: [@PY@, @FIX@/trial.py, hang%s]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 0, high: 1}
parallel: %d
budget: {max_trials: 4}
trial: {kill_grace: %s}
env: {RECORD_DIR: "@REC@"}
"""

# Six quick trials that each print a few lines.
QUICK = """
name: pipe
command: [@PY@, -c, "import time; time.sleep(0.2); print('loss=1')"]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 6}
"""


class SignalTest(HyperionTestCase):
    def start(self, parallel=2, ignore_term=False, kill_grace="1s"):
        config = self.write_config(CONFIG % (", --ignore-term" if ignore_term else "", parallel, kill_grace))
        proc = self.start_experiment(config)
        # Each trial records its pid and its child's once both exist (and SIGTERM is ignored, if asked).
        recs = self.wait_for(lambda: len(self.pid_records()) == parallel and self.pid_records(), timeout=10,
                             what="%d running trials" % parallel, proc=proc)
        # The database can be read while the run writes to it, and shows the trials running.
        running = self.trials()
        self.assertEqual([t["state"] for t in running], ["running"] * parallel, running)
        for t in running:
            self.assertIsNotNone(t["started_at"], t)
            self.assertIsNone(t["ended_at"], t)
        self.assertEqual(self.query("status")[0]["status"], "running")
        return proc, recs

    def stop(self, proc, sig, timeout=10):
        sent = time.monotonic()
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail("hyperion run did not exit within %ss of %s" % (timeout, sig))
        return time.monotonic() - sent

    def assertInterrupted(self, proc, recs, sig, expected_rc):
        out, err = self.output(proc)
        self.assertEqual(proc.returncode, expected_rc, "stdout:\n%s\nstderr:\n%s" % (out, err))
        self.assertIn("interrupted", out)
        self.assertProcessesGone([p for rec in recs.values() for p in (rec["pid"], rec["child"])])
        trials = self.trials()
        self.assertEqual(len(trials), len(recs), trials)
        for t in trials:
            self.assertEqual(t["state"], "interrupted", t)
            self.assertIn(sig, t["error"] or "", t)
            self.assertIsNone(t["value"], t)
            self.assertIsNotNone(t["ended_at"], t)
        status = self.query("status")
        self.assertEqual(len(status), 1, status)
        self.assertEqual(status[0]["name"], "sig")
        self.assertEqual(status[0]["status"], "interrupted", status)
        self.assertEqual(status[0]["counts"], {"interrupted": len(recs)}, status)
        self.assertIsNotNone(status[0]["ended_at"], status)

    def test_sigint_interrupts_all_trials(self):
        # A long grace period: trials that die on SIGTERM must end the run well before it runs out.
        proc, recs = self.start(kill_grace="60s")
        took = self.stop(proc, signal.SIGINT, timeout=30)
        self.assertLess(took, 30.0, "trials that die on SIGTERM should not wait for kill_grace")
        self.assertInterrupted(proc, recs, "SIGINT", 130)

    def test_sigterm_interrupts_all_trials(self):
        proc, recs = self.start()
        self.stop(proc, signal.SIGTERM)
        self.assertInterrupted(proc, recs, "SIGTERM", 143)

    def test_trial_ignoring_sigterm_is_killed_after_kill_grace(self):
        proc, recs = self.start(parallel=1, ignore_term=True, kill_grace="1s")
        took = self.stop(proc, signal.SIGINT, timeout=30)
        self.assertGreaterEqual(took, 0.9, "the trial was killed before kill_grace ran out")
        self.assertInterrupted(proc, recs, "SIGINT", 130)

    def test_second_sigint_kills_at_once(self):
        proc, recs = self.start(parallel=2, ignore_term=True, kill_grace="120s")
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        self.assertIsNone(proc.poll(), "hyperion should wait for kill_grace after one SIGINT")
        took = self.stop(proc, signal.SIGINT, timeout=60)
        self.assertLess(took, 60.0, "a second SIGINT should kill the trials at once, not after kill_grace (120 s)")
        self.assertInterrupted(proc, recs, "SIGINT", 130)


    def test_a_closed_output_pipe_does_not_stop_the_run(self):
        # `hyperion run ... | head -1`: the reader goes away after one line; the run must go on to its end, as it
        # would with its output on a terminal that was closed.
        config = self.write_config(QUICK)
        proc = subprocess.Popen([BIN, "run", config, "--storage", self.storage, "--output-dir", self.out],
                                cwd=self.tmp, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.readline()
        proc.stdout.close()
        proc.stderr.close()
        self.assertEqual(proc.wait(timeout=60), 0)
        trials = self.trials()
        self.assertEqual([t["state"] for t in trials], ["completed"] * 6, trials)
        self.assertEqual(self.query("status")[0]["status"], "finished")

if __name__ == "__main__":
    unittest.main()
