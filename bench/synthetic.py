"""A parametrised protocol family for the benchmark: N threads x R rounds x C colours.

The arch is one VIPT write-back level with C colours and speculative fills; the protocol has
one page with one user mapping (`colour any`). Thread `w` (the writer) first cleans the user
alias once, then does R rounds of

    k = kmap(p); write k[0]; <two flushes>; kunmap(k); signal rI

and each of the N-1 readers does R rounds of `wait rI; read u[0]`.

- safe:  flush_dcache_page(p) (kernel alias to memory), THEN flush_cache_page(p) (drop the
  user alias). A line the user alias filled before the kernel flush is discarded; one filled
  after it holds the new value. The initial `flush_cache_page(p)` removes a dirty line the
  user alias may start with (without it, flushing it later would write the old value back
  over the new one: lost_write).
- buggy: the same statements with the two flushes swapped. A speculative fill of the user
  alias between them (from memory, which is still old) survives: stale_read. Needs C >= 2
  (with one colour there is no alias, and both variants are safe).

Both variants have the same size, so their state counts compare point for point.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

VARIANTS = ("safe", "buggy")


def arch_text(colours: int) -> str:
    return f"""\
arch synth_c{colours} {{
    doc "one VIPT write-back level, {colours} colours, speculative fills"
    cache L1 vipt colours {colours} write_back
    speculative_fill yes
    dma_coherent yes
    fn kmap(p: page) -> mapping {{ return map p colour linear }}
    fn kunmap(m: mapping) {{ unmap m }}
    fn flush_dcache_page(p: page) {{ flush kernel(p) }}
    fn flush_cache_page(p: page) {{ flush user(p) }}
}}
"""


def protocol_name(threads: int, rounds: int, colours: int, variant: str) -> str:
    return f"synth_{variant}_n{threads}_r{rounds}_c{colours}"


def writer_statements(rounds: int) -> int:
    """Protocol statements of the writer thread (the L of the tables)."""
    return 1 + 6 * rounds


def flow_text(threads: int, rounds: int, colours: int, variant: str) -> str:
    """The .flow text (arch and protocol) of one point of the family."""
    if variant not in VARIANTS:
        raise ValueError(f"variant is one of {VARIANTS}")
    if threads < 2 or rounds < 1 or colours < 1:
        raise ValueError("threads >= 2, rounds >= 1, colours >= 1")
    flushes = ["flush_dcache_page(p)", "flush_cache_page(p)"]
    if variant == "buggy":
        flushes.reverse()
    writer = ["flush_cache_page(p)"]
    for r in range(1, rounds + 1):
        writer += ["k = kmap(p)", "write k[0]", *flushes, "kunmap(k)", f"signal r{r}"]
    reader = []
    for r in range(1, rounds + 1):
        reader += [f"wait r{r}", "read u[0]"]
    name = protocol_name(threads, rounds, colours, variant)
    lines = [
        f"protocol {name} {{",
        f'    doc "synthetic: {threads} threads, {rounds} rounds, {colours} colours, {variant}"',
        "    page p file",
        "    mapping u = user(p) colour any",
        "    thread w {",
        *(f"        {s}" for s in writer),
        "    }",
    ]
    for i in range(1, threads):
        lines += [f"    thread r{i} {{", *(f"        {s}" for s in reader), "    }"]
    if variant == "buggy" and colours >= 2:
        lines.append(f"    expect stale_read on synth_c{colours}")
    lines.append("}")
    return arch_text(colours) + "\n" + "\n".join(lines) + "\n"


if __name__ == "__main__":  # print one point: python bench/synthetic.py N R C VARIANT
    import sys

    n, r, c, v = sys.argv[1:5]
    print(flow_text(int(n), int(r), int(c), v), end="")


def promela_text(threads: int, rounds: int, colours: int, variant: str) -> str:
    """The same point in Promela, for SPIN as a yardstick (not a project dependency).

    One transition per protocol statement, as in the reference interpreter: slot c holds
    the line at colour c (EMPTY / CLEAN / DIRTY and its value); the kernel alias is colour 0,
    the user mapping's colour `uc` is chosen at the start, with its line absent, clean or
    dirty. The environment evicts any line or fills the kernel or user alias from memory
    while some thread runs. A read below the reader's view fails an assertion (stale_read);
    at the end, some drain order leaving memory without the last write fails another
    (lost_write).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant is one of {VARIANTS}")
    c_all = range(colours)
    flush_kernel = "atomic { flush(0) }"
    flush_user = "atomic { flush(uc) }"
    flushes = [flush_kernel, flush_user] if variant == "safe" else [flush_user, flush_kernel]
    out = [
        f"/* {protocol_name(threads, rounds, colours, variant)}: see bench/synthetic.py */",
        f"#define C {colours}",
        f"#define N {threads}",
        "#define EMPTY 0",
        "#define CLEAN 1",
        "#define DIRTY 2",
        "#define MAX(a, b) ((a) > (b) -> (a) : (b))",
        "byte st[C]; byte val[C];",
        "byte mem = 0; byte last = 0; byte counter = 0; byte uc = 0; byte done = 0;",
        "bool klive = 0;",
        f"bool sset[{rounds + 1}]; byte sig[{rounds + 1}];",
        "inline flush(c) {",
        "    if :: st[c] == DIRTY -> mem = val[c] :: else -> skip fi;",
        "    st[c] = EMPTY",
        "}",
        "proctype writer() {",
        "    byte view = 0;",
        "    " + flush_user,
    ]
    for r in range(1, rounds + 1):
        finish = "; done++" if r == rounds else ""
        out += [
            "    atomic { klive = 1 }",
            "    atomic { assert(klive); counter++; last = counter; view = counter;"
            " st[0] = DIRTY; val[0] = counter }",
            *(f"    {f}" for f in flushes),
            "    atomic { assert(klive); klive = 0 }",
            f"    atomic {{ if :: sset[{r}] -> sig[{r}] = MAX(sig[{r}], view)"
            f" :: else -> sig[{r}] = view; sset[{r}] = 1 fi{finish} }}",
        ]
    out += ["}", "proctype reader() {", "    byte view = 0;"]
    for r in range(1, rounds + 1):
        finish = "; done++" if r == rounds else ""
        out += [
            f"    atomic {{ sset[{r}] -> view = MAX(view, sig[{r}]) }}",
            "    atomic { if :: st[uc] == EMPTY -> st[uc] = CLEAN; val[uc] = mem"
            " :: else -> skip fi; assert(val[uc] >= view); view = val[uc]"
            f"{finish} }}",
        ]
    out += ["}", "proctype env() {", "end_env:", "    do"]
    for c in c_all:
        out.append(f"    :: atomic {{ done < N && st[{c}] != EMPTY -> flush({c}) }}")
    out += [
        "    :: atomic { done < N && st[0] == EMPTY -> st[0] = CLEAN; val[0] = mem }",
        "    :: atomic { done < N && st[uc] == EMPTY -> st[uc] = CLEAN; val[uc] = mem }",
        "    :: done == N -> break",
        "    od;",
        "    assert(" + " && ".join(f"(st[{c}] != DIRTY || val[{c}] == last)" for c in c_all)
        + " && (" + " || ".join(f"st[{c}] == DIRTY" for c in c_all) + " || mem == last))",
        "}",
        "init {",
        "    atomic {",
        f"        select(uc : 0 .. {colours - 1});",
        "        if :: st[uc] = EMPTY :: st[uc] = CLEAN; val[uc] = 0"
        " :: st[uc] = DIRTY; val[uc] = 0 fi;",
        "        run writer();",
        *(["        run reader();"] * (threads - 1)),
        "        run env()",
        "    }",
        "}",
    ]
    return "\n".join(out) + "\n"


# -- running a measured child process (bench/scale.py, SPIN) --------------------------------

def run_measured(cmd: list[str], cwd: str | os.PathLike | None = None,
                 env: dict[str, str] | None = None, timeout: float | None = None) -> dict:
    """Run `cmd` to its end (or kill it, with the session it leads, after `timeout` seconds)
    and return what it cost: its own resource usage (os.wait4), not RUSAGE_CHILDREN's running
    maximum.

    Keys: rc (exit status; negative: killed by that signal), timed_out, wall (s), cpu (user +
    system s), peak_kb (its peak resident set), stdout, stderr (text)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, start_new_session=True)
        lock = threading.Lock()
        state = {"exited": False, "timed_out": False}

        def kill() -> None:
            with lock:
                if state["exited"]:
                    return
                state["timed_out"] = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # our own child's session

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
            with lock:
                state["exited"] = True
        finally:
            if timer:
                timer.cancel()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"rc": proc.returncode, "timed_out": state["timed_out"], "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime, "peak_kb": usage.ru_maxrss,
                "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace")}


def spin_check(threads: int, rounds: int, colours: int, variant: str,
               timeout: float | None = None, workdir: str | None = None) -> dict:
    """Build and run SPIN's verifier for one synthetic point (promela_text).

    `spin -a` and `gcc -O2 -w -DSAFETY` are the build, `./pan -m1000000` the search (a safety
    search that stops at the first assertion failure). Keys: build (s, spin -a + gcc),
    build_spin, build_gcc, run (pan's wall time), search (pan's own elapsed time), states
    (stored), verdict (safe / stale_read / lost_write / error), cpu, peak_kb (pan's peak
    resident set); or error (with build when the build finished). The caller checks that
    `spin` and `gcc` are on the PATH (see have_spin)."""
    spin, gcc = shutil.which("spin") or "spin", shutil.which("gcc") or "gcc"
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        Path(tmp, "model.pml").write_text(promela_text(threads, rounds, colours, variant))
        builds = []
        for cmd in ([spin, "-a", "model.pml"],
                    [gcc, "-O2", "-w", "-DSAFETY", "-o", "pan", "pan.c"]):
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            builds.append(time.perf_counter() - t0)
            if done.returncode != 0:
                return {"error": f"{' '.join(cmd[:2])}: {done.stderr[-300:]}"}
        out: dict = {"build": sum(builds), "build_spin": builds[0], "build_gcc": builds[1]}
        run = run_measured(["./pan", "-m1000000"], cwd=tmp, timeout=timeout)
        if run["timed_out"]:
            out.update(error=f"pan over {timeout:g} s", run=run["wall"], cpu=run["cpu"],
                       peak_kb=run["peak_kb"])
            return out
        text = run["stdout"]
        stored = re.search(r"([\d.e+]+) states, stored", text)
        elapsed = re.search(r"elapsed time ([\d.e+-]+) seconds", text)
        errors = re.search(r"errors: (\d+)", text)
        violated = re.search(r"assertion violated \((.*?)\)", text)
        kind = "safe"
        if errors and int(errors.group(1)) > 0:
            kind = "stale_read" if violated and "view" in violated.group(1) else (
                "lost_write" if violated else "error")
        out.update(run=run["wall"], search=float(elapsed.group(1)) if elapsed else None,
                   states=int(float(stored.group(1))) if stored else None, verdict=kind,
                   cpu=run["cpu"], peak_kb=run["peak_kb"])
        if not errors:
            out["error"] = f"pan exited with {run['rc']}: {(run['stderr'] or text)[-300:]}"
        return out


def have_spin() -> bool:
    return bool(shutil.which("spin") and shutil.which("gcc"))
