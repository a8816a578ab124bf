"""`hyperion export`: trials, reports and decisions as CSV, JSON and JSON Lines with names and typed values kept
byte for byte, and the replay of a stored experiment into MLflow (the stand-in) and TensorBoard after the fact."""

import csv
import glob
import io
import json
import os
import stat
import subprocess
import unittest
import urllib.request

import tfevents
from e2e_support import FIXTURES, PYTHON, HyperionTestCase

NAME = "exp: a/b.c ü"
PARAM = "lr/x.y:z ü"
METRIC = "val/acc:top1 ü"

CONFIG = """
name: "%s"
command: [@PY@, -c, "import hyperion, json; p = hyperion.params(); hyperion.report(1, dict([('loss', 0.5), ('%s', 0.25)])); hyperion.report(2, dict([('loss', 0.25 if p['c'] != 'nan' else float('nan')), ('%s', 0.75)]))"]
objective: {metric: loss, mode: min}
space:
  "%s": {type: float, low: 0.1, high: 0.2}
  c: {choices: ["3", 3, "a,b \\"q\\"", "nan", true]}
strategy: {type: grid, resolution: 2}
""" % (NAME, METRIC, METRIC, PARAM)


class ExportTest(HyperionTestCase):
    def setUp(self):
        super().setUp()
        r = self.run_experiment(self.write_config(CONFIG))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.stored = self.trials()
        self.assertEqual(len(self.stored), 10)

    def export(self, *args):
        r = self.hyperion("export", "--storage", self.storage, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_trials_keep_names_and_types_in_every_format(self):
        as_json = json.loads(self.export("--format", "json"))
        as_lines = [json.loads(line) for line in self.export("--format", "jsonl").splitlines()]
        self.assertEqual(as_json, as_lines)
        by_number = {t["number"]: t for t in self.stored}
        for row in as_json:
            t = by_number[row["number"]]
            self.assertEqual(row["experiment"], NAME)
            self.assertEqual(row["params"], t["params"])
            # Types survive: the string "3" and the number 3 stay apart, true stays a boolean.
            self.assertIs(type(row["params"]["c"]), type(t["params"]["c"]))
            self.assertEqual(list(row["params"]), [PARAM, "c"])
            self.assertEqual(row["state"], t["state"])
            self.assertEqual(row["value"], t["value"])
            self.assertEqual(row["rationale"], t["rationale"])
            self.assertEqual(row["started_at"], t["started_at"])
        self.assertEqual(sorted(type(r["params"]["c"]).__name__ for r in as_json),
                         sorted(["str", "str", "int", "int", "str", "str", "str", "str", "bool", "bool"]))

        text = self.export("--format", "csv")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header = rows[0]
        self.assertEqual(header[-2:], ["param:" + PARAM, "param:c"])
        self.assertEqual(len(rows), 11)
        for cells in rows[1:]:
            row = dict(zip(header, cells))
            t = by_number[int(row["number"])]
            self.assertEqual(row["experiment"], NAME)
            self.assertEqual(float(row["param:" + PARAM]), t["params"][PARAM])
            c = t["params"]["c"]
            self.assertEqual(row["param:c"], {True: "true"}.get(c, str(c)) if not isinstance(c, str) else c)
            self.assertEqual(row["rationale"], t["rationale"])
            if t["value"] is not None:
                self.assertEqual(float(row["value"]), t["value"])

    def test_reports_keep_metric_names_and_non_finite_values(self):
        rows = [json.loads(line) for line in self.export("--table", "reports", "--format", "jsonl").splitlines()]
        self.assertEqual(len(rows), 10 * 4)
        self.assertEqual({r["metric"] for r in rows}, {"loss", METRIC})
        nan_trials = {t["number"] for t in self.stored if t["params"]["c"] == "nan"}
        for r in rows:
            if r["metric"] == "loss" and r["step"] == 2 and r["trial"] in nan_trials:
                self.assertEqual(r["value"], "NaN")
        for t in self.stored:
            shown = self.query("show", str(t["number"]))
            mine = sorted((r["step"], r["metric"], r["value"]) for r in rows if r["trial"] == t["number"])
            theirs = sorted((r["step"], r["metric"], r["value"]) for r in shown["reports"])
            self.assertEqual(mine, theirs, t["number"])
        text = self.export("--table", "reports", "--format", "csv")
        cells = list(csv.DictReader(io.StringIO(text, newline="")))
        self.assertEqual(len(cells), 40)
        self.assertIn(METRIC, {c["metric"] for c in cells})
        self.assertIn("NaN", {c["value"] for c in cells})

    def test_decisions_export_every_proposal(self):
        rows = json.loads(self.export("--table", "decisions", "--format", "json"))
        proposals = [r for r in rows if r["type"] == "trial_proposed"]
        self.assertEqual(sorted(r["trial"] for r in proposals), list(range(1, 11)))
        for r in proposals:
            t = next(t for t in self.stored if t["number"] == r["trial"])
            self.assertEqual(r["payload"]["params"], t["params"])

    def test_output_file_and_bad_choices(self):
        path = os.path.join(self.tmp, "out.csv")
        self.export("--format", "csv", "-o", path)
        with open(path, newline="") as f:
            self.assertEqual(len(list(csv.reader(f))), 11)
        self.assertFalse(os.path.exists(path + ".partial"))
        # Through a link to the file it names; into a pipe as it is (never replaced by a regular file).
        os.symlink("target.csv", os.path.join(self.tmp, "link.csv"))
        self.export("--format", "csv", "-o", os.path.join(self.tmp, "link.csv"))
        self.assertTrue(os.path.islink(os.path.join(self.tmp, "link.csv")))
        with open(os.path.join(self.tmp, "target.csv"), newline="") as f:
            self.assertEqual(len(list(csv.reader(f))), 11)
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        reader = subprocess.Popen(["cat", fifo], stdout=subprocess.PIPE)
        self.export("--format", "jsonl", "-o", fifo)
        self.assertEqual(len(reader.communicate(timeout=10)[0].splitlines()), 10)
        self.assertTrue(stat.S_ISFIFO(os.stat(fifo).st_mode))
        for args, says in [(["--format", "xml"], "--format: xml not in"),
                           (["-o", os.path.join(self.tmp, "missing", "x.csv")], "does not exist; create it"),
                           (["-o", ""], "-o needs a file name"),
                           (["-o", self.tmp], "is a folder"),
                           (["--logdir", "tb"], "--logdir go with --to"),
                           (["--table", "logs"], "--table: logs not in"),
                           (["--to", "neptune"], "--to neptune: use mlflow or tensorboard"),
                           (["--to", "mlflow"], "--to mlflow needs --mlflow-uri"),
                           (["--experiment", "nope"], "no experiment named 'nope'")]:
            r = self.hyperion("export", "--storage", self.storage, *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(says, r.stderr)

    def test_replay_into_mlflow_and_tensorboard(self):
        proc = subprocess.Popen([PYTHON, os.path.join(FIXTURES, "mlflow_standin.py")], stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        uri = "http://127.0.0.1:%s" % proc.stdout.readline().strip()
        out = self.export("--to", "mlflow", "--mlflow-uri", uri, "--mlflow-experiment", "replayed")
        self.assertIn("exported 10 trials of '%s' to MLflow at %s" % (NAME, uri), out)
        with urllib.request.urlopen(uri + "/_standin/state", timeout=10) as reply:
            state = json.load(reply)
        self.assertEqual([e["name"] for e in state["experiments"].values()], ["replayed"])
        self.assertEqual([c for c in state["calls"] if c["status"] != 200 and c["path"] != "experiments/get-by-name"],
                         [])
        children = [r for r in state["runs"].values() if "mlflow.parentRunId" in r["tags"]]
        self.assertEqual(len(children), 10)
        states = {t["number"]: t["state"] for t in self.stored}
        for run in children:
            expected = {"completed": "FINISHED", "failed": "FAILED"}[states[int(run["tags"]["hyperion.trial_number"])]]
            self.assertEqual(run["info"]["status"], expected)
            self.assertIn(MLFLOW_SAFE_METRIC, {m["key"] for m in run["metrics"]})

        logdir = os.path.join(self.tmp, "tb")
        out = self.export("--to", "tensorboard", "--logdir", logdir)
        self.assertIn("to TensorBoard in %s" % logdir, out)
        runs = sorted(os.path.basename(d) for d in glob.glob(os.path.join(logdir, "trial-*")))
        self.assertEqual(runs, ["trial-%04d" % n for n in range(1, 11)])
        [f] = glob.glob(os.path.join(logdir, "trial-0001", "events.out.tfevents.*"))
        tags = {v["tag"] for e in tfevents.events(f) for v in e.get("values", [])}
        self.assertEqual(tags, {"_hparams_/session_start_info", "_hparams_/session_end_info", "loss", METRIC})


# MLflow accepts letters, digits and _ - . / space in keys: the rest becomes _.
MLFLOW_SAFE_METRIC = "val/acc_top1 __"

if __name__ == "__main__":
    unittest.main()
