"""The resource pool: each trial sees exactly its GPUs in CUDA_VISIBLE_DEVICES, packing is honoured, cores are
pinned, and every way a trial ends gives its share back. No GPU is needed: the ids are listed (or read from
CUDA_VISIBLE_DEVICES by `gpus: auto`) and the trials only record what they were given."""

import collections
import json
import os
import sqlite3
import unittest
import unittest.mock

from e2e_support import HyperionTestCase, max_overlap

CONFIG = """
name: res
command: [@PY@, @FIX@/resource_probe.py, "{i}"]
objective: {metric: loss, mode: min}
space:
  i: {type: int, low: 1, high: 1000}
strategy: {type: random, seed: 3}
budget: {max_trials: @N@}
trial: {kill_grace: 1s, timeout: 4s}
env: {RECORD_DIR: "@REC@", TRIAL_SLEEP: "1.0", FAIL_EVERY: "@FAIL@", HANG_EVERY: "@HANG@"}
@EXTRA@
"""


class ResourcePoolTest(HyperionTestCase):
    def config(self, extra, trials=8, fail=0, hang=0):
        text = CONFIG.replace("@N@", str(trials)).replace("@FAIL@", str(fail)).replace("@HANG@", str(hang))
        return self.write_config(text.replace("@EXTRA@", extra))

    def run_seeing(self, visible, config):
        """Runs the config with CUDA_VISIBLE_DEVICES set to `visible` for hyperion (what `gpus: auto` reads)."""
        with unittest.mock.patch.dict(os.environ, {"CUDA_VISIBLE_DEVICES": visible}):
            return self.run_experiment(config)

    def seen(self):
        """The trial's own record of what it received, by trial number (first attempt)."""
        out = {}
        for name in self.records_matching("seen-"):
            rec = self.record(name)
            out[rec["number"]] = rec
        return out

    def gpu_use(self, trials, seen):
        """For every instant a trial started: how many running trials held each GPU."""
        intervals = {t["number"]: (t["started_at"], t["ended_at"]) for t in trials}
        most = collections.Counter()
        for number, (start, _) in intervals.items():
            holding = collections.Counter()
            for other, (s, e) in intervals.items():
                if s <= start < e:
                    for gpu in (seen[other]["cuda"] or "").split(","):
                        if gpu:
                            holding[gpu] += 1
            for gpu, count in holding.items():
                most[gpu] = max(most[gpu], count)
        return most

    def test_one_listed_gpu_per_trial_four_at_once(self):
        config = self.config("resources: {gpus: [0, 1, 3, 4], gpus_per_trial: 1}")
        r = self.run_experiment(config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("resources: 4 GPUs (0, 1, 3, 4), 1 per trial: 4 trials at once", r.stdout + r.stderr)
        trials = self.trials()
        self.assertEqual(len(trials), 8)
        self.assertEqual({t["state"] for t in trials}, {"completed"})
        seen = self.seen()
        self.assertEqual(sorted(seen), [t["number"] for t in trials])
        for rec in seen.values():
            self.assertIn(rec["cuda"], {"0", "1", "3", "4"}, rec)
        self.assertEqual(max_overlap([(t["started_at"], t["ended_at"]) for t in trials]), 4, trials)
        use = self.gpu_use(trials, seen)
        self.assertEqual(dict(use), {"0": 1, "1": 1, "3": 1, "4": 1}, "a GPU was shared: %s" % seen)
        # The first four spread over all four GPUs.
        self.assertEqual(sorted(seen[n]["cuda"] for n in range(1, 5)), ["0", "1", "3", "4"])
        # What each trial got is stored with its start.
        db = sqlite3.connect(self.db)
        rows = db.execute("SELECT t.number, e.payload_json FROM events e JOIN trials t ON t.id = e.trial_id "
                          "WHERE e.type = 'trial_started'").fetchall()
        db.close()
        granted = {number: json.loads(payload)["resources"] for number, payload in rows}
        for number, rec in seen.items():
            self.assertEqual(granted[number], {"gpus": [rec["cuda"]], "gpus_per_trial": 1}, number)
        shown = self.hyperion("show", "2", "--storage", self.storage)
        self.assertIn("resources  GPU %s\n" % seen[2]["cuda"], shown.stdout)

    def test_half_a_gpu_packs_two_trials_per_gpu(self):
        config = self.config("resources: {gpus: [0, 1], gpus_per_trial: 0.5}")
        r = self.run_experiment(config)
        self.assertEqual(r.returncode, 0, r.stderr)
        trials = self.trials()
        seen = self.seen()
        self.assertEqual(len(seen), 8)
        for rec in seen.values():
            self.assertIn(rec["cuda"], {"0", "1"}, rec)
        self.assertEqual(max_overlap([(t["started_at"], t["ended_at"]) for t in trials]), 4, trials)
        self.assertEqual(dict(self.gpu_use(trials, seen)), {"0": 2, "1": 2}, seen)

    def test_every_way_of_ending_returns_the_share(self):
        # Trials 3, 6, 9, 12 fail; 5 and 10 hang until the 4 s timeout kills them. With two GPUs, a leaked share
        # would leave the run with one slot (or none) before its twelve trials are done.
        config = self.config("resources: {gpus: [0, 1]}", trials=12, fail=3, hang=5)
        r = self.run_experiment(config, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        trials = self.trials()
        states = collections.Counter(t["state"] for t in trials)
        self.assertEqual(states, {"completed": 6, "failed": 4, "timed_out": 2}, trials)
        seen = self.seen()
        self.assertEqual(len(seen), 12)
        self.assertEqual(dict(self.gpu_use(trials, seen)), {"0": 1, "1": 1}, seen)
        # Two at once to the end: the last four trials still ran in pairs.
        last = [t for t in trials if t["number"] >= 9]
        self.assertEqual(max_overlap([(t["started_at"], t["ended_at"]) for t in last]), 2, last)

    def test_cores_are_pinned_and_thread_pools_sized(self):
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2:
            self.fail("this test needs two cores; the machine has %s" % cores)
        config = self.config("resources: {cpus: [%d, %d], cpus_per_trial: 1}" % (cores[0], cores[1]), trials=4)
        r = self.run_experiment(config)
        self.assertEqual(r.returncode, 0, r.stderr)
        trials = self.trials()
        seen = self.seen()
        for rec in seen.values():
            self.assertIn(rec["cores"], [[cores[0]], [cores[1]]], rec)
            self.assertEqual(rec["omp"], "1", rec)
            self.assertEqual(rec["cuda"], "", "a trial that asked for no GPU sees none: %s" % rec)
        by_number = {t["number"]: t for t in trials}
        for a in seen.values():
            for b in seen.values():
                ta, tb = by_number[a["number"]], by_number[b["number"]]
                overlap = ta["started_at"] < tb["ended_at"] and tb["started_at"] < ta["ended_at"]
                if a["number"] < b["number"] and overlap:
                    self.assertNotEqual(a["cores"], b["cores"], (a, b))
        self.assertEqual(max_overlap([(t["started_at"], t["ended_at"]) for t in trials]), 2, trials)

    def test_gpus_auto_reads_cuda_visible_devices(self):
        r = self.run_seeing("5,6", self.config("resources: {gpus: auto}", trials=4))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("gpus: auto found 2 GPU(s) through CUDA_VISIBLE_DEVICES: 5, 6", r.stdout + r.stderr)
        self.assertEqual({rec["cuda"] for rec in self.seen().values()}, {"5", "6"})
        trials = self.trials()
        self.assertEqual(max_overlap([(t["started_at"], t["ended_at"]) for t in trials]), 2, trials)

    def test_gpus_auto_without_a_gpu_runs_on_cpu_slots(self):
        r = self.run_seeing("", self.config("parallel: 2\nresources: {gpus: auto}", trials=2))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("gpus: auto found no GPU", r.stdout + r.stderr)
        self.assertEqual({rec["cuda"] for rec in self.seen().values()}, {""})
        self.assertEqual({t["state"] for t in self.trials()}, {"completed"})

    def test_impossible_resources_are_refused_before_anything_runs(self):
        cases = [
            ("resources: {gpus: [0, 1], gpus_per_trial: 0.3}", "does not split a GPU evenly"),
            ("resources: {gpus: [0, 1], gpus_per_trial: 3}", "only 2 GPU(s)"),
            ("resources: {gpus_per_trial: 1}", "has no GPU"),
            ("resources: {gpus: [0, 0]}", "lists a GPU twice"),
            ("resources: {memory_per_trial: lots}", "is not an amount of memory"),
            ("resources: {gpu: [0]}", "gpu"),
            ("resources: {gpus: [0, 1], gpus_per_trial: 1e300}", "only 2 GPU(s)"),
            ("resources: {gpus: [-1, 2]}", "'-1' is not a GPU id"),
            ("resources: {cpus: [0, 4096], cpus_per_trial: 1}", "lists core 4096"),
        ]
        for extra, says in cases:
            with self.subTest(extra=extra):
                config = self.config(extra, trials=1)
                r = self.run_experiment(config)
                self.assertEqual(r.returncode, 2, (extra, r.stdout, r.stderr))
                self.assertIn(says, r.stderr)
                self.assertEqual(self.records_matching("seen-"), [], "a trial ran")
                self.assertFalse(os.path.exists(self.db), "a database was made")


if __name__ == "__main__":
    unittest.main()
