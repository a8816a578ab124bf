"""Trial-side client for Hyperion (standard library only, Python 3.9+).

Implements the trial's half of docs/trial-protocol.md: read the parameters,
append report lines to the metrics file, notice when Hyperion asks the trial
to stop, and find the checkpoint folders. Outside Hyperion every function
still works, so the same script runs standalone.

Example::

    import hyperion

    p = hyperion.params()                      # {} when run by hand
    lr = p.get("lr", 1e-3)
    for epoch in range(1, 31):
        loss, acc = train_one_epoch(lr)
        hyperion.report(epoch, {"val/acc": acc}, loss=loss)
        if hyperion.should_stop():             # pruned by Hyperion
            break
"""

import json
import math
import operator
import os
import time

__all__ = [
    "params",
    "report",
    "should_stop",
    "checkpoint_dir",
    "restore_from",
    "trial_dir",
    "trial_id",
    "trial_number",
    "experiment",
    "budget",
    "save_checkpoint",
    "restore_checkpoint",
]

# Control files that have already said stop. Per the protocol, should_stop()
# keeps returning True from then on, even if the file is later rewritten.
_stopped = set()


def _env(name):
    """The variable's value, or None when it is unset or empty."""
    value = os.environ.get(name, "")
    return value if value != "" else None


def _env_int(name):
    value = _env(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError("%s must be a decimal integer, got %r" % (name, value)) from None


def params():
    """The trial's parameters from HYPERION_PARAMS, as a dict.

    JSON types are kept (``None``, ``0``, ``False`` and ``"0"`` stay distinct).
    Returns an empty dict when not run under Hyperion. Raises ValueError when
    the variable is set but does not hold a JSON object.
    """
    raw = _env("HYPERION_PARAMS")
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise ValueError("HYPERION_PARAMS is not valid JSON: %s" % e) from None
    if not isinstance(value, dict):
        raise ValueError("HYPERION_PARAMS must be a JSON object, got %s" % type(value).__name__)
    return value


def _is_bool(value):
    if isinstance(value, bool):
        return True
    dtype = getattr(value, "dtype", None)  # numpy.bool_, torch.bool tensors
    return dtype is not None and str(dtype) in ("bool", "torch.bool")


def _step(step):
    if not _is_bool(step):
        try:
            n = operator.index(step)  # int, numpy integers; not float, not str
        except TypeError:
            pass
        else:
            if n >= 0:
                return int(n)
    raise ValueError("step must be a non-negative integer, got %r" % (step,))


def _number(name, value):
    """A JSON-ready number: int stays int, floats stay floats, non-finite become strings."""
    if _is_bool(value) or isinstance(value, (str, bytes, bytearray)) or value is None:
        raise TypeError("metric %r must be a number, got %s %r" % (name, type(value).__name__, value))
    if isinstance(value, int):
        return int(value)
    if not isinstance(value, float):
        try:
            return int(operator.index(value))  # numpy / torch integer scalars
        except TypeError:
            pass
        try:
            value = float(value)  # numpy / torch float scalars, Decimal, Fraction
        except (TypeError, ValueError):
            raise TypeError(
                "metric %r must be a number, got %s %r" % (name, type(value).__name__, value)
            ) from None
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float(value)


def _metrics(metrics, kw):
    merged = {}
    if metrics is not None:
        if not hasattr(metrics, "items"):
            raise TypeError("metrics must be a dict, got %s" % type(metrics).__name__)
        merged.update(metrics)
    for name, value in kw.items():
        if name in merged:
            raise ValueError("metric %r given both in the dict and as a keyword" % name)
        merged[name] = value
    out = {}
    for name, value in merged.items():
        if not isinstance(name, str) or name == "":
            raise TypeError("metric names must be non-empty strings, got %r" % (name,))
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("metric name %r is not valid Unicode" % (name,)) from None
        out[name] = _number(name, value)
    return out


def report(step, metrics=None, **kw):
    """Report metrics for one step (an epoch, an iteration).

    ``metrics`` (a dict, for names that are not Python identifiers such as
    ``"val/acc"``) and keyword arguments are merged; a name given both ways
    is an error. Values must be numbers (int, float, numpy or torch scalars);
    NaN and infinities are written as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

    Under Hyperion, appends one JSON line to $HYPERION_METRICS_FILE with a
    single write. Otherwise prints ``step=N name=value ...`` to stdout.

    Raises ValueError for a bad step, TypeError for a value that is not a number.
    """
    step = _step(step)
    values = _metrics(metrics, kw)
    path = _env("HYPERION_METRICS_FILE")
    if path is None:
        parts = ["step=%d" % step]
        for name, value in values.items():
            parts.append("%s=%s" % (name, value if isinstance(value, str) else repr(value)))
        print(" ".join(parts), flush=True)
        return
    line = json.dumps(
        {"step": step, "metrics": values, "time": time.time()},
        ensure_ascii=False,
        allow_nan=False,
        separators=(", ", ": "),
    )
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        while written < len(data):  # only on a short write (disk full, signal)
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)


def should_stop():
    """True when Hyperion asks this trial to stop.

    That is when $HYPERION_CONTROL_FILE holds a JSON object with
    ``"stop": true``; once seen, it stays True for this process. A missing,
    unreadable or half-written file means False, as does running outside
    Hyperion.
    """
    path = _env("HYPERION_CONTROL_FILE")
    if path is None:
        return False
    if path in _stopped:
        return True
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return False
    if isinstance(data, dict) and data.get("stop") is True:
        _stopped.add(path)
        return True
    return False


def checkpoint_dir():
    """The folder to save checkpoints in, created when missing.

    $HYPERION_CHECKPOINT_DIR under Hyperion, else ``./checkpoint``. Returned
    as an absolute path.
    """
    path = _env("HYPERION_CHECKPOINT_DIR") or "checkpoint"
    path = os.path.abspath(path)
    os.makedirs(path, exist_ok=True)
    return path


def restore_from():
    """The checkpoint folder to restore from, or None to start fresh."""
    return _env("HYPERION_RESTORE_FROM")


def trial_dir():
    """The trial's own folder ($HYPERION_TRIAL_DIR), or None outside Hyperion."""
    return _env("HYPERION_TRIAL_DIR")


def trial_id():
    """The trial's id in the experiment database (int), or None outside Hyperion."""
    return _env_int("HYPERION_TRIAL_ID")


def trial_number():
    """The trial's number within its experiment (1, 2, ...), or None outside Hyperion."""
    return _env_int("HYPERION_TRIAL_NUMBER")


def experiment():
    """The experiment's name, or None outside Hyperion."""
    return _env("HYPERION_EXPERIMENT")


def budget():
    """The span of training this trial covers as a ``(from, to)`` tuple of floats.

    None when the config names no budget unit (both variables empty or unset).
    """
    lo, hi = _env("HYPERION_BUDGET_FROM"), _env("HYPERION_BUDGET_TO")
    if lo is None and hi is None:
        return None
    try:
        return (float(lo), float(hi))
    except (TypeError, ValueError):
        raise ValueError(
            "HYPERION_BUDGET_FROM and HYPERION_BUDGET_TO must both be numbers, got %r and %r" % (lo, hi)
        ) from None


def save_checkpoint(step, model, optimizer=None, generators=()):
    """Saves a PyTorch model, optimizer and RNG states into checkpoint_dir(); see hyperion.checkpoint."""
    from hyperion.checkpoint import save_checkpoint as save

    return save(step, model, optimizer, generators)


def restore_checkpoint(model, optimizer=None, generators=()):
    """Restores what save_checkpoint() saved from restore_from(); returns the step reached (0: fresh start)."""
    from hyperion.checkpoint import restore_checkpoint as restore

    return restore(model, optimizer, generators)
