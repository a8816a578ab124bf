"""Parallel trials: never more than `parallel` trial processes at once, and really that many."""

import os
import unittest

from e2e_support import HyperionTestCase, max_overlap

CONFIG = """
name: par
command: [@PY@, @FIX@/overlap.py, "{i}"]
objective: {metric: loss, mode: min}
space:
  i: {type: int, low: 1, high: 100}
strategy: {type: random, seed: 7}
parallel: 3
budget: {max_trials: 9}
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@", TRIAL_SLEEP: "0.5"}
"""


class ParallelTest(HyperionTestCase):
    def test_parallel_3_never_exceeded_and_reached(self):
        config = self.write_config(CONFIG)
        r = self.run_experiment(config, "-q")
        self.assertEqual(r.returncode, 0, r.stderr)

        # The trials' own view.
        names = self.records_matching("overlap-")
        self.assertEqual(len(names), 9, names)
        recs = [self.record(n) for n in names]
        self.assertEqual(sorted(rec["number"] for rec in recs), list(range(1, 10)))
        self.assertEqual(len({rec["pid"] for rec in recs}), 9, "each trial is its own process")
        for rec in recs:
            self.assertGreater(rec["samples"], 5, rec)
        most_alive = max(rec["max_alive"] for rec in recs)
        self.assertLessEqual(most_alive, 3, "more than 3 trial processes were alive at once: %s" % recs)
        self.assertEqual(most_alive, 3, "parallel: 3 never had 3 trials alive at once: %s" % recs)
        wall_overlap = max_overlap([(rec["start"], rec["end"]) for rec in recs])
        self.assertEqual(wall_overlap, 3, recs)

        # The database's view.
        trials = self.trials()
        self.assertEqual([t["number"] for t in trials], list(range(1, 10)))
        self.assertEqual({t["state"] for t in trials}, {"completed"})
        for t in trials:
            self.assertIsNotNone(t["started_at"], t)
            self.assertIsNotNone(t["ended_at"], t)
            self.assertGreaterEqual(t["ended_at"] - t["started_at"], 0.45, t)
            self.assertEqual(t["value"], float(t["number"]))
        self.assertEqual(max_overlap([(t["started_at"], t["ended_at"]) for t in trials]), 3, trials)

    def test_parallel_flag_overrides_config(self):
        config = self.write_config(CONFIG)
        r = self.run_experiment(config, "-q", "--parallel", "2", "--max-trials", "4")
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = [self.record(n) for n in self.records_matching("overlap-")]
        self.assertEqual(len(recs), 4)
        self.assertEqual(max(rec["max_alive"] for rec in recs), 2, recs)
        trials = self.trials()
        self.assertEqual(len(trials), 4)
        self.assertEqual(max_overlap([(t["started_at"], t["ended_at"]) for t in trials]), 2, trials)


if __name__ == "__main__":
    unittest.main()
