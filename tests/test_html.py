"""The HTML report, looked at as a person would: rendered in headless Chromium (Debian's
`chromium`, driven by Playwright), for a stale read, a lost write and a redundant flush. Each
page must load without script errors, draw a lane per thread and the hardware, a band per
cache line the execution touches and per line of memory, mark the finding's row, and step
with the keyboard. Screenshots stay in each test's temporary directory.

What the page should show is taken from the JSON report of the same run (its steps, threads
and cache effects), never written down here. Without a browser the browser tests skip, except
under CI (CI=true), where .ci/run installs one and a skip would hide a broken page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import REPO, run_cli

SPEC = str(REPO / "specs" / "set_bit_to_user.flow")


def _report(tmp_path: Path, *args: str, status: int = 0) -> tuple[dict, Path]:
    """Run `check` with --format json and --html: the JSON document and the page's path."""
    page = tmp_path / "report.html"
    code, out, err = run_cli([*args, "--format", "json", "--html", str(page)])
    assert code == status, err
    return json.loads(out), page


def _open(browser, path: Path, shot: Path):
    """Load the page; fail on any script error; save a screenshot."""
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert page.get_attribute("html", "data-ready") == "1", "the script did not run to its end"
    assert page.get_attribute("html", "data-script-errors") is None
    assert errors == []
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    return page


def _check_data(document: dict, protocol: str, arch: str) -> tuple[int, dict]:
    for number, check in enumerate(document["checks"], 1):
        if check["protocol"] == protocol and check["arch"] == arch:
            return number, check
    raise AssertionError(f"no check of {protocol} on {arch}")


def _expected_bands(trace: dict) -> set[str]:
    """The cache lines a trace's steps change (each must be a band; the start's lines are
    bands too, but the JSON gives those in words only)."""
    return {effect["line"] for step in trace["steps"] for effect in step["effects"]
            if effect["effect"] == "cache"}


def _assert_trace_drawn(page, number: int, kind: str, trace: dict, threads: set[str]) -> None:
    root = page.locator(f"#check-{number}-{kind}")
    assert root.count() == 1
    svg = root.locator("svg.swimlane")
    lanes = set(svg.locator("g.lane").evaluate_all(
        "els => els.map(e => e.getAttribute('data-lane'))"))
    assert lanes == threads | {"hardware"}
    bands = svg.locator("g.band").evaluate_all(
        "els => els.map(e => e.getAttribute('data-band'))")
    assert _expected_bands(trace) <= set(bands)
    assert any(b.startswith("memory ") for b in bands)
    # Every step is a box in its actor's lane, in order.
    boxes = svg.locator("g.step").evaluate_all(
        "els => els.map(e => [e.getAttribute('data-row'), e.getAttribute('data-lane')])")
    wanted = [[str(s["step"]), s["thread"] or "hardware"] for s in trace["steps"]]
    assert boxes[: len(wanted)] == wanted
    # The finding's row is marked, and it is the last.
    rows = int(svg.get_attribute("data-rows"))
    marked = svg.locator("rect.finding-row").evaluate_all(
        "els => els.map(e => e.getAttribute('data-row'))")
    assert marked == [str(rows - 1)]
    # The write the finding is about is held somewhere, and its path is drawn.
    assert svg.locator("g.cell.wanted").count() > 0
    assert svg.locator("path.wanted-path").count() == 1


def test_stale_read_and_lost_write_are_drawn(browser, tmp_path: Path) -> None:
    document, path = _report(tmp_path, SPEC, "--arch", "sh4")
    page = _open(browser, path, tmp_path / "stale_and_lost.png")
    number, check = _check_data(document, "set_bit_to_user", "sh4")
    assert {"stale_read", "lost_write"} <= set(check["traces"])
    threads = {s["thread"] for t in check["traces"].values() for s in t["steps"] if s["thread"]}
    stale = check["traces"]["stale_read"]
    _assert_trace_drawn(page, number, "stale_read", stale, threads)
    svg = page.locator(f"#check-{number}-stale_read svg.swimlane")
    assert int(svg.get_attribute("data-rows")) == len(stale["steps"]) + 1  # the start row
    # The line the stale read hit is marked in the finding's row.
    hit = svg.locator("g.cell.stale")
    assert hit.count() == 1
    assert hit.get_attribute("data-row") == str(len(stale["steps"]))
    lost = check["traces"]["lost_write"]
    _assert_trace_drawn(page, number, "lost_write", lost, threads)
    svg = page.locator(f"#check-{number}-lost_write svg.swimlane")
    # A lost write ends in a row of its own: the caches written out.
    assert int(svg.get_attribute("data-rows")) == len(lost["steps"]) + 2
    assert svg.locator("g.step.drain").count() == 1


def test_keyboard_and_clicks_step_through_a_trace(browser, tmp_path: Path) -> None:
    document, path = _report(tmp_path, SPEC, "--arch", "arm_v6")
    page = _open(browser, path, tmp_path / "stepping.png")
    number, check = _check_data(document, "set_bit_to_user", "arm_v6")
    trace = page.locator(f"#check-{number}-stale_read")
    # Before a trace is clicked, the arrows are the browser's (they scroll the page): the
    # page's handler leaves them alone.
    page.evaluate("document.addEventListener('keydown', e => { window.taken = "
                  "e.defaultPrevented; })")
    page.keyboard.press("ArrowDown")
    assert trace.get_attribute("data-current") == "-1"
    assert page.evaluate("window.taken") is False
    trace.locator("g.step[data-row='3']").click()
    assert trace.get_attribute("data-current") == "3"
    page.keyboard.press("j")
    page.keyboard.press("ArrowDown")
    assert trace.get_attribute("data-current") == "5"
    assert trace.locator("ol.steps li.current").get_attribute("data-row") == "5"
    assert trace.locator("rect.row.current").get_attribute("data-row") == "5"
    page.keyboard.press("k")
    assert trace.get_attribute("data-current") == "4"
    page.screenshot(path=str(tmp_path / "stepped.png"))


def test_redundant_flush_is_a_table_and_the_grid_links_to_checks(browser,
                                                                 tmp_path: Path) -> None:
    first = str(REPO / "examples" / "first_protocol.flow")
    document, path = _report(tmp_path, SPEC, first, "--arch", "parisc,arm_v6,x86")
    page = _open(browser, path, tmp_path / "redundant.png")
    # Two files: each heads its protocols in the grid, as in the text grid.
    assert page.locator("table.grid tr.file").all_inner_texts() == [SPEC, first]
    number, check = _check_data(document, "set_bit_to_user_quiescent_flushed", "parisc")
    assert check["redundant"], "the spec expects a redundant flush on parisc"
    rows = page.locator(f"#check-{number} table.redundant tbody tr")
    assert rows.count() == len(check["redundant"])
    cited = rows.locator("td:first-child").all_inner_texts()
    assert [r["at"].rsplit(":", 2)[0].rsplit("/", 1)[-1] + ":" + r["at"].split(":")[-2]
            for r in check["redundant"]] == cited
    # A cell links to its check's section when there is more to show than the cell (a
    # trace, a redundant statement, a result not as expected); every link resolves.
    links = page.locator("table.grid td a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))")
    shown = [f"#check-{n}" for n, c in enumerate(document["checks"], 1)
             if c["traces"] or c["redundant"] or c["redundant_inside"] or c["status"] != "ok"]
    assert sorted(links) == sorted(shown) and len(shown) < len(document["checks"])
    for href in links:
        assert page.locator(href).count() == 1
    assert page.locator("section.check").count() == len(shown)


def test_explain_tables_render(browser, tmp_path: Path) -> None:
    page_path = tmp_path / "explain.html"
    code, out, err = run_cli([SPEC, "--arch", "parisc,arm_v6", "--explain",
                              "--html", str(page_path)])
    assert code == 0, err
    page = _open(browser, page_path, tmp_path / "explain.png")
    table = page.locator("section.explain[data-protocol='set_bit_to_user_quiescent_flushed']"
                         " table.explain")
    # The same cells as the text table: the line of flush_dcache_page, on parisc and arm_v6.
    text_row = next(line for line in out.splitlines() if "flush_dcache_page(log)" in line)
    line = text_row.split()[0]
    cells = table.locator(f"tr:has(td:text-is('{line}')) td.cell").all_inner_texts()
    assert cells == text_row.split()[-2:]


def test_unusable_input_gives_a_page_of_errors_and_status_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.flow"
    bad.write_text("protocol p {\n  thread t { flush_dcache_page(nowhere) }\n}\n",
                   encoding="utf-8")
    page = tmp_path / "errors.html"
    code, out, err = run_cli([str(bad), "--format", "html"])
    assert code == 2
    assert out.startswith("<!DOCTYPE html>")
    assert f"{bad}:2:" in out and "error:" in out
    code, _, err = run_cli([str(bad), "--html", str(page)])
    assert code == 2 and f"{bad}:2:" in page.read_text(encoding="utf-8")


def test_the_page_needs_no_network(tmp_path: Path) -> None:
    """Self-contained: no external script, style sheet, image or font."""
    _, path = _report(tmp_path, SPEC, "--arch", "arm_v6")
    text = path.read_text(encoding="utf-8")
    for needle in ("http://", "https://", "src=", "@import", "url("):
        hits = [line for line in text.splitlines()
                if needle in line and "http://www.w3.org/2000/svg" not in line]
        assert hits == [], needle


def test_every_kind_of_finding_is_drawn(browser, tmp_path: Path) -> None:
    """The litmus file with one protocol per kind: deadlocks and uses after unmap too (no
    write to follow), each trace with its lanes and its finding's row."""
    litmus = str(REPO / "tests" / "litmus" / "findings.flow")
    document, path = _report(tmp_path, litmus, "--arch", "expected")
    page = _open(browser, path, tmp_path / "findings.png")
    drawn = 0
    for number, check in enumerate(document["checks"], 1):
        for kind, trace in check["traces"].items():
            svg = page.locator(f"#check-{number}-{kind} svg.swimlane")
            rows = int(svg.get_attribute("data-rows"))
            extra = 2 if kind == "lost_write" else 1  # the start row; the drain row
            assert rows == len(trace["steps"]) + extra
            assert svg.locator("rect.finding-row").get_attribute("data-row") == str(rows - 1)
            threads = {s["thread"] for s in trace["steps"] if s["thread"]}
            lanes = set(svg.locator("g.lane").evaluate_all(
                "els => els.map(e => e.getAttribute('data-lane'))"))
            assert threads | {"hardware"} <= lanes
            drawn += 1
    kinds = {k for check in document["checks"] for k in check["traces"]}
    assert {"deadlock", "use_after_unmap", "stale_read", "lost_write"} <= kinds
    assert drawn == sum(len(check["traces"]) for check in document["checks"])


def _cells(svg, row: int) -> dict[str, tuple[str, str]]:
    """band -> (state, values) of the cells of one row."""
    found = svg.locator(f"g.cell[data-row='{row}']").evaluate_all(
        "els => els.map(e => [e.dataset.band, e.dataset.state, e.dataset.values])")
    return {band: (state, values) for band, state, values in found}


def test_the_cells_say_what_the_trace_says(browser, tmp_path: Path) -> None:
    """Against the JSON of the same run: each cache effect's line after its step; the value
    a stale read returned in the cell marked as where it read from; after the drain of a
    lost write, memory keeping what the finding says and no line left dirty."""
    document, path = _report(tmp_path, SPEC, "--arch", "sh4,pa8800,arm_vivt")
    page = _open(browser, path, tmp_path / "cells.png")
    seen = set()
    for number, check in enumerate(document["checks"], 1):
        for kind, trace in check["traces"].items():
            svg = page.locator(f"#check-{number}-{kind} svg.swimlane")
            for step in trace["steps"]:
                cells = _cells(svg, step["step"])
                for effect in step["effects"]:
                    if effect["effect"] == "cache":
                        after = effect["after"]
                        values = ",".join(map(str, after.get("values", [])))
                        assert cells[effect["line"]] == (after["state"], values)
            last = len(trace["steps"])
            if kind == "stale_read" and trace["steps"][-1]["thread"]:
                read = next(e for e in trace["steps"][-1]["effects"] if e["effect"] == "read")
                page_name, index = read["word"].rstrip("]").split("[")
                hit = svg.locator("g.cell.stale")
                assert hit.get_attribute("data-row") == str(last)
                # A band of the read's page holds the value read at the word's place (a
                # page of one line here).
                assert page_name in hit.get_attribute("data-band")
                values = hit.get_attribute("data-values").split(",")
                assert values[int(index)] == str(read["value"])
                seen.add(kind)
            if kind == "lost_write":
                cells = _cells(svg, last + 1)
                assert all(state != "dirty" for state, _ in cells.values())
                keeps = re.search(r"memory keeps (\w+)\[(\d+)\] = #(\d+)", trace["finding"])
                name, index, value = keeps.groups()
                memory = cells[f"memory {name}"][1].split(",")
                assert memory[int(index)] == value
                seen.add(kind)
    assert seen == {"stale_read", "lost_write"}


def test_a_thread_named_hardware_keeps_its_own_lane(browser, tmp_path: Path) -> None:
    source = (REPO / "examples" / "tutorial" / "driver_write.flow").read_text()
    flow = tmp_path / "hw.flow"
    flow.write_text(source.replace("thread driver", "thread hardware"), encoding="utf-8")
    _, path = _report(tmp_path, str(flow), "--arch", "arm_v6", status=1)  # no expect lines
    page = _open(browser, path, tmp_path / "hw.png")
    svg = page.locator("svg.swimlane")
    actors = svg.locator("g.lane").evaluate_all(
        "els => els.map(e => [e.dataset.lane, e.dataset.actor])")
    assert actors == [["hardware", "0"], ["app", "1"], ["hardware", "-1"]]
    # The kmap is the thread's step, in the thread's lane, not a hardware event.
    kmap = svg.locator("g.step", has_text="kmap_local_page").first
    assert kmap.get_attribute("data-actor") == "0"
    assert "hardware" not in (kmap.get_attribute("class") or "").split()


UNFLUSHED = """protocol unflushed_{i} {{
    page pg file
    mapping app = user(pg) colour 1
    thread kernel {{
        k = kmap(pg)
        write k[0]
        kunmap(k)
        signal written
    }}
    thread process {{
        wait written
        read app[0]
    }}
    expect stale_read, lost_write on arm_v6
}}
"""


def _many(tmp_path: Path, count: int) -> str:
    """A file of `count` protocols, each with a stale read and a lost write on arm_v6."""
    flow = tmp_path / f"many{count}.flow"
    flow.write_text("\n".join(UNFLUSHED.format(i=i) for i in range(count)), encoding="utf-8")
    return str(flow)


# A check with a section but nothing to fold: safe, where its expect line says otherwise.
NOTHING_TO_FOLD = """protocol only_reads {
    page pg file
    mapping app = user(pg) colour 1
    thread process {
        read app[0]
    }
    expect stale_read on arm_v6
}
"""


def test_a_page_of_many_checks_folds_them(tmp_path: Path) -> None:
    """Up to FOLD_ABOVE sections, every trace is drawn open; one more and each section keeps
    its heading and verdict with its traces folded. A section with nothing but its heading
    and verdict (a check not as expected, with no trace) has nothing to fold."""
    from checker.report.html import FOLD_ABOVE

    for count, folded in [(FOLD_ABOVE - 1, 0), (FOLD_ABOVE, FOLD_ABOVE)]:
        flow = Path(_many(tmp_path, count))
        flow.write_text(flow.read_text(encoding="utf-8") + NOTHING_TO_FOLD, encoding="utf-8")
        document, path = _report(tmp_path, str(flow), "--arch", "arm_v6", status=1)
        assert sum(1 for c in document["checks"] if c["traces"]) == count
        assert [c["protocol"] for c in document["checks"] if c["status"] != "ok"] == [
            "only_reads"]
        text = path.read_text(encoding="utf-8")
        assert text.count('<details class="check-body">') == folded
        assert text.count("<h2>unflushed_") == count  # the headings are never folded
        assert text.count("<h2>only_reads on arm_v6") == 1
        assert text.count("<svg") == 2 * count  # the traces are all there, folded or not
        # The unexpected check's section closes with no <details> in it.
        section = text.split('data-protocol="only_reads"')[1].split("</section>")[0]
        assert "<details" not in section


def test_a_grid_link_unfolds_its_check(browser, tmp_path: Path) -> None:
    from checker.report.html import FOLD_ABOVE

    document, path = _report(tmp_path, _many(tmp_path, FOLD_ABOVE + 1), "--arch", "arm_v6")
    page = _open(browser, path, tmp_path / "folded.png")
    assert page.locator("details.check-body").count() == FOLD_ABOVE + 1
    assert page.locator("details.check-body[open]").count() == 0
    last = len(document["checks"])
    lane = page.locator(f"#check-{last}-stale_read svg.swimlane")
    assert not lane.is_visible()
    page.locator(f'table.grid td a[href="#check-{last}"]').click()
    assert page.locator("details.check-body[open]").count() == 1
    assert page.locator(f"#check-{last} details.check-body[open]").count() == 1
    assert lane.is_visible()
    # Folded again by its summary, the same grid link unfolds it again (the address does
    # not change: no hashchange).
    page.locator(f"#check-{last} details.check-body > summary").click()
    assert not lane.is_visible()
    page.locator(f'table.grid td a[href="#check-{last}"]').click()
    assert lane.is_visible()
    # An address naming a check unfolds it on load (a link pasted into a mail), and so
    # does one naming a trace in it (the browser itself opens a <details> holding the
    # fragment's target, so that case alone would not show the script works).
    other = browser.new_page(viewport={"width": 1600, "height": 1200})
    for address, trace in [("check-3", "check-3-stale_read"),
                           ("check-1-lost_write", "check-1-lost_write")]:
        other.goto(path.as_uri() + "#" + address)
        other.wait_for_load_state("load")
        assert other.get_attribute("html", "data-script-errors") is None
        assert other.locator(f"#{trace} svg.swimlane").is_visible()
    # A malformed address is no script error.
    other.goto(path.as_uri() + "#100%")
    other.wait_for_load_state("load")
    assert other.get_attribute("html", "data-ready") == "1"
    assert other.get_attribute("html", "data-script-errors") is None
    # Its summary unfolds a check too, without the script.
    other.locator("#check-2 details.check-body > summary").click()
    assert other.locator("#check-2-stale_read svg.swimlane").is_visible()
