"""`hyperion tree` and `hyperion trace` on a real run: a small random search (every trial a root), read back as
text and as JSON, and the errors for a trial that does not exist; then a small beam (branches, prunes, removed
checkpoints) through `show` and `trace`."""

import json
import os
import unittest

from e2e_support import LINEAGE_BEAM, HyperionTestCase

RANDOM = """
name: graph-random
command: [@PY@, @FIX@/trial.py, report, "{x}"]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 0, high: 1}
  depth: {type: int, low: 1, high: 4}
strategy: {type: random, seed: 5}
budget: {max_trials: 5}
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""


class GraphCliTest(HyperionTestCase):
    def setUp(self):
        super().setUp()
        r = self.run_experiment(self.write_config(RANDOM), "-q")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.stored = self.trials()
        self.assertEqual(len(self.stored), 5)
        self.best = min(self.stored, key=lambda t: (t["value"], t["number"]))

    def cli(self, *args):
        return self.hyperion(*args, "--storage", self.storage)

    def test_tree_text(self):
        r = self.cli("tree")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "experiment 'graph-random'  strategy random  5 trials: 5 completed")
        self.assertEqual(lines[1], "value: loss (min)")
        self.assertEqual(len(lines), 2 + 5 + 1, r.stdout)
        self.assertNotIn("\033[", r.stdout, "no colours when stdout is not a terminal")
        for t, line in zip(self.stored, lines[2:7]):
            # Every trial of a random search is a root: no indentation, no connector.
            prefix = "#%d ✓ %s  sample" % (t["number"], "%.6g" % t["value"])
            self.assertTrue(line.startswith(prefix), (line, prefix))
            self.assertEqual(line.endswith("★ best"), t["number"] == self.best["number"], line)
        self.assertEqual(lines[7], "best: #%d loss=%s (min); its lineage: hyperion trace %d"
                         % (self.best["number"], repr(self.best["value"]), self.best["number"]))

    def test_tree_json(self):
        r = self.cli("tree", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        tree = json.loads(r.stdout)
        self.assertEqual(tree["experiment"], "graph-random")
        self.assertEqual(tree["strategy"], "random")
        self.assertEqual(tree["objective"], {"metric": "loss", "mode": "min"})
        self.assertIsNone(tree["training"])
        self.assertEqual(tree["counts"], {"completed": 5})
        self.assertEqual(tree["best"], self.best["number"])
        self.assertEqual(tree["edges"], [])
        self.assertEqual([n["number"] for n in tree["nodes"]], [1, 2, 3, 4, 5])
        for node, stored in zip(tree["nodes"], self.stored):
            self.assertEqual(node["params"], stored["params"])
            self.assertEqual(node["value"], stored["value"])
            self.assertEqual(node["operator"], "sample")
            self.assertEqual(node["depth"], 0)
            self.assertEqual(node["children"], [])
            self.assertEqual(node["merge_children"], [])
            self.assertEqual(node["parent_numbers"], [])
            self.assertIsNone(node["pruned_reason"])

    def test_trace_text(self):
        t = self.stored[2]
        for arg in ("3", "#3"):
            r = self.cli("trace", arg)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.splitlines()
            self.assertEqual(lines[0], "trace of #3 in experiment 'graph-random': 1 trial from root #3")
            self.assertEqual(lines[1], "value: loss (min)")
            self.assertEqual(lines[2], "")
            self.assertTrue(lines[3].startswith("#3 ✓ %s  sample" % ("%.6g" % t["value"])), lines[3])
            self.assertEqual(lines[4], "   params     x=%s depth=%d" % ("%.4g" % t["params"]["x"], t["params"]["depth"]))
            self.assertTrue(lines[5].startswith("   checkpoint /"), lines[5])
            self.assertTrue(lines[5].endswith("/trial-0003/checkpoint"), lines[5])
            self.assertEqual(lines[6], "   decided by random")
            self.assertEqual(lines[7], "   rationale  " + t["rationale"])
            self.assertTrue(lines[8].startswith("   evidence   "), lines[8])
            self.assertEqual(json.loads(lines[8][len("   evidence   "):]), t["evidence"])
            self.assertEqual(len(lines), 9, r.stdout)

    def test_trace_json(self):
        r = self.cli("trace", "3", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        trace = json.loads(r.stdout)
        self.assertEqual(trace["experiment"], "graph-random")
        self.assertEqual(trace["trial"], 3)
        self.assertEqual(len(trace["lineage"]), 1)
        node = trace["lineage"][0]
        stored = self.stored[2]
        self.assertEqual(node["number"], 3)
        self.assertEqual(node["value"], stored["value"])
        self.assertEqual(node["rationale"], stored["rationale"])
        self.assertEqual(node["changed"], {name: {"to": v} for name, v in stored["params"].items()})
        self.assertEqual(node["other_parents"], [])
        self.assertEqual(node["decisions"], [])
        self.assertEqual(node["decided_by"], "random")
        self.assertEqual(node["notes"], [])

    def test_unknown_trial_and_bad_input(self):
        r = self.cli("trace", "999")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr, "hyperion: experiment 'graph-random' has no trial #999; its trials are #1 to #5\n")
        r = self.cli("trace", "999", "--json")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        r = self.cli("trace", "three")
        self.assertEqual(r.returncode, 2)
        self.assertIn("'three' is not a trial number", r.stderr)
        r = self.cli("tree", "--experiment", "graph-randon")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "hyperion: no experiment named 'graph-randon' in %s; did you mean "
                         "'graph-random'?\n" % self.storage)

    def test_no_database(self):
        # Every query command says the same about a database that is not there: bad input, exit 2.
        missing = "sqlite://" + self.tmp + "/missing.db"
        best = self.hyperion("best", "--storage", missing)
        self.assertEqual(best.returncode, 2, best.stderr)
        for args in (("tree",), ("trace", "1"), ("show", "1"), ("trials",), ("status",)):
            r = self.hyperion(*args, "--storage", missing)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertEqual(r.stderr, best.stderr)
        self.assertFalse(os.path.exists(self.tmp + "/missing.db"))


BEAM = LINEAGE_BEAM.replace("name: beam", "name: graph-beam")


class GraphBeamCliTest(HyperionTestCase):
    """A beam of three levels: children restore their parents' checkpoints, retention removes the rest."""

    def setUp(self):
        super().setUp()
        r = self.run_experiment(self.write_config(BEAM), "-q", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.stored = {t["number"]: t for t in self.trials()}
        self.numbers = {t["id"]: t["number"] for t in self.stored.values()}

    def test_show_prints_the_graph_fields(self):
        # A child of the last level that completed: it has a parent, a change, a span and restored a checkpoint.
        child = next(t for t in self.stored.values() if t["budget_from"] == 4 and t["state"] == "completed")
        parent = self.numbers[child["parents"][0]]
        r = self.hyperion("show", str(child["number"]), "--storage", self.storage)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("  operator   branch", lines)
        self.assertIn("  change     " + child["change"], lines)
        self.assertIn("  parents    #%d" % parent, lines)
        self.assertIn("  span       steps 4-6", lines)
        self.assertIn("  restored   " + child["restore_from"], lines)
        self.assertTrue(child["restore_from"].endswith("trial-%04d/checkpoint" % parent), child)
        if child["checkpoint_dir"]:
            self.assertIn("  checkpoint " + child["checkpoint_dir"], lines)
        else:
            self.assertFalse([l for l in lines if l.startswith("  checkpoint")], r.stdout)
        shown = self.query("show", str(child["number"]))
        self.assertEqual(shown["parent_numbers"], [parent])

        # A root: no parents, no restore; its span starts at 0.
        root = self.stored[1]
        r = self.hyperion("show", "1", "--storage", self.storage)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("  span       steps 0-2", r.stdout.splitlines())
        self.assertNotIn("  parents", r.stdout)
        self.assertNotIn("  restored", r.stdout)
        self.assertEqual(root["parents"], [])

    def test_trace_shows_retention_as_the_deciding_component(self):
        removed = [t for t in self.stored.values() if t["state"] == "pruned" and t["budget_from"] == 4]
        self.assertTrue(removed, self.stored)
        number = removed[0]["number"]
        r = self.hyperion("trace", str(number), "--storage", self.storage)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [l[3:] for l in r.stdout.splitlines() if l[3:].startswith("removed ")]
        self.assertTrue(lines, r.stdout)
        for line in lines:
            self.assertTrue(line.startswith("removed    [retention] checkpoint /"), line)
        pruned = [l[3:] for l in r.stdout.splitlines() if l[3:].startswith("pruned ")]
        self.assertTrue(pruned and pruned[-1].startswith("pruned     [beam] "), r.stdout)
        trace = self.query("trace", str(number))
        decisions = [d for node in trace["lineage"] for d in node["decisions"]]
        removals = [d for d in decisions if d["type"] == "checkpoint_removed"]
        self.assertTrue(removals, decisions)
        for d in removals:
            self.assertEqual(d["source"], "retention")


if __name__ == "__main__":
    unittest.main()
