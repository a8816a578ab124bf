#!/usr/bin/python3
"""Sanity check of the search-quality harness, run by CTest (labels unit, bench): guards the harness, not speed.

Usage: check_search_quality.py PATH/TO/search_quality

Runs `search_quality --trials 20 --seeds 2 --strategies random --json` and checks that every problem reports two
finite regrets >= 0 from 20 trials each, and that bench/optuna_search_quality.py describes exactly the same
problems (spaces, optima, objective values at the probe points). Needs no Optuna and takes well under a second.
"""

import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import optuna_search_quality  # noqa: E402  (the problem definitions only; Optuna is imported lazily)
import run_search_quality  # noqa: E402


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    command = [argv[1], "--trials", "20", "--seeds", "2", "--strategies", "random", "--json"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    failures = []
    if proc.returncode != 0:
        failures.append("%s exited with %d: %s" % (" ".join(command), proc.returncode, proc.stderr.strip()))
    else:
        data = json.loads(proc.stdout)
        by_name = {p["name"]: p for p in data["problems"]}
        for peer in optuna_search_quality.PROBLEMS:
            name = peer["name"]
            if name not in by_name:
                failures.append("%s: missing from the output" % name)
                continue
            problem = by_name[name]
            failures += ["%s: %s" % (name, m)
                         for m in run_search_quality.definition_mismatches(problem,
                                                                           optuna_search_quality.describe(peer))]
            results = {r["strategy"]: r for r in problem["results"]}
            random = results.get("random")
            if random is None or "error" in random:
                failures.append("%s: no random-search result: %s" % (name, random))
                continue
            regrets = random["regrets"]
            if len(regrets) != 2:
                failures.append("%s: %d regrets, expected 2" % (name, len(regrets)))
            for r in regrets:
                if not (math.isfinite(r) and r >= 0):
                    failures.append("%s: regret %r is not a finite number >= 0" % (name, r))
            if random["trials_run"] != [20, 20]:
                failures.append("%s: trials run %r, expected [20, 20]" % (name, random["trials_run"]))
        extra = set(by_name) - {p["name"] for p in optuna_search_quality.PROBLEMS}
        if extra:
            failures.append("problems without an Optuna twin: %s" % ", ".join(sorted(extra)))
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    if not failures:
        print("ok: %s" % ", ".join("%s regret %s" % (p["name"], p["results"][0]["regrets"]) for p in data["problems"]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
