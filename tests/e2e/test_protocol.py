"""The trial's side of docs/trial-protocol.md: environment, working directory, process group, output files."""

import json
import os
import unittest

from e2e_support import FIXTURES, HyperionTestCase


class ProtocolTest(HyperionTestCase):
    def test_trial_environment(self):
        os.makedirs(os.path.join(self.tmp, "work"))
        config = self.write_config("""
            name: "my exp/1"
            command: [@PY@, @FIX@/echo_params.py]
            workdir: work
            objective: {metric: loss, mode: min}
            space:
              lr: {type: float, low: 0.001, high: 0.1, log: true}
            budget: {max_trials: 2}
            trial: {kill_grace: 1s}
            env: {RECORD_DIR: "@REC@", EXTRA_SETTING: "a b=c"}
            """)
        r = self.run_experiment(config, "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        trials = self.trials()
        self.assertEqual(len(trials), 2)
        for t in trials:
            rec = self.record("params-%d.json" % t["number"])
            env = rec["env"]
            self.assertEqual(env["HYPERION_EXPERIMENT"], "my exp/1")
            self.assertEqual(t["experiment"], "my exp/1")
            self.assertEqual(env["HYPERION_TRIAL_ID"], str(t["id"]))
            self.assertEqual(env["HYPERION_TRIAL_NUMBER"], str(t["number"]))
            self.assertEqual(env["HYPERION_ATTEMPT"], "1")
            self.assertEqual(json.loads(env["HYPERION_PARAMS"]), t["params"])
            self.assertIsInstance(t["params"]["lr"], float)
            self.assertTrue(0.001 <= t["params"]["lr"] <= 0.1, t["params"])
            trial_dir = env["HYPERION_TRIAL_DIR"]
            self.assertEqual(trial_dir, t["trial_dir"])
            self.assertTrue(trial_dir.startswith(self.out + os.sep), trial_dir)
            self.assertEqual(os.path.basename(trial_dir), "trial-%04d" % t["number"])
            self.assertEqual(env["HYPERION_METRICS_FILE"], os.path.join(trial_dir, "metrics.jsonl"))
            self.assertEqual(env["HYPERION_CONTROL_FILE"], os.path.join(trial_dir, "control.json"))
            self.assertTrue(env["HYPERION_CHECKPOINT_DIR"])
            self.assertEqual(rec["checkpoint_listing"], [], "the checkpoint folder exists and is empty")
            self.assertEqual(env["HYPERION_RESTORE_FROM"], "")
            self.assertEqual(env["HYPERION_BUDGET_FROM"], "")
            self.assertEqual(env["HYPERION_BUDGET_TO"], "")
            self.assertEqual(env["PYTHONUNBUFFERED"], "1")
            client_dir = env["PYTHONPATH"].split(":")[0]
            self.assertTrue(os.path.isfile(os.path.join(client_dir, "hyperion", "__init__.py")), env["PYTHONPATH"])
            self.assertEqual(env["EXTRA_SETTING"], "a b=c")
            self.assertEqual(rec["cwd"], os.path.join(self.tmp, "work"))
            self.assertEqual(rec["pgid"], rec["pid"], "the trial runs in a process group of its own")
        # The experiment's folder name is made safe for the filesystem, and differs per trial.
        dirs = {os.path.dirname(t["trial_dir"]) for t in trials}
        self.assertEqual(len(dirs), 1)
        self.assertNotIn("/", os.path.relpath(dirs.pop(), self.out))

    def test_output_files(self):
        config = self.write_config("""
            name: files
            command: [@PY@, @FIX@/trial.py, crash, "0", "to stderr"]
            objective: {metric: loss, mode: min}
            space:
              x: {type: float, low: 0, high: 1}
            budget: {max_trials: 1}
            trial: {kill_grace: 1s}
            env: {RECORD_DIR: "@REC@"}
            """)
        r = self.run_experiment(config, "-q")
        self.assertEqual(r.returncode, 1, r.stderr)
        t = self.only_trial()
        self.assertIn("finished without reporting the objective 'loss'", t["error"])
        with open(os.path.join(t["trial_dir"], "stderr.log")) as f:
            self.assertTrue(f.read().endswith("to stderr\n"))
        config = self.write_config("""
            name: files2
            command: [@PY@, @FIX@/plain_script.py, "loss=0.5"]
            objective: {metric: loss, mode: min}
            space:
              x: {type: float, low: 0, high: 1}
            budget: {max_trials: 1}
            trial: {kill_grace: 1s}
            """)
        r = self.run_experiment(config, "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        t = self.only_trial("files2")
        with open(os.path.join(t["trial_dir"], "stdout.log")) as f:
            self.assertEqual(f.read(), "loading data... done\nloss=0.5\ntraining finished\n")

    def test_plain_storage_path(self):
        config = self.write_config("""
            name: plainpath
            command: [@PY@, @FIX@/trial.py, report, "{x}"]
            objective: {metric: loss, mode: min}
            space:
              x: {type: float, low: 0, high: 1}
            budget: {max_trials: 1}
            env: {RECORD_DIR: "@REC@"}
            """)
        r = self.hyperion("run", config, "--storage", "plain.db", "--output-dir", self.out, "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(self.tmp, "plain.db")))
        got = json.loads(self.hyperion("trials", "--storage", "sqlite://" + os.path.join(self.tmp, "plain.db"),
                                       "--json").stdout)
        self.assertEqual([(t["number"], t["state"]) for t in got], [(1, "completed")])
        self.assertEqual(got[0]["value"], got[0]["params"]["x"])


if __name__ == "__main__":
    unittest.main()
