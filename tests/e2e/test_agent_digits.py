"""The built-in analyst on the real example: examples/digits/agent.yaml (shorter: 5 epochs, 14 trials) run by
`hyperion run`, with a note handed to it mid-run. Every trial carries a rationale that cites numbers and its
evidence; the analyst uses more than fresh samples (branches or merges of earlier trials); the note is answered
once, in a rationale; `hyperion trace` names the analyst as the decider."""

import json
import os
import re
import sqlite3
import subprocess
import unittest

from e2e_support import BIN, HERE, HyperionTestCase

DIGITS = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "digits"))
NOTE = "dropout above 0.3 looked worse to me"


class DigitsAgentTest(HyperionTestCase):
    def config(self):
        with open(os.path.join(DIGITS, "agent.yaml")) as f:
            text = f.read()
        for old, new in (("workdir: .", "workdir: " + DIGITS), ("train.py,", 'train.py, --epochs, "5",'),
                         ("max_trials: 30", "max_trials: 14")):
            self.assertIn(old, text)
            text = text.replace(old, new, 1)
        return self.write_config(text)

    def completed(self):
        if not os.path.exists(self.db):
            return 0
        db = sqlite3.connect(self.db)
        try:
            return db.execute("SELECT COUNT(*) FROM trials WHERE state = 'completed'").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
        finally:
            db.close()

    def test_the_analyst_explains_every_trial_and_answers_a_note(self):
        proc = self.start_experiment(self.config())
        self.wait_for(lambda: self.completed() >= 2, timeout=120, what="two finished trials", proc=proc)
        note = subprocess.run([BIN, "note", NOTE, "--storage", self.storage], capture_output=True, text=True,
                              timeout=30)
        self.assertEqual(note.returncode, 0, note.stderr)
        self.assertEqual(proc.wait(timeout=600), 0, self.output(proc))

        trials = self.trials()
        self.assertGreaterEqual(len(trials), 8)
        self.assertLessEqual(len(trials), 14)
        for t in trials:
            self.assertTrue(re.search(r"\d", t["rationale"]), t)
            self.assertTrue(t["evidence"], t)
            self.assertIn(t["state"], ("completed", "pruned"), t)
        operators = {t["operator"] for t in trials}
        self.assertIn("sample", operators)
        self.assertTrue(operators & {"branch", "mutate", "crossover"}, operators)
        with_parents = [t for t in trials if t["parents"]]
        self.assertTrue(with_parents, "no branch or merge in %d trials" % len(trials))
        best = self.query("best")
        self.assertGreater(best["value"], 0.9)

        # The note was answered once, by a decision whose rationale says so.
        entries = self.query("decisions")
        notes = [e for e in entries if e["kind"] == "note"]
        self.assertEqual(len(notes), 1, notes)
        self.assertEqual(notes[0]["text"], NOTE)
        self.assertTrue(notes[0]["answered"], notes[0])
        answering = [e for e in entries if notes[0]["id"] in (e.get("notes") or [])]
        self.assertEqual(len(answering), 1, answering)
        self.assertIn(NOTE, answering[0]["rationale"])

        trace = self.query("trace", str(best["number"]))
        self.assertEqual(trace["lineage"][-1]["decided_by"], "agent")


if __name__ == "__main__":
    unittest.main()
