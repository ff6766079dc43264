#!/usr/bin/env python3
"""flowcheck scale benchmark (issue 8): the review-sized protocol on every arch, the synthetic
family against SPIN, each in a child process of its own, one at a time.

    . .venv/bin/activate
    python bench/scale.py --out /tmp/scale.json                  # everything
    python bench/scale.py --review --arches arm_v6,parisc        # part of it
    python bench/scale.py --repo /tmp/flowcheck-before --out bench/before.json
    python bench/scale.py --out /tmp/after.json --compare bench/before.json
    python bench/scale.py --print /tmp/after.json --compare bench/before.json   # no run

What it runs (figures are recorded, never asserted):

1. review (--review): `python -m checker -q --max-states N --timeout T bench/review.flow
   --arch A` for each built-in arch (`check --list-arches` of the checkout under test), in
   the checkout given by --repo (PYTHONPATH and working directory). Recorded per arch: wall
   time, CPU time and peak RSS of the process (os.wait4), exit status, the summary line.
   `--whole` also times the whole file in one command (every arch, as a user runs it).
2. synthetic (--synthetic): bench/synthetic.py's family, each parameter grown alone from a
   base point (threads N, writer rounds R, colours C), safe and buggy variants, explicit
   engine (and z3 with --z3). Each point is one child process that loads the point and calls
   `checker.check.check(..., CheckOptions(redundancy=False, timeout=cap))` (the search only,
   as bench/run.py times it) and prints the result as JSON: states, verdict, the search time
   (a search under 1 s is repeated, up to 3 runs, median), load time; the parent adds the
   process's wall and CPU time and peak RSS. A point over the cap (--cap, per point) is
   recorded with the states it reached, and the rest of that series is skipped. If the
   checkout under test has no checker.check.check any more, the point runs as `python -m
   checker --format json` instead (redundancy analysis included; states only if that JSON
   has them) and the record says `via: cli`.
3. spin (--spin): the same synthetic points in SPIN (synthetic.promela_text), build (`spin -a`
   + `gcc`) and search (`./pan`) timed apart, same cap, if spin and gcc are on the PATH.

With none of --review, --synthetic, --spin, all three run. The raw figures go to --out (JSON;
with --update the sections not run are kept from the existing file); a markdown summary is
printed on stdout, progress on stderr; --compare BEFORE.json adds before/after tables.
Wall times suffer from other work on the machine: each record keeps the 1-minute load average
at its start (`load1`) and its CPU time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import synthetic  # noqa: E402
from sections import fmt_s, fmt_x  # noqa: E402

# `check --list-arches` of the checkout under test decides; this is the fallback.
KNOWN_ARCHES = ("arc700", "arm64", "arm_v6", "arm_v7", "arm_vivt", "csky_abiv1", "generic",
                "loongarch", "m68k", "mips", "nios2", "pa8800", "parisc", "parisc_v6",
                "powerpc", "riscv", "sh4", "sparc64", "x86", "xtensa")
SERIES = ("threads", "rounds", "colours")
SYMBOL = {"threads": "N", "rounds": "R", "colours": "C"}

# The child of one synthetic point: argv = flow file, arch, engine, max states, timeout.
CHILD = r"""
import json, statistics, sys, time
t0 = time.perf_counter()
path, arch_name, engine = sys.argv[1:4]
max_states, timeout = int(sys.argv[4]), float(sys.argv[5])
try:
    from checker.check import CheckOptions, check
    from checker.front.load import check_protocol_on_arch, load_files
except ImportError as error:
    print(json.dumps({"ok": False, "import_error": repr(error)}))
    sys.exit(0)
t1 = time.perf_counter()
loaded = load_files([path])
protocol = loaded.library.protocols[0]
arch = loaded.library.arches[arch_name]
check_protocol_on_arch(protocol, arch, loaded.library)
t2 = time.perf_counter()
try:
    options = CheckOptions(engine=engine, redundancy=False, max_states=max_states,
                           timeout=timeout)
except TypeError:
    options = CheckOptions(engine=engine, redundancy=False)
times = []
while True:
    t = time.perf_counter()
    result = check(protocol, arch, options)
    times.append(time.perf_counter() - t)
    if len(times) >= 3 or sum(times) > 1.0 or not result.complete:
        break
print(json.dumps({"ok": True, "import": t1 - t0, "load": t2 - t1,
                  "search": statistics.median(times),
                  "runs": times, "states": result.states, "kinds": sorted(result.kinds),
                  "complete": result.complete, "reason": result.reason,
                  "engine": result.engine}))
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt_mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:,.0f}"


def fmt_n(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return out + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def int_range(text: str) -> list[int]:
    """'2-7' or '2,4,8' or '3'."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


# -- the checkout under test -----------------------------------------------------------------

class Checkout:
    def __init__(self, repo: Path, python: str):
        self.repo = repo
        self.python = python
        self.env = dict(os.environ, PYTHONPATH=str(repo))
        self.env.pop("PYTHONSTARTUP", None)

    def run(self, args: list[str], timeout: float | None) -> dict:
        load1 = os.getloadavg()[0]  # other work on the machine inflates the wall times
        run = synthetic.run_measured([self.python, *args], cwd=self.repo, env=self.env,
                                     timeout=timeout)
        return {**run, "load1": load1}

    def arches(self) -> list[str]:
        done = self.run(["-m", "checker", "--list-arches"], 120)
        names = [line.split()[0] for line in done["stdout"].splitlines()
                 if line.strip() and not line[0].isspace()]
        return names or list(KNOWN_ARCHES)

    def describe(self) -> dict:
        def git(*args: str) -> str:
            done = subprocess.run(["git", "-C", str(self.repo), *args], capture_output=True,
                                  text=True)
            return done.stdout.strip() if done.returncode == 0 else ""

        return {"repo": str(self.repo), "commit": git("rev-parse", "HEAD"),
                "commit_subject": git("log", "-1", "--format=%s"),
                "dirty": git("status", "--porcelain", "--", "checker", "specs") != "",
                "python": self.python}


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    spin = ""
    if synthetic.have_spin():
        done = subprocess.run(["spin", "-V"], capture_output=True, text=True)
        spin = done.stdout.strip()
    return {"cores": os.cpu_count(), "cpu": cpu, "os": f"{platform.system()} "
            f"{platform.release()}", "python": platform.python_version(), "spin": spin}


# -- 1. the review protocol ------------------------------------------------------------------

def summary_of(stdout: str) -> tuple[str, str]:
    """(summary line of the check, its verdict column) from `check -q` output of one check:
    its line under "Not as expected:" when it has one, else its grid cell (as expected),
    e.g. `safe ok`."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    if "Not as expected:" in lines:
        after = lines[lines.index("Not as expected:") + 1:]
        checks = [ln for ln in after if not re.match(r"\d+ checks?:", ln)]
        line = checks[0].strip() if checks else ""
        parts = line.split()
        return line, " ".join(parts[2:]) if len(parts) > 2 else line
    legend = next((i for i, ln in enumerate(lines) if ln.strip().startswith("S stale_read")), 0)
    row = lines[legend - 1].split() if legend else []
    if len(row) != 2:
        return (lines[-1].strip() if lines else ""), ""
    kinds = sorted(CELL_KINDS[c] for c in row[1] if c in CELL_KINDS)
    verdict = f"{', '.join(kinds) or 'safe'} ok"
    return f"{row[0]} {verdict}", verdict


# The grid's letters (checker/report/grid.py CODES), for a check that is as expected. A
# copy: scale.py runs older checkouts as subprocesses and imports nothing of the checker.
CELL_KINDS = {"S": "stale_read", "L": "lost_write", "U": "use_after_unmap", "D": "deadlock",
              "R": "redundant_flush"}


def review(co: Checkout, flow: Path, arches: list[str], max_states: int, timeout: float,
           whole: bool) -> dict:
    out: dict = {"file": str(flow), "max_states": max_states, "timeout": timeout,
                 "command": f"python -m checker -q --max-states {max_states} --timeout "
                            f"{timeout:g} {flow} --arch A",
                 "arches": []}
    cap = timeout * 2 + 120  # the check's own --timeout should stop it long before
    for arch in arches:
        log(f"review {arch}")
        run = co.run(["-m", "checker", "-q", "--max-states", str(max_states), "--timeout",
                      f"{timeout:g}", str(flow), "--arch", arch], cap)
        line, verdict = summary_of(run["stdout"])
        row = {"arch": arch, "rc": run["rc"], "wall": run["wall"], "cpu": run["cpu"],
               "peak_kb": run["peak_kb"], "summary": line, "verdict": verdict,
               "killed": run["timed_out"], "load1": run["load1"]}
        if run["rc"] == 3:  # inconclusive: which limit, guessed from the time (the line
            # may not say; a check stopped by --max-states just before --timeout reads wrong)
            row["limit_guess"] = "timeout" if run["wall"] >= timeout else "max-states"
        if run["rc"] not in (0, 1, 3) or run["stderr"].strip():
            row["stderr"] = run["stderr"][-2000:]
        out["arches"].append(row)
        log(f"  {arch}: rc {run['rc']}, {fmt_s(run['wall'])}, {fmt_mb(run['peak_kb'])} MB, "
            f"{verdict}")
    out["total_wall"] = sum(r["wall"] for r in out["arches"])
    if whole:
        log("review, the whole file in one command")
        run = co.run(["-m", "checker", "-q", "--max-states", str(max_states), "--timeout",
                      f"{timeout:g}", str(flow)], cap * len(arches))
        out["whole"] = {"command": f"python -m checker -q --max-states {max_states} "
                                   f"--timeout {timeout:g} {flow}",
                        "rc": run["rc"], "wall": run["wall"], "cpu": run["cpu"],
                        "peak_kb": run["peak_kb"], "killed": run["timed_out"],
                        "last_line": (run["stdout"].strip().splitlines() or [""])[-1]}
    return out


# -- 2. synthetic family ---------------------------------------------------------------------

def point_of(base: tuple[int, int, int], series: str, value: int) -> tuple[int, int, int]:
    n, r, c = base
    return {"threads": (value, r, c), "rounds": (n, value, c), "colours": (n, r, value)}[series]


class Synthetic:
    def __init__(self, co: Checkout, cap: float, max_states: int, tmp: str):
        self.co = co
        self.cap = cap
        self.max_states = max_states
        self.tmp = tmp
        self.via_cli = False
        self.done: dict[tuple, dict] = {}  # (n, r, c, variant, engine) -> record

    def point(self, n: int, r: int, c: int, variant: str, engine: str) -> dict:
        key = (n, r, c, variant, engine)
        if key in self.done:
            return self.done[key]
        path = Path(self.tmp, f"synth_{variant}_n{n}_r{r}_c{c}.flow")
        path.write_text(synthetic.flow_text(n, r, c, variant))
        rec: dict = {"n": n, "r": r, "c": c, "L": synthetic.writer_statements(r),
                     "variant": variant, "engine": engine}
        if engine == "spin":
            rec.update(self._spin(n, r, c, variant))
        else:
            rec.update(self._ours(path, f"synth_c{c}", engine))
        self.done[key] = rec
        return rec

    def _ours(self, path: Path, arch: str, engine: str) -> dict:
        if not self.via_cli:
            run = self.co.run(["-c", CHILD, str(path), arch, engine, str(self.max_states),
                               f"{self.cap:g}"], self.cap + 60)
            res = self._json(run)
            if res is not None and "import_error" in res:
                log(f"  no checker.check.check in the checkout ({res['import_error']}): "
                    "running the command line instead")
                self.via_cli = True
            else:
                return self._record(run, res, "api")
        run = self.co.run(["-m", "checker", "--format", "json", "--engine", engine,
                           "--max-states", str(self.max_states), "--timeout", f"{self.cap:g}",
                           str(path), "--arch", arch], self.cap + 60)
        doc = self._json(run)
        res = None
        if doc and doc.get("checks"):
            ck = doc["checks"][0]
            res = {"ok": True, "states": ck.get("states"), "complete": ck.get("complete"),
                   "kinds": sorted(ck.get("found") or []), "reason": ck.get("reason", ""),
                   "engine": ck.get("engine"), "search": None}
        return self._record(run, res, "cli")

    @staticmethod
    def _json(run: dict) -> dict | None:
        text = run["stdout"].strip()
        if not text:
            return None
        try:
            return json.loads(text if text.startswith("{") else text.splitlines()[-1])
        except json.JSONDecodeError:
            return None

    def _record(self, run: dict, res: dict | None, via: str) -> dict:
        rec = {"via": via, "wall": run["wall"], "cpu": run["cpu"], "peak_kb": run["peak_kb"],
               "rc": run["rc"], "load1": run["load1"]}
        if run["timed_out"]:
            rec["status"] = "killed"
        elif res is None or not res.get("ok"):
            rec.update(status="error", error=(run["stderr"] or run["stdout"])[-2000:])
        else:
            rec.update({k: v for k, v in res.items() if k != "ok"})
            rec["status"] = "ok" if res.get("complete") else "cut"
            runs = res.get("runs") or []
            # one process as a user would run it: the process minus the repeated searches
            rec["end_to_end"] = run["wall"] - (sum(runs) - runs[0]) if runs else run["wall"]
            if res.get("engine") == "z3":  # its `states` is the complete bound
                rec["bound"] = rec.pop("states", None)
            elif res.get("search") and res.get("states"):
                rec["states_per_s"] = res["states"] / res["search"]
        return rec

    def _spin(self, n: int, r: int, c: int, variant: str) -> dict:
        load1 = os.getloadavg()[0]
        res = synthetic.spin_check(n, r, c, variant, timeout=self.cap, workdir=self.tmp)
        if "error" in res:
            res["status"] = "cut" if res["error"].startswith("pan over") else "error"
        else:
            res["status"] = "ok"
            res["end_to_end"] = res["build"] + res["run"]
        return {**res, "load1": load1}


def synthetic_runs(syn: Synthetic, engines: list[str], base: tuple[int, int, int],
                   series: dict[str, list[int]]) -> dict:
    out: dict = {"base": list(base), "cap": syn.cap, "max_states": syn.max_states,
                 "engines": engines, "series": {}, "points": []}
    for name, values in series.items():
        cells = []
        for engine in engines:
            for variant in synthetic.VARIANTS:
                stopped = False
                for value in values:
                    n, r, c = point_of(base, name, value)
                    if stopped:
                        cells.append({"value": value, "variant": variant, "engine": engine,
                                      "status": "skipped"})
                        continue
                    log(f"synthetic {name}={value} ({n} x {synthetic.writer_statements(r)} x "
                        f"{c}) {variant} {engine}")
                    rec = syn.point(n, r, c, variant, engine)
                    log(f"  {rec['status']}: {fmt_s(rec.get('search'))} search, "
                        f"{fmt_n(rec.get('states'))} states, "
                        f"{fmt_s(rec.get('wall', rec.get('run')))} wall, "
                        f"{fmt_mb(rec.get('peak_kb'))} MB"
                        + (f", build {fmt_s(rec.get('build'))}" if engine == "spin" else ""))
                    cells.append({"value": value, "variant": variant, "engine": engine,
                                  "status": rec["status"]})
                    if rec["status"] != "ok":
                        stopped = True
        out["series"][name] = {"values": values, "cells": cells}
    out["points"] = list(syn.done.values())
    return out


# -- the printed summary ---------------------------------------------------------------------

def verdict_of(rec: dict) -> str:
    if rec["status"] == "ok":
        if rec["engine"] == "spin":
            return rec["verdict"]
        return ", ".join(rec.get("kinds") or []) or "safe"
    if rec["status"] == "cut":
        return "over cap" + (f" ({fmt_n(rec.get('states'))} states)" if rec.get("states")
                             else "")
    return rec["status"]


def markdown(doc: dict) -> str:
    L: list[str] = []
    co = doc["checkout"]
    L += [f"Checkout {co['repo']} at {co['commit'][:10]}"
          + (" (checker/ or specs/ modified)" if co["dirty"] else "")
          + f"; {doc['machine']['cores']} cores, {doc['machine']['cpu']}."]
    for run in doc.get("runs", []):
        L += [f"- `scale.py {' '.join(run['argv'])}`: started {run['started']}, took "
              f"{run['took']:.0f} s, load average {run['loadavg_start']:.2f} at the start, "
              f"{run['loadavg_end']:.2f} at the end."]
    L += [""]
    rv = doc.get("review")
    if rv:
        L += [f"### Review protocol (`{Path(rv['file']).name}`), `--max-states "
              f"{rv['max_states']:,} --timeout {rv['timeout']:g}`, one process per arch", ""]
        body = [[r["arch"], r["verdict"] + (f" ({r['limit_guess']}?)" if "limit_guess" in r
                                            else ""),
                 str(r["rc"]), fmt_s(r["wall"]), fmt_s(r["cpu"]), fmt_mb(r["peak_kb"])]
                for r in rv["arches"]]
        L += table(["arch", "summary", "exit", "wall", "CPU", "peak MB"], body)
        L += ["", f"Sum of the per-arch commands: {fmt_s(rv['total_wall'])}; max peak "
              f"{fmt_mb(max((r['peak_kb'] for r in rv['arches']), default=None))} MB."]
        if "whole" in rv:
            w = rv["whole"]
            L += [f"Whole file in one command: {fmt_s(w['wall'])}, peak {fmt_mb(w['peak_kb'])}"
                  f" MB, exit {w['rc']} ({w['last_line']})."]
        L += [""]
    syn = doc.get("synthetic")
    if syn:
        pts = {(p["n"], p["r"], p["c"], p["variant"], p["engine"]): p for p in syn["points"]}
        engines = [e for e in ("explicit", "z3") if e in syn["engines"]]
        spin = "spin" in syn["engines"]
        n0, r0, c0 = syn["base"]
        L += [f"### Synthetic family (base N={n0}, R={r0}, C={c0}; cap {syn['cap']:g} s per "
              "point; search only, no redundancy analysis)", ""]
        header = ["point", "variant"]
        for e in engines:
            header += [f"{e} verdict", f"{e} search", "bound" if e == "z3" else "states",
                       "states/s", "process", "MB"]
        if spin:
            header += ["SPIN verdict", "SPIN build", "SPIN search (pan)", "SPIN states",
                       "SPIN MB"]
            if "explicit" in engines:
                header += ["explicit / SPIN end to end"]
        seen = []
        for name, s in syn["series"].items():
            for value in s["values"]:
                n, r, c = point_of(tuple(syn["base"]), name, value)
                for variant in synthetic.VARIANTS:
                    if (n, r, c, variant) not in seen:
                        seen.append((n, r, c, variant))
        body = []
        for n, r, c, variant in seen:
            row = [f"{n} x {synthetic.writer_statements(r)} x {c}", variant]
            for e in engines:
                p = pts.get((n, r, c, variant, e))
                if p is None:
                    row += ["skipped", "-", "-", "-", "-", "-"]
                    continue
                row += [verdict_of(p), fmt_s(p.get("search")),
                        fmt_n(p.get("bound" if e == "z3" else "states")),
                        fmt_n(round(p["states_per_s"])) if p.get("states_per_s") else "-",
                        fmt_s(p.get("wall")), fmt_mb(p.get("peak_kb"))]
            if spin:
                p = pts.get((n, r, c, variant, "spin"))
                if p is None:
                    row += ["skipped", "-", "-", "-", "-"]
                else:
                    row += [p.get("verdict") or p["status"], fmt_s(p.get("build")),
                            f"{fmt_s(p.get('search'))} ({fmt_s(p.get('run'))} wall)"
                            if p.get("run") is not None else "-",
                            fmt_n(p.get("states")), fmt_mb(p.get("peak_kb"))]
                if "explicit" in engines:
                    row.append(fmt_x(e2e_ratio(pts.get((n, r, c, variant, "explicit")), p)))
            body.append(row)
        L += table(header, body) + [""]
        L += ["`process`: the child's wall time (start-up, parsing, and every repeat of a "
              "search under 1 s); SPIN search: pan's own elapsed time, then pan's wall time "
              "(hash-table allocation included). End to end: explicit = one process "
              "(start-up, parsing, one search), SPIN = spin -a + gcc + pan; below 1x explicit "
              "is faster.", ""]
    return "\n".join(L)


def e2e_ratio(ours: dict | None, spin: dict | None) -> float | None:
    """explicit end to end over SPIN end to end (build included), both complete."""
    if not ours or not spin or ours.get("status") != "ok" or spin.get("status") != "ok":
        return None
    if not ours.get("end_to_end") or not spin.get("end_to_end"):
        return None
    return ours["end_to_end"] / spin["end_to_end"]


def compare(before: dict, after: dict) -> str:
    """Before/after tables for the arches and synthetic points both documents have."""
    L: list[str] = []
    rb = {r["arch"]: r for r in (before.get("review") or {}).get("arches", [])}
    ra = {r["arch"]: r for r in (after.get("review") or {}).get("arches", [])}
    if rb and ra:
        L += ["### Review protocol, before -> after", ""]
        body = []
        for arch in [a for a in ra if a in rb]:
            b, a = rb[arch], ra[arch]
            body.append([arch, b["verdict"], a["verdict"], fmt_s(b["wall"]), fmt_s(a["wall"]),
                         fmt_x(b["wall"] / a["wall"]) if a["wall"] else "-",
                         fmt_s(b["cpu"]), fmt_s(a["cpu"]), fmt_mb(b["peak_kb"]),
                         fmt_mb(a["peak_kb"])])
        L += table(["arch", "verdict before", "verdict after", "wall before", "wall after",
                    "speed-up", "CPU before", "CPU after", "MB before", "MB after"], body)
        L += [""]
    sb = {(p["n"], p["r"], p["c"], p["variant"], p["engine"]): p
          for p in (before.get("synthetic") or {}).get("points", [])}
    sa = {(p["n"], p["r"], p["c"], p["variant"], p["engine"]): p
          for p in (after.get("synthetic") or {}).get("points", [])}
    keys = [k for k in sa if k in sb and k[4] != "spin"]
    if keys:
        L += ["### Synthetic points, before -> after (search only)", ""]
        body = []
        for k in keys:
            b, a = sb[k], sa[k]
            stb, sta = b.get("bound", b.get("states")), a.get("bound", a.get("states"))
            body.append([f"{k[0]} x {synthetic.writer_statements(k[1])} x {k[2]}", k[3], k[4],
                         verdict_of(b), verdict_of(a), fmt_s(b.get("search")),
                         fmt_s(a.get("search")),
                         fmt_x(b["search"] / a["search"]) if b.get("search")
                         and a.get("search") and a["status"] == "ok" else "-",
                         fmt_n(stb), fmt_n(sta), fmt_mb(b.get("peak_kb")),
                         fmt_mb(a.get("peak_kb"))])
        L += table(["point", "variant", "engine", "before", "after", "search before",
                    "search after", "speed-up", "states before", "states after",
                    "MB before", "MB after"], body) + [""]
    return "\n".join(L)


# -- main ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--repo", type=Path, default=ROOT,
                    help="the checkout to measure (default: this one)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter for the children (default: this one)")
    ap.add_argument("--review", action="store_true", help="run the review protocol")
    ap.add_argument("--synthetic", action="store_true", help="run the synthetic family")
    ap.add_argument("--spin", action="store_true", help="run SPIN on the synthetic points")
    ap.add_argument("--z3", action="store_true", help="also the z3 engine on the synthetic "
                    "points (with --synthetic or alone)")
    ap.add_argument("--flow", type=Path, default=HERE / "review.flow",
                    help="the review protocol (default: bench/review.flow next to this script)")
    ap.add_argument("--arches", help="comma-separated arches for --review (default: every "
                    "arch `check --list-arches` lists)")
    ap.add_argument("--max-states", type=int, default=2_000_000,
                    help="--max-states of the review checks (default 2,000,000)")
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="--timeout of each review check, seconds (default 300)")
    ap.add_argument("--whole", action="store_true",
                    help="also time the whole review file in one command")
    ap.add_argument("--cap", type=float, default=120.0,
                    help="seconds per synthetic or SPIN point; a series stops after the first "
                    "point over it (default 120)")
    ap.add_argument("--base", default="2,2,4",
                    help="synthetic base point N,R,C (default 2,2,4 as bench/run.py)")
    ap.add_argument("--threads", default="2-7", help="N values (default 2-7)")
    ap.add_argument("--rounds", default="1-8", help="R values (default 1-8; L = 1 + 6R)")
    ap.add_argument("--colours", default="2-8", help="C values (default 2-8)")
    ap.add_argument("--series", default=",".join(SERIES),
                    help="which series to grow (default threads,rounds,colours)")
    ap.add_argument("--synthetic-max-states", type=int, default=100_000_000,
                    help="state limit of a synthetic point (default 100,000,000: the cap "
                    "decides)")
    ap.add_argument("--out", type=Path, help="write the raw figures (JSON) here")
    ap.add_argument("--update", action="store_true",
                    help="keep the sections of an existing --out file that this run does not "
                    "redo")
    ap.add_argument("--print", dest="show", type=Path, metavar="FILE",
                    help="run nothing: print the summary of a JSON file written by --out")
    ap.add_argument("--compare", type=Path, metavar="BEFORE",
                    help="also print before/after tables against this JSON file (with --print "
                    "or after a run)")
    args = ap.parse_args(argv)
    if args.show:
        doc = json.loads(args.show.read_text())
        print(markdown(doc))
        if args.compare:
            print(compare(json.loads(args.compare.read_text()), doc))
        return 0
    if not (args.review or args.synthetic or args.spin or args.z3):
        args.review = args.synthetic = args.spin = True

    co = Checkout(args.repo.resolve(), args.python)
    start = time.monotonic()
    doc: dict = {}
    if args.update and args.out and args.out.exists():
        doc = json.loads(args.out.read_text())
    doc.update(checkout=co.describe(), machine=machine())
    run_info = {"argv": sys.argv[1:] if argv is None else list(argv),
                "started": datetime.datetime.now().isoformat(timespec="seconds"),
                "loadavg_start": os.getloadavg()[0]}
    if not args.update:
        doc["runs"] = []
    doc.setdefault("runs", []).append(run_info)

    if args.review:
        arches = args.arches.split(",") if args.arches else co.arches()
        doc["review"] = review(co, args.flow.resolve(), arches, args.max_states, args.timeout,
                               args.whole)
    engines = (["explicit"] if args.synthetic else []) + (["z3"] if args.z3 else [])
    if args.spin:
        if synthetic.have_spin():
            engines.append("spin")
        else:
            log("spin or gcc is not on the PATH: SPIN skipped")
            doc["spin_skipped"] = "spin or gcc is not on the PATH"
    if engines:
        base = tuple(int(x) for x in args.base.split(","))
        ranges = {"threads": args.threads, "rounds": args.rounds, "colours": args.colours}
        series = {name: int_range(ranges[name]) for name in args.series.split(",")}
        with tempfile.TemporaryDirectory(prefix="flowcheck-scale-") as tmp:
            syn = Synthetic(co, args.cap, args.synthetic_max_states, tmp)
            fresh = synthetic_runs(syn, engines, base, series)  # type: ignore[arg-type]
        old = doc.get("synthetic") if args.update else None
        if old and old.get("base") == fresh["base"]:  # merge engines run apart
            keep = [p for p in old["points"] if p["engine"] not in engines]
            fresh["points"] = keep + fresh["points"]
            fresh["engines"] = sorted({*old["engines"], *engines},
                                      key=["explicit", "z3", "spin"].index)
            for name, s in old["series"].items():
                cells = [c for c in s["cells"] if c["engine"] not in engines]
                if name in fresh["series"]:
                    now = fresh["series"][name]
                    now["cells"] = cells + now["cells"]
                    now["values"] = sorted({*s["values"], *now["values"]})
                else:
                    fresh["series"][name] = {"values": s["values"], "cells": cells}
        doc["synthetic"] = fresh
    run_info.update(took=time.monotonic() - start, loadavg_end=os.getloadavg()[0])
    if args.out:
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        log(f"wrote {args.out}")
    print(markdown(doc))
    if args.compare:
        print(compare(json.loads(args.compare.read_text()), doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
