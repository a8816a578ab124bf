#!/usr/bin/python3
"""The peer side of bench/search_quality.cc: the same problems, run with Optuna's samplers.

Every problem has exactly the parameter definitions (in the shape of Hyperion's Space::ToJson), optimum and
objective of its C++ twin; each side prints the objective's value at a few fixed probe points, and
check_search_quality.py and run_search_quality.py refuse results whose definitions or probe values differ.

For each problem, sampler ("random": RandomSampler, "tpe": TPESampler, default settings) and seed 0 .. S-1,
one in-memory study runs N trials; the final regret is the best value minus the known optimum (minimisation).
Prints JSON on stdout. `--describe` prints only the problems (and needs no Optuna).

Runs with Debian's /usr/bin/python3 (python3-optuna).
"""

import argparse
import json
import math
import sys
import time

# --- The problems: keep in step with bench/search_quality.cc -------------------------------------------------


def _branin(x):
    x1, x2 = x["x1"], x["x2"]
    b, c, t = 5.1 / (4 * math.pi * math.pi), 5 / math.pi, 1 / (8 * math.pi)
    q = x2 - b * x1 * x1 + c * x1 - 6
    return q * q + 10 * (1 - t) * math.cos(x1) + 10


_H6_ALPHA = [1.0, 1.2, 3.0, 3.2]
_H6_A = [[10, 3, 17, 3.5, 1.7, 8],
         [0.05, 10, 17, 0.1, 8, 14],
         [3, 3.5, 1.7, 10, 17, 8],
         [17, 8, 0.05, 10, 0.1, 14]]
_H6_P = [[1312, 1696, 5569, 124, 8283, 5886],
         [2329, 4135, 8307, 3736, 1004, 9991],
         [2348, 1451, 3522, 2883, 3047, 6650],
         [4047, 8828, 8732, 5743, 1091, 381]]


def _hartmann6(x):
    total = 0.0
    for i in range(4):
        inner = 0.0
        for j in range(6):
            d = x["x%d" % (j + 1)] - _H6_P[i][j] * 1e-4
            inner += _H6_A[i][j] * d * d
        total += _H6_ALPHA[i] * math.exp(-inner)
    return -total


def _mixed(x):
    optimizer = x["optimizer"]
    center = {"sgd": -2.0, "adam": -3.0, "rmsprop": -3.5}[optimizer]
    offset = {"sgd": 0.3, "adam": 0.0, "rmsprop": 0.15}[optimizer]
    a = math.log10(x["lr"]) - center
    b = float(x["layers"]) - 3
    c = math.log2(float(x["width"])) - 7
    d = x["dropout"] - 0.2
    return a * a + offset + 0.05 * b * b + 0.1 * c * c + 4 * d * d


PROBLEMS = [
    {
        "name": "branin",
        "description": ("Branin-Hoo, 2 floats: x1 in [-5, 10], x2 in [0, 15]; minimum 10 / (8 pi) at (-pi, 12.275), "
                        "(pi, 2.275) and (9.42478, 2.475)"),
        "optimum": 0.397887357729738,
        "space": [{"name": "x1", "type": "float", "low": -5.0, "high": 10.0},
                  {"name": "x2", "type": "float", "low": 0.0, "high": 15.0}],
        "evaluate": _branin,
        "probes": [{"x1": math.pi, "x2": 2.275}, {"x1": -5.0, "x2": 0.0}, {"x1": 2.5, "x2": 7.5}],
    },
    {
        "name": "hartmann6",
        "description": ("Hartmann 6-d, 6 floats x1..x6 in [0, 1]; minimum near (0.20169, 0.150011, 0.476874, 0.275332, "
                        "0.311652, 0.6573)"),
        "optimum": -3.32236801141551,
        "space": [{"name": "x%d" % j, "type": "float", "low": 0.0, "high": 1.0} for j in range(1, 7)],
        "evaluate": _hartmann6,
        "probes": [{"x1": 0.20169, "x2": 0.150011, "x3": 0.476874, "x4": 0.275332, "x5": 0.311652, "x6": 0.6573},
                   {"x%d" % j: 0.5 for j in range(1, 7)}],
    },
    {
        "name": "mixed",
        "description": ("A stand-in for tuning a training job: optimizer categorical {sgd, adam, rmsprop}, lr float "
                        "log [1e-5, 1e-1], layers int [1, 8], width int log [16, 1024], dropout float [0, 0.5]; f = "
                        "(log10(lr) - c[optimizer])^2 + offset[optimizer] + 0.05 (layers - 3)^2 + 0.1 (log2(width) - "
                        "7)^2 + 4 (dropout - 0.2)^2 with c = {sgd: -2, adam: -3, rmsprop: -3.5} and offset = {sgd: "
                        "0.3, adam: 0, rmsprop: 0.15}; minimum 0 at optimizer=adam, lr=1e-3, layers=3, width=128, "
                        "dropout=0.2"),
        "optimum": 0.0,
        "space": [{"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam", "rmsprop"]},
                  {"name": "lr", "type": "float", "low": 1e-05, "high": 0.1, "log": True},
                  {"name": "layers", "type": "int", "low": 1, "high": 8},
                  {"name": "width", "type": "int", "low": 16, "high": 1024, "log": True},
                  {"name": "dropout", "type": "float", "low": 0.0, "high": 0.5}],
        "evaluate": _mixed,
        "probes": [{"optimizer": "adam", "lr": 1e-3, "layers": 3, "width": 128, "dropout": 0.2},
                   {"optimizer": "sgd", "lr": 1e-5, "layers": 8, "width": 16, "dropout": 0.5},
                   {"optimizer": "rmsprop", "lr": 0.05, "layers": 1, "width": 1000, "dropout": 0.0}],
    },
]

SAMPLERS = ["random", "tpe"]


def describe(problem):
    """The problem as both sides print it: everything but the results."""
    return {
        "name": problem["name"],
        "description": problem["description"],
        "optimum": problem["optimum"],
        "space": problem["space"],
        "probes": [{"params": p, "value": problem["evaluate"](p)} for p in problem["probes"]],
    }


# --- Running Optuna ------------------------------------------------------------------------------------------


def _suggest(trial, spec):
    kind = spec["type"]
    if kind == "float":
        return trial.suggest_float(spec["name"], spec["low"], spec["high"], log=spec.get("log", False))
    if kind == "int":
        return trial.suggest_int(spec["name"], spec["low"], spec["high"], log=spec.get("log", False))
    if kind == "categorical":
        return trial.suggest_categorical(spec["name"], spec["choices"])
    raise ValueError("unsupported parameter type %r" % kind)


def run_once(optuna, problem, sampler_name, trials, seed):
    if sampler_name == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    elif sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed)
    else:
        raise ValueError("unknown sampler %r; known: %s" % (sampler_name, ", ".join(SAMPLERS)))
    study = optuna.create_study(direction="minimize", sampler=sampler)

    def objective(trial):
        params = {spec["name"]: _suggest(trial, spec) for spec in problem["space"]}
        return problem["evaluate"](params)

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    seconds = time.perf_counter() - start
    best = study.best_value
    return {"best": best, "regret": best - problem["optimum"], "seconds": seconds, "trials": len(study.trials)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100, help="trials per run (default 100)")
    parser.add_argument("--seeds", type=int, default=10, help="runs per sampler and problem, seeds 0 .. S-1")
    parser.add_argument("--samplers", default=",".join(SAMPLERS), help="comma-separated: random, tpe")
    parser.add_argument("--problems", default=",".join(p["name"] for p in PROBLEMS), help="comma-separated")
    parser.add_argument("--describe", action="store_true", help="print the problems only (no Optuna needed)")
    args = parser.parse_args(argv)

    names = [n for n in args.problems.split(",") if n]
    known = [p["name"] for p in PROBLEMS]
    for n in names:
        if n not in known:
            parser.error("unknown problem %r; known: %s" % (n, ", ".join(known)))
    samplers = [s for s in args.samplers.split(",") if s]
    for s in samplers:
        if s not in SAMPLERS:
            parser.error("unknown sampler %r; known: %s" % (s, ", ".join(SAMPLERS)))
    if args.trials < 1 or args.seeds < 1:
        parser.error("--trials and --seeds must be positive")
    problems = [p for p in PROBLEMS if p["name"] in names]

    if args.describe:
        json.dump({"problems": [describe(p) for p in problems]}, sys.stdout, indent=1)
        print()
        return 0

    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    optuna.logging.disable_default_handler()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    out = {"tool": "optuna", "version": optuna.__version__, "trials": args.trials, "seeds": args.seeds,
           "strategies": samplers, "problems": []}
    for problem in problems:
        entry = describe(problem)
        entry["results"] = []
        for sampler_name in samplers:
            runs = [run_once(optuna, problem, sampler_name, args.trials, seed) for seed in range(args.seeds)]
            entry["results"].append({
                "strategy": sampler_name,
                "regrets": [r["regret"] for r in runs],
                "best_values": [r["best"] for r in runs],
                "seconds": [r["seconds"] for r in runs],
                "trials_run": [r["trials"] for r in runs],
            })
        out["problems"].append(entry)
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
