"""A resumed (or retried) trial continues from the checkpoint its previous attempt left, in a fresh folder of its
own: HYPERION_RESTORE_FROM names attempt-1/checkpoint, never the folder the new attempt writes to."""

import json
import os
import signal
import unittest

from e2e_support import HyperionTestCase

CONFIG = """
name: ckpt
command: [@PY@, @FIX@/checkpointing.py]
objective: {metric: loss, mode: min}
space:
  x: [1]
budget: {max_trials: 1}
trial: {kill_grace: 5s}
env: {RECORD_DIR: "@REC@"}
"""


class CheckpointResumeTest(HyperionTestCase):
    def test_resume_restores_the_previous_attempts_checkpoint(self):
        config = self.write_config(CONFIG)
        proc = self.start_experiment(config)
        self.wait_for(lambda: os.path.exists(os.path.join(self.records, "ckpt-ready")), timeout=30,
                      what="the first attempt's checkpoint", proc=proc)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        self.assertEqual(proc.returncode, 130)
        first = self.record("ckpt-attempt-1.json")
        self.assertTrue(first["own_was_empty"])
        self.assertIsNone(first["restore_from"])

        r = self.run_experiment(config, "--resume")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        second = self.record("ckpt-attempt-2.json")
        trial = self.only_trial()
        self.assertEqual(trial["state"], "completed")
        self.assertEqual(trial["attempt"], 2)
        self.assertEqual(second["restore_from"], os.path.join(trial["trial_dir"], "attempt-1", "checkpoint"))
        self.assertEqual(second["restored_state"], {"epoch": 2, "attempt": 1})
        self.assertEqual(second["own_checkpoint"], first["own_checkpoint"])
        self.assertTrue(second["own_was_empty"], "the new attempt writes into an empty folder")
        self.assertNotEqual(second["restore_from"], second["own_checkpoint"])
        # It continued: epochs 3 and 4, the value from the last one.
        shown = self.query("show", "1")
        self.assertEqual(sorted({r["step"] for r in shown["reports"]}), [3, 4])
        self.assertAlmostEqual(trial["value"], 0.25)
        with open(os.path.join(trial["trial_dir"], "checkpoint", "state.json")) as f:
            self.assertEqual(json.load(f), {"epoch": 4, "attempt": 2})


if __name__ == "__main__":
    unittest.main()
