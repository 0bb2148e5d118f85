"""How `segflow simulate` reports its scenarios: text for people, JSON for programs, JUnit XML for CI servers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from xml.etree import ElementTree

from google.protobuf import json_format
from segflow.v1 import ruleset_service_pb2 as pb

from segflow.server.runtime.trace import trace_lines


@dataclass
class ScenarioRun:
    """One scenario file's outcome: its result, or the error that kept it from running."""

    file: str
    name: str = ""
    result: pb.SimulateRulesetResponse | None = None
    error: str = ""

    @property
    def passed(self) -> bool:
        return self.result is not None and self.result.passed


def text(runs: list[ScenarioRun], coverage: pb.Coverage | None, explain: bool) -> str:
    """Each step PASS or FAIL (a failing step, every step with `explain`, followed by its trace), then the
    coverage when asked for, then the count of scenarios passed."""
    lines = []
    for run in runs:
        if run.result is None:
            continue
        lines.append(f"{run.file}: {run.name or 'scenario'}")
        for step in run.result.steps:
            lines.append(f"  {'FAIL' if step.failures else 'PASS'}  {step.name}")
            lines += [f"        {failure}" for failure in step.failures]
            if step.failures or explain:
                lines += [f"          {line}" for line in trace_lines(step.trace)]
        passed = sum(not step.failures for step in run.result.steps)
        lines.append(f"{run.file}: {'PASS' if run.passed else 'FAIL'} ({passed} of {len(run.result.steps)} "
                     f"steps passed)")
    if coverage is not None:
        lines.append("coverage (what no scenario exercised):")
        for label, names in _coverage_items(coverage):
            lines.append(f"  {label}: {', '.join(names) or 'none'}")
    lines.append(f"{sum(r.passed for r in runs)} of {len(runs)} scenario(s) passed")
    return "\n".join(lines) + "\n"


def as_json(runs: list[ScenarioRun], coverage: pb.Coverage) -> str:
    """{"passed", "scenarios": [{file, name, passed, error, steps: [{name, passed, failures}]}], "coverage"}."""
    scenarios = []
    for run in runs:
        steps = [{"name": s.name, "passed": not s.failures, "failures": list(s.failures)}
                 for s in (run.result.steps if run.result else [])]
        scenarios.append({"file": run.file, "name": run.name, "passed": run.passed, "error": run.error,
                          "steps": steps})
    report = {"passed": all(r.passed for r in runs), "scenarios": scenarios,
              "coverage": json_format.MessageToDict(coverage, preserving_proto_field_name=True,
                                                    always_print_fields_with_no_presence=True)}
    return json.dumps(report, indent=2) + "\n"


def junit(runs: list[ScenarioRun], coverage: pb.Coverage) -> str:
    """One <testsuite> per scenario file, one <testcase> per step; the coverage in each suite's properties."""
    suites = ElementTree.Element("testsuites", name="segflow simulate")
    for run in runs:
        steps = run.result.steps if run.result else []
        failed = sum(bool(s.failures) for s in steps)
        suite = ElementTree.SubElement(suites, "testsuite", name=run.name or run.file, file=run.file,
                                       tests=str(len(steps) or 1), failures=str(failed),
                                       errors="1" if run.error else "0")
        properties = ElementTree.SubElement(suite, "properties")
        for label, names in _coverage_items(coverage):
            ElementTree.SubElement(properties, "property", name=f"coverage.{label.replace(' ', '_')}",
                                   value=", ".join(names))
        if run.error:
            case = ElementTree.SubElement(suite, "testcase", name="load scenario", classname=run.file)
            ElementTree.SubElement(case, "error", message=run.error).text = run.error
        for step in steps:
            case = ElementTree.SubElement(suite, "testcase", name=step.name, classname=run.file)
            if step.failures:
                failure = ElementTree.SubElement(case, "failure", message=step.failures[0])
                failure.text = "\n".join([*step.failures, *trace_lines(step.trace)])
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _coverage_items(coverage: pb.Coverage) -> list[tuple[str, list[str]]]:
    return [("rules never matched", list(coverage.rules_not_matched)),
            ("segments never entered", list(coverage.segments_never_entered)),
            ("treatments never offered", list(coverage.treatments_never_offered))]
