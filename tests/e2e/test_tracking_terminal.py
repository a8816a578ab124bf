"""The terminal view of `hyperion run`: a live panel with a progress bar per running trial on a terminal (a real
pseudo-terminal here), colours only there and never with NO_COLOR, plain lines into a pipe, nothing but the summary
with -q, and JSON lines with --json."""

import json
import os
import pty
import subprocess
import unittest

from e2e_support import BIN, HyperionTestCase

CONFIG = """
name: term
command: [@PY@, @FIX@/steady_trial.py]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 1, high: 2}
strategy: {type: random, seed: 1}
parallel: 2
budget: {max_trials: 6}
env: {STEPS: "10", STEP_SLEEP: "0.15"}
"""


class TerminalTest(HyperionTestCase):
    def run_on_terminal(self, *args, env_extra=None):
        """Runs `hyperion run` with its stdout on a pseudo-terminal; returns (exit code, everything it wrote)."""
        config = self.write_config(CONFIG)
        env = self.env()
        env.pop("NO_COLOR", None)
        env.update(env_extra or {})
        master, slave = pty.openpty()
        proc = subprocess.Popen([BIN, "run", config, "--storage", self.storage, "--output-dir", self.out, *args],
                                cwd=self.tmp, env=env, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the other side closed: the run ended
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")

    def test_live_panel_with_progress_bars_and_colours_on_a_terminal(self):
        code, out = self.run_on_terminal()
        self.assertEqual(code, 0, out)
        # The panel is redrawn in place: up to its first line, erase below.
        self.assertRegex(out, r"\x1b\[\d+F\x1b\[J")
        # A progress bar over the usual length once a trial has completed, with its step, metrics and ETA.
        self.assertRegex(out, r"  #\d+ [\u2588\u2591]{16} \d+/~10  loss=[\d.]+  acc=[\d.]+  [\d.]+s  ETA [\d.]+(ms|s)")
        self.assertRegex(out, r"slots [0-2]/2 busy, done \d/6")
        self.assertIn("\x1b[32mcompleted\x1b[0m", out)
        self.assertIn("finished: budget reached: 6 trials", out)
        # The last screen has no panel left over: the summary follows the erase.
        self.assertRegex(out, r"\x1b\[\d+F\x1b\[Jfinished: budget reached")

    def test_no_color_keeps_the_panel_but_drops_colours(self):
        code, out = self.run_on_terminal(env_extra={"NO_COLOR": "1"})
        self.assertEqual(code, 0, out)
        self.assertNotRegex(out, r"\x1b\[3\dm")
        self.assertRegex(out, r"\x1b\[\d+F\x1b\[J")
        self.assertIn("#1 completed", out)

    def test_plain_lines_into_a_pipe(self):
        r = self.run_experiment(self.write_config(CONFIG))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("\x1b", r.stdout)
        self.assertIn("#1 started", r.stdout)
        self.assertEqual(r.stdout.count(" completed loss="), 6)

    def test_quiet_prints_only_the_summary(self):
        code, out = self.run_on_terminal("-q")
        self.assertEqual(code, 0, out)
        self.assertNotIn("started", out)
        self.assertNotIn("\x1b[", out)
        self.assertTrue(out.startswith("finished: budget reached: 6 trials"), out)

    def test_json_streams_every_event(self):
        r = self.run_experiment(self.write_config(CONFIG), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        events = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(events[0]["event"], "run_started")
        self.assertEqual(events[0]["slots"], 2)
        self.assertEqual(events[-1]["event"], "run_finished")
        self.assertEqual(events[-1]["counts"], {"completed": 6})
        self.assertEqual(events[-1]["best"]["number"], min(self.trials(), key=lambda t: t["value"])["number"])
        for number in range(1, 7):
            mine = [e for e in events if (e.get("trial") == number or
                                          (isinstance(e.get("trial"), dict) and e["trial"]["number"] == number))]
            kinds = [e["event"] for e in mine]
            self.assertEqual(kinds, ["trial_started"] + ["report"] * 10 + ["trial_ended"], number)
            self.assertEqual([e["step"] for e in mine[1:-1]], list(range(1, 11)))
            self.assertEqual(mine[-1]["trial"]["state"], "completed")


if __name__ == "__main__":
    unittest.main()
