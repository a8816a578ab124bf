"""Tracking: a run with `tracking:` on feeds an MLflow server (the stand-in on loopback, which validates bodies as
MLflow does), writes TensorBoard event files (decoded here independently: framing, CRC32C, protobuf fields), and
gives every trial the W&B environment; each checked field by field against what Hyperion stored."""

import glob
import json
import math
import os
import socket
import subprocess
import time
import unittest
import urllib.request

import tfevents
from e2e_support import FIXTURES, HERE, PYTHON, HyperionTestCase

NAME = "track: lr/wd ü"

CONFIG = """
name: "%s"
command: [@PY@, @FIX@/record_env.py, @PY@, @FIX@/tracked_trial.py]
objective: {metric: loss, mode: min}
space:
  lr: {type: float, low: 0.1, high: 0.2}
  mode: {choices: [ok, "$(echo hi) <b>", crash, 3]}
strategy: {type: grid, resolution: 2}
parallel: 2
env: {RECORD_DIR: "@REC@"}
tracking:
  %s
""" % (NAME, "%s")

# The digits example (examples/digits/train.py) with a tiny budget and every tracker on.
DIGITS = """
name: "%s"
workdir: %s
command: [@PY@, @FIX@/record_env.py, /usr/bin/python3, train.py, --epochs, "5", --lr, "{lr}", --width, "{width}",
          --batch-size, "{batch_size}", --optimizer, "{optimizer}"]
objective: {metric: val_acc, mode: max}
space:
  lr: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
  width: {type: int, low: 32, high: 128}
  batch_size: {choices: [32, 64]}
  optimizer: {choices: [adam, sgd]}
strategy: {type: random, seed: 4}
parallel: 2
budget: {max_trials: 3}
env: {RECORD_DIR: "@REC@"}
tracking:
  mlflow: {uri: %s}
  tensorboard: {logdir: %s}
  wandb: {project: hyperion-tests, mode: offline, tags: [smoke]}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TrackingTest(HyperionTestCase):
    def start_standin(self, port=0):
        proc = subprocess.Popen([PYTHON, os.path.join(FIXTURES, "mlflow_standin.py"), "--port", str(port)],
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        port = int(proc.stdout.readline())
        return "http://127.0.0.1:%d" % port

    def standin_state(self, uri):
        with urllib.request.urlopen(uri + "/_standin/state", timeout=10) as reply:
            return json.load(reply)

    def stored(self):
        """{number: trial json with its reports} from the CLI."""
        out = {}
        for t in self.trials():
            out[t["number"]] = self.query("show", str(t["number"]))
        return out

    def check_mlflow(self, state, trials, experiment_name=NAME, objective="loss"):
        calls = state["calls"]
        refused = [c for c in calls if c["status"] != 200 and c["path"] != "experiments/get-by-name"]
        self.assertEqual(refused, [], "MLflow refused calls")
        [experiment] = [e for e in state["experiments"].values() if e["name"] == experiment_name]
        runs = [r for r in state["runs"].values() if r["info"]["experiment_id"] == experiment["experiment_id"]]
        parents = [r for r in runs if "mlflow.parentRunId" not in r["tags"]]
        self.assertEqual(len(parents), 1, [r["tags"] for r in parents])
        parent = parents[0]
        self.assertEqual(parent["info"]["run_name"], NAME)
        self.assertEqual(parent["info"]["status"], "FINISHED")
        self.assertEqual(parent["tags"]["hyperion.experiment"], NAME)
        mode = "min" if objective == "loss" else "max"
        self.assertEqual(parent["tags"]["hyperion.objective"], "%s %s" % (mode, objective))
        children = {int(r["tags"]["hyperion.trial_number"]): r for r in runs if r is not parent}
        self.assertEqual(sorted(children), sorted(trials))
        completed = sorted((t["value"], n) for n, t in trials.items() if t["state"] == "completed")
        best_history = [(m["step"], m["value"]) for m in parent["metrics"] if m["key"] == "best_" + objective]
        self.assertTrue(best_history, parent["metrics"])
        values = [v for _, v in best_history]
        self.assertEqual(values[-1], completed[0 if mode == "min" else -1][0])
        self.assertEqual(values, sorted(values, reverse=(mode == "min")), "best so far only improves")
        for number, run in children.items():
            t = trials[number]
            self.assertEqual(run["tags"]["mlflow.parentRunId"], parent["info"]["run_id"])
            self.assertEqual(run["info"]["run_name"], "trial-%04d" % number)
            self.assertEqual(run["tags"]["hyperion.operator"], t["operator"])
            self.assertEqual(run["tags"]["hyperion.rationale"], t["rationale"])
            self.assertEqual(run["tags"]["hyperion.state"], t["state"])
            status = {"completed": "FINISHED", "failed": "FAILED"}[t["state"]]
            self.assertEqual(run["info"]["status"], status, number)
            self.assertIsNotNone(run["info"]["end_time"])
            self.assertEqual(sorted(run["params"]), sorted(t["params"]))
            for name, value in t["params"].items():
                if isinstance(value, float):
                    self.assertEqual(float(run["params"][name]), value, name)  # shortest exact digits
                else:
                    self.assertEqual(run["params"][name], value if isinstance(value, str) else json.dumps(value))
            # Every finite report arrives with its step; the metric named val/acc:top1 arrives as val/acc_top1.
            expected = sorted((r["metric"].replace(":", "_"), r["step"], r["value"]) for r in t["reports"]
                              if isinstance(r["value"], float) and math.isfinite(r["value"]))
            got = sorted((m["key"], m["step"], m["value"]) for m in run["metrics"])
            self.assertEqual(got, expected, number)
            self.assertNotIn(("grad_norm", 2), [(k, s) for k, s, _ in got], "NaN is not sent")
        return parent, children

    def check_tensorboard(self, logdir, trials, objective="loss", expected_infos=None):
        root_files = glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
        self.assertEqual(len(root_files), 1, root_files)
        [experiment_event] = [e for e in tfevents.events(root_files[0]) if "values" in e]
        self.assertEqual(tfevents.events(root_files[0])[0]["file_version"], "brain.Event:2")
        info = experiment_event["values"][0]
        self.assertEqual(info["tag"], "_hparams_/experiment")
        self.assertEqual(info["plugin"], "hparams")
        exp = info["hparams"]["experiment"]
        self.assertEqual(exp["metrics"], [objective])
        infos = {i["name"]: i for i in exp["hparam_infos"]}
        self.assertEqual(sorted(infos), sorted(next(iter(trials.values()))["params"]))
        for name, want in (expected_infos or {}).items():
            self.assertEqual({k: v for k, v in infos[name].items() if k != "name"}, want, name)
        mixed = {name for name, i in infos.items() if i["type"] == 1}  # shown as text
        for number, t in trials.items():
            files = glob.glob(os.path.join(logdir, "trial-%04d" % number, "events.out.tfevents.*"))
            self.assertEqual(len(files), 1, files)
            evs = tfevents.events(files[0])
            self.assertEqual(evs[0]["file_version"], "brain.Event:2")
            values = [v for e in evs for v in e.get("values", [])]
            starts = [v["hparams"]["session_start"] for v in values if v["tag"] == "_hparams_/session_start_info"]
            ends = [v["hparams"]["session_end"] for v in values if v["tag"] == "_hparams_/session_end_info"]
            self.assertEqual(len(starts), 1)
            as_shown = {k: v if isinstance(v, (str, bool)) or k not in mixed else json.dumps(v)
                        for k, v in t["params"].items()}
            self.assertEqual(starts[0]["hparams"], as_shown)
            self.assertEqual(starts[0]["group_name"], "trial-%04d" % number)
            self.assertAlmostEqual(starts[0]["start_time_secs"], t["started_at"], places=3)
            self.assertEqual(len(ends), 1)
            self.assertEqual(ends[0]["status"], {"completed": 1, "failed": 2}[t["state"]])
            scalars = sorted((v["tag"], e["step"], v["simple_value"]) for e in evs for v in e.get("values", [])
                             if "simple_value" in v)
            reports = sorted((r["metric"], r["step"], r["value"]) for r in t["reports"])
            self.assertEqual(len(scalars), len(reports))
            for (tag, step, got), (metric, rstep, want) in zip(scalars, reports):
                self.assertEqual((tag, step), (metric, rstep))
                if isinstance(want, str):  # "NaN" as stored text
                    self.assertTrue(math.isnan(got), (tag, step, got))
                else:
                    self.assertAlmostEqual(got, want, places=5)

    def check_wandb(self, trials, experiment_name=NAME):
        ids = set()
        for number, t in trials.items():
            env = self.record("env-%d-1.json" % number)
            self.assertEqual(env["WANDB_PROJECT"], "hyperion-tests")
            self.assertEqual(env["WANDB_RUN_GROUP"], experiment_name)
            self.assertEqual(env["WANDB_NAME"], "trial-%04d" % number)
            self.assertEqual(env["WANDB_JOB_TYPE"], "trial")
            self.assertEqual(env["WANDB_TAGS"], t["operator"] + ",smoke")
            self.assertEqual(env["WANDB_RESUME"], "allow")
            self.assertEqual(env["WANDB_MODE"], "offline")
            self.assertEqual(env["WANDB_DIR"], t["trial_dir"])
            self.assertRegex(env["WANDB_RUN_ID"], r"^[A-Za-z0-9_-]{1,64}$")
            self.assertTrue(env["WANDB_RUN_ID"].endswith("-%d" % number), env["WANDB_RUN_ID"])
            ids.add(env["WANDB_RUN_ID"])
        self.assertEqual(len(ids), len(trials), "one W&B run per trial")

    def test_mlflow_tensorboard_and_wandb_field_by_field(self):
        uri = self.start_standin()
        logdir = os.path.join(self.tmp, "tb")
        config = self.write_config(CONFIG % (
            "{mlflow: {uri: %s}, tensorboard: {logdir: %s}, wandb: {project: hyperion-tests, mode: offline, "
            "tags: [smoke]}}" % (uri, logdir)))
        r = self.run_experiment(config)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.stored()
        self.assertEqual(len(trials), 8)
        self.assertEqual(sorted(t["state"] for t in trials.values()), ["completed"] * 6 + ["failed"] * 2)
        self.check_mlflow(self.standin_state(uri), trials)
        self.check_tensorboard(logdir, trials, expected_infos={
            "lr": {"type": 3, "interval": (0.1, 0.2)},  # DATA_TYPE_FLOAT64
            "mode": {"type": 1, "values": ["ok", "$(echo hi) <b>", "crash", "3"]}})  # mixed: DATA_TYPE_STRING
        self.check_wandb(trials)

    def test_the_digits_example_with_tracking_on(self):
        uri = self.start_standin()
        logdir = os.path.join(self.tmp, "tb")
        example = os.path.join(HERE, "..", "..", "examples", "digits")
        config = self.write_config(DIGITS % (NAME, example, uri, logdir))
        r = self.run_experiment(config, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trials = self.stored()
        self.assertEqual(len(trials), 3)
        self.assertEqual({t["state"] for t in trials.values()}, {"completed"})
        parent, children = self.check_mlflow(self.standin_state(uri), trials, objective="val_acc")
        for number, run in children.items():
            self.assertEqual(sorted({m["step"] for m in run["metrics"] if m["key"] == "val_acc"}), list(range(1, 6)))
            self.assertEqual(run["params"]["optimizer"], trials[number]["params"]["optimizer"])
            self.assertEqual(int(run["params"]["width"]), trials[number]["params"]["width"])
        self.check_tensorboard(logdir, trials, objective="val_acc", expected_infos={
            "optimizer": {"type": 1, "values": ["adam", "sgd"]},
            "batch_size": {"type": 3, "values": [32.0, 64.0]},
            "width": {"type": 3, "interval": (32.0, 128.0)}})
        self.check_wandb(trials)

    def test_an_mlflow_server_that_is_away_gets_everything_once_it_is_back(self):
        port = free_port()
        uri = "http://127.0.0.1:%d" % port
        config = self.write_config(CONFIG % ("{mlflow: {uri: %s}}" % uri))
        run = self.start_experiment(config)
        time.sleep(2.5)  # trials run and finish while nothing listens
        self.start_standin(port)
        self.assertEqual(run.wait(timeout=90), 0, self.output(run))
        out, err = self.output(run)
        self.assertIn("MLflow at %s: cannot reach" % uri, out + err)
        self.assertIn("MLflow at %s: reachable again; what waited was sent" % uri, out + err)
        self.check_mlflow(self.standin_state(uri), self.stored())

    def test_a_server_that_never_comes_back_does_not_hold_the_run(self):
        uri = "http://127.0.0.1:%d" % free_port()
        config = self.write_config(CONFIG % ("{mlflow: {uri: %s}}" % uri))
        started = time.time()
        r = self.run_experiment(config, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertLess(time.time() - started, 60)
        self.assertRegex(r.stdout + r.stderr, r"MLflow at %s: \d+ call\(s\) not delivered within 10\.0s" % uri)
        self.assertEqual(len(self.trials()), 8, "the results are stored whatever the tracker did")

    def test_tracking_mistakes_are_config_errors(self):
        cases = [
            ("{mlflow: {uri: file:///tmp/mlruns}}", "is not an http:// or https:// URL"),
            ("{mlflow: {}}", "tracking.mlflow.uri: missing"),
            ("{wandb: {mode: sometimes}}", "expected online, offline or disabled"),
            ('{wandb: {tags: ["a,b"]}}', "a tag must be non-empty and hold no comma"),
            ("{tensorbaord: true}", "did you mean 'tensorboard'"),
        ]
        for text, says in cases:
            with self.subTest(text=text):
                config = self.write_config(CONFIG % text)
                r = self.run_experiment(config)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn(says, r.stderr)


if __name__ == "__main__":
    unittest.main()
