"""The PostgreSQL server goes away under a running experiment. Briefly (a restart while a trial runs): the run waits,
reconnects and stores the trial's result. For longer than the retry limit: the run stops with one clear line and a
non-zero exit, stops its trials, and `--resume` later stores what finished meanwhile and completes the rest.

These tests stop the shared server: CTest gives every postgres test the lock postgres_server, so none runs beside
them."""

import os
import time
import unittest

from e2e_support import PostgresTestCase, postgres_cluster, wait_for_postgres

CONFIG = """
name: outage
command: [@PY@, @FIX@/trial.py, {mode}]
objective: {{metric: loss, mode: min}}
space:
  x: {{type: float, low: 0.0, high: 1.0}}
strategy: {{type: random, seed: 1}}
env: {{RECORD_DIR: "@REC@"}}
"""


class PostgresOutageTest(PostgresTestCase):
    def touch(self, name):
        open(os.path.join(self.records, name), "w").close()

    def runs(self):
        with open(os.path.join(self.records, "runs.log")) as f:
            return sorted(f.read().split("\n")[:-1])

    def test_a_restart_during_a_trial_loses_nothing(self):
        config = self.write_config(CONFIG.format(mode="hang"))
        proc = self.start_experiment(config, "--max-trials", "1", "--parallel", "1")
        self.wait_for(lambda: self.pid_records().get((1, 1)), timeout=30, what="trial #1 to start", proc=proc)
        # The trial ends while the server is down; the run waits for it to come back.
        postgres_cluster("stop")
        self.touch("release")
        time.sleep(2)
        postgres_cluster("start")
        proc.wait(timeout=90)
        out, err = self.output(proc)
        self.assertEqual(proc.returncode, 0, out + err)
        self.assertIn("finished: budget reached: 1 trials", out)

        t = self.only_trial()
        self.assertEqual(t["state"], "completed", t)
        self.assertEqual(t["value"], 1.0)
        self.assertEqual(t["attempt"], 1)
        shown = self.query("show", "1")
        self.assertEqual([(r["step"], r["metric"], r["value"]) for r in shown["reports"]], [(1, "loss", 1.0)])
        self.assertEqual(self.runs(), ["1 1"], "it ran once")
        status = self.query("status")
        self.assertEqual(status[0]["status"], "finished", status)

    def test_a_database_down_past_the_limit_stops_the_run_and_resume_finishes_it(self):
        config = self.write_config(CONFIG.format(mode="hang-each"))
        self.storage += "?retry_seconds=3"
        proc = self.start_experiment(config, "--max-trials", "2", "--parallel", "2")
        self.wait_for(lambda: self.pid_records().get((1, 1)) and self.pid_records().get((2, 1)), timeout=30,
                      what="both trials to start", proc=proc)
        postgres_cluster("stop")
        # Trial #1 finishes while the database is away; #2 is still running when the run gives up.
        self.touch("release-1")
        started = time.monotonic()
        proc.wait(timeout=60)
        out, err = self.output(proc)
        self.assertEqual(proc.returncode, 1, out + err)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertRegex(lines[0], r"^hyperion: the database postgresql://hyperion:\*\*\*@[^ ]+ is unreachable: "
                                   r"gave up after \d")
        self.assertIn("the limit is 3.0s", lines[0])
        self.assertIn("the run stopped and stopped its", lines[0])
        self.assertIn("continue it with `hyperion run %s --storage postgresql://hyperion:***@" % config, lines[0])
        self.assertIn("--resume` once the database is back", lines[0])
        self.assertNotIn(":hyperion@", out + err)
        self.assertLess(time.monotonic() - started, 30)
        self.assertProcessesGone([self.pid_records()[(2, 1)]["pid"], self.pid_records()[(2, 1)]["child"]], within=5)

        postgres_cluster("start")
        wait_for_postgres()
        self.touch("release-2")
        r = self.run_experiment(config, "--max-trials", "2", "--parallel", "2", "--resume", timeout=90)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("trial #1 completed while the database was away; its result is stored now", r.stdout)
        trials = self.trials()
        self.assertEqual([(t["number"], t["state"], t["value"], t["attempt"]) for t in trials],
                         [(1, "completed", 1.0, 1), (2, "completed", 2.0, 2)])
        self.assertEqual(self.runs(), ["1 1", "2 1", "2 2"], "#1 was not run again; #2 was, once")
        shown = self.query("show", "1")
        self.assertEqual([(r["step"], r["metric"], r["value"]) for r in shown["reports"]], [(1, "loss", 1.0)],
                         "its report is stored once")


if __name__ == "__main__":
    unittest.main()
