"""The digits example (a PyTorch MLP on scikit-learn's digits) tuned with its experiment in PostgreSQL, then read back
with `hyperion best` and `hyperion trials` from the same database; and the same URL refused cleanly when wrong."""

import json
import os
import unittest

from e2e_support import HERE, PostgresTestCase

EXAMPLE = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "digits", "hyperion.yaml"))


class PostgresDigitsTest(PostgresTestCase):
    def test_digits_run_is_stored_in_postgresql_and_read_back(self):
        r = self.run_experiment(EXAMPLE, "--max-trials", "4", "--parallel", "2", timeout=900)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("finished: budget reached: 4 trials", r.stdout)
        # Where it is stored, as a person would type it again, but without the password.
        self.assertIn("stored in postgresql://hyperion:***@", r.stdout)
        self.assertNotIn(":hyperion@", r.stdout + r.stderr)

        best = self.query("best")
        self.assertEqual(best["experiment"], "digits-mlp")
        self.assertEqual(best["metric"], "val_acc")
        self.assertEqual(best["state"], "completed")
        self.assertGreaterEqual(best["value"], 0.9, best)
        self.assertLessEqual(best["value"], 1.0, best)

        trials = self.trials()
        self.assertEqual([t["number"] for t in trials], [1, 2, 3, 4])
        self.assertEqual(max(t["value"] or 0 for t in trials), best["value"])
        for t in trials:
            self.assertEqual(list(t["params"]),
                             ["lr", "weight_decay", "width", "depth", "dropout", "batch_size", "optimizer"])
            self.assertIsInstance(t["params"]["width"], int)
            self.assertIsInstance(t["params"]["lr"], float)
            self.assertTrue(1e-3 <= t["params"]["lr"] <= 0.3, t)
            self.assertIsNotNone(t["ended_at"])
            if t["state"] == "completed":
                shown = self.query("show", str(t["number"]))
                steps = sorted({r["step"] for r in shown["reports"] if r["metric"] == "val_acc"})
                self.assertEqual(steps, list(range(1, 21)), shown["reports"][:3])
            else:
                self.assertTrue(t["error"], t)

        # The same seed into SQLite gives the same parameters: both back ends keep values exactly.
        sqlite = "sqlite://" + os.path.join(self.tmp, "same.db")
        r = self.hyperion("run", EXAMPLE, "--storage", sqlite, "--output-dir", self.out + "-sqlite",
                          "--max-trials", "1", "--parallel", "1", timeout=900)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.hyperion("trials", "--storage", sqlite, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)[0]["params"], trials[0]["params"])

    def test_a_wrong_password_or_database_is_one_clear_line(self):
        wrong = self.storage.replace(":hyperion@", ":not-the-password@", 1)
        r = self.hyperion("trials", "--storage", wrong)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("password authentication failed", r.stderr)
        self.assertNotIn("not-the-password", r.stderr)
        r = self.hyperion("trials", "--storage", self.storage)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no experiment database in postgresql://hyperion:***@", r.stderr)


if __name__ == "__main__":
    unittest.main()
