"""Shared helpers for Hyperion's end-to-end tests (standard library only).

Every test gets its own temporary folder holding the config, the SQLite database, the trial output folder and a
`records/` folder where the fixture trial programs write what they saw (pids, params, timestamps). The binary comes
from $HYPERION_BIN, else ../../build/hyperion relative to this file.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
BIN = os.environ.get("HYPERION_BIN") or os.path.normpath(os.path.join(HERE, "..", "..", "build", "hyperion"))
PYTHON = "/usr/bin/python3"


def pid_alive(pid):
    """True when `pid` is a live process. A zombie counts as gone: in a container PID 1 may never reap orphans."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat[stat.rindex(")") + 2]
    return state not in "ZXx"


def _looks_like_fixture(pid):
    """Guards the clean-up against a recycled pid: only our trial programs and their `sleep` children match."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return FIXTURES.encode() in cmdline or cmdline.startswith(b"/bin/sleep\0")


def max_overlap(intervals):
    """Largest number of [start, end) intervals that hold at one instant (an end at t comes before a start at t)."""
    events = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


# The graph tests' beam over fixtures/lineage.py: 3 levels of width 2 x branches 2, spans of 2 steps up to 6, the
# best checkpoint kept beyond the frontier.
LINEAGE_COMMON = """
command: [@PY@, @FIX@/lineage.py]
objective: {metric: score, mode: max}
env: {RECORD_DIR: "@REC@"}
"""
LINEAGE_BEAM = LINEAGE_COMMON + """
name: beam
space:
  lr: {type: float, low: 1.0e-4, high: 1.0, log: true}
  dropout: {type: float, low: 0.0, high: 0.5, step: 0.05}
training: {unit: steps, max: 6}
strategy: {type: beam, width: 2, branches: 2, span: 2, seed: 3}
parallel: 2
checkpoints: {keep_best: 1}
"""


class HyperionTestCase(unittest.TestCase):
    """A temporary folder per test, a database path that does not exist yet, and helpers to run the CLI."""

    maxDiff = None

    def setUp(self):
        if not os.access(BIN, os.X_OK):
            self.fail("hyperion binary not found at %s (set HYPERION_BIN)" % BIN)
        self.tmp = tempfile.mkdtemp(prefix="hyperion-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.db = os.path.join(self.tmp, "h.db")
        self.storage = "sqlite://" + self.db
        self.out = os.path.join(self.tmp, "runs")
        self.records = os.path.join(self.tmp, "records")
        os.makedirs(self.records)
        self._procs = []
        # Runs before the folder is removed (cleanups are last in, first out).
        self.addCleanup(self._kill_leftovers)

    # -- files -----------------------------------------------------------------------------------------------------

    def write_config(self, text, name="hyperion.yaml"):
        """Writes a YAML config into the test folder. @PY@, @FIX@ and @REC@ stand for the Python interpreter, the
        fixtures folder and this test's records folder. Returns the absolute path."""
        text = textwrap.dedent(text).lstrip("\n")
        text = text.replace("@PY@", PYTHON).replace("@FIX@", FIXTURES).replace("@REC@", self.records)
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def record(self, name):
        with open(os.path.join(self.records, name)) as f:
            return json.load(f)

    def records_matching(self, prefix):
        return sorted(n for n in os.listdir(self.records) if n.startswith(prefix) and n.endswith(".json"))

    def pid_records(self):
        """{(trial number, attempt): {"pid": .., "child": ..}} written by fixtures/trial.py's hang modes."""
        out = {}
        for name in self.records_matching("pids-"):
            rec = self.record(name)
            out[(rec["number"], rec["attempt"])] = rec
        return out

    # -- running the CLI -------------------------------------------------------------------------------------------

    def env(self):
        env = dict(os.environ)
        env.pop("HYPERION_STORAGE", None)
        return env

    def hyperion(self, *args, timeout=60):
        return subprocess.run([BIN] + [str(a) for a in args], cwd=self.tmp, env=self.env(), capture_output=True,
                              text=True, timeout=timeout)

    def run_experiment(self, config, *args, timeout=60):
        return self.hyperion("run", config, "--storage", self.storage, "--output-dir", self.out, *args,
                             timeout=timeout)

    def start_experiment(self, config, *args):
        """Starts `hyperion run` in the background; output goes to files (see output())."""
        out = open(os.path.join(self.tmp, "run-%d.out" % len(self._procs)), "w+")
        err = open(os.path.join(self.tmp, "run-%d.err" % len(self._procs)), "w+")
        self.addCleanup(out.close)
        self.addCleanup(err.close)
        proc = subprocess.Popen([BIN, "run", config, "--storage", self.storage, "--output-dir", self.out] +
                                [str(a) for a in args], cwd=self.tmp, env=self.env(), stdout=out, stderr=err)
        proc.out_file, proc.err_file = out, err
        self._procs.append(proc)
        return proc

    @staticmethod
    def output(proc):
        proc.out_file.seek(0)
        proc.err_file.seek(0)
        return proc.out_file.read(), proc.err_file.read()

    def query(self, command, *args, experiment=None):
        """Runs a query subcommand with --json against this test's database and returns the parsed output."""
        extra = ["--experiment", experiment] if experiment else []
        r = self.hyperion(command, *args, "--storage", self.storage, "--json", *extra)
        self.assertEqual(r.returncode, 0, "hyperion %s failed: %s" % (command, r.stderr))
        return json.loads(r.stdout)

    def trials(self, experiment=None):
        return sorted(self.query("trials", experiment=experiment), key=lambda t: t["number"])

    def only_trial(self, experiment=None):
        trials = self.trials(experiment)
        self.assertEqual(len(trials), 1, trials)
        return trials[0]

    # -- waiting ---------------------------------------------------------------------------------------------------

    def wait_for(self, predicate, timeout=10.0, what="condition", proc=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if proc is not None and proc.poll() is not None:
                out, err = self.output(proc)
                self.fail("hyperion exited (%s) while waiting for %s\nstdout:\n%s\nstderr:\n%s"
                          % (proc.returncode, what, out, err))
            time.sleep(0.02)
        self.fail("timed out after %.1fs waiting for %s" % (timeout, what))

    def assertProcessesGone(self, pids, within=1.0):
        """Every pid is dead (or a zombie) at most `within` seconds from now (SIGKILL delivery is asynchronous)."""
        deadline = time.monotonic() + within
        while True:
            alive = [p for p in pids if pid_alive(p)]
            if not alive:
                return
            if time.monotonic() >= deadline:
                self.fail("processes still alive: %s" % alive)
            time.sleep(0.02)

    def _kill_leftovers(self):
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        # Trials and their children that a failing test may have left behind.
        for rec in self.pid_records().values():
            for key in ("pid", "child"):
                pid = rec.get(key)
                if pid and pid_alive(pid) and _looks_like_fixture(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass


# -- PostgreSQL (tests labelled postgres; CTest starts the server first with scripts/start-postgres) -------------------

POSTGRES_URL = os.environ.get("HYPERION_TEST_POSTGRES_URL", "")
POSTGRES_CLUSTER = os.environ.get("HYPERION_TEST_POSTGRES_CLUSTER", "15 main").split()


def postgres_admin(sql):
    """Runs one statement on the test server's own database as the test role."""
    subprocess.run(["psql", POSTGRES_URL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   capture_output=True, text=True, timeout=60)


def postgres_cluster(action):
    """`pg_ctlcluster VERSION NAME action` (start, stop, restart), as root or through sudo."""
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["pg_ctlcluster"] + POSTGRES_CLUSTER + [action], check=True, capture_output=True,
                   text=True, timeout=120)


def postgres_running():
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    return subprocess.run(sudo + ["pg_ctlcluster"] + POSTGRES_CLUSTER + ["status"], capture_output=True).returncode == 0


def wait_for_postgres(timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        ready = subprocess.run(["psql", POSTGRES_URL, "-X", "-q", "-c", "SELECT 1"], capture_output=True)
        if ready.returncode == 0:
            return
        if time.monotonic() >= deadline:
            raise AssertionError("PostgreSQL did not accept connections within %.0fs: %s" % (timeout, ready.stderr))
        time.sleep(0.1)


class PostgresTestCase(HyperionTestCase):
    """A HyperionTestCase whose storage is a fresh PostgreSQL database of its own, dropped at the end (so postgres
    tests never see each other's data). The server is left running even when a test stopped it."""

    def setUp(self):
        super().setUp()
        if not POSTGRES_URL:
            self.fail("HYPERION_TEST_POSTGRES_URL is not set; run this test through CTest (ctest -L postgres), which "
                      "starts the server with scripts/start-postgres")
        self.database = "hyperion_e2e_%d_%s" % (os.getpid(), re.sub(r"[^a-z0-9]", "_", self.id().lower())[-30:])
        postgres_admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.database)
        postgres_admin("CREATE DATABASE %s ENCODING 'UTF8' TEMPLATE template0" % self.database)
        # Cleanups run last in, first out: the server is up again before the database is dropped.
        self.addCleanup(self._drop_database)
        self.addCleanup(self._ensure_server)
        self.storage = re.sub(r"/[^/?]*(\?|$)", "/" + self.database + r"\1", POSTGRES_URL.split("://", 1)[1], count=1)
        self.storage = POSTGRES_URL.split("://", 1)[0] + "://" + self.storage

    def _drop_database(self):
        # FORCE ends leftover connections of ours but fails on an autovacuum worker, which a plain DROP ends itself.
        for attempt in range(10):
            try:
                postgres_admin("DROP DATABASE IF EXISTS %s%s" % (self.database, " WITH (FORCE)" if attempt % 2 else ""))
                return
            except subprocess.CalledProcessError:
                if attempt == 9:
                    raise
                time.sleep(0.2)

    @staticmethod
    def _ensure_server():
        if not postgres_running():
            postgres_cluster("start")
        wait_for_postgres()

