"""Reads a JUnit XML file with junitparser and prints what it found as JSON.

The pipeline tests use it to check `sentinel-kms validate --junit` with a reader that is not
the code that wrote the file: suites, their counts and properties, and every case with its
result (failure, error, skipped or passed), type, message, time and output.
"""

import json
import sys

from junitparser import Error, Failure, JUnitXml, Skipped

KINDS = ((Failure, "failure"), (Error, "error"), (Skipped, "skipped"))


def case_result(case):
    for result in case.result:
        for kind, name in KINDS:
            if isinstance(result, kind):
                return {"kind": name, "type": result.type, "message": result.message,
                        "text": result.text}
    return {"kind": "passed", "type": None, "message": None, "text": None}


def main(path):
    xml = JUnitXml.fromfile(path)
    suites = []
    for suite in xml:
        cases = []
        for case in suite:
            cases.append({"name": case.name, "classname": case.classname, "time": case.time,
                          "system_out": case.system_out, **case_result(case)})
        suites.append({
            "name": suite.name,
            "tests": suite.tests,
            "failures": suite.failures,
            "errors": suite.errors,
            "skipped": suite.skipped,
            "time": suite.time,
            "timestamp": suite.timestamp,
            "properties": {p.name: p.value for p in suite.properties()},
            "cases": cases,
        })
    json.dump(suites, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
