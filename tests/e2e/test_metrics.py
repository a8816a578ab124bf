"""Metrics from `name=value` lines on stdout (scripts that know nothing of Hyperion) and from the Python client;
the trial's value is the objective's last report, or its best with `objective: {value: best}`."""

import unittest

from e2e_support import HyperionTestCase

LINES = '"epoch=1 loss=0.9 acc=0.1", "epoch=2, loss=0.3, acc=0.5", "epoch=3 loss=5e-1 acc=0.7"'


def plain_config(objective, metrics=""):
    return """
name: plain
command: [@PY@, @FIX@/plain_script.py, %s]
objective: %s
space:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 1}
trial: {kill_grace: 1s}
%s
""" % (LINES, objective, metrics)


class MetricsTest(HyperionTestCase):
    def run_single(self, text, expect_rc=0):
        r = self.run_experiment(self.write_config(text))
        self.assertEqual(r.returncode, expect_rc, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        return self.only_trial()

    def test_stdout_metrics_last_value(self):
        t = self.run_single(plain_config("{metric: loss, mode: min}"))
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual(t["value"], 0.5)
        self.assertEqual(t["value_step"], 3)
        shown = self.query("show", "1")
        got = sorted((r["step"], r["metric"], r["value"]) for r in shown["reports"])
        self.assertEqual(got, [(1, "acc", 0.1), (1, "loss", 0.9), (2, "acc", 0.5), (2, "loss", 0.3),
                               (3, "acc", 0.7), (3, "loss", 0.5)])

    def test_stdout_metrics_best_value_min(self):
        t = self.run_single(plain_config("{metric: loss, mode: min, value: best}"))
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual(t["value"], 0.3)
        self.assertEqual(t["value_step"], 2)

    def test_stdout_metrics_best_value_max(self):
        t = self.run_single(plain_config("{metric: loss, mode: max, value: best}"))
        self.assertEqual((t["value"], t["value_step"]), (0.9, 1))
        t_last = self.run_single(plain_config("{metric: acc, mode: max, value: last}").replace("name: plain", "name: plain2"))
        self.assertEqual((t_last["value"], t_last["value_step"]), (0.7, 3))

    def test_stdout_metrics_can_be_turned_off(self):
        t = self.run_single(plain_config("{metric: loss, mode: min}", "metrics: {stdout: false}"), expect_rc=1)
        self.assertEqual(t["state"], "failed", t)
        self.assertIn("finished without reporting the objective 'loss'", t["error"])

    def test_stdout_lines_without_step_count_objective_lines(self):
        # Protocol: "otherwise each line that holds the objective metric counts as the next step".
        t = self.run_single(plain_config("{metric: loss, mode: min}").replace(
            LINES, '"loss=0.9", "lr=0.01", "loss=0.3"'))
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual(t["value"], 0.3)
        shown = self.query("show", "1")
        steps = [r["step"] for r in shown["reports"] if r["metric"] == "loss"]
        self.assertEqual(len(steps), 2, shown["reports"])
        self.assertEqual(steps[1], steps[0] + 1, "a line without the objective must not use up a step: %s"
                         % shown["reports"])
        self.assertEqual(t["value_step"], steps[1])

    def test_last_stdout_line_without_newline_counts(self):
        t = self.run_single("""
            name: partial
            command: [@PY@, -c, "import sys; print('loss=0.7'); sys.stdout.write('loss=0.2')"]
            objective: {metric: loss, mode: min}
            space:
              x: {type: float, low: 0, high: 1}
            budget: {max_trials: 1}
            """)
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual(t["value"], 0.2)

    def test_nan_in_other_metric_is_fine(self):
        t = self.run_single(plain_config("{metric: loss, mode: min}").replace(LINES, '"epoch=1 loss=0.4 acc=nan"'))
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual(t["value"], 0.4)

    def test_python_client_reports(self):
        t = self.run_single("""
            name: client
            command: [@PY@, @FIX@/trial.py, client-report, "{x}", "0.125"]
            objective: {metric: loss, mode: min, value: last}
            space:
              x: {type: float, low: 0.5, high: 1}
            budget: {max_trials: 1}
            trial: {kill_grace: 1s}
            env: {RECORD_DIR: "@REC@"}
            """)
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual((t["value"], t["value_step"]), (0.125, 2))
        shown = self.query("show", "1")
        got = [(r["step"], r["metric"], r["value"]) for r in shown["reports"]]
        self.assertEqual(got, [(1, "loss", t["params"]["x"]), (2, "loss", 0.125)])


if __name__ == "__main__":
    unittest.main()
