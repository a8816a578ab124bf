"""The CLI around experiments: refusing to overwrite one, --resume, and the query commands (status, trials,
best, show, tree, trace), including their exit codes: whatever the user named that is not there (a database, an
experiment, a trial) is bad input, exit 2, with one line saying what there is instead."""

import json
import os
import signal
import sqlite3
import subprocess
import time
import unittest

from e2e_support import BIN, HyperionTestCase

QUICK = """
name: quick
command: [@PY@, @FIX@/trial.py, report, "{x}"]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 2}
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""

# Grid order (last parameter fastest): #1-#3 are (fast, 1..3), #4-#6 are (slow, 1..3). Slow trials hang until
# records/release exists.
RESUME = """
name: resume
command: [@PY@, @FIX@/trial.py, gated, "{mode}"]
objective: {metric: loss, mode: min}
space:
  mode: [fast, slow]
  k: {type: int, low: 1, high: 3}
strategy: {type: grid}
parallel: 2
budget: {max_trials: 5}
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""

TABLE = """
name: %s
command: [@PY@, @FIX@/trial.py, table, score, "%s", "{i}"]
objective: {metric: score, mode: %s}
space:
  i: {type: int, low: 1, high: 4}
strategy: {type: grid}
parallel: 1
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""


class ExistingExperimentTest(HyperionTestCase):
    def test_same_config_twice_is_refused(self):
        config = self.write_config(QUICK)
        first = self.run_experiment(config, "-q")
        self.assertEqual(first.returncode, 0, first.stderr)
        before = self.trials()
        self.assertEqual(len(before), 2)

        second = self.run_experiment(config, "-q")
        self.assertEqual(second.returncode, 2, second.stdout + second.stderr)
        self.assertIn("already exists", second.stderr)
        self.assertIn("quick", second.stderr)
        self.assertIn("--resume", second.stderr)
        self.assertEqual(self.trials(), before, "a refused run must not touch the experiment")
        with open(os.path.join(self.records, "runs.log")) as f:
            self.assertEqual(len(f.read().split("\n")), 3, "no trial may run for a refused run")

        # Another name is a new experiment in the same database.
        third = self.run_experiment(config, "-q", "--experiment", "quick-2")
        self.assertEqual(third.returncode, 0, third.stderr)
        status = self.query("status")
        self.assertEqual(sorted(e["name"] for e in status), ["quick", "quick-2"])
        self.assertEqual(len(self.trials("quick-2")), 2)
        self.assertEqual(self.trials("quick"), before)

    def test_resume_reruns_only_interrupted_trials_and_respects_max_trials(self):
        config = self.write_config(RESUME)
        proc = self.start_experiment(config)
        self.wait_for(lambda: {(4, 1), (5, 1)} <= set(self.pid_records()), timeout=15,
                      what="trials #4 and #5 to hang", proc=proc)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        self.assertEqual(proc.returncode, 130, self.output(proc))
        first = self.trials()
        self.assertEqual([(t["number"], t["state"]) for t in first],
                         [(1, "completed"), (2, "completed"), (3, "completed"), (4, "interrupted"),
                          (5, "interrupted")])
        self.assertEqual(self.query("status")[0]["status"], "interrupted")
        recs = self.pid_records()
        self.assertProcessesGone([p for rec in recs.values() for p in (rec["pid"], rec["child"])])

        # Let the slow trials finish this time.
        open(os.path.join(self.records, "release"), "w").close()
        r = self.run_experiment(config, "--resume")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        second = self.trials()
        self.assertEqual([(t["number"], t["state"], t["attempt"]) for t in second],
                         [(1, "completed", 1), (2, "completed", 1), (3, "completed", 1), (4, "completed", 2),
                          (5, "completed", 2)], "max_trials 5 is reached: no new trial")
        for before, after in zip(first[:3], second[:3]):
            self.assertEqual(before, after, "a completed trial was touched by --resume")
        self.assertEqual([(t["params"]["mode"], t["params"]["k"]) for t in second],
                         [("fast", 1), ("fast", 2), ("fast", 3), ("slow", 1), ("slow", 2)])
        self.assertEqual(self.runs(), ["1 1", "2 1", "3 1", "4 1", "4 2", "5 1", "5 2"])
        self.assertEqual(self.query("status")[0]["status"], "finished")
        best = self.query("best")
        self.assertEqual((best["number"], best["value"]), (1, 1.0))

        # A larger budget lets the strategy propose again, exactly up to it.
        r = self.run_experiment(config, "--resume", "--max-trials", "6")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        third = self.trials()
        self.assertEqual(len(third), 6)
        self.assertEqual(third[:5], second)
        self.assertEqual((third[5]["state"], third[5]["params"], third[5]["attempt"]),
                         ("completed", {"mode": "slow", "k": 3}, 1))
        self.assertEqual(self.runs(), ["1 1", "2 1", "3 1", "4 1", "4 2", "5 1", "5 2", "6 1"])

    def test_resume_after_orchestrator_was_killed(self):
        # SIGKILL leaves no chance to clean up: the trials (own process groups) keep running, marked running.
        config = self.write_config(RESUME.replace("[fast, slow]", "[slow]"))
        proc = self.start_experiment(config)
        self.wait_for(lambda: {(1, 1), (2, 1)} <= set(self.pid_records()), timeout=10, what="two hanging trials",
                      proc=proc)
        proc.kill()
        proc.wait()
        old = self.pid_records()
        old_pids = [p for rec in old.values() for p in (rec["pid"], rec["child"])]
        self.assertEqual([t["state"] for t in self.trials()], ["running", "running"])

        # --resume stops what is left of them and runs them again (attempt 2).
        proc = self.start_experiment(config, "--resume", "--max-trials", "2")
        self.wait_for(lambda: {(1, 2), (2, 2)} <= set(self.pid_records()), timeout=10,
                      what="trials #1 and #2 to run again", proc=proc)
        self.assertProcessesGone(old_pids)
        open(os.path.join(self.records, "release"), "w").close()
        proc.wait(timeout=10)
        self.assertEqual(proc.returncode, 0, self.output(proc))
        trials = self.trials()
        self.assertEqual([(t["number"], t["state"], t["attempt"]) for t in trials],
                         [(1, "completed", 2), (2, "completed", 2)])
        self.assertEqual(self.runs(), ["1 1", "1 2", "2 1", "2 2"])

    def test_resume_with_another_strategy_is_refused(self):
        config = self.write_config(QUICK)
        self.assertEqual(self.run_experiment(config, "-q").returncode, 0)
        other = self.write_config(QUICK + "strategy: {type: grid}\n", name="grid.yaml")
        r = self.run_experiment(other, "--resume")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("strategy", r.stderr)
        self.assertEqual(len(self.trials()), 2)

    def test_max_time_interrupts_running_trials(self):
        config = self.write_config(RESUME.replace("[fast, slow]", "[slow]"))
        started = time.monotonic()
        r = self.run_experiment(config, "--max-time", "1s")
        elapsed = time.monotonic() - started
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)  # nothing completed
        self.assertIn("max_time", r.stdout)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 30.0, "the slow trials (which hang until released) were not stopped at max_time")
        trials = self.trials()
        self.assertEqual(len(trials), 2, trials)
        for t in trials:
            self.assertEqual(t["state"], "interrupted", t)
            self.assertIn("max_time", t["error"])
        recs = self.pid_records()
        self.assertEqual(len(recs), 2)
        self.assertProcessesGone([p for rec in recs.values() for p in (rec["pid"], rec["child"])])

    def runs(self):
        with open(os.path.join(self.records, "runs.log")) as f:
            return sorted(f.read().split("\n")[:-1])


class QueryTest(HyperionTestCase):
    def run_table(self, name, values, mode):
        r = self.run_experiment(self.write_config(TABLE % (name, values, mode), name=name + ".yaml"), "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_best_max_and_min_ties_go_to_earliest(self):
        r = self.run_table("maxexp", "5,9,9,2", "max")
        self.assertIn("best: trial #2", r.stdout)
        # Created second, so the most recent, though it sorts first by name.
        r = self.run_table("aminexp", "4,9,1,1", "min")
        self.assertIn("best: trial #3", r.stdout)

        trials = self.trials("maxexp")
        self.assertEqual([(t["params"]["i"], t["value"]) for t in trials], [(1, 5.0), (2, 9.0), (3, 9.0), (4, 2.0)])
        best = self.query("best", experiment="maxexp")
        self.assertEqual((best["number"], best["value"], best["params"]), (2, 9.0, {"i": 2}))
        best = self.query("best", experiment="aminexp")
        self.assertEqual((best["number"], best["value"], best["params"]), (3, 1.0, {"i": 3}))
        best = self.query("best")  # the most recent experiment
        self.assertEqual((best["experiment"], best["number"]), ("aminexp", 3))

        status = {e["name"]: e for e in self.query("status")}
        self.assertEqual(status["maxexp"]["best"]["number"], 2)
        self.assertEqual(status["aminexp"]["best"]["number"], 3)
        self.assertEqual(status["maxexp"]["objective"], {"metric": "score", "mode": "max"})
        self.assertEqual(status["aminexp"]["counts"], {"completed": 4})

    def test_show_has_reports(self):
        self.run_table("maxexp", "5,9,9,2", "max")
        shown = self.query("show", "2")
        self.assertEqual(shown["number"], 2)
        self.assertEqual(shown["state"], "completed")
        self.assertEqual(shown["value"], 9.0)
        self.assertEqual(shown["params"], {"i": 2})
        self.assertEqual([(r["step"], r["metric"], r["value"]) for r in shown["reports"]], [(1, "score", 9.0)])
        self.assertEqual(self.query("show", "#2")["id"], shown["id"])
        self.assertTrue(os.path.isdir(shown["trial_dir"]), shown["trial_dir"])
        self.assertTrue(shown["trial_dir"].startswith(self.out), shown["trial_dir"])

        # The same lookup as trace: exit 2, and the numbers there are.
        for command in ("show", "trace"):
            for extra in ([], ["--json"]):
                r = self.hyperion(command, "99", "--storage", self.storage, *extra)
                self.assertEqual(r.returncode, 2, (command, extra, r.stderr))
                self.assertEqual(r.stdout, "")
                self.assertEqual(r.stderr, "hyperion: experiment 'maxexp' has no trial #99; its trials are #1 to #4\n")
        r = self.hyperion("show", "two", "--storage", self.storage)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a trial number", r.stderr)

    def test_unknown_experiment_name(self):
        self.run_table("maxexp", "5,9,9,2", "max")
        self.run_table("other", "1,2,3,4", "min")
        url = "sqlite://" + self.db
        for command in (["status"], ["trials"], ["best"], ["show", "1"], ["tree"], ["trace", "1"]):
            r = self.hyperion(*command, "--storage", self.storage, "--experiment", "maxepx")
            self.assertEqual(r.returncode, 2, (command, r.stderr))
            self.assertEqual(r.stdout, "")
            self.assertEqual(r.stderr, "hyperion: no experiment named 'maxepx' in %s; did you mean 'maxexp'?\n" % url)
            # Nothing close: the names there are, in one sentence.
            r = self.hyperion(*command, "--storage", self.storage, "--experiment", "nope")
            self.assertEqual(r.returncode, 2, (command, r.stderr))
            self.assertEqual(r.stderr, "hyperion: no experiment named 'nope' in %s; its experiments are 'maxexp', "
                             "'other' (see `hyperion status`)\n" % url)

    def test_trials_table_cuts_long_reasons_at_a_word(self):
        message = ("ValueError: loss diverged at step 12 (lr 0.31, threshold 1e+06); the gradient norm was "
                   "1234567.89 and the run stopped after 12.5 seconds")
        config = self.write_config(QUICK.replace('report, "{x}"', 'crash, "3", "%s"' % message))
        self.assertEqual(self.run_experiment(config, "-q").returncode, 1)
        errors = {t["number"]: t["error"] for t in self.trials()}
        self.assertGreater(min(len(e) for e in errors.values()), 80, errors)
        table = self.hyperion("trials", "--storage", self.storage)
        self.assertEqual(table.returncode, 0, table.stderr)
        rows = [l for l in table.stdout.splitlines() if "failed" in l]
        self.assertEqual(len(rows), 2, table.stdout)
        for row in rows:
            number = int(row.split()[0])
            self.assertTrue(row.endswith("…)"), row)
            shown = row[row.index("  (") + 3:-2]
            error = errors[number]
            self.assertTrue(error.startswith(shown), (shown, error))
            self.assertLessEqual(len(shown) + 1, 80, shown)
            # Cut between words: what comes next in the full reason is a space or a separator, never the rest
            # of a number or a word.
            self.assertIn(error[len(shown)], " ,;:([{", (shown, error))

    def test_best_without_completed_trial(self):
        config = self.write_config(QUICK.replace('report, "{x}"', "silent"))
        r = self.run_experiment(config, "-q")
        self.assertEqual(r.returncode, 1)
        r = self.hyperion("best", "--storage", self.storage)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no completed trial", r.stderr)

    def test_trials_json_fields(self):
        r = self.run_experiment(self.write_config(QUICK), "-q", "--seed", "42")
        self.assertEqual(r.returncode, 0, r.stderr)
        trials = self.trials()
        self.assertEqual(len(trials), 2)
        for t in trials:
            for key in ("id", "number", "state", "params", "value", "parents", "operator", "rationale",
                        "started_at", "ended_at", "error", "attempt", "trial_dir"):
                self.assertIn(key, t)
            self.assertEqual(t["state"], "completed")
            self.assertEqual(t["value"], t["params"]["x"])  # the fixture reports loss = x
            self.assertEqual(t["parents"], [])
            self.assertTrue(t["operator"])
            self.assertTrue(t["rationale"])
            self.assertIsNone(t["error"])
            self.assertLessEqual(t["started_at"], t["ended_at"])
            self.assertLess(abs(t["ended_at"] - time.time()), 60, "times are Unix wall-clock seconds")
        # The table form names the same trials.
        table = self.hyperion("trials", "--storage", self.storage)
        self.assertEqual(table.returncode, 0)
        self.assertIn("completed", table.stdout)
        self.assertEqual(len([l for l in table.stdout.splitlines() if "completed" in l]), 2)

    def test_parallel_above_budget_runs_budget(self):
        r = self.run_experiment(self.write_config(QUICK), "-q", "--parallel", "5", "--max-trials", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([t["number"] for t in self.trials()], [1, 2, 3])
        self.assertIn("budget reached", r.stdout)

    def test_seed_makes_runs_reproducible(self):
        config = self.write_config(QUICK)
        for name, seed in (("a", "42"), ("b", "42"), ("c", "43")):
            r = self.run_experiment(config, "-q", "--seed", seed, "--experiment", name)
            self.assertEqual(r.returncode, 0, r.stderr)
        params = {name: [t["params"] for t in self.trials(name)] for name in "abc"}
        self.assertEqual(params["a"], params["b"])
        self.assertNotEqual(params["a"], params["c"])

    def test_resume_continues_the_same_random_sequence(self):
        config = self.write_config(QUICK)
        r = self.run_experiment(config, "-q", "--seed", "42", "--max-trials", "2", "--experiment", "split")
        self.assertEqual(r.returncode, 0, r.stderr)
        # No --seed: the resumed run uses the seed stored with the experiment.
        r = self.run_experiment(config, "-q", "--resume", "--max-trials", "4", "--experiment", "split")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_experiment(config, "-q", "--seed", "42", "--max-trials", "4", "--experiment", "whole")
        self.assertEqual(r.returncode, 0, r.stderr)
        split = [t["params"] for t in self.trials("split")]
        whole = [t["params"] for t in self.trials("whole")]
        self.assertEqual(len(split), 4)
        self.assertEqual(split, whole)

    def test_storage_from_environment_and_default(self):
        r = self.run_experiment(self.write_config(QUICK), "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        env = self.env()
        env["HYPERION_STORAGE"] = self.storage
        r = subprocess.run([BIN, "trials", "--json"], cwd=self.tmp, env=env, capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([t["number"] for t in json.loads(r.stdout)], [1, 2])
        # Neither: ./hyperion.db, which is not there (and is not created).
        empty = os.path.join(self.tmp, "elsewhere")
        os.makedirs(empty)
        r = subprocess.run([BIN, "trials"], cwd=empty, env=self.env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("hyperion.db", r.stderr)
        self.assertEqual(os.listdir(empty), [])

    QUERIES = (["trials"], ["trials", "--json"], ["best"], ["best", "--json"], ["status"], ["show", "1"],
               ["tree"], ["tree", "--json"], ["trace", "1"], ["trace", "1", "--json"])

    def test_queries_on_missing_database(self):
        for storage in (self.db, self.storage):
            for args in self.QUERIES:
                r = self.hyperion(*args, "--storage", storage)
                self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
                self.assertIn("no experiment database at '%s'" % self.db, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertFalse(os.path.exists(self.db), "%s created the database" % args)
        self.assertEqual(os.listdir(self.tmp), ["records"])

    def test_queries_on_junk_empty_and_experimentless_databases(self):
        junk = os.path.join(self.tmp, "junk.db")
        with open(junk, "w") as f:
            f.write("not a database\n" * 100)
        empty = os.path.join(self.tmp, "empty.db")
        open(empty, "w").close()
        for path, says in ((junk, "is not a SQLite database"), (empty, "is empty")):
            for args in self.QUERIES:
                r = self.hyperion(*args, "--storage", path)
                self.assertEqual(r.returncode, 2, (path, args, r.stderr))
                self.assertIn(says, r.stderr)
        # A Hyperion database with no experiment in it: status lists none, the others have nothing to show (2).
        r = self.run_experiment(self.write_config(QUICK), "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        with sqlite3.connect(self.db) as db:
            for table in ("events", "reports", "trial_parents", "trials", "experiments"):
                db.execute("DELETE FROM %s" % table)
        r = self.hyperion("status", "--storage", self.storage)
        self.assertEqual((r.returncode, r.stdout), (0, "no experiments in %s\n" % self.storage))
        for args in self.QUERIES:
            if args[0] == "status":
                continue
            r = self.hyperion(*args, "--storage", self.storage)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertEqual(r.stderr, "hyperion: no experiments in %s yet\n" % self.storage)


class RunInputTest(HyperionTestCase):
    def test_config_that_is_a_folder(self):
        r = self.hyperion("run", self.records, "--storage", self.storage, "--output-dir", self.out)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(r.stderr, "hyperion: config '%s' is a folder, not a YAML file; name the config file inside "
                         "it\n" % self.records)
        self.assertFalse(os.path.exists(self.db))

    def test_storage_in_a_folder_that_does_not_exist(self):
        config = self.write_config(QUICK)
        missing = os.path.join(self.tmp, "no", "such", "folder")
        for storage in (os.path.join(missing, "x.db"), "sqlite://" + os.path.join(missing, "x.db")):
            r = self.hyperion("run", config, "--storage", storage, "--output-dir", self.out)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("folder '%s' does not exist" % missing, r.stderr)
            self.assertIn("--storage", r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "no")))
        self.assertFalse(os.path.exists(self.out), "a refused run created the output folder")
        self.assertFalse(os.path.exists(os.path.join(self.records, "runs.log")), "no trial may run")

    def test_output_folder_under_a_file(self):
        config = self.write_config(QUICK)
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        r = self.hyperion("run", config, "--storage", self.storage, "--output-dir", os.path.join(blocker, "runs"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("'%s' is not a folder" % blocker, r.stderr)
        self.assertFalse(os.path.exists(self.db), "a refused run created the database")


class MistypedPostgresTest(HyperionTestCase):
    def test_a_mistyped_postgresql_address_is_refused_without_its_password(self):
        for url in ["postgres:/hyperion:SEKRIT1@127.0.0.1:5432/x", "postgresql//hyperion:SEKRIT1@h/x",
                    "host=h password=SEKRIT1 dbname=x", "postgres:hyperion:SEKRIT1@localhost"]:
            with self.subTest(url=url):
                r = self.hyperion("status", "--storage", url)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("looks like a PostgreSQL address but is not a postgresql:// URL", r.stderr)
                self.assertNotIn("SEKRIT1", r.stdout + r.stderr)
                self.assertEqual(sorted(os.listdir(self.tmp)), ["records"], "nothing was created")


if __name__ == "__main__":
    unittest.main()
