"""Invalid configs: exit code 2, a message `FILE:LINE:COL: dotted.key: problem; hint`, and no database created."""

import os
import unittest

from e2e_support import HyperionTestCase

# A valid config; each test changes one thing. Line numbers matter: tests name the line of the problem.
VALID = """\
name: cfg
command: [@PY@, @FIX@/trial.py, report, "{lr}"]
objective:
  metric: loss
  mode: min
space:
  lr:
    type: float
    low: 0.001
    high: 0.1
    log: true
  layers: {type: int, low: 1, high: 4}
parallel: 1
budget: {max_trials: 1}
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""


class ConfigErrorTest(HyperionTestCase):
    def assertConfigError(self, text, line, key, *hints, name="bad.yaml"):
        path = self.write_config(text, name=name)
        r = self.run_experiment(path)
        self.assertEqual(r.returncode, 2, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        err = r.stderr
        self.assertIn("%s:%d:" % (path, line), err, "file:line missing")
        if key:
            self.assertIn(" %s: " % key, err, "dotted key missing")
        for hint in hints:
            self.assertIn(hint, err)
        self.assertFalse(os.path.exists(self.db), "the database was created for an invalid config")
        self.assertFalse(os.path.exists(self.out), "the output folder was created for an invalid config")
        self.assertEqual(os.listdir(self.records), [], "a trial ran for an invalid config")
        return err

    def edit(self, old, new):
        self.assertIn(old, VALID)
        return VALID.replace(old, new, 1)

    def test_valid_base_config_runs(self):
        r = self.run_experiment(self.write_config(VALID))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(self.db))

    def test_unknown_top_level_key_suggests_closest(self):
        self.assertConfigError(self.edit("parallel: 1", "paralel: 1"), 13, "paralel",
                               "unknown key", "did you mean 'parallel'?")

    def test_unknown_key_inside_parameter(self):
        self.assertConfigError(self.edit("    low: 0.001", "    lwo: 0.001"), 9, "space.lr.lwo",
                               "unknown key", "did you mean 'low'?")

    def test_misspelled_choices_without_type(self):
        # With no `type`, a misspelt `choices` should still be named, not reported as a missing type.
        self.assertConfigError(self.edit("  layers: {type: int, low: 1, high: 4}", "  layers: {choises: [1, 2]}"),
                               12, "space.layers.choises", "did you mean 'choices'?")

    def test_log_scale_needs_positive_low(self):
        self.assertConfigError(self.edit("    low: 0.001", "    low: 0"), 9, "space.lr.low", "> 0", "log: true")

    def test_log_scale_negative_low(self):
        self.assertConfigError(self.edit("    low: 0.001", "    low: -1"), 9, "space.lr.low", "> 0", "log")

    def test_low_not_below_high(self):
        self.assertConfigError(self.edit("    high: 0.1", "    high: 0.0001"), 10, "space.lr.high",
                               "must be below high")

    def test_low_equal_high(self):
        self.assertConfigError(self.edit("{type: int, low: 1, high: 4}", "{type: int, low: 4, high: 4}"), 12,
                               "space.layers.high", "must be below high")

    def test_step_that_does_not_fit(self):
        err = self.assertConfigError(self.edit("  layers: {type: int, low: 1, high: 4}",
                                               "  layers: {type: float, low: 0, high: 1, step: 0.3}"),
                                     12, "space.layers.step", "does not divide")
        # The hint proposes the high that fits: 0 + 3 * 0.3 = 0.9, printed as a person would write it.
        self.assertIn("set high to 0.9 ", err)

    def test_empty_choices(self):
        self.assertConfigError(self.edit("  layers: {type: int, low: 1, high: 4}",
                                         "  layers: {type: categorical, choices: []}"),
                               12, "space.layers.choices", "empty")

    def test_objective_metric_missing(self):
        self.assertConfigError(self.edit("  metric: loss\n", ""), 4, "objective.metric", "missing", "metric:")

    def test_unknown_strategy_suggests_random(self):
        self.assertConfigError(self.edit("parallel: 1", "parallel: 1\nstrategy:\n  type: radnom"), 15,
                               "strategy.type", "radnom", "did you mean 'random'?")

    def test_unknown_parameter_type(self):
        self.assertConfigError(self.edit("    type: float", "    type: flaot"), 8, "space.lr.type",
                               "did you mean 'float'?")

    def test_command_placeholder_naming_no_parameter(self):
        self.assertConfigError(self.edit('"{lr}"]', '"{lrr}"]'), 2, "command[3]", "{lrr}",
                               "did you mean '{lr}'?")

    def test_unquoted_placeholder_in_flow_list(self):
        self.assertConfigError(self.edit('"{lr}"]', "{lr}]"), 2, "command[3]", "quote it", '"{lr}"')

    def test_yaml_syntax_error(self):
        self.assertConfigError(self.edit("  layers: {type: int, low: 1, high: 4}",
                                         "  layers: {type: int, low: 1, high: [4}"),
                               12, None, "not valid YAML")

    def test_bad_duration(self):
        self.assertConfigError(self.edit("trial: {kill_grace: 1s}", "trial: {kill_grace: 1s, timeout: 5 minutes}"),
                               15, "trial.timeout", "not a duration", "10m")

    def test_parallel_must_be_positive(self):
        self.assertConfigError(self.edit("parallel: 1", "parallel: 0"), 13, "parallel", "at least 1")

    def test_missing_config_file(self):
        path = os.path.join(self.tmp, "does-not-exist.yaml")
        r = self.run_experiment(path)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(path, r.stderr)
        self.assertIn("No such file", r.stderr)
        self.assertFalse(os.path.exists(self.db))

    def test_bad_command_line_values(self):
        path = self.write_config(VALID)
        for args in (["--max-trials", "0"], ["--parallel", "0"], ["--max-time", "soon"], ["--bogus"]):
            r = self.run_experiment(path, *args)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
            self.assertTrue(r.stderr.strip(), args)
            self.assertFalse(os.path.exists(self.db), args)
        self.assertEqual(os.listdir(self.records), [])

    def test_program_not_found(self):
        path = self.write_config(self.edit("[@PY@, ", "[/no/such/python3, "), name="bad.yaml")
        r = self.run_experiment(path)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("command[0]", r.stderr)
        self.assertIn("/no/such/python3", r.stderr)
        self.assertFalse(os.path.exists(self.db))

    def test_bad_storage_scheme(self):
        path = self.write_config(VALID)
        r = self.hyperion("run", path, "--storage", "mysql://" + self.db, "--output-dir", self.out)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("unknown scheme 'mysql'", r.stderr)
        self.assertFalse(os.path.exists(self.db))
        self.assertEqual(os.listdir(self.records), [])


if __name__ == "__main__":
    unittest.main()
