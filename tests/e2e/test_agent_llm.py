"""The LLM agent end to end: `hyperion run` with `strategy.type: llm` against the stand-in server on loopback
(tests/e2e/fixtures/llm_standin.py speaks the OpenAI chat-completions protocol). One run meets every failure kind
(malformed JSON, out-of-range values, an unknown parameter, a refusal, HTTP 500 and 429, empty choices, a reply
slower than the timeout) between good replies, and must neither stall nor lose a decision: each failure becomes
an analyst fallback recorded as such, every trial has a rationale, and the API key is sent but never stored."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

from e2e_support import FIXTURES, PYTHON, HyperionTestCase

CONFIG = """
name: llm-e2e
command: [@PY@, @FIX@/trial.py, report, "{x}"]
objective: {metric: loss, mode: min}
space:
  x: {type: float, low: 0, high: 1}
  n: {type: int, low: 1, high: 9}
strategy: {type: llm, seed: 11}
llm:
  endpoint: http://127.0.0.1:@PORT@/v1
  model: stand-in-1
  api_key_env: STANDIN_KEY
  timeout: 1s
  retries: 1
  wait: @WAIT@
parallel: 2
budget: {max_trials: @TRIALS@}
trial: {kill_grace: 1s}
env: {RECORD_DIR: "@REC@"}
"""

KEY = "sk-test-0123456789abcdef-secret"
FAILURES = ["slow", "malformed", "out_of_range", "unknown_param", "refusal", "http_500", "http_429",
            "empty_choices"]


class LlmAgentEndToEndTest(HyperionTestCase):
    def start_standin(self, script):
        self.requests = os.path.join(self.tmp, "requests.jsonl")
        proc = subprocess.Popen([PYTHON, os.path.join(FIXTURES, "llm_standin.py"), "--script", json.dumps(script),
                                 "--record", self.requests, "--key", KEY, "--slow-seconds", "5"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        self.port = int(proc.stdout.readline().strip())
        return proc

    def config(self, trials, wait="0.5s"):
        text = CONFIG.replace("@PORT@", str(self.port)).replace("@TRIALS@", str(trials)).replace("@WAIT@", wait)
        return self.write_config(text)

    def env(self):
        env = super().env()
        env["STANDIN_KEY"] = KEY
        return env

    def completed(self):
        if not os.path.exists(self.db):
            return 0
        db = sqlite3.connect(self.db)
        try:
            return db.execute("SELECT COUNT(*) FROM trials WHERE state = 'completed'").fetchone()[0]
        except sqlite3.OperationalError:  # the schema is being created
            return 0
        finally:
            db.close()

    def test_every_failure_kind_falls_back_without_a_stall(self):
        # Good replies between the failures, so the LLM decides some trials and the analyst the others.
        script = []
        for failure in FAILURES:
            script += ["good", failure]
        self.start_standin(script)
        started = time.monotonic()
        r = self.run_experiment(self.config(18, wait="3s"), timeout=120)
        took = time.monotonic() - started
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertLess(took, 90, "the run stalled: %.0fs" % took)

        trials = self.trials()
        self.assertEqual(len(trials), 18)
        for t in trials:
            self.assertEqual(t["state"], "completed", t)
            self.assertTrue(t["rationale"].strip(), t)
            self.assertTrue(re.search(r"\d", t["rationale"]), t["rationale"])
            self.assertTrue(0 <= t["params"]["x"] <= 1 and 1 <= t["params"]["n"] <= 9, t["params"])

        proposed = self.events("trial_proposed")
        by_llm = [p for p in proposed if p["agent"] == "llm"]
        by_fallback = [p for p in proposed if p["agent"].startswith("analyst (fallback")]
        self.assertGreaterEqual(len(by_llm), 3, [p["agent"] for p in proposed])
        self.assertGreaterEqual(len(by_fallback), 3, [p["agent"] for p in proposed])
        self.assertEqual(len(by_llm) + len(by_fallback), 18)
        for p in by_llm:
            self.assertEqual(p["evidence"]["llm"]["model"], "stand-in-1", p)

        # Every call is an exchange with its status; each failure kind was met and recorded as such.
        exchanges = self.events("agent_exchange")
        statuses = {e["status"] for e in exchanges}
        for status in ("ok", "malformed", "refused", "http_error", "timeout"):
            self.assertIn(status, statuses, [e["status"] for e in exchanges])
        for e in exchanges:
            self.assertEqual(e["model"], "stand-in-1")
            self.assertIsInstance(e["latency_s"], float)
            self.assertIsInstance(e["messages"], list)
        http = {e.get("http_status") for e in exchanges}
        self.assertTrue({500, 429} <= http, http)
        ok = [e for e in exchanges if e["status"] == "ok"]
        self.assertTrue(all(isinstance(e["prompt_tokens"], int) and e["prompt_tokens"] > 0 for e in ok), ok)
        # A fallback decides on the experiment as it is now, not on the seconds-old snapshot of the failed call.
        rejected = [e["reason"] for e in self.events("decision_rejected")]
        self.assertFalse([r for r in rejected if "already ran" in r], rejected)
        fallbacks = self.events("agent_fallback")
        self.assertGreaterEqual(len(fallbacks), 4)
        reasons = " | ".join(f["decided_by"] for f in fallbacks)
        for words in ("HTTP 500", "HTTP 429", "no reply from the LLM within", "not JSON", "refused"):
            self.assertIn(words, reasons)
        # Out-of-range values were clamped (and said so) or rejected with a reason fed back on the retry.
        with open(self.requests) as f:
            requests = [json.loads(line) for line in f]
        self.assertTrue(all(q["auth"] for q in requests), "a request lacked the bearer key")
        retried = [q for q in requests if any("rejected" in (m.get("content") or "") for m in q["body"]["messages"]
                                              if m.get("role") == "user")]
        clamped = [t for t in trials if "clamped" in t["rationale"]]
        self.assertTrue(retried or clamped, "an out-of-range reply was neither clamped nor retried")

        # The key went out as a header and is nowhere in the database or the trial folders.
        with open(self.db, "rb") as f:
            self.assertNotIn(KEY.encode(), f.read())
        for wal in (self.db + "-wal",):
            if os.path.exists(wal):
                with open(wal, "rb") as f:
                    self.assertNotIn(KEY.encode(), f.read())
        db = sqlite3.connect(self.db)
        stored_config = json.loads(db.execute("SELECT config_json FROM experiments").fetchone()[0])
        db.close()
        self.assertEqual(stored_config["llm"]["api_key_env"], "STANDIN_KEY")
        self.assertNotIn(KEY, json.dumps(stored_config))

    def test_a_slow_llm_does_not_idle_the_slots_and_ctrl_c_does_not_wait_for_it(self):
        self.start_standin(["slow"])  # every reply takes 5 s, past the 1 s timeout
        proc = self.start_experiment(self.config(40, wait="0.2s"))
        # The fallback keeps both slots busy while the LLM is silent.
        self.wait_for(lambda: self.completed() >= 4, timeout=30,
                      what="four trials decided by the fallback", proc=proc)
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        proc.wait(timeout=30)
        self.assertLess(time.monotonic() - started, 10, "SIGINT waited for the LLM call")
        self.assertEqual(proc.returncode, 130, self.output(proc))
        proposed = self.events("trial_proposed")
        self.assertTrue(proposed)
        for p in proposed:
            self.assertTrue(p["agent"].startswith("analyst (fallback"), p["agent"])


if __name__ == "__main__":
    unittest.main()
