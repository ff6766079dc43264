"""JUnit XML reports, for CI systems that show test results (GitLab, Jenkins, ...).

A testsuite per .flow file, a testcase per protocol x arch check: a failure when the result
differs from the `expect` lines (its text is the check's report, counterexamples included),
an error when a limit stopped the search. Unusable input is one testsuite `input` whose
testcase errs with every error message. No timings: the same input gives the same bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from checker.check import CheckResult
from checker.errors import FlowError
from checker.front.source import SourceText
from checker.report.text import render_result, summary_line


def render_junit(results: Sequence[CheckResult], sources: dict[str, SourceText]) -> str:
    suites = ET.Element("testsuites", name="flowcheck")
    by_file: dict[str, list[CheckResult]] = {}
    for result in results:
        by_file.setdefault(result.protocol.span.path, []).append(result)
    for path, group in by_file.items():
        suite = ET.SubElement(suites, "testsuite", name=path)
        for result in group:
            protocol = result.protocol
            case = ET.SubElement(
                suite, "testcase", name=f"{protocol.name} on {result.arch.name}",
                classname=protocol.name, file=path, line=str(protocol.span.line))
            line = " ".join(summary_line(result).split())
            report = "\n".join(render_result(result, sources))
            if result.status == "unexpected":
                ET.SubElement(case, "failure", message=line, type="unexpected").text = report
            elif result.status == "inconclusive":
                ET.SubElement(case, "error", message=line, type="inconclusive").text = report
        _count(suite)
    _count(suites)
    return _text(suites)


def render_junit_errors(error: FlowError, sources: dict[str, SourceText]) -> str:
    suites = ET.Element("testsuites", name="flowcheck")
    suite = ET.SubElement(suites, "testsuite", name="input")
    case = ET.SubElement(suite, "testcase", name="load", classname="input")
    messages = [e.message for e in error.errors]
    ET.SubElement(case, "error", message=messages[0] if messages else error.message,
                  type="input").text = error.render(sources)
    _count(suite)
    _count(suites)
    return _text(suites)


def _count(element: ET.Element) -> None:
    cases = list(element.iter("testcase"))
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    element.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))


def _text(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
