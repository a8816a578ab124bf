"""`hyperion decisions` and `hyperion note` on a real run: a small random search read back as text and as JSON,
notes refused (empty text, unknown experiment, no database), a note stored on a finished experiment and listed as
unanswered, and a note handed to a running orchestrator, which reads it and says so."""

import os
import re
import subprocess
import unittest

from e2e_support import BIN, HyperionTestCase

RANDOM = """
name: agent-random
command: [@PY@, @FIX@/trial.py, report, "{x}"]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 0, high: 1}
  depth: {type: int, low: 1, high: 4}
strategy: {type: random, seed: 5}
budget: {max_trials: 4}
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""

NOT_RUNNING = "; the experiment is not running: its agent reads the note when you resume it\n"


class DecisionsCliTest(HyperionTestCase):
    def setUp(self):
        super().setUp()
        r = self.run_experiment(self.write_config(RANDOM), "-q")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.stored = self.trials()
        self.assertEqual([t["number"] for t in self.stored], [1, 2, 3, 4])

    def cli(self, *args, columns=1000):
        """Runs a command on this test's database; text output is as wide as `columns` ($COLUMNS: not a terminal)."""
        env = self.env()
        env["COLUMNS"] = str(columns)
        return subprocess.run([BIN] + [str(a) for a in args] + ["--storage", self.storage], cwd=self.tmp, env=env,
                              capture_output=True, text=True, timeout=60)

    def decisions(self, *args):
        return self.query("decisions", *args)

    def test_decisions_json_lists_every_proposal_with_its_rationale_and_agent(self):
        entries = self.decisions()
        proposals = [e for e in entries if e["kind"] == "propose"]
        self.assertEqual(len(proposals), 4, entries)
        for entry, trial in zip(proposals, self.stored):
            self.assertEqual(entry["type"], "trial_proposed")
            self.assertEqual(entry["trial"], trial["number"])
            self.assertEqual(entry["number"], trial["number"])
            self.assertEqual(entry["agent"], "random")
            self.assertEqual(entry["who"], "random")
            self.assertEqual(entry["operator"], "sample")
            self.assertEqual(entry["params"], trial["params"])
            self.assertEqual(entry["parents"], [])
            self.assertEqual(entry["rationale"], trial["rationale"])
            self.assertTrue(entry["rationale"], trial)
            self.assertEqual(entry["evidence"], trial["evidence"])
            self.assertNotIn("notes", entry)
        ids = [e["id"] for e in entries]
        self.assertEqual(ids, sorted(ids), "oldest first")
        self.assertEqual(len(set(ids)), len(ids))
        times = [e["time"] for e in entries]
        self.assertEqual(times, sorted(times))
        experiment = self.query("status")[0]
        for e in entries:
            self.assertAlmostEqual(e["elapsed"], e["time"] - experiment["created_at"], places=6)
            self.assertGreaterEqual(e["elapsed"], 0)
            self.assertLess(e["elapsed"], 120)
        # A random search decides nothing but proposals (its end is the budget, which is no decision).
        self.assertEqual({e["kind"] for e in entries}, {"propose"}, entries)

    def test_decisions_text_one_line_per_proposal(self):
        r = self.cli("decisions")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "experiment 'agent-random'  strategy random  4 entries; times since the "
                         "experiment started")
        self.assertEqual(len(lines), 5, r.stdout)
        for line, trial in zip(lines[1:], self.stored):
            m = re.fullmatch(r" *\+(\d+\.\d)s  propose  #(\d+)  random  sample: (.*)", line)
            self.assertTrue(m, line)
            self.assertEqual(int(m.group(2)), trial["number"])
            self.assertEqual(m.group(3), trial["rationale"].replace("\n", " "))
        # Clipped to the width: every line fits, and a cut rationale ends with an ellipsis.
        r = self.cli("decisions", columns=80)
        self.assertEqual(r.returncode, 0, r.stderr)
        for line, trial in zip(r.stdout.splitlines()[1:], self.stored):
            self.assertLessEqual(len(line), 80, line)
            rationale = line.split("  sample: ", 1)[1]
            if rationale != trial["rationale"]:
                self.assertTrue(rationale.endswith("…"), line)
                self.assertTrue(trial["rationale"].startswith(rationale[:-1].rstrip(" ,;:([{")), line)

    def test_trial_filter_and_limit(self):
        about3 = self.decisions("--trial", "#3")
        self.assertEqual([(e["kind"], e["trial"]) for e in about3], [("propose", 3)])
        everything = self.decisions()
        self.assertEqual(self.decisions("--limit", "2"), everything[-2:])
        r = self.cli("decisions", "--trial", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("experiment 'agent-random'  strategy random  1 entry about #3;"), r.stdout)
        r = self.cli("decisions", "--trial", "99")
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertEqual(r.stderr, "hyperion: experiment 'agent-random' has no trial #99; its trials are #1 to #4\n")
        r = self.cli("decisions", "--limit", "0")
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_trace_names_who_decided(self):
        trace = self.query("trace", "2")
        self.assertEqual(trace["lineage"][0]["decided_by"], "random")
        self.assertEqual(trace["lineage"][0]["notes"], [])
        r = self.cli("trace", "2")
        self.assertIn("   decided by random\n", r.stdout)

    def test_note_refused(self):
        r = self.cli("note", "")
        self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
        self.assertEqual(r.stderr, "hyperion: a note needs some text for the agent, e.g. `hyperion note \"lr above "
                         "0.1 diverges; stay below\"`\n")
        r = self.cli("note", "  \n ")
        self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
        self.assertIn("a note needs some text", r.stderr)
        r = self.cli("note", "a hint", "--experiment", "agent-randon")
        self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
        self.assertEqual(r.stderr, "hyperion: no experiment named 'agent-randon' in %s; did you mean "
                         "'agent-random'?\n" % self.storage)
        missing = os.path.join(self.tmp, "missing.db")
        r = self.hyperion("note", "a hint", "--storage", "sqlite://" + missing)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr, self.hyperion("trials", "--storage", "sqlite://" + missing).stderr)
        self.assertFalse(os.path.exists(missing), "a note never creates a database")
        self.assertEqual([e for e in self.decisions() if e["kind"] == "note"], [], "nothing was stored")

    def test_note_on_a_finished_experiment(self):
        self.assertEqual(self.query("status")[0]["status"], "finished")
        r = self.cli("note", "  lr above 0.5 is worse  ")
        self.assertEqual(r.returncode, 0, r.stderr)
        entries = self.decisions()
        notes = [e for e in entries if e["kind"] == "note"]
        self.assertEqual(len(notes), 1, entries)
        note = notes[0]
        self.assertEqual(note, entries[-1])
        self.assertEqual(r.stdout, "note stored for experiment 'agent-random' (event %d)" % note["id"] + NOT_RUNNING)
        self.assertEqual(note["text"], "lr above 0.5 is worse")
        self.assertEqual(note["type"], "note")
        self.assertIsNone(note["trial"])
        self.assertEqual(note["who"], "person")
        self.assertIs(note["answered"], False)
        self.assertEqual(note["answered_by"], [])
        r = self.cli("decisions", "--limit", "1")
        self.assertRegex(r.stdout.splitlines()[1],
                         r"^\+\d+(\.\d+s|m \d\ds)  note  -  person  not answered yet: lr above 0\.5 is worse$")
        # --trial shows decisions about a trial; a note is about none.
        self.assertEqual([e["kind"] for e in self.decisions("--trial", "1")], ["propose"])


HANG = """
name: agent-running
command: [@PY@, @FIX@/trial.py, hang]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 0, high: 1}
strategy: {type: random, seed: 5}
budget: {max_trials: 1}
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""


class NoteWhileRunningTest(HyperionTestCase):
    def test_the_running_orchestrator_reads_the_note(self):
        proc = self.start_experiment(self.write_config(HANG))
        self.wait_for(lambda: (1, 1) in self.pid_records(), timeout=20, what="trial #1 to run", proc=proc)
        r = self.hyperion("note", "x near 0.3 looked best", "--storage", self.storage)
        self.assertEqual(r.returncode, 0, r.stderr)
        notes = [e for e in self.query("decisions") if e["kind"] == "note"]
        self.assertEqual(len(notes), 1)
        self.assertEqual(r.stdout, "note stored for experiment 'agent-running' (event %d); the running agent reads "
                         "it within a second\n" % notes[0]["id"])
        # The loop reads new notes about once a second and shows each one.
        self.wait_for(lambda: "note for the agent: x near 0.3 looked best" in self.output(proc)[0], timeout=10,
                      what="the run to read the note", proc=proc)
        open(os.path.join(self.records, "release"), "w").close()
        self.assertEqual(proc.wait(timeout=60), 0, self.output(proc))
        # Once the run is over, a note waits for a resume.
        r = self.hyperion("note", "another", "--storage", self.storage)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith(NOT_RUNNING), r.stdout)
        self.assertEqual([n["text"] for n in self.query("decisions") if n["kind"] == "note"],
                         ["x near 0.3 looked best", "another"])

    def test_a_killed_run_does_not_read_notes(self):
        proc = self.start_experiment(self.write_config(HANG))
        self.wait_for(lambda: (1, 1) in self.pid_records(), timeout=20, what="trial #1 to run", proc=proc)
        proc.kill()
        proc.wait()
        self.assertEqual(self.query("status")[0]["status"], "running", "SIGKILL leaves the record as it was")
        r = self.hyperion("note", "hello", "--storage", self.storage)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("; its runner ", r.stdout)
        self.assertTrue(r.stdout.endswith(" is gone, so the experiment is not running: its agent reads the note "
                                          "when you resume it\n"), r.stdout)


if __name__ == "__main__":
    unittest.main()
