"""The graph on the real example: PBT and beam over the digits MLP with epochs as the training budget, the script
saving and restoring checkpoints through the client; `hyperion tree` and `hyperion trace --json` show the lineage."""

import os
import re
import unittest

from e2e_support import HERE, HyperionTestCase

DIGITS = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "digits"))


def shrunk(name, replacements):
    """The example config with smaller numbers, run from the example's folder."""
    with open(os.path.join(DIGITS, name)) as f:
        text = f.read()
    text = text.replace("workdir: .", "workdir: " + DIGITS)
    for pattern, replacement in replacements:
        text, n = re.subn(pattern, replacement, text)
        assert n == 1, pattern
    return text


class DigitsGraphTest(HyperionTestCase):
    def check_lineage(self, trials, best):
        ids = {t["id"]: t for t in trials}
        finals = [t for t in trials if t["state"] == "completed" and t["budget_to"] == 6]
        leaf = max(finals, key=lambda t: (t["value"], -t["number"]))
        trace = self.query("trace", str(leaf["number"]))
        lineage = trace["lineage"]
        self.assertEqual(lineage[-1]["number"], leaf["number"])
        self.assertEqual(lineage[0]["parents"], [])
        # Root first, each node's primary parent just before it, the spans chaining 0 -> 6 epochs.
        for parent, child in zip(lineage, lineage[1:]):
            self.assertEqual(child["parents"][0], parent["id"])
            self.assertEqual(child["budget_from"], parent["budget_to"])
            self.assertTrue(child["restore_from"].endswith("trial-%04d/checkpoint" % parent["number"]), child)
        self.assertEqual([n["budget_to"] for n in lineage], [2, 4, 6])
        for node in lineage:
            self.assertTrue(node["rationale"], node)
        tree = self.hyperion("tree", "--storage", self.storage)
        self.assertEqual(tree.returncode, 0, tree.stderr)
        for t in trials:
            self.assertIn("#%d" % t["number"], tree.stdout)
        tree_json = self.query("tree")
        edges = {(e["from"], e["to"]) for e in tree_json["edges"]}
        for t in trials:
            for p in t["parents"]:
                self.assertIn((ids[p]["number"], t["number"]), edges)
        self.assertEqual(tree_json["best"], best["number"])

    def test_pbt_on_digits(self):
        config = self.write_config(shrunk("pbt.yaml", [
            (r"strategy: \{[^}]*\}", "strategy: {type: pbt, population: 4, span: 2, quantile: 0.25, seed: 3}"),
            (r"training: \{[^}]*\}", "training: {unit: epochs, max: 6}"),
            (r'--epochs, "20"', '--epochs, "6"'),
        ]))
        r = self.run_experiment(config, "-q", timeout=900)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        # 4 members x 3 spans of 2 epochs, less the spans a member skips when it copies a donor ahead of it.
        self.assertLessEqual(len(trials), 12)
        self.assertGreaterEqual(len(trials), 8)
        best = self.query("best")
        self.assertGreaterEqual(best["value"], 0.9, best)
        for t in trials:
            shown = self.query("show", str(t["number"]))
            steps = sorted({r["step"] for r in shown["reports"] if r["metric"] == "val_acc"})
            # A continued trial counts on from its parent's epochs: it trains exactly its span.
            self.assertEqual(steps, list(range(int(t["budget_from"]) + 1, int(t["budget_to"]) + 1)), t)
        self.check_lineage(trials, best)

    def test_beam_on_digits(self):
        config = self.write_config(shrunk("beam.yaml", [
            (r"strategy: \{[^}]*\}", "strategy: {type: beam, width: 2, branches: 2, span: 2, seed: 3}"),
            (r"training: \{[^}]*\}", "training: {unit: epochs, max: 6}"),
            (r'--epochs, "20"', '--epochs, "6"'),
        ]))
        r = self.run_experiment(config, "-q", timeout=900)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        self.assertEqual(len(trials), 12, "3 levels of 2 x 2")
        best = self.query("best")
        self.assertGreaterEqual(best["value"], 0.9, best)
        self.check_lineage(trials, best)
        self.assertEqual(sum(t["state"] == "pruned" for t in trials), 6)


if __name__ == "__main__":
    unittest.main()
