#!/usr/bin/env python3
"""Derives the JSON Schemas that `sentinel-kms build` validates its content pack against.

Usage: scripts/derive-content-schemas.py REFERENCE_DIR

REFERENCE_DIR holds Microsoft's published files in their upstream layout:
  securityinsights/resource-manager/Microsoft.SecurityInsights/stable/<version>/AlertRules.json
  (with ./common/AlertTypes.json and ../../../common/2.0/types.json beside it) and
  workbooks/workbook.schema.json (microsoft/Application-Insights-Workbooks, schema/workbook.json).

Writes schemas/content/alert-rule.schema.json and schemas/content/workbook.schema.json. The
derivation keeps the structure only (types, enums, required keys, formats, patterns,
references) and drops the prose (descriptions, titles, examples) and the AutoRest extensions
(`x-ms-*`). For the alert rule it gathers every definition `ScheduledAlertRule` reaches, across
the three OpenAPI files, into one draft 2020-12 document; a reference into Azure's generic
resource types, which are not part of SecurityInsights, becomes an empty (accept-all) schema.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "schemas" / "content"
API_VERSION = "2025-12-01"
PROSE = {"description", "title", "examples", "example", "default", "$comment"}
ALERT_RULES = Path(
    "securityinsights/resource-manager/Microsoft.SecurityInsights/stable",
    API_VERSION,
    "AlertRules.json",
)


#: Keywords whose value maps names (of properties, of definitions) to schemas: every name is
#: kept, whatever it is called.
NAMED_SCHEMAS = {"properties", "patternProperties", "definitions", "$defs"}


def structural(node):
    """The schema without prose keys, AutoRest extensions and OpenAPI-only keywords."""
    if isinstance(node, dict):
        return {
            key: (named_schemas(value) if key in NAMED_SCHEMAS else structural(value))
            for key, value in node.items()
            if key not in PROSE
            and not key.startswith("x-ms-")
            and key not in {"discriminator", "$id"}
        }
    if isinstance(node, list):
        return [structural(item) for item in node]
    return node


def named_schemas(node):
    if isinstance(node, dict):
        return {name: structural(schema) for name, schema in node.items()}
    return structural(node)


class OpenApiGatherer:
    """Collects definitions reachable from one start point, rewriting every `$ref`."""

    def __init__(self, reference: Path):
        self.reference = reference
        self.documents = {}
        self.definitions = {}
        self.dangling = set()

    def document(self, path: Path):
        path = path.resolve()
        if path not in self.documents:
            self.documents[path] = json.loads(path.read_text(encoding="utf-8"))
        return self.documents[path]

    def gather(self, path: Path, name: str):
        if name in self.definitions:
            return
        self.definitions[name] = None  # reserved: breaks reference cycles
        definition = self.document(path)["definitions"][name]
        self.definitions[name] = self.rewrite(structural(definition), path)

    def rewrite(self, node, path: Path):
        if isinstance(node, dict):
            if "$ref" in node:
                target, _, pointer = node["$ref"].partition("#/definitions/")
                target_path = (path.parent / target) if target else path
                if not target_path.exists():
                    self.dangling.add(node["$ref"])
                    return {}
                self.gather(target_path, pointer)
                rest = {k: self.rewrite(v, path) for k, v in node.items() if k != "$ref"}
                return {"$ref": f"#/$defs/{pointer}", **rest}
            return {key: self.rewrite(value, path) for key, value in node.items()}
        if isinstance(node, list):
            return [self.rewrite(item, path) for item in node]
        return node


def alert_rule_schema(reference: Path):
    gatherer = OpenApiGatherer(reference)
    gatherer.gather(reference / ALERT_RULES, "ScheduledAlertRule")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": (
            "Derived by scripts/derive-content-schemas.py from the SecurityInsights OpenAPI "
            f"stable {API_VERSION} (AlertRules.json and its common files): structure only. "
            f"Unresolved references, accepted as is: {', '.join(sorted(gatherer.dangling))}"
        ),
        "$ref": "#/$defs/ScheduledAlertRule",
        "$defs": dict(sorted(gatherer.definitions.items())),
    }


def workbook_schema(reference: Path):
    source = json.loads((reference / "workbooks" / "workbook.schema.json").read_text("utf-8"))
    derived = structural(source)
    derived["$comment"] = (
        "Derived by scripts/derive-content-schemas.py from microsoft/Application-Insights-"
        "Workbooks schema/workbook.json: structure only."
    )
    return derived


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    reference = Path(sys.argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    for name, schema in [
        ("alert-rule.schema.json", alert_rule_schema(reference)),
        ("workbook.schema.json", workbook_schema(reference)),
    ]:
        text = json.dumps(schema, indent=2, ensure_ascii=True) + "\n"
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
