"""Conditional parameters through the whole path: a `when` in the config, every strategy proposing only the active
parameters, trials seeing exactly those in HYPERION_PARAMS, storage keeping exactly those, and a placeholder of a
conditional parameter refused at load."""

import os
import unittest

from e2e_support import HyperionTestCase

CONFIG = """
name: cond-%(type)s
command: [@PY@, @FIX@/conditional.py, "--optimizer={optimizer}", "--lr={lr}"]
objective: {metric: loss, mode: min}
space:
  optimizer: [sgd, adam]
  momentum: {type: float, low: 0.0, high: 0.9, when: {optimizer: sgd}}
  nesterov: {type: bool, when: {optimizer: [sgd]}}
  lr: {type: float, low: 0.001, high: 0.1, log: true}
strategy: %(strategy)s
parallel: 2
%(budget)s
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""


class ConditionalTest(HyperionTestCase):
    def run_strategy(self, type_, strategy, budget, expected_trials):
        config = self.write_config(CONFIG % {"type": type_, "strategy": strategy, "budget": budget})
        r = self.run_experiment(config, "-q", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        trials = self.trials()
        self.assertEqual(len(trials), expected_trials, [t["params"] for t in trials])
        self.assertEqual({t["state"] for t in trials}, {"completed"},
                         "a trial failed; conditional.py exits 3 when it sees the wrong parameters: %s"
                         % [(t["params"], t["state"]) for t in trials if t["state"] != "completed"])
        recs = {rec["number"]: rec for rec in (self.record(n) for n in self.records_matching("params-"))}
        self.assertEqual(sorted(recs), [t["number"] for t in trials])
        optimizers = set()
        for t in trials:
            params = t["params"]
            optimizers.add(params["optimizer"])
            # What the trial saw in HYPERION_PARAMS is what is stored: inactive parameters in neither.
            self.assertEqual(recs[t["number"]]["params"], params)
            expected_keys = ["optimizer", "momentum", "nesterov", "lr"] if params["optimizer"] == "sgd" \
                else ["optimizer", "lr"]
            self.assertEqual(list(params), expected_keys, t)
            argv = recs[t["number"]]["argv"]
            self.assertEqual(argv[0], "--optimizer=%s" % params["optimizer"])
            self.assertTrue(argv[1].startswith("--lr="), argv)
            self.assertEqual(float(argv[1][len("--lr="):]), params["lr"])
            if params["optimizer"] == "sgd":
                self.assertIsInstance(params["momentum"], float)
                self.assertTrue(0.0 <= params["momentum"] <= 0.9, params)
                self.assertIsInstance(params["nesterov"], bool)
            shown = self.query("show", str(t["number"]))
            self.assertEqual(shown["params"], params)
        self.assertEqual(optimizers, {"sgd", "adam"})
        return trials, r

    def test_random(self):
        self.run_strategy("random", "{type: random, seed: 3}", "budget: {max_trials: 12}", 12)

    def test_tpe(self):
        trials, _ = self.run_strategy("tpe", "{type: tpe, seed: 3}", "budget: {max_trials: 18}", 18)
        self.assertTrue(any(t["rationale"].startswith("TPE:") for t in trials),
                        [t["rationale"] for t in trials])

    def test_tpe_multivariate(self):
        trials, _ = self.run_strategy("tpe-m", "{type: tpe, seed: 4, multivariate: true}",
                                      "budget: {max_trials: 18}", 18)
        self.assertTrue(any(t["rationale"].startswith("TPE:") for t in trials))

    def test_gp(self):
        trials, _ = self.run_strategy("gp", "{type: gp, seed: 5}", "budget: {max_trials: 14}", 14)
        self.assertTrue(any(t["rationale"].startswith("GP expected improvement") for t in trials),
                        [t["rationale"] for t in trials])

    def test_grid_visits_each_active_point_once(self):
        # resolution 3: sgd x 3 momenta x 2 nesterov + adam, times 3 learning rates = (6 + 1) * 3 points.
        trials, r = self.run_strategy("grid", "{type: grid, resolution: 3}", "", 21)
        self.assertIn("grid exhausted", r.stdout + r.stderr)
        points = [tuple(sorted(t["params"].items())) for t in trials]
        self.assertEqual(len(set(points)), 21, "a point ran twice")
        self.assertEqual(len([t for t in trials if t["params"]["optimizer"] == "adam"]), 3)
        self.assertEqual(sorted({t["params"]["momentum"] for t in trials if "momentum" in t["params"]}),
                         [0.0, 0.45, 0.9])

    def test_placeholder_of_a_conditional_parameter_is_refused(self):
        text = (CONFIG % {"type": "bad", "strategy": "{type: random}", "budget": "budget: {max_trials: 2}"}) \
            .replace('"--lr={lr}"]', '"--lr={lr}", "--momentum={momentum}"]')
        path = self.write_config(text, name="bad.yaml")
        r = self.run_experiment(path)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("%s:2:" % path, r.stderr)
        self.assertIn(" command[4]: '{momentum}' names a conditional parameter: it exists only when optimizer is "
                      "\"sgd\", so trials where it is inactive have no value for it. Read it from the params JSON "
                      "instead (the HYPERION_PARAMS environment variable, or hyperion.params() in the Python "
                      "client)", r.stderr)
        self.assertFalse(os.path.exists(self.db), "the database was created for an invalid config")
        self.assertEqual(os.listdir(self.records), [], "a trial ran for an invalid config")

    def test_when_naming_a_later_parameter_is_refused(self):
        text = (CONFIG % {"type": "bad", "strategy": "{type: random}", "budget": "budget: {max_trials: 2}"}) \
            .replace("when: {optimizer: sgd}", "when: {lr: 0.01}")
        path = self.write_config(text, name="bad.yaml")
        r = self.run_experiment(path)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("%s:6:" % path, r.stderr)
        self.assertIn("space.momentum.when.lr: 'lr' must be defined before 'momentum'", r.stderr)
        self.assertFalse(os.path.exists(self.db))


if __name__ == "__main__":
    unittest.main()
