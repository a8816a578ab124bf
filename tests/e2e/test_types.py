"""Parameter values keep their JSON types from the YAML config to the trial (HYPERION_PARAMS, argv) and to the
database; grid search visits every point exactly once."""

import json
import os
import unittest

from e2e_support import HyperionTestCase

# The last choice would run commands if anything passed arguments through a shell; the markers it would create
# are checked for below.
SHELLY = """a b;$(touch pwned1) `touch pwned2` "dq" 'sq' *"""

TYPES_CONFIG = """
name: types
command: [@PY@, @FIX@/echo_params.py, "{c}", "c={c}!", "{{c}}"]
objective: {metric: loss, mode: min}
space:
  c: [null, 0, false, "0", 1, true, 0.5, '%s']
strategy: {type: grid}
parallel: 2
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
""" % SHELLY.replace("'", "''")

# (JSON text of the value as the trial must see it, the argument {c} must become)
EXPECTED = [
    ("null", "null"),
    ("0", "0"),
    ("false", "false"),
    ('"0"', "0"),
    ("1", "1"),
    ("true", "true"),
    ("0.5", "0.5"),
    (json.dumps(SHELLY), SHELLY),
]


def typed(value):
    """A key that tells 0, False, "0" and 0.0 apart (Python's 0 == False)."""
    return (type(value).__name__, value)


class TypesTest(HyperionTestCase):
    def test_categorical_choices_round_trip_with_types(self):
        config = self.write_config(TYPES_CONFIG)
        r = self.run_experiment(config, "-q")
        self.assertEqual(r.returncode, 0, r.stderr)

        recs = [self.record(n) for n in self.records_matching("params-")]
        self.assertEqual(len(recs), len(EXPECTED), "grid over 8 choices must run 8 trials: %s" % recs)
        seen = {}
        for rec in recs:
            self.assertEqual(list(rec["params"]), ["c"], rec)
            value = rec["params"]["c"]
            key = json.dumps(value)
            self.assertNotIn(key, seen, "choice %s ran twice" % key)
            seen[key] = rec
            # The raw environment variable is exactly {"c": <value>}.
            self.assertEqual(json.loads(rec["raw"]), {"c": value})
            self.assertEqual(typed(json.loads(rec["raw"])["c"]), typed(value))
        self.assertEqual(sorted(seen), sorted(j for j, _ in EXPECTED))
        self.assertGreaterEqual(len({typed(r["params"]["c"])[0] for r in recs}), 5)  # NoneType int bool str float

        for json_text, argument in EXPECTED:
            rec = seen[json_text]
            self.assertEqual(rec["argv"], [argument, "c=%s!" % argument, "{c}"], "argv for %s" % json_text)

        for marker in ("pwned1", "pwned2"):
            self.assertFalse(os.path.exists(os.path.join(self.tmp, marker)), "an argument went through a shell")

        # The database keeps the same typed values.
        trials = self.trials()
        self.assertEqual(len(trials), len(EXPECTED))
        self.assertEqual({t["state"] for t in trials}, {"completed"})
        by_number = {rec["number"]: rec for rec in recs}
        for t in trials:
            self.assertEqual(typed(t["params"]["c"]), typed(by_number[t["number"]]["params"]["c"]), t)
            self.assertEqual(t["operator"], "grid")
        shown = self.query("show", str(seen["false"]["number"]))
        self.assertIs(shown["params"]["c"], False)
        shown = self.query("show", str(seen['"0"']["number"]))
        self.assertEqual(typed(shown["params"]["c"]), ("str", "0"))

    def test_non_finite_choice_is_not_turned_into_null(self):
        # `.inf` is a YAML 1.2 float. Hyperion may refuse it as a choice (exit 2, naming the key), or keep it;
        # it must not hand it to the trial (or store it) as null, where it collides with a real null choice.
        config = self.write_config("""
            name: inf
            command: [@PY@, @FIX@/echo_params.py, "{c}"]
            objective: {metric: loss, mode: min}
            space:
              c: [null, .inf]
            strategy: {type: grid}
            trial: {kill_grace: 1s}
            env: {RECORD_DIR: "@REC@"}
            """)
        r = self.run_experiment(config, "-q")
        if r.returncode == 2:
            self.assertIn("space.c", r.stderr)
            self.assertFalse(os.path.exists(self.db))
            return
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        recs = [self.record(n) for n in self.records_matching("params-")]
        self.assertEqual(len(recs), 2, "grid over [null, .inf] must run 2 trials; ran %s" % [r["raw"] for r in recs])
        got = {rec["argv"][0]: rec["params"]["c"] for rec in recs}
        self.assertEqual(set(got), {"null", "inf"})
        self.assertIsNone(got["null"])
        self.assertIsNotNone(got["inf"], "the .inf choice reached the trial as null: HYPERION_PARAMS=%s"
                             % [rec["raw"] for rec in recs if rec["argv"] == ["inf"]])
        stored = [t["params"]["c"] for t in self.trials()]
        self.assertEqual(len([v for v in stored if v is None]), 1, "stored params: %s" % stored)

    def test_small_grid_runs_each_point_once(self):
        config = self.write_config("""
            name: grid
            command: [@PY@, @FIX@/echo_params.py, "{i}", "{c}"]
            objective: {metric: loss, mode: min}
            space:
              i: {type: int, low: 1, high: 3}
              c: [a, b]
            strategy: {type: grid}
            parallel: 2
            trial: {kill_grace: 1s}
            env: {RECORD_DIR: "@REC@"}
            """)
        r = self.run_experiment(config, "--max-trials", "100")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("grid exhausted", r.stdout)

        trials = self.trials()
        self.assertEqual([t["number"] for t in trials], [1, 2, 3, 4, 5, 6])
        self.assertEqual({t["state"] for t in trials}, {"completed"})
        points = [(t["params"]["i"], t["params"]["c"]) for t in trials]
        self.assertEqual(len(set(points)), 6, points)
        self.assertEqual(sorted(points), [(i, c) for i in (1, 2, 3) for c in ("a", "b")])
        for t in trials:
            self.assertIs(type(t["params"]["i"]), int, t)
        recs = [self.record(n) for n in self.records_matching("params-")]
        self.assertEqual(sorted((rec["params"]["i"], rec["params"]["c"]) for rec in recs), sorted(points))
        for rec in recs:
            self.assertEqual(rec["argv"], [str(rec["params"]["i"]), rec["params"]["c"]])

        status = self.query("status")
        self.assertEqual(status[0]["status"], "finished")
        self.assertEqual(status[0]["trials"], 6)

    def test_bool_and_int_parameters_are_typed(self):
        config = self.write_config("""
            name: scalars
            command: [@PY@, @FIX@/echo_params.py, "--flag={flag}", "--n={n}"]
            objective: {metric: loss, mode: min}
            space:
              flag: {type: bool}
              n: {type: int, low: -2, high: -1}
            strategy: {type: grid}
            trial: {kill_grace: 1s}
            env: {RECORD_DIR: "@REC@"}
            """)
        r = self.run_experiment(config, "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = [self.record(n) for n in self.records_matching("params-")]
        got = sorted((typed(rec["params"]["flag"]), typed(rec["params"]["n"]), tuple(rec["argv"])) for rec in recs)
        want = sorted((("bool", f), ("int", n), ("--flag=" + ("true" if f else "false"), "--n=%d" % n))
                      for f in (False, True) for n in (-2, -1))
        self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
