"""Tests of the Python trial client (standard library only).

Run from the repository root:
    /usr/bin/python3 -m unittest discover -s clients/python/tests
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
sys.path.insert(0, os.path.abspath(CLIENT))

import hyperion  # noqa: E402


def _clean_env():
    """os.environ without any HYPERION_* variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HYPERION_")}


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name
        patcher = mock.patch.dict(os.environ, _clean_env(), clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)
        hyperion._stopped.clear()

    def path(self, name):
        return os.path.join(self.dir, name)


class UnderHyperion(Base):
    def setUp(self):
        super().setUp()
        self.metrics = self.path("metrics.jsonl")
        self.control = self.path("control.json")
        os.environ.update(
            HYPERION_EXPERIMENT="digits-mlp",
            HYPERION_TRIAL_ID="42",
            HYPERION_TRIAL_NUMBER="3",
            HYPERION_TRIAL_DIR=self.dir,
            HYPERION_CHECKPOINT_DIR=self.path("ckpt"),
            HYPERION_RESTORE_FROM="",
            HYPERION_BUDGET_FROM="",
            HYPERION_BUDGET_TO="",
            HYPERION_METRICS_FILE=self.metrics,
            HYPERION_CONTROL_FILE=self.control,
            HYPERION_PARAMS="{}",
        )

    def lines(self):
        with open(self.metrics, "rb") as f:
            raw = f.read()
        self.assertTrue(raw.endswith(b"\n"))
        return [json.loads(line) for line in raw.decode("utf-8").splitlines()]

    # report

    def test_report_writes_json_lines(self):
        hyperion.report(0, loss=1.5)
        hyperion.report(1, loss=0.5, acc=0.9, count=7)
        lines = self.lines()
        self.assertEqual(len(lines), 2)
        self.assertEqual(lines[0]["step"], 0)
        self.assertEqual(lines[0]["metrics"], {"loss": 1.5})
        self.assertEqual(lines[1]["metrics"], {"loss": 0.5, "acc": 0.9, "count": 7})
        self.assertIsInstance(lines[1]["metrics"]["count"], int)
        for line in lines:
            self.assertEqual(set(line), {"step", "metrics", "time"})
            self.assertIsInstance(line["time"], float)
            self.assertLess(abs(line["time"] - __import__("time").time()), 60)

    def test_report_creates_missing_file_and_appends(self):
        with open(self.metrics, "w") as f:
            f.write('{"step": 0, "metrics": {"x": 1}, "time": 1.0}\n')
        hyperion.report(1, x=2)
        self.assertEqual([l["metrics"]["x"] for l in self.lines()], [1, 2])

    def test_non_finite_values_become_strings(self):
        hyperion.report(2, a=float("nan"), b=float("inf"), c=float("-inf"), d=1e308)
        with open(self.metrics, encoding="utf-8") as f:
            text = f.read()
        # Strict JSON: no bare NaN / Infinity tokens.
        json.loads(text, parse_constant=lambda c: self.fail("bare constant %s" % c))
        m = self.lines()[0]["metrics"]
        self.assertEqual(m, {"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": 1e308})

    def test_dict_and_kwargs_merge(self):
        hyperion.report(5, {"val/acc": 0.97, "train loss": 0.1}, lr=0.001)
        self.assertEqual(self.lines()[0]["metrics"], {"val/acc": 0.97, "train loss": 0.1, "lr": 0.001})

    def test_same_name_twice_is_an_error(self):
        with self.assertRaises(ValueError):
            hyperion.report(1, {"loss": 1.0}, loss=2.0)
        self.assertFalse(os.path.exists(self.metrics))

    def test_names_preserved(self):
        names = ["val/acc", "with space", "ünïcödé", "精度", "emoji 🎯", 'quote"back\\slash', "tab\tnew\nline"]
        hyperion.report(3, {n: i for i, n in enumerate(names)})
        lines = self.lines()
        self.assertEqual(len(lines), 1)  # a newline in a name does not split the line
        self.assertEqual(list(lines[0]["metrics"]), names)
        self.assertEqual(list(lines[0]["metrics"].values()), list(range(len(names))))

    def test_invalid_step(self):
        for step in (-1, 1.5, 2.0, "3", None, True, False, [1]):
            with self.subTest(step=step), self.assertRaises(ValueError):
                hyperion.report(step, x=1.0)
        self.assertFalse(os.path.exists(self.metrics))

    def test_int_like_step_accepted(self):
        class IntLike:
            def __index__(self):
                return 4

        hyperion.report(IntLike(), x=1.0)
        self.assertEqual(self.lines()[0]["step"], 4)

    def test_invalid_values(self):
        for value in ("0.5", b"1", None, True, False, [1.0], {"a": 1}, 1 + 2j, object()):
            with self.subTest(value=value), self.assertRaises(TypeError):
                hyperion.report(1, x=value)
        self.assertFalse(os.path.exists(self.metrics))

    def test_invalid_names(self):
        with self.assertRaises(TypeError):
            hyperion.report(1, {"": 1.0})
        with self.assertRaises(TypeError):
            hyperion.report(1, {3: 1.0})
        with self.assertRaises(TypeError):
            hyperion.report(1, [("x", 1.0)])

    def test_float_convertible_scalars(self):
        from decimal import Decimal
        from fractions import Fraction

        class FloatLike:
            def __float__(self):
                return 0.25

        hyperion.report(1, a=Decimal("0.5"), b=Fraction(1, 4), c=FloatLike(), d=Decimal("NaN"))
        self.assertEqual(self.lines()[0]["metrics"], {"a": 0.5, "b": 0.25, "c": 0.25, "d": "NaN"})

    def test_numpy_scalars_if_available(self):
        try:
            import numpy as np
        except ImportError:
            self.skipTest("numpy not installed")
        hyperion.report(np.int64(2), a=np.float32(0.5), b=np.int64(3), c=np.float64("nan"), d=np.array(0.75))
        line = self.lines()[0]
        self.assertEqual(line["step"], 2)
        self.assertEqual(line["metrics"], {"a": 0.5, "b": 3, "c": "NaN", "d": 0.75})
        with self.assertRaises(TypeError):
            hyperion.report(3, a=np.bool_(True))
        with self.assertRaises(TypeError):
            hyperion.report(3, a=np.zeros(2))

    def test_concurrent_writers_never_interleave(self):
        code = (
            "import sys, hyperion\n"
            "for i in range(300):\n"
            "    hyperion.report(i, {'writer': int(sys.argv[1]), 'padding ' * 200: 0.5})\n"
        )
        env = dict(os.environ, PYTHONPATH=os.path.abspath(CLIENT))
        procs = [subprocess.Popen([sys.executable, "-c", code, str(w)], env=env) for w in range(4)]
        for p in procs:
            self.assertEqual(p.wait(), 0)
        lines = self.lines()
        self.assertEqual(len(lines), 1200)
        for w in range(4):
            steps = [l["step"] for l in lines if l["metrics"]["writer"] == w]
            self.assertEqual(steps, list(range(300)))

    # should_stop

    def test_should_stop_missing_file(self):
        self.assertFalse(hyperion.should_stop())

    def test_should_stop_garbage_and_partial(self):
        for content in (b"", b"{", b'{"stop": tr', b"\xff\xfe", b"not json", b"[true]", b"true", b"null"):
            with self.subTest(content=content):
                with open(self.control, "wb") as f:
                    f.write(content)
                self.assertFalse(hyperion.should_stop())

    def test_should_stop_false_and_non_boolean(self):
        for content in ('{"stop": false}', '{"stop": 1}', '{"stop": "true"}', '{"reason": "x"}', "{}"):
            with self.subTest(content=content):
                with open(self.control, "w") as f:
                    f.write(content)
                self.assertFalse(hyperion.should_stop())

    def test_should_stop_true_and_stays_true(self):
        with open(self.control, "w") as f:
            json.dump({"stop": True, "reason": "pruned at step 3"}, f)
        self.assertTrue(hyperion.should_stop())
        os.remove(self.control)
        self.assertTrue(hyperion.should_stop())

    def test_should_stop_control_dir_unreadable(self):
        os.mkdir(self.control)  # a folder where the file should be
        self.assertFalse(hyperion.should_stop())

    # params and the other variables

    def test_params_typed_round_trip(self):
        sent = {
            "null": None,
            "zero": 0,
            "false": False,
            "string_zero": "0",
            "one": 1,
            "true": True,
            "float": 0.5,
            "exp": 1e-4,
            "name": "adam",
            "unicode": "ü/精",
            "list": [1, "a"],
        }
        os.environ["HYPERION_PARAMS"] = json.dumps(sent)
        got = hyperion.params()
        self.assertEqual(got, sent)
        for key, value in sent.items():
            self.assertIs(type(got[key]), type(value), key)
        self.assertIsNone(got["null"])
        self.assertIs(got["false"], False)
        self.assertIs(got["true"], True)
        self.assertEqual(got["string_zero"], "0")
        self.assertEqual(len({repr(got[k]) for k in ("null", "zero", "false", "string_zero", "one", "true")}), 6)

    def test_params_invalid(self):
        for raw in ("{", "[1, 2]", "3", '"x"'):
            with self.subTest(raw=raw):
                os.environ["HYPERION_PARAMS"] = raw
                with self.assertRaises(ValueError):
                    hyperion.params()

    def test_trial_variables(self):
        self.assertEqual(hyperion.experiment(), "digits-mlp")
        self.assertEqual(hyperion.trial_id(), 42)
        self.assertEqual(hyperion.trial_number(), 3)
        self.assertEqual(hyperion.trial_dir(), self.dir)
        self.assertIsNone(hyperion.restore_from())
        self.assertIsNone(hyperion.budget())

    def test_checkpoint_dir_created(self):
        path = hyperion.checkpoint_dir()
        self.assertEqual(path, self.path("ckpt"))
        self.assertTrue(os.path.isdir(path))
        self.assertEqual(hyperion.checkpoint_dir(), path)  # existing folder is fine

    def test_restore_from_and_budget(self):
        os.environ["HYPERION_RESTORE_FROM"] = "/runs/x/trials/1/checkpoint"
        os.environ["HYPERION_BUDGET_FROM"] = "0"
        os.environ["HYPERION_BUDGET_TO"] = "8.5"
        self.assertEqual(hyperion.restore_from(), "/runs/x/trials/1/checkpoint")
        self.assertEqual(hyperion.budget(), (0.0, 8.5))
        self.assertIsInstance(hyperion.budget()[0], float)
        os.environ["HYPERION_BUDGET_TO"] = ""
        with self.assertRaises(ValueError):
            hyperion.budget()

    def test_under_hyperion_nothing_on_stdout(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            hyperion.report(1, acc=0.5)
        self.assertEqual(out.getvalue(), "")


class OutsideHyperion(Base):
    def test_defaults(self):
        self.assertEqual(hyperion.params(), {})
        self.assertFalse(hyperion.should_stop())
        self.assertIsNone(hyperion.restore_from())
        self.assertIsNone(hyperion.trial_dir())
        self.assertIsNone(hyperion.trial_id())
        self.assertIsNone(hyperion.trial_number())
        self.assertIsNone(hyperion.experiment())
        self.assertIsNone(hyperion.budget())

    def test_empty_variables_mean_unset(self):
        for name in ("HYPERION_PARAMS", "HYPERION_METRICS_FILE", "HYPERION_CONTROL_FILE", "HYPERION_RESTORE_FROM"):
            os.environ[name] = ""
        self.assertEqual(hyperion.params(), {})
        self.assertFalse(hyperion.should_stop())
        self.assertIsNone(hyperion.restore_from())

    def test_report_prints_name_value(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            hyperion.report(3, {"val/acc": 0.97}, loss=0.084, n=5, bad=float("nan"))
        self.assertEqual(out.getvalue(), "step=3 val/acc=0.97 loss=0.084 n=5 bad=NaN\n")
        self.assertEqual(os.listdir(self.dir), [])

    def test_report_still_validates(self):
        with contextlib.redirect_stdout(io.StringIO()):
            with self.assertRaises(ValueError):
                hyperion.report(-1, x=1.0)
            with self.assertRaises(TypeError):
                hyperion.report(1, x="1.0")

    def test_checkpoint_dir_is_local(self):
        cwd = os.getcwd()
        os.chdir(self.dir)
        self.addCleanup(os.chdir, cwd)
        path = hyperion.checkpoint_dir()
        self.assertEqual(os.path.realpath(path), os.path.realpath(os.path.join(self.dir, "checkpoint")))
        self.assertTrue(os.path.isdir(path))


if __name__ == "__main__":
    unittest.main()
