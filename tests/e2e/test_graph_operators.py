"""The experiment graph through the whole path, with real processes and checkpoints on disk.

The fixture fixtures/lineage.py writes, with every checkpoint, the number of the trial that wrote it and the step,
and records which checkpoint each trial restored; so these tests check exactly which donor every branch continued
from, not only what the database says."""

import json
import os
import signal
import unittest

from e2e_support import LINEAGE_BEAM, LINEAGE_COMMON, HyperionTestCase



def checkpoint_of(number):
    return "trial-%04d/checkpoint" % number


class GraphTestCase(HyperionTestCase):
    def lineage_record(self, number, attempt=1):
        return self.record("lineage-%d-%d.json" % (number, attempt))

    def by_number(self, trials):
        return {t["number"]: t for t in trials}

    def by_id(self, trials):
        return {t["id"]: t for t in trials}

    def first_attempt_record(self, number):
        """What the first attempt that got as far as starting its script saw (an interrupt may come earlier)."""
        attempts = sorted(int(n.split("-")[2].split(".")[0]) for n in self.records_matching("lineage-%d-" % number))
        self.assertTrue(attempts, "trial #%d never ran its script" % number)
        return self.lineage_record(number, attempts[0])

    def assertRestoredFromParent(self, trial, trials_by_id):
        """The trial restored exactly its primary parent's checkpoint, at the step where that parent ended."""
        parent = trials_by_id[trial["parents"][0]]
        rec = self.first_attempt_record(trial["number"])
        self.assertTrue(rec["restore_from"].endswith(checkpoint_of(parent["number"])), (trial, rec))
        self.assertEqual(rec["restored"]["writer"], parent["number"], (trial, rec))
        self.assertEqual(rec["restored"]["step"], parent["budget_to"], (trial, rec))
        self.assertEqual(trial["budget_from"], parent["budget_to"])
        self.assertTrue(rec["own_was_empty"])


class BeamTest(GraphTestCase):
    CONFIG = LINEAGE_BEAM

    def test_beam_children_continue_their_parents_checkpoints_and_the_rest_is_pruned(self):
        r = self.run_experiment(self.write_config(self.CONFIG), "-q", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        ids = self.by_id(trials)
        # Three levels of width x branches = 4 nodes, spans 0-2, 2-4, 4-6.
        self.assertEqual(len(trials), 12, [(t["number"], t["budget_from"], t["budget_to"]) for t in trials])
        spans = sorted((t["budget_from"], t["budget_to"]) for t in trials)
        self.assertEqual(spans, [(0, 2)] * 4 + [(2, 4)] * 4 + [(4, 6)] * 4)
        for t in trials:
            if t["budget_from"] == 0:
                self.assertEqual(t["parents"], [])
                self.assertIsNone(self.lineage_record(t["number"])["restore_from"])
                continue
            self.assertEqual(len(t["parents"]), 1)
            self.assertRestoredFromParent(t, ids)
            self.assertTrue(t["change"], t)
            self.assertTrue(t["rationale"], t)
        # At each level the two best continue; the other two are pruned with their rank in the reason.
        for level in (0, 2, 4):
            nodes = [t for t in trials if t["budget_from"] == level]
            pruned = [t for t in nodes if t["state"] == "pruned"]
            kept = [t for t in nodes if t["state"] == "completed"]
            self.assertEqual(len(pruned), 2, nodes)
            self.assertEqual(len(kept), 2, nodes)
            self.assertGreaterEqual(min(k["value"] for k in kept), max(p["value"] for p in pruned))
            for p in pruned:
                self.assertIn("beam", p["error"])
            if level < 4:
                parents = {ids[t["parents"][0]]["number"] for t in trials if t["budget_from"] == level + 2}
                self.assertEqual(parents, {k["number"] for k in kept})
        best = self.query("best")
        self.assertEqual(best["state"], "completed")
        self.assertEqual(best["budget_to"], 6)
        # Retention (keep_best: 1): the pruned nodes' checkpoints are gone from disk, the best one's is there.
        removed = {e["number"] for e in self.events("checkpoint_removed")}
        for t in trials:
            folder = os.path.join(t["trial_dir"], "checkpoint")
            if t["state"] == "pruned":
                self.assertIn(t["number"], removed)
                self.assertFalse(os.path.exists(folder), folder)
        self.assertTrue(os.path.exists(os.path.join(best["trial_dir"], "checkpoint", "state.json")))


class BeamResumeTest(GraphTestCase):
    CONFIG = BeamTest.CONFIG.replace("name: beam", "name: beam-resume").replace(
        'env: {RECORD_DIR: "@REC@"}', 'env: {RECORD_DIR: "@REC@", STEP_SECONDS: "0.3"}')

    def test_an_interrupted_beam_resumes_the_same_search(self):
        config = self.write_config(self.CONFIG)
        proc = self.start_experiment(config)
        # Stop it in level 1, while branches are running.
        self.wait_for(lambda: os.path.exists(os.path.join(self.records, "lineage-6-1.json")), timeout=60,
                      what="level 1 to start", proc=proc)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        self.assertEqual(proc.returncode, 130)
        before = self.trials()
        r = self.run_experiment(config, "--resume", "-q", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("beam finished", r.stdout)
        trials = self.trials()
        ids = self.by_id(trials)
        self.assertEqual(len(trials), 12)
        # What was stored before the interruption is still there, with the same parents and spans.
        for old in before:
            now = ids[old["id"]]
            self.assertEqual((now["parents"], now["budget_from"], now["budget_to"], now["params"]),
                             (old["parents"], old["budget_from"], old["budget_to"], old["params"]))
        self.assertEqual(sorted((t["budget_from"], t["budget_to"]) for t in trials),
                         [(0, 2)] * 4 + [(2, 4)] * 4 + [(4, 6)] * 4)
        for t in trials:
            if t["parents"]:
                self.assertRestoredFromParent(t, ids)  # its first attempt restored the parent
            if t["attempt"] > 1:
                # A re-run continues its own previous attempt, when that attempt saved a checkpoint.
                rec = self.lineage_record(t["number"], t["attempt"])
                if rec["restored"] and rec["restored"]["writer"] == t["number"]:
                    self.assertIn("attempt-%d/checkpoint" % (t["attempt"] - 1), rec["restore_from"])
        self.assertEqual(sum(t["state"] == "pruned" for t in trials), 6)


class NoCheckpointTest(GraphTestCase):
    def test_branches_of_a_trial_that_saved_nothing_say_they_start_from_scratch(self):
        config = BeamTest.CONFIG.replace('env: {RECORD_DIR: "@REC@"}', 'env: {RECORD_DIR: "@REC@", NO_CHECKPOINT: "1"}')
        r = self.run_experiment(self.write_config(config), timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        ids = self.by_id(trials)
        branches = [t for t in trials if t["parents"]]
        self.assertEqual(len(branches), 8)
        for t in branches:
            donor = ids[t["parents"][0]]
            self.assertEqual(t["restore_from"], "")
            self.assertTrue(t["rationale"].endswith("It starts from scratch: #%d left no checkpoint." % donor["number"]),
                            t["rationale"])
        # The run says it once per donor.
        donors = {ids[t["parents"][0]]["number"] for t in branches}
        for number in donors:
            self.assertEqual(r.stdout.count("trial #%d left no checkpoint" % number), 1, r.stdout)


class ResumeRefusedTest(GraphTestCase):
    def test_resume_with_other_strategy_settings_is_refused_and_stores_nothing(self):
        config = self.write_config(BeamTest.CONFIG)
        r = self.run_experiment(config, "-q", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        before = self.trials()
        changed = self.write_config(BeamTest.CONFIG.replace("span: 2", "span: 3"), name="changed.yaml")
        r = self.run_experiment(changed, "--resume")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("was run with another setting of the strategy ({\"span\":2.0}, now {\"span\":3.0})", r.stderr)
        self.assertEqual(self.trials(), before)


class PbtTest(GraphTestCase):
    CONFIG = LINEAGE_COMMON + """
name: pbt
space:
  lr: {type: float, low: 1.0e-4, high: 1.0, log: true}
  dropout: {type: float, low: 0.0, high: 0.5, step: 0.05}
  width: {type: int, low: 16, high: 256, log: true}
training: {unit: steps, max: 8}
strategy: {type: pbt, population: 4, span: 2, quantile: 0.25, seed: 5}
parallel: 2
"""

    def test_exploit_restores_the_donors_checkpoint_and_perturbations_stay_valid(self):
        r = self.run_experiment(self.write_config(self.CONFIG), "-q", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        ids = self.by_id(trials)
        # 4 members x 4 spans, less the spans a member skips when it copies a donor that trained further.
        self.assertLessEqual(len(trials), 16)
        self.assertGreaterEqual(len(trials), 10)
        exploits = [t for t in trials if t["operator"] == "exploit"]
        self.assertGreaterEqual(len(exploits), 1, [t["operator"] for t in trials])
        for t in trials:
            p = t["params"]
            self.assertTrue(1e-4 <= p["lr"] <= 1.0, p)
            self.assertTrue(0.0 <= p["dropout"] <= 0.5, p)
            self.assertAlmostEqual(p["dropout"] / 0.05, round(p["dropout"] / 0.05), places=9)
            self.assertIsInstance(p["width"], int)
            self.assertTrue(16 <= p["width"] <= 256, p)
            if t["parents"]:
                self.assertRestoredFromParent(t, ids)
        for t in exploits:
            donor = ids[t["parents"][0]]
            member = t["evidence"]["member"]
            self.assertNotEqual(donor["evidence"]["member"], member, "a member exploits another member")
            # Not the member's own checkpoint, and not any newer checkpoint of the donor's member.
            own = [x for x in trials if x["evidence"].get("member") == member and x["number"] < t["number"]]
            self.assertNotIn(self.lineage_record(t["number"])["restored"]["writer"], [x["number"] for x in own])
            self.assertIn("#%d" % donor["number"], t["change"] + t["rationale"])
        # Every member trained to the end.
        ends = {}
        for t in trials:
            ends[t["evidence"]["member"]] = max(ends.get(t["evidence"]["member"], 0), t["budget_to"])
        self.assertEqual(ends, {0: 8, 1: 8, 2: 8, 3: 8})


class EvolutionTest(GraphTestCase):
    CONFIG = LINEAGE_COMMON + """
name: evolution
space:
  lr: {type: float, low: 1.0e-4, high: 1.0, log: true}
  dropout: {type: float, low: 0.0, high: 0.5, step: 0.05}
  width: {type: int, low: 16, high: 256, log: true}
training: {unit: steps, max: 3}
strategy: {type: evolution, population: 4, crossover: 1.0, seed: 9}
parallel: 2
budget: {max_trials: 12}
"""

    def roots(self, trial, ids):
        while trial["parents"]:
            trial = ids[trial["parents"][0]]
        return trial["number"]

    def ancestors(self, trial, ids):
        seen, todo = set(), list(trial["parents"])
        while todo:
            t = ids[todo.pop()]
            if t["number"] not in seen:
                seen.add(t["number"])
                todo.extend(t["parents"])
        return seen

    def test_crossover_merges_two_parents_from_different_branches(self):
        r = self.run_experiment(self.write_config(self.CONFIG), "-q", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        ids = self.by_id(trials)
        self.assertEqual(len(trials), 12)
        merges = [t for t in trials if t["operator"] == "crossover"]
        self.assertGreaterEqual(len(merges), 1, [t["operator"] for t in trials])
        for t in merges:
            self.assertEqual(len(t["parents"]), 2, t)
            a, b = (ids[p] for p in t["parents"])
            if self.roots(a, ids) == self.roots(b, ids):  # lines that split from one root
                self.assertIn("neither from the other", t["rationale"])
            self.assertNotIn(a["number"], self.ancestors(b, ids))
            self.assertNotIn(b["number"], self.ancestors(a, ids))
            self.assertTrue(t["rationale"])
            self.assertEqual(t["budget_from"], 0)
            self.assertEqual(t["budget_to"], 3)


class AshaTest(GraphTestCase):
    CONFIG = LINEAGE_COMMON + """
name: asha
space:
  lr: {type: float, low: 1.0e-5, high: 1.0, log: true}
training: {unit: steps, max: 9}
strategy: {type: random, seed: 4}
pruner: {type: asha, min_step: 1, reduction: 3, min_trials: 2}
parallel: 2
budget: {max_trials: 12}
env: {RECORD_DIR: "@REC@", SKIP_STEPS: "1", STEP_SECONDS: "0.1"}
"""

    def test_asha_with_skipped_steps_ends_every_trial_completed_or_pruned(self):
        config = self.CONFIG.replace('env: {RECORD_DIR: "@REC@"}\n', "", 1)
        r = self.run_experiment(self.write_config(config), "-q", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.trials()
        self.assertEqual(len(trials), 12)
        states = {t["state"] for t in trials}
        self.assertLessEqual(states, {"completed", "pruned"}, [(t["number"], t["state"], t["error"]) for t in trials])
        pruned = [t for t in trials if t["state"] == "pruned"]
        self.assertGreaterEqual(len(pruned), 1)
        events = {e["number"]: e for e in self.events("trial_pruned")}
        for t in pruned:
            self.assertEqual(events[t["number"]]["source"], "asha")
            self.assertIn("milestone", json.dumps(events[t["number"]]["evidence"]))
            self.assertTrue(t["error"])
            # Asked through control.json, it stopped before the end of its training (one pruned at its last steps
            # may finish before it reads the file: it is pruned all the same).
            if events[t["number"]]["evidence"]["step"] <= 6:
                stopped = self.record("stopped-%d.json" % t["number"])
                self.assertLess(stopped["step"], 9, t)
        best = self.query("best")
        self.assertEqual(best["state"], "completed")
        completed = [t for t in trials if t["state"] == "completed"]
        self.assertEqual(best["value"], max(t["value"] for t in completed))
        self.assertGreaterEqual(len(self.events("trial_promoted")), 1)


class GridTest(GraphTestCase):
    CONFIG = LINEAGE_COMMON + """
name: grid
space:
  lr: [0.001, 0.01, 0.1]
  dropout: [0.0, 0.25]
training: {unit: steps, max: 2}
strategy: {type: grid}
parallel: 3
"""

    def test_grid_is_exhausted_without_duplicates_with_parallel_trials(self):
        r = self.run_experiment(self.write_config(self.CONFIG), timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("grid exhausted", r.stdout + r.stderr)
        trials = self.trials()
        points = sorted((t["params"]["lr"], t["params"]["dropout"]) for t in trials)
        self.assertEqual(points, sorted((a, b) for a in (0.001, 0.01, 0.1) for b in (0.0, 0.25)))


if __name__ == "__main__":
    unittest.main()
