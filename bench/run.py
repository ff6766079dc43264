#!/usr/bin/env python3
"""flowcheck benchmark: writes bench/RESULTS.md.

    . .venv/bin/activate && python bench/run.py           # full run (about 5 minutes)
    . .venv/bin/activate && python bench/run.py --quick   # a smaller run (about 1.5 minutes)

What it measures (figures are reported, never asserted):

1. Shipped specs: every protocol of specs/*.flow and examples/*.flow on every built-in arch,
   one `checker.check.check()` per engine (explicit, z3), with the default options (so the
   redundant-flush analysis runs when nothing else is found); the explicit engine's state
   count, the z3 bound, the ratio z3/explicit. Then the wall time of the whole command
   `check -q specs/set_bit_to_user.flow` (a subprocess, Python start-up included).
2. Synthetic family (bench/synthetic.py): N threads x R rounds x C colours, safe and buggy,
   each parameter grown alone from a base point, with `redundancy=False` so the search alone
   is timed. Each point runs in a forked child with a time cap; a series stops at the first
   point over the cap. The redundancy analysis is timed once, at the base point.
3. SPIN as a yardstick on one synthetic point, if `spin` and `gcc` are on the PATH.

One benchmark process at a time: each child runs while the parent only waits.
"""

from __future__ import annotations

import argparse
import glob
import math
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synthetic  # noqa: E402
from sections import fmt_s, fmt_x, keep_sections  # noqa: E402

from checker.check import CheckOptions, check  # noqa: E402
from checker.front.load import check_protocol_on_arch, load_files  # noqa: E402

BUILTIN_ARCHES = ("x86", "arm64", "parisc", "arm_v6", "arm_vivt", "generic")
ENGINES = ("explicit", "z3")


@dataclass(frozen=True)
class Config:
    quick: bool
    cap: float  # seconds per synthetic point
    budget: float  # seconds for the whole run; later synthetic points are skipped past it
    spec_files: tuple[str, ...]
    base: tuple[int, int, int]  # threads, rounds, colours
    threads: tuple[int, ...]
    rounds: tuple[int, ...]
    colours: tuple[int, ...]
    spin_point: tuple[int, int, int]
    repeats: int  # runs of the fast measurements (median)


def config(quick: bool) -> Config:
    specs = sorted(glob.glob("specs/*.flow", root_dir=ROOT)) + sorted(
        glob.glob("examples/*.flow", root_dir=ROOT))
    if quick:
        return Config(True, 5.0, 150.0, ("examples/first_protocol.flow",), (2, 2, 4),
                      (2, 3, 4), (1, 2, 3), (1, 2, 4), (3, 2, 4), 3)
    return Config(False, 20.0, 560.0, tuple(specs), (2, 2, 4), (2, 3, 4, 5, 6),
                  (1, 2, 3, 4, 6, 8), (1, 2, 3, 4, 6, 8), (5, 2, 4), 3)


# -- formatting ------------------------------------------------------------------------------

def verdict(kinds) -> str:
    return ", ".join(sorted(kinds)) if kinds else "safe"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


# -- machine and fixed costs -----------------------------------------------------------------

def machine() -> list[tuple[str, str]]:
    import z3

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = _run_text(["git", "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "checker", "specs"],
                           cwd=ROOT, capture_output=True).returncode
    if commit and dirty == 1:
        commit += " (checker/ or specs/ differ from it in the working tree)"
    return [
        ("cores (nproc)", str(os.cpu_count())),
        ("CPU", cpu),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("z3-solver", z3.get_version_string()),
        ("SPIN", _run_text(["spin", "-V"]) or "not installed"),
        ("commit", commit or "unknown"),
    ]


def _run_text(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def wall(cmd: list[str], repeats: int) -> tuple[float, list[float], int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    times = []
    rc = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True).returncode
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, rc


# -- shipped specs ---------------------------------------------------------------------------

@dataclass
class ShippedRow:
    protocol: str
    arch: str
    expected: str
    times: dict[str, float] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)
    engines: dict[str, str] = field(default_factory=dict)


def shipped(cfg: Config) -> list[ShippedRow]:
    loaded = load_files(list(cfg.spec_files))
    lib = loaded.library
    rows = []
    for protocol in lib.protocols:  # file order, then order in the file
        for arch_name in BUILTIN_ARCHES:
            arch = lib.arches[arch_name]
            check_protocol_on_arch(protocol, arch, lib)
            row = ShippedRow(protocol.name, arch_name, verdict(protocol.expected_on(arch_name)))
            for engine in ENGINES:
                runs = cfg.repeats if engine == "explicit" else 1
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    result = check(protocol, arch, CheckOptions(engine=engine))
                    times.append(time.perf_counter() - t0)
                row.times[engine] = statistics.median(times)
                row.states[engine] = result.states
                row.verdicts[engine] = (verdict(result.kinds) if result.complete
                                        else f"inconclusive ({result.reason})")
                row.engines[engine] = result.engine
            rows.append(row)
            print(f"  {row.protocol} {row.arch}: explicit {fmt_s(row.times['explicit'])}, "
                  f"z3 {fmt_s(row.times['z3'])}", file=sys.stderr, flush=True)
    return rows


# -- synthetic points, each in a forked child with a cap -------------------------------------

def _point_child(conn, text: str, arch_name: str, engine: str, redundancy: bool,
                 repeats: int) -> None:
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "point.flow")
            Path(path).write_text(text)
            t0 = time.perf_counter()
            loaded = load_files([path])
            t_load = time.perf_counter() - t0
            protocol = loaded.library.protocols[0]
            arch = loaded.library.arches[arch_name]
            check_protocol_on_arch(protocol, arch, loaded.library)
            times: list[float] = []
            while True:  # short checks are repeated (median) to damp the noise
                t0 = time.perf_counter()
                result = check(protocol, arch,
                               CheckOptions(engine=engine, redundancy=redundancy))
                times.append(time.perf_counter() - t0)
                if len(times) >= repeats or sum(times) > 1.0:
                    break
        conn.send({"ok": True, "time": statistics.median(times), "runs": len(times),
                   "load": t_load, "states": result.states,
                   "kinds": sorted(result.kinds), "complete": result.complete,
                   "reason": result.reason, "engine": result.engine,
                   "redundant": len(result.redundant)})
    except BaseException as error:  # report, never hang the parent
        conn.send({"ok": False, "error": repr(error)})
    finally:
        conn.close()


def run_point(text: str, arch_name: str, engine: str, cap: float,
              redundancy: bool = False, repeats: int = 3) -> dict:
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_point_child,
                        args=(send, text, arch_name, engine, redundancy, repeats))
    child.start()
    send.close()
    if recv.poll(cap):
        try:
            outcome = recv.recv()
        except EOFError:
            outcome = {"ok": False, "error": f"child exited with {child.exitcode}"}
        child.join()
        return outcome
    child.kill()  # our own child, by its handle
    child.join()
    return {"ok": False, "timeout": True}


@dataclass
class Cell:
    """One (point, variant, engine) measurement."""

    status: str  # "ok", "cut" (over the cap), "skipped" (after a cut), "budget", "error"
    time: float | None = None
    states: int | None = None  # explicit: states; z3: bound
    kinds: tuple[str, ...] = ()
    complete: bool = False
    note: str = ""

    def verdict(self) -> str:
        if self.status == "ok":
            return verdict(self.kinds) if self.complete else f"inconclusive ({self.note})"
        return {"cut": "over cap", "skipped": "skipped", "budget": "not run (budget)"}.get(
            self.status, f"error: {self.note}")


@dataclass
class Series:
    name: str  # "threads", "rounds", "colours"
    values: tuple[int, ...]
    cells: dict[tuple[int, str, str], Cell] = field(default_factory=dict)  # value, var, eng


SYMBOL = {"threads": "N", "rounds": "R", "colours": "C"}


def point_of(cfg: Config, series: str, value: int) -> tuple[int, int, int]:
    n, r, c = cfg.base
    return {"threads": (value, r, c), "rounds": (n, value, c), "colours": (n, r, value)}[series]


def synthetic_series(cfg: Config, deadline: float) -> list[Series]:
    out = []
    for name, values in (("threads", cfg.threads), ("rounds", cfg.rounds),
                         ("colours", cfg.colours)):
        s = Series(name, values)
        for variant in synthetic.VARIANTS:
            for engine in ENGINES:
                stopped = ""
                for value in values:
                    if stopped:
                        s.cells[(value, variant, engine)] = Cell(stopped)
                        continue
                    if time.monotonic() + cfg.cap > deadline:
                        s.cells[(value, variant, engine)] = Cell("budget")
                        continue
                    n, r, c = point_of(cfg, name, value)
                    text = synthetic.flow_text(n, r, c, variant)
                    res = run_point(text, f"synth_c{c}", engine, cfg.cap)
                    if res.get("timeout"):
                        cell = Cell("cut", note=f"> {cfg.cap:g} s")
                        stopped = "skipped"
                    elif not res["ok"]:
                        cell = Cell("error", note=res["error"])
                    else:
                        cell = Cell("ok", res["time"], res["states"], tuple(res["kinds"]),
                                    res["complete"], res["reason"])
                    s.cells[(value, variant, engine)] = cell
                    print(f"  {name}={value} {variant} {engine}: {cell.status} "
                          f"{fmt_s(cell.time)} {cell.verdict()}", file=sys.stderr, flush=True)
        out.append(s)
    return out


def redundancy_cost(cfg: Config) -> dict:
    n, r, c = cfg.base
    text = synthetic.flow_text(n, r, c, "safe")
    out = {}
    for engine in ENGINES:
        without = run_point(text, f"synth_c{c}", engine, cfg.cap * 3, redundancy=False)
        with_ = run_point(text, f"synth_c{c}", engine, cfg.cap * 3, redundancy=True)
        out[engine] = (without, with_)
    # The re-searches the analysis makes: one per candidate statement (the statements whose
    # maintenance runs in some execution), then one per pair of those found redundant alone.
    from checker.engines.reference import search
    from checker.machine.lower import lower

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "base.flow")
        Path(path).write_text(text)
        loaded = load_files([path])
        program = lower(loaded.library.protocols[0], loaded.library.arches[f"synth_c{c}"])
        out["candidates"] = len(search(program).maintained)
    return out


def z3_breakdown(cfg: Config) -> dict:
    """Where the z3 engine's time goes at the base point: building the unrolling (Python and
    z3 term construction) against the solver's checks, and how many queries it makes."""
    import checker.engines.smt.solve as solve
    from checker.engines.smt.shape import Shape
    from checker.engines.smt.unroll import unroll
    from checker.machine.lower import lower
    from checker.machine.state import Layout

    n, r, c = cfg.base
    out = {}
    original = solve._Queries.ask
    for variant in synthetic.VARIANTS:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "base.flow")
            Path(path).write_text(synthetic.flow_text(n, r, c, variant))
            loaded = load_files([path])
        program = lower(loaded.library.protocols[0], loaded.library.arches[f"synth_c{c}"])
        t0 = time.perf_counter()
        layout = Layout(program)
        unroll(program, layout, Shape(program, layout))
        encode = time.perf_counter() - t0
        asked = {"n": 0, "t": 0.0}

        def ask(self, goal, asked=asked):
            t = time.perf_counter()
            try:
                return original(self, goal)
            finally:
                asked["n"] += 1
                asked["t"] += time.perf_counter() - t

        solve._Queries.ask = ask
        try:
            t0 = time.perf_counter()
            solve.search_z3(program)
            total = time.perf_counter() - t0
        finally:
            solve._Queries.ask = original
        out[variant] = {"encode": encode, "total": total, "queries": asked["n"],
                        "solving": asked["t"]}
    return out


# -- SPIN ------------------------------------------------------------------------------------

def spin_point(cfg: Config) -> dict:
    if not synthetic.have_spin():
        return {"skipped": "spin or gcc is not on the PATH (apt-get install spin); "
                           "SPIN is not a project dependency"}
    n, r, c = cfg.spin_point
    out: dict = {"point": cfg.spin_point}
    for variant in synthetic.VARIANTS:
        out[variant] = synthetic.spin_check(n, r, c, variant, timeout=cfg.cap * 3)
    return out


# -- the report ------------------------------------------------------------------------------

def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def power_fit(xs: list[float], ys: list[float]) -> float | None:
    """Exponent k of y ~ x^k by least squares on logs (None for fewer than 3 points)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 3:
        return None
    mx = statistics.fmean(p[0] for p in pts)
    my = statistics.fmean(p[1] for p in pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def expected_synthetic(variant: str, colours: int) -> str:
    return "stale_read" if variant == "buggy" and colours >= 2 else "safe"


def report(cfg: Config, argv: list[str], info: dict) -> str:
    L: list[str] = []
    n0, r0, c0 = cfg.base
    L += ["# flowcheck benchmark results", "",
          "Generated by `bench/run.py`; do not edit by hand. Figures are measurements on one "
          "machine, not guarantees: nothing asserts them.", "",
          f"Command: `{' '.join(['python', 'bench/run.py', *argv])}` (from the repository root, "
          "with the virtual environment active)" + (" - a **quick** run: fewer specs, "
                                                    "shorter series, smaller cap." if cfg.quick
                                                    else "."),
          f"Run took {info['total']:.0f} s; load average (1 min) {info['load'][0]:.2f} at the "
          f"start, {info['load'][1]:.2f} at the end (other work on the machine slows every "
          "figure alike).", ""]
    head, L = L, []
    L += ["## Machine", ""] + table(["", ""], [[k, v] for k, v in info["machine"]]) + [""]

    # fixed costs
    fc = info["fixed"]
    L += ["## Fixed costs", "",
          f"Median of {cfg.repeats} runs of each command (a fresh process each time).", ""]
    L += table(["what", "wall time"], [
        ["`python -c pass` (interpreter start)", fmt_s(fc["python"])],
        ["`python -c 'import z3'`", fmt_s(fc["z3"])],
        ["`python -c 'import checker.cli'` (imports z3 too)", fmt_s(fc["cli_import"])],
        ["`check -q specs/set_bit_to_user.flow` (default engine: explicit), run as "
         "`python -m checker -q specs/set_bit_to_user.flow`",
         f"{fmt_s(fc['cli'])} (runs: {', '.join(fmt_s(t) for t in fc['cli_runs'])}; "
         f"exit status {fc['cli_rc']})"],
        ["parsing and resolving the built-in arch library (in process, `load_files([])`)",
         fmt_s(fc["builtins"])],
    ]) + [""]

    # shipped specs
    rows: list[ShippedRow] = info["shipped"]
    L += ["## Shipped specs", "",
          "One `checker.check.check(protocol, arch, CheckOptions(engine=E))` per cell, default "
          "options: the redundant-flush analysis runs whenever the search finds nothing, and "
          "re-searches once per candidate statement and pair. Explicit: median of "
          f"{cfg.repeats} runs, `states` = states visited. Z3: one run (z3 already imported), "
          "`bound` = the complete bound (thread steps). Files: "
          + ", ".join(f"`{f}`" for f in cfg.spec_files) + ".", ""]
    body = []
    ratios = []
    disagreements = []
    for row in rows:
        rr = ratio(row.times["z3"], row.times["explicit"])
        ratios.append(rr)
        agree = row.verdicts["explicit"] == row.verdicts["z3"]
        if not agree:
            disagreements.append(f"shipped: {row.protocol} on {row.arch}: explicit "
                                 f"{row.verdicts['explicit']}, z3 {row.verdicts['z3']}")
        eng = "" if row.engines["z3"] == "z3" else f" ({row.engines['z3']})"
        body.append([row.protocol, row.arch, row.verdicts["explicit"]
                     + ("" if agree else f" / z3: {row.verdicts['z3']}"),
                     "yes" if row.verdicts["explicit"] == row.expected else
                     f"no (expect {row.expected})",
                     fmt_s(row.times["explicit"]), f"{row.states['explicit']:,}",
                     fmt_s(row.times["z3"]) + eng, str(row.states["z3"]), fmt_x(rr)])
    L += table(["protocol", "arch", "verdict (both engines)", "as expected", "explicit",
                "states", "z3", "bound", "z3/explicit"], body) + [""]
    tot_e = sum(r.times["explicit"] for r in rows)
    tot_z = sum(r.times["z3"] for r in rows)
    good = [x for x in ratios if x]
    L += [f"Totals over {len(rows)} checks: explicit {fmt_s(tot_e)}, z3 {fmt_s(tot_z)} "
          f"(z3/explicit {fmt_x(ratio(tot_z, tot_e))}). Per check, z3/explicit: median "
          f"{fmt_x(statistics.median(good))}, geometric mean {fmt_x(geomean(good))}, range "
          f"{fmt_x(min(good))} - {fmt_x(max(good))}.", ""]

    # synthetic
    L += ["## Synthetic family", "",
          "Generated by `bench/synthetic.py` (`python bench/synthetic.py N R C safe|buggy` "
          "prints one point's .flow text): one page, one user mapping `colour any`, an arch "
          "with one VIPT write-back level of C colours and `speculative_fill yes`. The writer "
          "cleans the user alias once, then does R rounds of `kmap / write / "
          "flush_dcache_page / flush_cache_page / kunmap / signal` (L = 1 + 6R statements); "
          "N-1 readers do R rounds of `wait / read` through the user mapping. **safe** flushes "
          "the kernel alias, then the user alias; **buggy** swaps the two flushes, so a "
          "speculative fill between them leaves an old line for the reader (stale_read; with "
          "C = 1 there is no alias and it is safe too).", "",
          f"Base point N={n0}, R={r0}, C={c0}; each table grows one parameter. One "
          "`check(..., CheckOptions(engine=E, redundancy=False))` per cell, in a forked child "
          f"(parsing not included; a check under 1 s is repeated, up to 3 runs, and the median "
          f"kept). Cap {cfg.cap:g} s per cell: a cell over it is stopped and "
          "the rest of that (variant, engine) series is skipped. `states` = explicit states "
          "visited; `bound` = z3's complete bound; `xprev` = time over the previous row's "
          "(same variant and engine).", ""]
    unexpected = []
    growth = {}
    for s in info["series"]:
        label = {"threads": "threads N", "rounds": "rounds R", "colours": "colours C"}[s.name]
        fixed = {"threads": f"R={r0}, C={c0}", "rounds": f"N={n0}, C={c0}",
                 "colours": f"N={n0}, R={r0}"}[s.name]
        L += [f"### Growing {label} ({fixed})", ""]
        body = []
        for variant in synthetic.VARIANTS:
            prev: dict[str, float | None] = {"explicit": None, "z3": None}
            for value in s.values:
                n, r, c = point_of(cfg, s.name, value)
                ce = s.cells[(value, variant, "explicit")]
                cz = s.cells[(value, variant, "z3")]
                cells = {"explicit": ce, "z3": cz}
                growth_cols = []
                for eng in ENGINES:
                    t = cells[eng].time
                    growth_cols.append(fmt_x(ratio(t, prev[eng])))
                    prev[eng] = t
                want = expected_synthetic(variant, c)
                verdicts = []
                for eng in ENGINES:
                    cell = cells[eng]
                    if cell.status == "ok" and cell.complete and cell.verdict() != want:
                        unexpected.append(f"synthetic {variant} N={n} R={r} C={c}: {eng} says "
                                          f"{cell.verdict()}, the family says {want} "
                                          f"(`python bench/synthetic.py {n} {r} {c} {variant}`)")
                both = all(x.status == "ok" and x.complete for x in (ce, cz))
                if both and ce.kinds != cz.kinds:
                    disagreements.append(
                        f"synthetic {variant} N={n} R={r} C={c}: explicit {ce.verdict()}, z3 "
                        f"{cz.verdict()} (`python bench/synthetic.py {n} {r} {c} {variant}`)")
                if ce.status == "ok" and cz.status == "ok" and ce.verdict() == cz.verdict():
                    verdicts = [ce.verdict()]
                else:
                    verdicts = [f"explicit: {ce.verdict()}", f"z3: {cz.verdict()}"]
                body.append([str(value), str(synthetic.writer_statements(r)), variant,
                             " / ".join(verdicts),
                             fmt_s(ce.time) if ce.status == "ok" else ce.verdict(),
                             f"{ce.states:,}" if ce.states is not None else "-",
                             growth_cols[0],
                             fmt_s(cz.time) if cz.status == "ok" else cz.verdict(),
                             str(cz.states) if cz.states is not None else "-",
                             growth_cols[1], fmt_x(ratio(cz.time, ce.time))])
        L += table([SYMBOL[s.name], "L", "variant", "verdict", "explicit", "states",
                    "xprev", "z3", "bound", "xprev", "z3/explicit"], body) + [""]
        # growth summary per engine and variant
        for variant in synthetic.VARIANTS:
            for eng in ENGINES:
                pts = [(v, s.cells[(v, variant, eng)]) for v in s.values
                       if s.cells[(v, variant, eng)].status == "ok"]
                cut = [v for v in s.values if s.cells[(v, variant, eng)].status == "cut"]
                growth[(s.name, variant, eng)] = (pts, cut)
        L += growth_lines(s, growth, cfg) + [""]

    # redundancy
    red = info["redundancy"]
    L += ["## Cost of the redundant-flush analysis", "",
          f"Safe variant at the base point (N={n0}, R={r0}, C={c0}): the same check with "
          "`redundancy=False` and with `redundancy=True` (the default). The search finds the "
          f"maintenance of {red['candidates']} protocol statements running, so the analysis "
          f"re-searches at least {red['candidates']} times (once per statement, then once per "
          "pair of statements redundant alone).", ""]
    body = []
    for eng in ENGINES:
        a, b = red[eng]
        if a.get("ok") and b.get("ok"):
            body.append([eng, fmt_s(a["time"]), fmt_s(b["time"]),
                         fmt_x(ratio(b["time"], a["time"])), str(b["redundant"])])
        else:
            body.append([eng, "-", "-", "-", str(a.get("error") or b.get("error") or "cut")])
    L += table(["engine", "search only", "with the analysis", "ratio",
                "statements reported redundant"], body) + [""]
    if all(red[e][1].get("ok") and red[e][1]["redundant"] == 0 for e in ENGINES):
        L += ["Neither engine reports any of them redundant: dropping any one flush of the safe "
              "variant (the initial clean of the user alias, or either flush of a round) brings "
              "a finding, so the safe variant is safe only because of all of them.", ""]

    zb = info["z3_breakdown"]
    L += ["## Where the z3 engine's time goes", "",
          f"Base point (N={n0}, R={r0}, C={c0}), `search_z3` alone, in process. Each query "
          "is a fresh `SolverFor('QF_FD')` given every constraint of the unrolling: one for "
          "vacuity, one for any finding, then per kind found a binary search for the earliest "
          "step, and for a clean answer one per maintenance statement (the candidates of the "
          "redundancy analysis).", ""]
    L += table(["variant", "search_z3", "building the unrolling", "queries",
                "time in queries (solver + adding constraints)"],
               [[v, fmt_s(b["total"]), f"{fmt_s(b['encode'])} ({b['encode'] / b['total']:.0%})",
                 str(b["queries"]), f"{fmt_s(b['solving'])} ({b['solving'] / b['total']:.0%})"]
                for v, b in zb.items()]) + [""]

    # SPIN
    sp = info["spin"]
    L += ["## SPIN as a yardstick", ""]
    if "skipped" in sp:
        L += [f"Skipped: {sp['skipped']}.", ""]
    else:
        n, r, c = sp["point"]
        L += [f"One synthetic point, N={n}, R={r}, C={c}, translated by "
              "`synthetic.promela_text` (one atomic transition per protocol statement, the same "
              "cache, speculation and view rules; SPIN's default partial-order reduction on). "
              "Built with `spin -a` and `gcc -O2 -DSAFETY`, run as `./pan -m1000000`: a safety "
              "search that stops at the first assertion failure. SPIN's state count is not "
              "comparable one for one (its states include an environment process and the "
              "reduction removes some).", ""]
        ser = next(x for x in info["series"] if x.name == "threads")
        body = []
        for variant in synthetic.VARIANTS:
            v = sp.get(variant, {})
            ce = ser.cells.get((n, variant, "explicit")) if n in ser.values else None
            cz = ser.cells.get((n, variant, "z3")) if n in ser.values else None
            if "error" in v:
                body.append([variant, "-", "-", "-", v["error"], "-", "-", "-"])
                continue
            e_t = ce.time if ce and ce.status == "ok" else None
            z_t = cz.time if cz and cz.status == "ok" else None
            body.append([variant, v["verdict"], f"{v['states']:,}" if v["states"] else "-",
                         fmt_s(v["search"]), fmt_s(v["build"]),
                         (fmt_s(e_t) if e_t is not None else (ce.verdict() if ce else "-"))
                         + (f" ({ce.states:,} states)" if e_t is not None else ""),
                         fmt_s(z_t) if z_t is not None else (cz.verdict() if cz else "-"),
                         fmt_x(ratio(e_t, v["search"] or None))])
            if e_t is not None and ce.complete and verdict(ce.kinds) != v["verdict"]:
                disagreements.append(f"SPIN {variant} N={n} R={r} C={c}: SPIN {v['verdict']}, "
                                     f"explicit {verdict(ce.kinds)}")
        L += table(["variant", "SPIN verdict", "SPIN states", "SPIN search", "spin -a + gcc",
                    "explicit (ours)", "z3 (ours)", "explicit/SPIN search"], body) + [""]
        L += ["`< 10 ms`: below pan's clock resolution; the ratio is then not shown.", ""]

    # agreement
    L += ["## Engine agreement", ""]
    if disagreements:
        L += ["**The engines disagree** (a bug in one of them):", ""]
        L += [f"- {d}" for d in disagreements] + [""]
    else:
        L += ["Every check that both engines completed got the same verdict from both (and "
              "from SPIN where it ran).", ""]
    if unexpected:
        L += ["Verdicts the family does not predict:", ""] + [f"- {u}" for u in unexpected]
        L += [""]

    top = ["## Conclusions", ""] + conclusions(cfg, info, rows, ratios, growth) + [""]
    top += summary_table(cfg, info)
    return "\n".join(head + top + L)


def summary_table(cfg: Config, info: dict) -> list[str]:
    """A few synthetic points laid out like /work/shared/perf-notes.md's table."""
    cells: dict[tuple[int, int, int, str], dict[str, Cell]] = {}
    for s in info["series"]:
        for (value, variant, eng), cell in s.cells.items():
            key = (*point_of(cfg, s.name, value), variant)
            if cell.status != "ok" and eng in cells.get(key, {}):
                continue
            cells.setdefault(key, {})[eng] = cell
    picks: list[tuple[int, int, int, str]] = []
    sp = info["spin"]
    if "skipped" not in sp:
        picks += [(*sp["point"], v) for v in synthetic.VARIANTS]
    picks += [(*cfg.base, v) for v in synthetic.VARIANTS]
    for s in info["series"]:
        for variant in synthetic.VARIANTS:
            done = [v for v in s.values if s.cells[(v, variant, "explicit")].status == "ok"]
            if done:
                picks.append((*point_of(cfg, s.name, done[-1]), variant))
    body = []
    for key in dict.fromkeys(picks):
        n, r, c, variant = key
        ce, cz = cells[key].get("explicit"), cells[key].get("z3")
        e_t = ce.time if ce and ce.status == "ok" else None
        z_t = cz.time if cz and cz.status == "ok" else None
        spin_v = sp.get(variant) if "skipped" not in sp and tuple(sp["point"]) == (n, r, c) \
            else None
        s_t = spin_v.get("search") if spin_v and "error" not in spin_v else None
        what = "safe" if variant == "safe" else f"bug: {ce.verdict() if ce else '?'}"
        label = (f"{n} x {synthetic.writer_statements(r)} x {c}, {what}"
                 + (f", {ce.states:,} states" if e_t is not None else ""))
        body.append([label, fmt_s(e_t) if e_t is not None else (ce.verdict() if ce else "-"),
                     (f"{fmt_s(s_t)} (+{fmt_s(spin_v['build'])} build)" if s_t is not None
                      else "-"),
                     fmt_s(z_t) if z_t is not None else (cz.verdict() if cz else "-"),
                     fmt_x(ratio(z_t, e_t)), fmt_x(ratio(e_t, s_t))])
    return ["## Summary in the format of perf-notes.md", "",
            "Synthetic points as N threads x L writer statements x C colours (the writer has "
            "the most statements; readers have 2R). Python BFS = our explicit engine, Z3 BMC = "
            f"our z3 engine (both search only, cap {cfg.cap:g} s); SPIN where it ran. `skipped`: "
            "not run because a smaller point of the same series was over the cap.", ""] + \
        table(["point", "Python BFS (explicit)", "SPIN (search)", "Z3 BMC", "z3/explicit",
               "explicit/SPIN"], body) + [""]


def growth_lines(s: Series, growth: dict, cfg: Config) -> list[str]:
    out = []
    for variant in synthetic.VARIANTS:
        parts = []
        for eng in ENGINES:
            pts, cut = growth[(s.name, variant, eng)]
            parts.append(f"{eng} {describe_growth(s.name, pts, cut, cfg, eng)}")
        out.append(f"- {variant}: " + "; ".join(parts) + ".")
    return out


def describe_growth(name: str, pts: list, cut: list, cfg: Config, eng: str) -> str:
    sym = SYMBOL[name]
    if len(pts) < 2:
        txt = "too few points"
    else:
        xs = [v for v, _ in pts]
        ts = [c.time for _, c in pts]
        ss = [c.states for _, c in pts]
        if name == "threads":
            steps = [ts[i + 1] / ts[i] for i in range(len(ts) - 1)]
            txt = f"time x{geomean(steps):.1f} per added thread"
        else:
            k = power_fit(xs, ts)
            txt = (f"time ~ {sym}^{k:.1f}" if k is not None
                   else f"time x{ts[-1] / ts[0]:.1f} from {sym}={xs[0]} to {xs[-1]}")
        if eng == "explicit" and name == "threads":
            st = [ss[i + 1] / ss[i] for i in range(len(ss) - 1)]
            txt += f" (states x{geomean(st):.1f})"
        elif eng == "explicit":
            k = power_fit(xs, [float(x) for x in ss])
            txt += f" (states ~ {sym}^{k:.1f})" if k is not None else ""
        else:
            txt += f" (bound {ss[0]} to {ss[-1]})"
        txt += f", {fmt_s(ts[-1])} at {sym}={xs[-1]}"
    if cut:
        txt += f"; over the {cfg.cap:g} s cap at {sym}={cut[0]}"
    return txt


def short_growth(name: str, pts: list, cut: list, cfg: Config) -> str:
    sym = SYMBOL[name]
    if len(pts) < 2:
        txt = "too few points"
    else:
        xs = [v for v, _ in pts]
        ts = [c.time for _, c in pts]
        if name == "threads":
            txt = f"x{geomean([ts[i + 1] / ts[i] for i in range(len(ts) - 1)]):.1f} per thread"
        else:
            k = power_fit(xs, ts)
            txt = (f"~{sym}^{k:.1f}" if k is not None
                   else f"x{ts[-1] / ts[0]:.1f} from {sym}={xs[0]} to {sym}={xs[-1]}")
        txt += f" ({fmt_s(ts[-1])} at {sym}={xs[-1]})"
    if cut:
        txt += f", over the cap at {sym}={cut[0]}"
    return txt


def conclusions(cfg: Config, info: dict, rows: list[ShippedRow], ratios: list,
                growth: dict) -> list[str]:
    out = []
    good = [x for x in ratios if x]
    wins = sum(1 for x in good if x < 1)
    pipt = [r.times["z3"] for r in rows if r.arch in ("x86", "arm64", "generic")]
    alias = [r.times["z3"] for r in rows if r.arch not in ("x86", "arm64", "generic")]
    out.append(
        f"- Shipped specs: explicit answers every check in at most "
        f"{fmt_s(max(r.times['explicit'] for r in rows))} "
        f"({fmt_s(sum(r.times['explicit'] for r in rows))} for all {len(rows)}); z3 is slower "
        f"on {len(good) - wins} of {len(good)} (median {fmt_x(statistics.median(good))}, range "
        f"{fmt_x(min(good))} - {fmt_x(max(good))}), at most {fmt_s(max(pipt, default=0))} on "
        f"x86/arm64/generic but up to {fmt_s(max(alias, default=0))} on the aliasing arches, "
        "where the unrolling is larger and clean answers pay the redundancy re-searches. "
        "This is why `explicit` is the default engine.")
    syn = []
    best = None
    biggest = None
    for s in info["series"]:
        for (value, variant, eng), cell in sorted(s.cells.items()):
            if cell.status != "ok":
                continue
            if eng == "explicit" and (biggest is None or cell.states > biggest.states):
                biggest = cell
            ce = s.cells[(value, variant, "explicit")]
            if eng == "z3" and ce.status == "ok":
                rr = cell.time / ce.time
                syn.append(rr)
                if best is None or rr < best[0]:
                    best = (rr, s.name, value, variant)
    zb = info["z3_breakdown"]["safe"]
    if syn:
        line = (f"- Synthetic family: z3/explicit {fmt_x(min(syn))} - {fmt_x(max(syn))} (median "
                f"{fmt_x(statistics.median(syn))})")
        line += (f"; z3 is faster only at {SYMBOL[best[1]]}={best[2]} ({best[3]})"
                 if best and best[0] < 1 else "; z3 never wins, safe or buggy")
        ser = next(x for x in info["series"] if x.name == "threads")
        both = [(v, ser.cells[(v, "buggy", "z3")].time / ser.cells[(v, "buggy", "explicit")].time)
                for v in ser.values if ser.cells[(v, "buggy", "z3")].status == "ok"
                and ser.cells[(v, "buggy", "explicit")].status == "ok"]
        if len(both) >= 2 and both[-1][1] < both[0][1]:
            line += (f", but on the buggy variant the gap closes with threads ({fmt_x(both[0][1])}"
                     f" at N={both[0][0]}, {fmt_x(both[-1][1])} at N={both[-1][0]}): z3 grows "
                     "more slowly per thread, and the explicit engine explores the whole space "
                     "even when a bug is found early (it wants one shortest witness per kind)")
        line += (f". At the base point z3 spends {zb['encode'] / zb['total']:.0%} building the "
                 f"unrolling and {zb['solving'] / zb['total']:.0%} in {zb['queries']} "
                 "fresh-solver queries over the full bound")
        if biggest is not None and biggest.time:
            line += (f"; the explicit search runs at {biggest.states / biggest.time:,.0f} "
                     f"states/s at its largest point ({biggest.states:,} states; the prototype "
                     "of perf-notes.md did ~134,000/s)")
        out.append(line + ".")
    for eng in ENGINES:
        bits = []
        for name in ("threads", "rounds", "colours"):
            pts, cut = growth[(name, "safe", eng)]
            bits.append(f"{name} {short_growth(name, pts, cut, cfg)}")
        out.append(f"- Growth, {eng} (safe variant; buggy is alike): " + "; ".join(bits) + ".")
    red = info["redundancy"]
    bits = [f"{eng} x{red[eng][1]['time'] / red[eng][0]['time']:.1f}" for eng in ENGINES
            if red[eng][0].get("ok") and red[eng][1].get("ok")]
    line = ""
    if bits:
        line = ("- The redundant-flush analysis multiplies a clean check's time by about the "
                f"number of candidate statements + 1 ({', '.join(bits)} with "
                f"{red['candidates']} candidates at the base point).")
    sp = info["spin"]
    if "skipped" not in sp and sp.get("safe", {}).get("search") is not None:
        n, r, c = sp["point"]
        ser = next(x for x in info["series"] if x.name == "threads")
        ce = ser.cells.get((n, "safe", "explicit"))
        v = sp["safe"]
        if ce and ce.status == "ok":
            line += (f" SPIN at {n} x {synthetic.writer_statements(r)} x {c} (safe) searches "
                     f"in {fmt_s(v['search'])} ({v['states']:,} states) + {fmt_s(v['build'])} "
                     f"to build, against explicit {fmt_s(ce.time)} ({ce.states:,} states)"
                     + (f": {fmt_x(ce.time / v['search'])} for us" if v["search"] else "")
                     + ".")
    elif "skipped" in sp:
        line += " SPIN was not run (not installed)."
    if line:
        out.append(line.strip() if line.startswith("-") else "-" + line)
    return out


# -- main ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (about 1.5 minutes)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"),
                        help="where to write the report (default: bench/RESULTS.md)")
    args = parser.parse_args(argv)
    raw_argv = sys.argv[1:] if argv is None else list(argv)
    cfg = config(args.quick)
    os.chdir(ROOT)
    start = time.monotonic()
    deadline = start + cfg.budget
    load0 = os.getloadavg()[0]
    info: dict = {"machine": machine()}

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - start:6.1f} s] {msg}", file=sys.stderr, flush=True)

    log("fixed costs")
    py = sys.executable
    fixed = {}
    fixed["python"] = wall([py, "-c", "pass"], cfg.repeats)[0]
    fixed["z3"] = wall([py, "-c", "import z3"], cfg.repeats)[0]
    fixed["cli_import"] = wall([py, "-c", "import checker.cli"], cfg.repeats)[0]
    med, runs, rc = wall([py, "-m", "checker", "-q", "specs/set_bit_to_user.flow"], 3)
    fixed.update(cli=med, cli_runs=runs, cli_rc=rc)
    t0 = time.perf_counter()
    load_files([])
    fixed["builtins"] = time.perf_counter() - t0
    info["fixed"] = fixed
    import checker.engines.smt.solve  # noqa: F401  (z3 loaded before any timing)

    log("shipped specs")
    info["shipped"] = shipped(cfg)
    log("synthetic series")
    info["series"] = synthetic_series(cfg, deadline)
    log("redundancy analysis")
    info["redundancy"] = redundancy_cost(cfg)
    log("z3 breakdown")
    info["z3_breakdown"] = z3_breakdown(cfg)
    log("SPIN")
    info["spin"] = spin_point(cfg)
    info["total"] = time.monotonic() - start
    info["load"] = (load0, os.getloadavg()[0])
    text = report(cfg, raw_argv, info)
    old = Path(args.out).read_text(encoding="utf-8") if Path(args.out).exists() else ""
    Path(args.out).write_text(keep_sections(old, text))  # the differential and fuzz figures
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
