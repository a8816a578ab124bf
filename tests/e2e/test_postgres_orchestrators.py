"""Several processes on one experiment in PostgreSQL: two orchestrators resuming it at the same moment (exactly one
runs it, the other is refused with a clear line), readers querying it while it runs, and a grid that ends with
each point once and trial numbers 1..N."""

import os
import unittest

from e2e_support import PostgresTestCase
from test_ownership import GATED  # a grid of 6 whose trials wait for records/release; 3 trials


class PostgresOrchestratorsTest(PostgresTestCase):
    def test_two_resumes_at_once_one_runs_and_the_grid_has_no_duplicates(self):
        config = self.write_config(GATED)
        first = self.start_experiment(config)
        self.wait_for(lambda: len(self.pid_records()) == 2, timeout=30, what="two trials to start", proc=first)
        first.kill()  # the orchestrator dies; its experiment waits for a --resume
        first.wait()

        racers = [self.start_experiment(config, "--resume") for _ in range(2)]
        self.wait_for(lambda: any(p.poll() is not None for p in racers), timeout=30, what="one resume to be refused")
        loser = next(p for p in racers if p.poll() is not None)
        winner = next(p for p in racers if p is not loser)
        out, err = self.output(loser)
        self.assertEqual(loser.returncode, 2, out + err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertRegex(err, r"^hyperion: experiment 'owned' (is being run by \S+:%d|was claimed by another "
                              r"orchestrator at the same moment)" % winner.pid)

        # A reader sees the running experiment meanwhile.
        self.wait_for(lambda: len(self.pid_records()) >= 3, timeout=30, what="the resumed run to start trials",
                      proc=winner)
        running = self.query("status")
        self.assertEqual(running[0]["status"], "running")
        self.assertTrue(running[0]["owner"].endswith(":%d" % winner.pid), running)

        open(os.path.join(self.records, "release"), "w").close()
        winner.wait(timeout=120)
        out, err = self.output(winner)
        self.assertEqual(winner.returncode, 0, out + err)
        trials = self.trials()
        self.assertEqual([t["number"] for t in trials], [1, 2, 3])
        self.assertEqual(sorted(t["params"]["k"] for t in trials), [1, 2, 3], "each grid point once, in order")
        self.assertTrue(all(t["state"] == "completed" for t in trials), trials)


if __name__ == "__main__":
    unittest.main()
