"""The main job on real data: the bundled digits example (a PyTorch MLP on scikit-learn's handwritten digits) tuned
by `hyperion run` exactly as the README shows, then queried with `best --json` and `trials --json`."""

import os
import unittest

from e2e_support import HERE, HyperionTestCase

EXAMPLE = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "digits", "hyperion.yaml"))


class DigitsTest(HyperionTestCase):
    def test_eight_trials_two_at_a_time_reach_095(self):
        r = self.run_experiment(EXAMPLE, "--max-trials", "8", "--parallel", "2", timeout=900)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("finished: budget reached: 8 trials", r.stdout)

        best = self.query("best")
        self.assertEqual(best["experiment"], "digits-mlp")
        self.assertEqual(best["metric"], "val_acc")
        self.assertEqual(best["state"], "completed")
        self.assertGreaterEqual(best["value"], 0.95, best)
        self.assertLessEqual(best["value"], 1.0, best)

        trials = self.trials()
        self.assertEqual(len(trials), 8)
        self.assertEqual([t["number"] for t in trials], list(range(1, 9)))
        for t in trials:
            p = t["params"]
            self.assertEqual(list(p), ["lr", "weight_decay", "width", "depth", "dropout", "batch_size", "optimizer"])
            self.assertIsInstance(p["lr"], float)
            self.assertTrue(1e-3 <= p["lr"] <= 0.3, p)
            self.assertIsInstance(p["weight_decay"], float)
            self.assertIsInstance(p["width"], int)
            self.assertIsInstance(p["depth"], int)
            self.assertIsInstance(p["dropout"], float)
            self.assertAlmostEqual(p["dropout"] / 0.05, round(p["dropout"] / 0.05), places=6)
            self.assertIn(p["batch_size"], [16, 32, 64, 128])
            self.assertIsInstance(p["batch_size"], int)
            self.assertIn(p["optimizer"], ["adam", "adamw", "sgd"])
            self.assertEqual(t["operator"], "sample")
            self.assertTrue(t["rationale"].startswith("Random draw"), t["rationale"])
            self.assertEqual(t["parents"], [])
            self.assertIsNotNone(t["started_at"])
            self.assertIsNotNone(t["ended_at"])
            if t["state"] == "completed":
                self.assertTrue(0.0 <= t["value"] <= 1.0, t)
                # 20 epochs reported through the client as steps 1..20.
                shown = self.query("show", str(t["number"]))
                steps = sorted({r["step"] for r in shown["reports"] if r["metric"] == "val_acc"})
                self.assertEqual(steps, list(range(1, 21)), shown["reports"][:3])
            else:
                self.assertTrue(t["error"], t)


if __name__ == "__main__":
    unittest.main()
