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
