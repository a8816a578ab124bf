"""Model-based search through the whole path: `strategy.type: gp` with parallel trials and failing regions."""

import math
import unittest

from e2e_support import HyperionTestCase

CONFIG = """
name: gp-quadratic
command: [@PY@, @FIX@/quadratic.py, "{lr}", "{width}", "{optimizer}"]
objective: {metric: loss, mode: min}
space:
  lr: {type: float, low: 1.0e-5, high: 1.0, log: true}
  width: {type: int, low: 8, high: 256}
  optimizer: [sgd, adam, rmsprop]
strategy: {type: gp, seed: 11}
parallel: 2
budget: {max_trials: 30}
"""


class GpEndToEndTest(HyperionTestCase):
    def test_gp_finds_the_optimum_with_parallel_trials_and_failures(self):
        r = self.run_experiment(self.write_config(CONFIG), "-q", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        self.assertEqual(len(trials), 30)
        self.assertEqual(len({str(sorted(t["params"].items())) for t in trials}), 30, "no point proposed twice")
        initial = [t for t in trials if t["rationale"].startswith("Initial design")]
        model = [t for t in trials if t["rationale"].startswith("GP expected improvement")]
        self.assertEqual(len(initial) + len(model), 30, [t["rationale"] for t in trials])
        self.assertGreaterEqual(len(model), 15)
        for t in model:
            self.assertEqual(t["evidence"]["model"], "gp-matern52-ard")
            self.assertIn("lr", t["evidence"]["length_scales"])
            self.assertIsInstance(t["params"]["width"], int)
            self.assertIn(t["params"]["optimizer"], ["sgd", "adam", "rmsprop"])
        best = self.query("best")
        # The optimum is 0 at lr=0.01, width=48, adam; random search over 30 draws rarely gets below 0.3. Which
        # trials have finished when gp proposes depends on timing (two run at once), so the bound leaves room for
        # a slower path to the optimum on a loaded machine (0.17 seen once; usually below 0.05).
        self.assertLess(best["value"], 0.2, best)
        self.assertEqual(best["params"]["optimizer"], "adam")
        self.assertLess(abs(math.log10(best["params"]["lr"]) + 2), 0.3)
        # The model learns that lr > 0.05 fails: fewer failures among its proposals than among the initial draws'
        # share of the range (about a quarter of the log range fails).
        failed_model = [t for t in model if t["state"] == "failed"]
        self.assertLessEqual(len(failed_model), len(model) // 4, [t["params"] for t in failed_model])


if __name__ == "__main__":
    unittest.main()
