#!/usr/bin/python3
"""Search quality, Hyperion side by side with Optuna, in one run (`make bench`).

Runs build/bench/search_quality (Hyperion's strategies, in-process) and bench/optuna_search_quality.py (Optuna's
RandomSampler and TPESampler) on the same problems with the same trials and seeds, checks that both sides
define the problems identically, prints one table per problem and, with --write-docs, replaces the
"Search quality" section of docs/benchmarks.md with the tables, the machine and the command.

The target checks of each problem: the best Hyperion model-based strategy (any but random and grid) has a
median final regret <= 0.5 x Optuna TPE's; and the analyst (strategy "agent"), when it ran, has a median at or
below every single strategy's (Hyperion's and Optuna's) and <= 0.5 x Optuna TPE's. They are reported, never
enforced: the exit code is 0 whether they pass or not, and non-zero only when a side fails to run or the two
sides disagree on a problem's definition.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECTION_TITLE = "## Search quality"
NOT_MODEL_BASED = {"random", "grid"}
TARGET_FACTOR = 0.5
ANALYST = "agent"  # the built-in analyst: it must match the best single strategy and beat Optuna TPE by TARGET_FACTOR

DOC_HEADER = """# Benchmarks

Benchmarks are programs under `bench/` that print tables, each side by side with its peer, measured in the same
run on the same machine. This file is written by them: regenerate it with `make bench` (builds, runs every
benchmark, rewrites the sections below). Do not edit the generated sections by hand; tests never assert timings.
"""


def definition_mismatches(ours, theirs):
    """How two sides' descriptions of one problem differ (empty when they agree)."""
    problems = []
    if ours["description"] != theirs["description"]:
        problems.append("description %r != %r" % (ours["description"], theirs["description"]))
    if ours["optimum"] != theirs["optimum"]:
        problems.append("optimum %r != %r" % (ours["optimum"], theirs["optimum"]))
    if ours["space"] != theirs["space"]:
        problems.append("space %s != %s" % (json.dumps(ours["space"]), json.dumps(theirs["space"])))
    if [p["params"] for p in ours["probes"]] != [p["params"] for p in theirs["probes"]]:
        problems.append("probe points differ")
    else:
        for a, b in zip(ours["probes"], theirs["probes"]):
            if not math.isclose(a["value"], b["value"], rel_tol=1e-12, abs_tol=1e-12):
                problems.append("objective at %s: %r != %r" % (json.dumps(a["params"]), a["value"], b["value"]))
    return problems


def run_json(command, must_succeed=True):
    """Runs a side, its stderr passed through; (parsed stdout or None, seconds, exit status)."""
    print("+ " + " ".join(shlex.quote(c) for c in command), file=sys.stderr, flush=True)
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    data = None
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        pass
    if must_succeed and (proc.returncode != 0 or data is None):
        sys.exit("run_search_quality: %s exited with %d" % (command[0], proc.returncode))
    return data, seconds, proc.returncode


def exit_description(code):
    if code < 0:
        return "crashed (signal %d)" % -code
    return "exited with status %d and no results" % code


def run_hyperion(binary, common, strategies):
    """One process per strategy, so a strategy that crashes leaves the others' results standing."""
    if strategies:
        names = [s for s in strategies.split(",") if s]
    else:
        listed = subprocess.run([binary, "--list-strategies"], stdout=subprocess.PIPE, text=True, check=True)
        names = listed.stdout.split()
    merged, total = None, 0.0
    for name in names:
        command = [binary] + common + ["--strategies", name, "--json"]
        data, seconds, code = run_json(command, must_succeed=False)
        total += seconds
        if data is None:
            # No JSON at all: describe the problems with a run that cannot crash, and mark this strategy failed.
            problems = common[common.index("--problems"):][:2] if "--problems" in common else []
            data, _, _ = run_json([binary, "--trials", "1", "--seeds", "1", "--strategies", "random", "--json"] +
                                  problems)
            for p in data["problems"]:
                p["results"] = [{"strategy": name, "error": exit_description(code)}]
            data["strategies"] = [name]
        if merged is None:
            merged = data
            merged["commands"] = []
        else:
            merged["strategies"] += data["strategies"]
            for mine, theirs in zip(merged["problems"], data["problems"]):
                mine["results"] += theirs["results"]
        merged["commands"].append(command)
    return merged, total


def fmt(x):
    if x is None or not math.isfinite(x):
        return "-"
    if x == 0:
        return "0"
    return "%.4g" % x


def summarise(result):
    if "error" in result:
        return {"error": result["error"]}
    r = result["regrets"]
    summary = {"median": statistics.median(r), "mean": statistics.fmean(r),
               "seconds": statistics.fmean(result["seconds"]), "runs": len(r)}
    if "trials_run" in result:
        summary["trials"] = statistics.fmean(result["trials_run"])
    return summary


def problem_report(name, hyperion, optuna):
    """Markdown lines for one problem, and its target verdict."""
    rows = []  # (label, summary)
    for r in hyperion["results"]:
        rows.append(("hyperion:" + r["strategy"], summarise(r), r["strategy"]))
    peer = {r["strategy"]: r for r in optuna["results"]}
    for s in ("random", "tpe"):
        if s in peer:
            rows.append(("optuna:" + s, summarise(peer[s]), None))
    tpe = summarise(peer["tpe"]) if "tpe" in peer else {"error": "not run"}
    tpe_median = tpe.get("median")

    lines = ["### %s" % name, "",
             "%s. Known optimum %.15g; final regret = best value found - optimum (0 is perfect)." % (
                 hyperion["description"], hyperion["optimum"]), "",
             "| strategy | median final regret | mean final regret | median / optuna:tpe median | trials run (mean) "
             "| seconds per run |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, s, _ in rows:
        if "error" in s:
            lines.append("| %s | error: %s | | | | |" % (label, s["error"].replace("|", "/")))
            continue
        ratio = s["median"] / tpe_median if tpe_median else None
        trials = ("%.1f" % s["trials"]).replace(".0", "") if "trials" in s else "-"
        lines.append("| %s | %s | %s | %s | %s | %s |" % (label, fmt(s["median"]), fmt(s["mean"]),
                                                         fmt(ratio) if ratio is not None else "-", trials,
                                                         "%.3f" % s["seconds"]))

    model_based = [(label, s) for label, s, strategy in rows
                   if strategy is not None and strategy not in NOT_MODEL_BASED and "error" not in s]
    if tpe_median is None:
        verdict = "n/a (Optuna TPE did not run)"
        status = "n/a"
    elif not model_based:
        verdict = "n/a: no model-based Hyperion strategy ran (Hyperion strategies: %s)" % ", ".join(
            r["strategy"] for r in hyperion["results"])
        status = "n/a"
    else:
        label, best = min(model_based, key=lambda x: x[1]["median"])
        bound = TARGET_FACTOR * tpe_median
        status = "PASS" if best["median"] <= bound else "FAIL"
        verdict = "**%s**: %s median %s %s %s x optuna:tpe median %s = %s" % (
            status, label, fmt(best["median"]), "<=" if status == "PASS" else ">", TARGET_FACTOR, fmt(tpe_median),
            fmt(bound))
    lines += ["", "Target (best Hyperion model-based median <= %s x Optuna TPE median): %s" % (TARGET_FACTOR, verdict),
              ""]
    analyst_lines, analyst_status = analyst_report(hyperion, rows, tpe_median)
    lines += analyst_lines
    return lines, status if analyst_status is None else "%s, analyst %s" % (status, analyst_status)


def analyst_report(hyperion, rows, tpe_median):
    """The analyst's lines for one problem: its operator mix, its early stops and its two targets."""
    mine = [r for r in hyperion["results"] if r["strategy"] == ANALYST and "error" not in r]
    if not mine:
        return [], None
    result = mine[0]
    own = summarise(result)
    lines = []
    if result.get("ops"):
        total = sum(result["ops"].values())
        mix = ", ".join("%s %d" % (op, n) for op, n in sorted(result["ops"].items(), key=lambda x: -x[1]))
        lines.append("The analyst's %d trials over %d seeds, by operator: %s." % (total, own["runs"], mix))
    stops = [n for n in result.get("notes", []) if "stopped after" in n]
    if stops:
        lines.append("It stopped early (the stall rule) in %d of %d runs; the best so far counts: %s." % (
            len(stops), own["runs"], "; ".join(n.split(":")[0] + ":" + n.split(":")[1] for n in stops)))
    else:
        lines.append("It ran the whole budget in every run (no stall stop).")
    others = [(label, s) for label, s, strategy in rows if strategy != ANALYST and "error" not in s]
    checks = []
    if others:
        label, best = min(others, key=lambda x: x[1]["median"])
        ok = own["median"] <= best["median"]
        checks.append(ok)
        lines.append("Target (analyst median <= every single strategy's): **%s**: hyperion:%s median %s %s %s median %s" % (
            "PASS" if ok else "FAIL", ANALYST, fmt(own["median"]), "<=" if ok else ">", label, fmt(best["median"])))
    if tpe_median is not None:
        bound = TARGET_FACTOR * tpe_median
        ok = own["median"] <= bound
        checks.append(ok)
        lines.append("Target (analyst median <= %s x Optuna TPE median): **%s**: %s %s %s" % (
            TARGET_FACTOR, "PASS" if ok else "FAIL", fmt(own["median"]), "<=" if ok else ">", fmt(bound)))
    lines.append("")
    return lines, ("PASS" if all(checks) else "FAIL") if checks else None


def shown(command):
    """A command line as text, with paths inside the repository relative to its root."""
    return " ".join(shlex.quote(os.path.relpath(c, ROOT) if os.path.isabs(c) and c.startswith(ROOT + os.sep) else c)
                    for c in command)


def machine_facts():
    facts = {}
    try:
        facts["nproc"] = len(os.sched_getaffinity(0))
    except AttributeError:
        facts["nproc"] = os.cpu_count()
    facts["cpu"] = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    facts["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    facts["memory"] = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    facts["memory"] = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
                    break
    except OSError:
        pass
    facts["os"] = platform.platform()
    facts["python"] = platform.python_version()
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        facts["commit"] = (commit + (" with uncommitted changes" if dirty else "")) if commit else "unknown"
    except OSError:
        facts["commit"] = "unknown"
    return facts


def build_type(binary):
    cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(binary))), "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def write_docs(path, section):
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if not text.strip():
        text = DOC_HEADER
    pattern = re.compile(r"^%s\s*$.*?(?=^## |\Z)" % re.escape(SECTION_TITLE), re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "bench", "search_quality"),
                        help="the search_quality executable (default build/bench/search_quality)")
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="interpreter with Optuna (default /usr/bin/python3)")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--strategies",
                        help="Hyperion strategies, comma-separated (default: every known one but grid, pbt and llm)")
    parser.add_argument("--problems", help="comma-separated (default: all)")
    parser.add_argument("--write-docs", metavar="PATH", help="replace the Search quality section of this file")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    common = ["--trials", str(args.trials), "--seeds", str(args.seeds)]
    if args.problems:
        common += ["--problems", args.problems]
    optuna_cmd = [args.python, os.path.join(HERE, "optuna_search_quality.py")] + common
    hyperion, hyperion_seconds = run_hyperion(args.binary, common, args.strategies)
    optuna, optuna_seconds, _ = run_json(optuna_cmd)
    total_seconds = time.perf_counter() - started

    peer_by_name = {p["name"]: p for p in optuna["problems"]}
    mismatches = []
    for p in hyperion["problems"]:
        if p["name"] not in peer_by_name:
            mismatches.append("%s: not run by the Optuna side" % p["name"])
        else:
            mismatches += ["%s: %s" % (p["name"], m) for m in definition_mismatches(p, peer_by_name[p["name"]])]
    if mismatches:
        for m in mismatches:
            print("run_search_quality: definitions differ: " + m, file=sys.stderr)
        return 1

    body, verdicts = [], []
    for p in hyperion["problems"]:
        lines, status = problem_report(p["name"], p, peer_by_name[p["name"]])
        body += lines
        verdicts.append("%s %s" % (p["name"], status))

    facts = machine_facts()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    invoked = "/usr/bin/python3 bench/run_search_quality.py " + " ".join(shlex.quote(a) for a in (
        argv if argv is not None else sys.argv[1:]))
    header = [
        SECTION_TITLE, "",
        "How close each strategy gets to a known optimum in %d trials, over %d seeds (0 .. %d), all problems "
        "minimised. Hyperion's strategies run in-process, each driven as the orchestrator drives it, as an agent "
        "(`bench/search_quality.cc`: decide, evaluate the proposal, append a completed trial, one trial at a time; "
        "prunes mark completed trials pruned, their values still count; a stop ends the run and the best so far "
        "counts); Optuna %s runs the same problems with the same parameter "
        "definitions (`bench/optuna_search_quality.py`: RandomSampler and TPESampler with default settings, "
        "one in-memory study per seed). Both sides print their spaces, optima and objective values at fixed "
        "probe points, and the run is refused when they differ. Seconds per run are wall time for all %d "
        "trials of one seed, strategy overhead included (the objectives cost microseconds); for information "
        "only." % (args.trials, args.seeds, args.seeds - 1, optuna.get("version", "?"), args.trials),
        "",
        "Hyperion strategies in this run: %s (every name `KnownStrategyTypes()` lists but grid, pbt, which "
        "needs a training budget, and llm, which needs an endpoint; unless `--strategies` says otherwise); `agent` "
        "is the built-in analyst ([agent-analyst.md](agent-analyst.md)). Target verdicts: %s." % (
            ", ".join(hyperion["strategies"]), "; ".join(verdicts)),
        ""]
    footer = [
        "### Machine and command", "",
        "- date: %s" % date,
        "- machine: %d CPUs (nproc), %s, %s memory" % (facts["nproc"], facts["cpu"], facts["memory"]),
        "- OS: %s; Python %s; Optuna %s" % (facts["os"], facts["python"], optuna.get("version", "?")),
        "- Hyperion: commit %s, build type %s" % (facts["commit"], build_type(args.binary)),
        "- wall time: %.1f s in all (Hyperion side %.1f s, Optuna side %.1f s), run one after the other" % (
            total_seconds, hyperion_seconds, optuna_seconds),
        "- command: `%s` (what `make bench` runs), which ran one after the other:" % invoked.strip(),
    ] + ["  - `%s`" % shown(c) for c in hyperion["commands"] + [optuna_cmd]] + [""]
    # Prose wrapped like the other docs (tables and list items stay on one line each).
    lines = [textwrap.fill(l, width=115, break_on_hyphens=False, break_long_words=False)
             if l and not l.startswith(("|", "-", " ", "#")) else l for l in header + body + footer]
    section = "\n".join(lines)
    print(section)
    if args.write_docs:
        write_docs(args.write_docs, section)
        print("run_search_quality: wrote the Search quality section of %s" % args.write_docs, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
