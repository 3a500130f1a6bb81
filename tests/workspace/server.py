#!/usr/bin/env python3
"""A local Log Analytics workspace for integration tests.

This module owns everything needed to stand in for the Azure Monitor Logs query
API on 127.0.0.1 without any Azure access:

* the seed data: table schemas from ``schemas/tables/*.json`` (the project's one
  copy, shared with ``lint``) and a TOML scenario from
  ``scenarios/`` turned into rows (times relative to server start-up), loaded in
  bulk into an in-memory DuckDB database;
* query execution: the KQL text received is run for real by ``duckdb-kql``,
  after a few documented rewrites for constructs that engine lacks
  (``ingestion_time()``, ``column_ifexists()``, keyword member names);
* the wire contract: ``POST /v1/workspaces/{id}/query``, bearer-token checks,
  the ``timespan`` body field, ``Prefer: wait=N``, the response and error body
  shapes, and the encoding of values (datetime, timespan, dynamic, ...);
* fault injection (``--fault``) and a request counter (``GET /_stats``).

README.md next to this file describes the command line, the scenario format,
the faults, and every place where the local engine differs from the service.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import functools
import hashlib
import json
import math
import os
import random
import re
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import duckdb_kql

HERE = Path(__file__).resolve().parent
TABLES_DIR = HERE.parent.parent / "schemas" / "tables"
SCENARIOS_DIR = HERE / "scenarios"

DEFAULT_WORKSPACE = "00000000-0000-0000-0000-000000000001"
DEFAULT_TOKEN = "local-workspace-token"

#: Hidden per-row arrival time; ``ingestion_time()`` is rewritten to it.
ARRIVAL_COLUMN = "_IngestionTime"
#: Seeded tables live in this DuckDB schema; each request sees them through
#: connection-local views named after the tables (see ``LocalWorkspace``).
STORE_SCHEMA = "store"

#: The service's default and maximum server-side timeout (``Prefer: wait``).
DEFAULT_WAIT_SECONDS = 180.0
MAX_WAIT_SECONDS = 600.0

KUSTO_TO_DUCKDB = {
    "string": "VARCHAR",
    "datetime": "TIMESTAMP",
    "int": "INTEGER",
    "long": "BIGINT",
    "real": "DOUBLE",
    "bool": "BOOLEAN",
    "dynamic": "JSON",
    "guid": "UUID",
    "timespan": "INTERVAL",
    "decimal": "DECIMAL(38, 18)",
}

ENGINE_NAME = f"duckdb-kql {duckdb_kql.__version__} on DuckDB {duckdb.__version__}"


def log(message: str) -> None:
    """Diagnostics go to stderr; stdout carries only the READY line."""
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Durations and timespans
# ---------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> dt.timedelta:
    """Parse scenario durations such as ``30s``, ``20m``, ``6h``, ``3d``, ``12h20m``."""
    compact = str(text).strip().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"invalid duration {text!r} (use e.g. 30s, 20m, 6h, 3d, 1d12h)")
    return dt.timedelta(seconds=sum(float(n) * _DURATION_UNITS[u] for n, u in parts))


_ISO_DURATION = re.compile(
    r"^P(?!$)(?:(?P<Y>\d+(?:\.\d+)?)Y)?(?:(?P<MO>\d+(?:\.\d+)?)M)?(?:(?P<W>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<D>\d+(?:\.\d+)?)D)?(?:T(?=\d)(?:(?P<H>\d+(?:\.\d+)?)H)?(?:(?P<MI>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<S>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_ISO_SECONDS = {"Y": 365 * 86400, "MO": 30 * 86400, "W": 7 * 86400, "D": 86400,
                "H": 3600, "MI": 60, "S": 1}


def utc_now() -> dt.datetime:
    """The current time as naive UTC, the form DuckDB TIMESTAMP values take."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def parse_iso_duration(text: str) -> dt.timedelta | None:
    """``PT12H``, ``P1D``, ``P3DT12H``, ``PT3600.0S``; None if *text* is not one."""
    match = _ISO_DURATION.match(text.strip())
    if not match:
        return None
    seconds = sum(float(v) * _ISO_SECONDS[k] for k, v in match.groupdict().items() if v)
    return dt.timedelta(seconds=seconds)


def parse_iso_datetime(text: str) -> dt.datetime | None:
    """An ISO 8601 date or date-time as naive UTC; None if *text* is not one."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def parse_timespan(text: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Turn the request's ``timespan`` into an inclusive [start, end] in naive UTC.

    Accepts a duration (ending now), ``start/end``, ``start/duration`` and
    ``duration/end``. Raises ValueError for anything else.
    """
    pieces = text.strip().split("/")
    if len(pieces) == 1:
        length = parse_iso_duration(pieces[0])
        if length is None:
            raise ValueError(f"invalid timespan {text!r}")
        return now - length, now
    if len(pieces) != 2:
        raise ValueError(f"invalid timespan {text!r}")
    first, second = pieces
    start, end = parse_iso_datetime(first), parse_iso_datetime(second)
    if start is not None and end is not None:
        return start, end
    if start is not None and (length := parse_iso_duration(second)) is not None:
        return start, start + length
    if end is not None and (length := parse_iso_duration(first)) is not None:
        return end - length, end
    raise ValueError(f"invalid timespan {text!r}")


def parse_prefer_wait(header: str | None) -> float:
    """Seconds from ``Prefer: wait=N`` (comma-separated preferences), else the default."""
    for preference in (header or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            try:
                return min(max(float(value.strip()), 0.0), MAX_WAIT_SECONDS)
            except ValueError:
                break
    return DEFAULT_WAIT_SECONDS


# ---------------------------------------------------------------------------
# Table schemas and scenarios
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[tuple[str, str], ...]  # (column name, Kusto type)

    def kusto_type(self, column: str) -> str:
        return dict(self.columns)[column]


def load_table_schemas(directory: Path = TABLES_DIR) -> dict[str, TableSchema]:
    """Read every ``{"Name":..., "Properties":[{"name","type"}]}`` file in *directory*."""
    schemas = {}
    for path in sorted(directory.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        columns = tuple((p["name"], p["type"].lower()) for p in document["Properties"])
        unknown = {t for _, t in columns} - KUSTO_TO_DUCKDB.keys()
        if unknown:
            raise ValueError(f"{path.name}: unsupported column types {sorted(unknown)}")
        schemas[document["Name"]] = TableSchema(document["Name"], columns)
    return schemas


@dataclass
class RowBlock:
    """One ``[[rows]]`` entry of a scenario: a series of arrivals for one table."""
    table: str
    first_ago: dt.timedelta          # first arrival = start - first_ago
    last_ago: dt.timedelta           # arrivals stop at start - last_ago
    every: dt.timedelta | None       # None: a single row at first_ago
    delay: dt.timedelta              # TimeGenerated = arrival - delay
    values: dict


@dataclass
class Scenario:
    name: str
    description: str
    missing_tables: list[str]
    blocks: list[RowBlock]


def resolve_scenario_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or os.sep in name_or_path or "/" in name_or_path:
        return candidate.resolve()
    return SCENARIOS_DIR / f"{name_or_path}.toml"


def load_scenario(name_or_path: str, schemas: dict[str, TableSchema]) -> Scenario:
    """Parse and validate a scenario file; every error names the offending entry."""
    path = resolve_scenario_path(name_or_path)
    if not path.is_file():
        raise ValueError(f"scenario not found: {path}")
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    missing = list(document.get("missing_tables", []))
    for table in missing:
        if table not in schemas:
            raise ValueError(f"{path.name}: missing_tables names unknown table {table!r}")

    blocks = []
    for index, entry in enumerate(document.get("rows", []), start=1):
        where = f"{path.name}: [[rows]] #{index}"
        table = entry.get("table")
        if table not in schemas:
            raise ValueError(f"{where}: unknown table {table!r}")
        if table in missing:
            raise ValueError(f"{where}: table {table!r} is listed in missing_tables")
        unknown_keys = set(entry) - {"table", "at", "from", "to", "every", "delay", "values"}
        if unknown_keys:
            raise ValueError(f"{where}: unknown keys {sorted(unknown_keys)}")
        try:
            blocks.append(_parse_row_block(entry, schemas[table]))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return Scenario(path.stem, str(document.get("description", "")), missing, blocks)


def _parse_row_block(entry: dict, schema: TableSchema) -> RowBlock:
    values = dict(entry.get("values", {}))
    unknown_columns = set(values) - {c for c, _ in schema.columns}
    if unknown_columns:
        raise ValueError(f"{schema.name} has no columns {sorted(unknown_columns)}")
    if "every" in entry:
        if "at" in entry:
            raise ValueError("use either at or from/to/every")
        every = parse_duration(entry["every"])
        if every.total_seconds() <= 0:
            raise ValueError("every must be positive")
        first = parse_duration(entry.get("from", "1d"))
        last = parse_duration(entry.get("to", "0s"))
    else:
        if "from" in entry or "to" in entry:
            raise ValueError("from/to need every (or use at for a single row)")
        every = None
        first = last = parse_duration(entry.get("at", "0s"))
    return RowBlock(schema.name, first, last, every, parse_duration(entry.get("delay", "0s")), values)


# ---------------------------------------------------------------------------
# Realistic default values for seeded rows
# ---------------------------------------------------------------------------

#: (ActivityType, title template, description template, severity, resource type)
GUARDDUTY_FINDINGS = [
    ("Recon:EC2/PortProbeUnprotectedPort",
     "Unprotected port on EC2 instance {instance} is being probed.",
     "EC2 instance {instance} has an unprotected port that a known scanner is probing.",
     2, "Instance"),
    ("UnauthorizedAccess:EC2/SSHBruteForce",
     "SSH brute force attacks against {instance}.",
     "Repeated SSH login attempts were seen against EC2 instance {instance}.",
     2, "Instance"),
    ("Recon:IAMUser/MaliciousIPCaller",
     "Reconnaissance API calls were made from a known malicious IP address.",
     "API calls that list resources in account {account} came from an IP address on a threat list.",
     5, "AccessKey"),
    ("CryptoCurrency:EC2/BitcoinTool.B!DNS",
     "Bitcoin-related domain name queried by EC2 instance {instance}.",
     "EC2 instance {instance} is resolving a domain name tied to cryptocurrency mining.",
     8, "Instance"),
    ("Policy:S3/BucketBlockPublicAccessDisabled",
     "Block Public Access was turned off for S3 bucket {bucket}.",
     "A principal in account {account} removed the public access block on bucket {bucket}.",
     2, "S3Bucket"),
    ("Discovery:S3/MaliciousIPCaller",
     "S3 API calls to list objects came from a known malicious IP address.",
     "Objects in bucket {bucket} were listed from an IP address on a threat list.",
     5, "S3Bucket"),
]


def format_datetime(moment: dt.datetime) -> str:
    """Kusto's datetime rendering: UTC, ``Z``, seven fractional digits."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


@functools.lru_cache(maxsize=4096)
def stable_hex(*parts: str, length: int = 32) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:length]


class RowFactory:
    """Builds complete rows (every column) for one table, with realistic defaults."""

    def __init__(self, schema: TableSchema, workspace: str, rng: random.Random, start: dt.datetime):
        self.schema = schema
        self.workspace = workspace
        self.rng = rng
        self.start = start  # scenario durations count back from here
        self.serial = 0

    def build(self, arrival: dt.datetime, generated: dt.datetime, values: dict) -> dict:
        self.serial += 1
        if values.get("TimeGenerated") not in (None, ""):
            generated = self._scenario_value("TimeGenerated", values["TimeGenerated"])
        row = self._generic_defaults(generated)
        specific = getattr(self, f"_defaults_{self.schema.name}", None)
        if specific:
            row.update(specific(generated, values))
        for column, value in values.items():
            row[column] = self._scenario_value(column, value)
        row[ARRIVAL_COLUMN] = arrival
        return row

    # -- per type / per table ------------------------------------------------

    def _generic_defaults(self, generated: dt.datetime) -> dict:
        constants = {"string": "", "int": 0, "long": 0, "real": 0.0, "bool": False,
                     "timespan": None, "decimal": 0}
        row = {}
        for column, kind in self.schema.columns:
            if kind == "datetime":
                row[column] = generated
            elif kind == "dynamic":
                row[column] = {}
            elif kind == "guid":
                row[column] = str(uuid.UUID(int=self.rng.getrandbits(128)))
            else:
                row[column] = constants[kind]
        standard = {"TimeGenerated": generated, "TenantId": self.workspace, "Type": self.schema.name,
                    "_BilledSize": float(self.rng.randint(900, 3200)), "_IsBillable": "True"}
        row.update({k: v for k, v in standard.items() if k in row})
        return row

    def _defaults_AWSGuardDuty(self, generated: dt.datetime, values: dict) -> dict:
        account = str(values.get("AccountId", "111122223333"))
        region = str(values.get("Region", "us-east-1"))
        finding_type, title, description, severity, resource_type = self.rng.choice(GUARDDUTY_FINDINGS)
        finding_id = f"{self.rng.getrandbits(128):032x}"
        finding_id = str(values.get("Id", finding_id))
        detector = stable_hex("detector", account, region)
        instance = f"i-0{stable_hex('instance', account, region, str(self.serial % 7), length=16)}"
        bucket = f"audit-logs-{account}-{region}"
        names = {"instance": instance, "bucket": bucket, "account": account}
        resource = {"resourceType": resource_type}
        if resource_type == "Instance":
            resource["instanceDetails"] = {
                "instanceId": instance, "instanceType": "t3.medium",
                "availabilityZone": f"{region}a", "instanceState": "running",
                "imageId": f"ami-0{stable_hex('ami', region, length=16)}"}
        elif resource_type == "AccessKey":
            resource["accessKeyDetails"] = {
                "accessKeyId": "AKIA" + stable_hex("key", account, length=16).upper(),
                "principalId": "AIDA" + stable_hex("principal", account, length=17).upper(),
                "userName": "ci-deployer", "userType": "IAMUser"}
        else:
            resource["s3BucketDetails"] = [{"name": bucket, "type": "Destination",
                                            "arn": f"arn:aws:s3:::{bucket}"}]
        first_seen = generated - dt.timedelta(hours=self.rng.randint(0, 48))
        service = {
            "serviceName": "guardduty", "detectorId": detector, "archived": False,
            "count": self.rng.randint(1, 40), "resourceRole": "TARGET",
            "eventFirstSeen": first_seen.isoformat(timespec="milliseconds") + "Z",
            "eventLastSeen": generated.isoformat(timespec="milliseconds") + "Z",
            "action": {"actionType": "AWS_API_CALL" if resource_type != "Instance"
                       else "NETWORK_CONNECTION"},
            "additionalInfo": {"value": "{}", "type": "default"},
        }
        return {
            "AccountId": account, "Region": region, "Partition": "aws", "SchemaVersion": "2.0",
            "Id": finding_id, "ActivityType": finding_type,
            "Arn": f"arn:aws:guardduty:{region}:{account}:detector/{detector}/finding/{finding_id}",
            "Title": title.format(**names), "Description": description.format(**names),
            "Severity": severity, "TimeCreated": generated, "ResourceDetails": resource,
            "ServiceDetails": service, "SourceSystem": "RestAPI",
        }

    def _defaults_AWSCloudTrail(self, generated: dt.datetime, values: dict) -> dict:
        account = str(values.get("RecipientAccountId", "111122223333"))
        region = str(values.get("AWSRegion", "us-east-1"))
        role = "OIDC_MicrosoftSentinelRole"
        return {
            "AWSRegion": region, "RecipientAccountId": account, "EventSource": "kms.amazonaws.com",
            "EventName": "Decrypt", "EventTypeName": "AwsApiCall", "EventVersion": "1.09",
            "Category": "Management", "ManagementEvent": True, "ReadOnly": True,
            "OperationName": "CloudTrail", "SourceSystem": "RestAPI",
            "AwsEventId": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "AwsRequestId_": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "SourceIpAddress": "s3.amazonaws.com", "UserAgent": "s3.amazonaws.com",
            "UserIdentityType": "AssumedRole", "UserIdentityAccountId": account,
            "UserIdentityInvokedBy": "s3.amazonaws.com",
            "UserIdentityArn": f"arn:aws:sts::{account}:assumed-role/{role}/MicrosoftSentinel_{self.workspace}",
            "SessionIssuerArn": f"arn:aws:iam::{account}:role/{role}", "SessionIssuerType": "Role",
            "SessionIssuerUserName": role, "SessionIssuerAccountId": account,
            "SessionCreationDate": generated - dt.timedelta(minutes=5),
            "SessionMfaAuthenticated": False,
        }

    def _defaults_SentinelHealth(self, generated: dt.datetime, values: dict) -> dict:
        return {
            "OperationName": "Data fetch status change", "SentinelResourceType": "Data connector",
            "SentinelResourceKind": "AmazonWebServicesS3",
            "SentinelResourceName": "Amazon Web Services S3",
            "SentinelResourceId": (f"/subscriptions/{uuid.UUID(int=0)}/resourceGroups/sentinel/providers/"
                                   f"Microsoft.OperationalInsights/workspaces/local/providers/"
                                   f"Microsoft.SecurityInsights/dataConnectors/aws-s3"),
            "Status": "Success", "Description": "Data was fetched successfully.",
            "RecordId": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "WorkspaceId": self.workspace, "SourceSystem": "Azure",
            "ExtendedProperties": {"DestinationTable": "AWSGuardDuty"},
        }

    def _defaults_Usage(self, generated: dt.datetime, values: dict) -> dict:
        return {
            "DataType": "AWSGuardDuty", "Quantity": round(self.rng.uniform(0.01, 0.2), 4),
            "QuantityUnit": "MBytes", "IsBillable": True, "Solution": "SecurityInsights",
            "StartTime": generated - dt.timedelta(hours=1), "EndTime": generated,
            "AvgLatencyInSeconds": round(self.rng.uniform(60, 300), 1),
            "BatchesWithinSla": 1, "BatchesOutsideSla": 0, "BatchesCapped": 0, "TotalBatches": 1,
            "SourceSystem": "OMS", "_IsBillable": "False",
        }

    # -- scenario-given values -----------------------------------------------

    def _scenario_value(self, column: str, value):
        """Convert a TOML value to the column's type. ``""`` is null for non-strings."""
        kind = self.schema.kusto_type(column)
        if kind == "string":
            return "" if value is None else str(value)
        if value == "":
            return None
        if kind == "datetime":
            if isinstance(value, dt.datetime):
                return parse_iso_datetime(value.isoformat())
            moment = parse_iso_datetime(str(value))
            return moment if moment is not None else self.start - parse_duration(str(value))
        if kind == "dynamic" and isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


def block_arrivals(block: RowBlock, start: dt.datetime) -> list[dt.datetime]:
    if block.every is None:
        return [start - block.first_ago]
    arrivals, moment, last = [], start - block.first_ago, start - block.last_ago
    while moment <= last:
        arrivals.append(moment)
        moment += block.every
    return arrivals


def generate_rows(scenario: Scenario, schemas: dict[str, TableSchema], workspace: str,
                  start: dt.datetime) -> dict[str, list[dict]]:
    """All seeded rows per table. Random parts are seeded from the scenario name."""
    rows: dict[str, list[dict]] = {name: [] for name in schemas if name not in scenario.missing_tables}
    for index, block in enumerate(scenario.blocks):
        factory = RowFactory(schemas[block.table], workspace,
                             random.Random(f"{scenario.name}:{index}"), start)
        for arrival in block_arrivals(block, start):
            rows[block.table].append(factory.build(arrival, arrival - block.delay, block.values))
    return rows


# ---------------------------------------------------------------------------
# The database
# ---------------------------------------------------------------------------

class GatewayTimeout(Exception):
    """Producing the answer took longer than the request's ``Prefer: wait``."""


@dataclass
class QueryResult:
    columns: list[str]
    duck_types: list[str]
    rows: list[tuple]


class LocalWorkspace:
    """The seeded DuckDB database and KQL execution against it.

    Rows live in ``store.<Table>``. Every request gets its own DuckDB cursor in
    which ``<Table>`` is a temporary view over ``store.<Table>``, narrowed to the
    request's ``timespan`` when one is given; concurrent requests never see each
    other's windows. A table in ``missing_tables`` has neither, so DuckDB reports
    it as unknown.
    """

    def __init__(self, schemas: dict[str, TableSchema], scenario: Scenario, workspace: str,
                 start: dt.datetime):
        self.schemas = schemas
        self.tables = [name for name in schemas if name not in scenario.missing_tables]
        self.known_columns = {c for name in self.tables for c, _ in schemas[name].columns}
        self.con = duckdb_kql.connect()
        self.cursor_lock = threading.Lock()
        self.con.execute(f"CREATE SCHEMA {STORE_SCHEMA}")
        self.row_counts = self._load(generate_rows(scenario, schemas, workspace, start))

    def _load(self, rows_by_table: dict[str, list[dict]]) -> dict[str, int]:
        """Create each table and bulk-load its rows from one NDJSON file."""
        counts = {}
        with tempfile.TemporaryDirectory(prefix="local-workspace-") as scratch:
            for name in self.tables:
                columns = list(self.schemas[name].columns) + [(ARRIVAL_COLUMN, "datetime")]
                definition = ", ".join(f'"{c}" {KUSTO_TO_DUCKDB[t]}' for c, t in columns)
                self.con.execute(f'CREATE TABLE {STORE_SCHEMA}."{name}" ({definition})')
                rows = rows_by_table.get(name, [])
                counts[name] = len(rows)
                if not rows:
                    continue
                path = Path(scratch) / f"{name}.ndjson"
                names = [c for c, _ in columns]
                encoder = json.JSONEncoder(default=_ndjson_default, separators=(",", ":"))
                with path.open("w", encoding="utf-8") as out:
                    out.writelines(encoder.encode({c: row.get(c) for c in names}) + "\n"
                                   for row in rows)
                spec = ", ".join(f"'{c}': '{KUSTO_TO_DUCKDB[t]}'" for c, t in columns)
                self.con.execute(
                    f'INSERT INTO {STORE_SCHEMA}."{name}" SELECT * FROM read_json('
                    f"'{path}', format='newline_delimited', columns={{{spec}}})")
        return counts

    def run(self, kql: str, window: tuple[dt.datetime, dt.datetime] | None,
            timeout: float, tenants: list[str] | None = None) -> QueryResult:
        """Execute *kql*; raise GatewayTimeout if it needs more than *timeout* seconds.

        *tenants* are the workspaces the request covers (see ``view_source``).
        """
        with self.cursor_lock:
            cursor = self.con.cursor()
        handed_off = False
        try:
            self._create_request_views(cursor, window, tenants)
            outcome: dict = {}

            def execute() -> None:
                try:
                    relation = run_kql(cursor, rewrite_for_local_engine(kql, self.known_columns))
                    outcome["result"] = QueryResult(list(relation.columns),
                                                    [str(t) for t in relation.types],
                                                    relation.fetchall())
                except BaseException as exc:  # handed to the request thread
                    outcome["error"] = exc

            worker = threading.Thread(target=execute, daemon=True)
            worker.start()
            worker.join(max(timeout, 0.0))
            if worker.is_alive():
                # Answer now; stopping the query happens in the background.
                threading.Thread(target=abandon_query, args=(cursor, worker), daemon=True).start()
                handed_off = True
                raise GatewayTimeout()
            if "error" in outcome:
                raise outcome["error"]
            return hide_arrival_column(outcome["result"])
        finally:
            if not handed_off:
                close_quietly(cursor)

    def _create_request_views(self, cursor, window, tenants: list[str] | None = None) -> None:
        cursor.execute("SET TimeZone='UTC'")
        for name in self.tables:
            condition = ""
            if window is not None and "TimeGenerated" in dict(self.schemas[name].columns):
                start, end = (format_datetime(m)[:-2] for m in window)
                condition = (f" WHERE \"TimeGenerated\" BETWEEN TIMESTAMP '{start}' "
                             f"AND TIMESTAMP '{end}'")
            cursor.execute(f'CREATE TEMP VIEW "{name}" AS '
                           f'{view_source(name, self.schemas[name], tenants)}{condition}')


def abandon_query(cursor, worker: threading.Thread, patience: float = 30.0) -> None:
    """Interrupt a query that outlived its request until its thread ends.

    One interrupt is not always enough: it cancels the statement running at that
    moment, and duckdb-kql may then start the next one. A statement that never
    checks for interrupts (e.g. building one huge list) runs to its end.
    """
    give_up = time.monotonic() + patience
    while worker.is_alive() and time.monotonic() < give_up:
        cursor.interrupt()
        worker.join(0.05)
    if worker.is_alive():
        log("a timed-out query ignored interrupts; it keeps running in the background")
        worker.join()
    close_quietly(cursor)


def close_quietly(cursor) -> None:
    try:
        cursor.close()
    except duckdb.Error as exc:
        log(f"could not close a query connection: {exc}")


def _ndjson_default(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a seeded row")


def hide_arrival_column(result: QueryResult) -> QueryResult:
    """Drop the hidden arrival column from ``*``-style results and ``getschema``."""
    if ARRIVAL_COLUMN in result.columns:
        keep = [i for i, c in enumerate(result.columns) if c != ARRIVAL_COLUMN]
        result = QueryResult([result.columns[i] for i in keep], [result.duck_types[i] for i in keep],
                             [tuple(row[i] for i in keep) for row in result.rows])
    if result.columns[:1] == ["ColumnName"] and "ColumnOrdinal" in result.columns:
        result.rows = [row for row in result.rows if row[0] != ARRIVAL_COLUMN]
    return result


# ---------------------------------------------------------------------------
# KQL rewrites for constructs the local engine lacks
# ---------------------------------------------------------------------------

_STRING_START = re.compile(r"```|~~~|@?[hH]?['\"]|//")

#: Member names duckdb-kql cannot parse after a dot (they are KQL keywords).
KEYWORD_MEMBERS = (
    "sample count take where summarize project extend join union print top sort order by in "
    "has contains between and or kind as of to set datatable limit distinct parse find search "
    "invoke serialize materialize consume getschema scan table true false int long real string "
    "dynamic datetime timespan decimal asc desc first last entity_group toscalar totable"
).split()
_KEYWORD_MEMBER = re.compile(r"(?<=[A-Za-z0-9_\]\)])\.(" + "|".join(KEYWORD_MEMBERS) + r")(?![\w(-])")
_INGESTION_TIME = re.compile(r"(?<![\w.])ingestion_time\s*\(\s*\)")
_COLUMN_IFEXISTS = re.compile(r"(?<![\w.])column_ifexists\s*\(")
#: An empty typed ``datatable(...)[]``, the stand-in leg of ``union isfuzzy=true`` for a table
#: that may not exist; group 1 ends just before its ``)``.
_EMPTY_DATATABLE = re.compile(r"(?<![\w.])datatable\s*\(([^()]*)\)\s*\[\s*\]")


def mask_literals(text: str) -> str:
    """*text* with string-literal contents and comments blanked, same length.

    Lets the rewrites below use regular expressions without touching text
    inside strings or comments. Quote characters themselves are kept.
    """
    out, i = [], 0
    while i < len(text):
        match = _STRING_START.search(text, i)
        if not match:
            out.append(text[i:])
            break
        out.append(text[i:match.start()])
        opener = match.group()
        if opener == "//":
            end = text.find("\n", match.end())
            end = len(text) if end < 0 else end
            out.append(" " * (end - match.start()))
            i = end
            continue
        if opener in ("```", "~~~"):
            close = text.find(opener, match.end())
            end = len(text) if close < 0 else close + 3
        else:
            quote, verbatim = opener[-1], opener.startswith("@")
            j = match.end()
            while j < len(text):
                if not verbatim and text[j] == "\\":
                    j += 2
                    continue
                if text[j] == quote:
                    if verbatim and j + 1 < len(text) and text[j + 1] == quote:
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, len(text))
        literal = text[match.start():end]
        blanked = max(len(literal) - len(opener) - 1, 0)  # keep the opener and the closing quote
        out.append(opener + " " * blanked + literal[len(opener) + blanked:])
        i = end
    return "".join(out)


def _split_arguments(masked: str, open_paren: int) -> tuple[list[tuple[int, int]], int] | None:
    """Top-level argument spans of the call whose ``(`` is at *open_paren*, and the ``)``."""
    depth, start, spans = 0, open_paren + 1, []
    for k in range(open_paren, len(masked)):
        ch = masked[k]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                spans.append((start, k))
                return spans, k
        elif ch == "," and depth == 1:
            spans.append((start, k))
            start = k + 1
    return None


def _rewrite_column_ifexists(kql: str, known_columns: set[str]) -> str:
    """``column_ifexists('C', d)`` becomes ``C`` if any served table has C, else ``(d)``."""
    while True:
        masked = mask_literals(kql)
        match = _COLUMN_IFEXISTS.search(masked)
        if not match:
            return kql
        parsed = _split_arguments(masked, match.end() - 1)
        if parsed is None or len(parsed[0]) != 2:
            return kql  # leave it; the engine reports it as unsupported
        (name_start, name_end), (default_start, default_end) = parsed[0]
        literal = kql[name_start:name_end].strip()
        name = literal[1:-1] if len(literal) >= 2 and literal[0] in "'\"" else None
        if name is None:
            return kql
        if name in known_columns:
            replacement = name if re.fullmatch(r"[A-Za-z_]\w*", name) else f"['{name}']"
        else:
            replacement = f"({kql[default_start:default_end].strip()})"
        kql = kql[:match.start()] + replacement + kql[parsed[1] + 1:]


def rewrite_for_local_engine(kql: str, known_columns: set[str]) -> str:
    """Apply the documented rewrites (README: "Where the local engine differs")."""
    kql = _rewrite_column_ifexists(kql, known_columns)
    masked = mask_literals(kql)
    edits = [(m.start(), m.end(), ARRIVAL_COLUMN) for m in _INGESTION_TIME.finditer(masked)]
    edits += [(m.start(), m.end(), f"['{m.group(1)}']") for m in _KEYWORD_MEMBER.finditer(masked)]
    # An empty datatable gets the hidden arrival column too, so that ingestion_time() over a
    # fuzzy union whose real table is missing is null, as in Log Analytics, not an error.
    edits += [(m.end(1), m.end(1), f", {ARRIVAL_COLUMN}:datetime")
              for m in _EMPTY_DATATABLE.finditer(masked)]
    for start, end, replacement in sorted(edits, reverse=True):
        kql = kql[:start] + replacement + kql[end:]
    return kql


# ---------------------------------------------------------------------------
# Result encoding
# ---------------------------------------------------------------------------

_INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT"}
_LONG_TYPES = {"BIGINT", "UINTEGER", "UBIGINT", "HUGEINT", "UHUGEINT"}


def kusto_type_for(duck_type: str) -> str:
    """Map a DuckDB result type to a Logs API column type."""
    t = duck_type.upper()
    if t == "JSON" or t.endswith("]") or t.startswith(("STRUCT", "MAP", "UNION")):
        return "dynamic"
    if t == "BOOLEAN":
        return "bool"
    if t in _INT_TYPES:
        return "int"
    if t in _LONG_TYPES:
        return "long"
    if t in ("FLOAT", "DOUBLE"):
        return "real"
    if t.startswith("DECIMAL"):
        return "decimal"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return "datetime"
    if t == "INTERVAL" or t.startswith("TIME"):
        return "timespan"
    if t == "UUID":
        return "guid"
    return "string"


def format_timespan(value: dt.timedelta) -> str:
    """.NET "c" format: ``[-][d.]hh:mm:ss[.fffffff]``."""
    ticks = (value.days * 86400 + value.seconds) * 10_000_000 + value.microseconds * 10
    sign = "-" if ticks < 0 else ""
    ticks = abs(ticks)
    days, ticks = divmod(ticks, 86400 * 10_000_000)
    hours, ticks = divmod(ticks, 3600 * 10_000_000)
    minutes, ticks = divmod(ticks, 60 * 10_000_000)
    seconds, fraction = divmod(ticks, 10_000_000)
    text = f"{sign}{f'{days}.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return text + (f".{fraction:07d}" if fraction else "")


def _json_default(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return format_datetime(value) if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, dt.timedelta):
        return format_timespan(value)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode_value(kind: str, value):
    """One cell, encoded as the Logs API does for a column of type *kind*."""
    if value is None:
        return "" if kind == "string" else None
    if kind == "datetime":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        return format_datetime(value)
    if kind == "timespan":
        if isinstance(value, dt.time):
            value = dt.timedelta(hours=value.hour, minutes=value.minute, seconds=value.second,
                                 microseconds=value.microsecond)
        return format_timespan(value)
    if kind in ("int", "long"):
        return int(value)
    if kind == "real":
        value = float(value)
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if kind == "bool":
        return bool(value)
    if kind == "dynamic":
        text = value if isinstance(value, str) else json.dumps(value, default=_json_default,
                                                               separators=(",", ":"))
        return None if text == "null" else text
    if kind in ("decimal", "guid"):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def encode_result(result: QueryResult) -> dict:
    kinds = [kusto_type_for(t) for t in result.duck_types]
    return {
        "name": "PrimaryResult",
        "columns": [{"name": n, "type": k} for n, k in zip(result.columns, kinds)],
        "rows": [[encode_value(k, v) for k, v in zip(kinds, row)] for row in result.rows],
    }


# ---------------------------------------------------------------------------
# Error bodies
# ---------------------------------------------------------------------------

class ApiError(Exception):
    """An HTTP error answer: status, OneAPI-shaped body, extra headers."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(f"{status} {body.get('error', {}).get('code')}")
        self.status, self.body, self.headers = status, body, headers or {}


def error_body(code: str, message: str, inner: dict | None = None, correlation: bool = True) -> dict:
    error = {"message": message, "code": code}
    if correlation:
        error["correlationId"] = str(uuid.uuid4())
    if inner:
        error["innererror"] = inner
    return {"error": error}


def inner(code: str, message: str, deeper: dict | None = None) -> dict:
    node = {"code": code, "message": message}
    if deeper:
        node["innererror"] = deeper
    return node


def bad_argument(detail: dict) -> ApiError:
    return ApiError(400, error_body("BadArgumentError", "The request had some invalid properties", detail))


def gateway_timeout() -> ApiError:
    return ApiError(504, {"error": {"code": "GatewayTimeout", "message": "Gateway timeout",
                                    "innererror": {"code": "GatewayTimeout",
                                                   "message": "Unable to unzip response"}}})


def missing_authorization() -> ApiError:
    return ApiError(401, error_body("AuthenticationFailed",
                                    "Authentication failed. The 'Authorization' header is missing."),
                    {"WWW-Authenticate": "Bearer"})


def invalid_token() -> ApiError:
    return ApiError(403, error_body("InvalidAuthenticationToken", "The access token is invalid."))


def path_not_found() -> ApiError:
    return ApiError(404, error_body("PathNotFoundError", "The requested path does not exist"))


def injected_status_error(status: int) -> ApiError:
    """The body a ``status=N`` fault answers with."""
    bodies = {
        401: lambda: error_body("AuthenticationFailed", "Authentication failed."),
        403: lambda: error_body("InsufficientAccessError",
                                "The provided credentials have insufficient access to perform "
                                "the requested operation"),
        404: lambda: path_not_found().body,
        429: lambda: error_body("ThrottledError",
                                "The request was throttled because too many queries were sent. "
                                "Retry after the interval given in the Retry-After header."),
        500: lambda: error_body("InternalServerError",
                                "An internal error occurred while processing the request."),
        503: lambda: error_body("ServiceUnavailable",
                                "The service is temporarily unavailable. Try again later."),
        504: lambda: gateway_timeout().body,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return ApiError(status, bodies[status](), headers)


def _operator_after(masked: str, position: int) -> str | None:
    """The pipe operator that follows *position* in the same pipeline, if any."""
    match = re.compile(r"\s*\|\s*([A-Za-z][\w-]*)").match(masked, position)
    return match.group(1) if match else None


def _operator_using(masked: str, name: str) -> str | None:
    """The operator of the first pipeline stage that mentions *name*."""
    for stage in masked.split("|")[1:]:
        if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", stage):
            words = re.match(r"\s*([A-Za-z][\w-]*)", stage)
            return words.group(1) if words else None
    return None


def engine_error_to_api(exc: BaseException, kql: str) -> ApiError:
    """Translate a duckdb-kql / DuckDB exception into the service's error answer."""
    masked = mask_literals(kql)
    text = str(exc)

    if isinstance(exc, duckdb_kql.KqlSyntaxError):
        return bad_argument(inner("SyntaxError", "Syntax Error",
                                  inner("SYN0002", f"Query could not be parsed: {text}")))

    if isinstance(exc, duckdb_kql.KqlUnsupportedError):
        return bad_argument(inner(
            "LocalEngineUnsupported",
            f"The local test workspace ({ENGINE_NAME}) does not support a construct in this "
            "query; this is a limitation of the local engine, not an error from Log Analytics.",
            inner("KqlUnsupportedError", text)))

    missing_table = re.search(r"Table with name (\S+?) does not exist", text)
    if isinstance(exc, duckdb.CatalogException) and missing_table:
        table = missing_table.group(1).strip('"')
        found = re.search(rf"(?<![\w.]){re.escape(table)}(?!\w)", masked)
        operator = (_operator_after(masked, found.end()) if found else None) or "where"
        return bad_argument(inner("SemanticError", "A semantic error occurred.", inner(
            "SEM0100",
            f"'{operator}' operator: Failed to resolve table or column expression named '{table}'")))

    missing_column = re.search(r'Referenced column "([^"]+)" not found', text)
    if isinstance(exc, duckdb.BinderException) and missing_column:
        column = missing_column.group(1)
        if column == ARRIVAL_COLUMN:
            return bad_argument(inner(
                "LocalEngineUnsupported",
                "The local test workspace maps ingestion_time() to a hidden column, which is only "
                "available while the table's own rows are in the pipeline (before project, "
                "summarize and similar operators).",
                inner("BinderException", text)))
        operator = _operator_using(masked, column) or "where"
        return bad_argument(inner("SemanticError", "A semantic error occurred.", inner(
            "SEM0100", f"'{operator}' operator: Failed to resolve scalar expression named '{column}'")))

    if isinstance(exc, (duckdb_kql.KqlSchemaError, duckdb.Error)):
        return bad_argument(inner(
            "LocalEngineError",
            f"The local test workspace ({ENGINE_NAME}) could not run this query; Log Analytics "
            "may accept it.",
            inner(type(exc).__name__, text)))

    return ApiError(500, error_body("InternalServerError",
                                    f"The local test workspace failed: {type(exc).__name__}: {text}"))


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------

FAULT_STATUSES = {401, 403, 404, 429, 500, 503, 504}
FAULT_MODES = {"partial", "empty200", "nocontent", "malformed", "reset", "wrong_columns"}


@dataclass
class Fault:
    spec: str
    status: int | None = None
    mode: str | None = None
    delay: float = 0.0
    retry_after: str | None = None
    match: str | None = None
    times: int | None = None  # None: unlimited
    used: int = 0
    ignore_wait: bool = False  # serve the delay in full, past Prefer: wait


def parse_fault(spec: str) -> Fault:
    """Parse ``key=value,flag,...`` (see README "Faults")."""
    fault = Fault(spec)
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, has_value, value = item.partition("=")
        key = key.strip().lower()
        if not has_value and key == "ignore_wait":
            fault.ignore_wait = True
        elif not has_value:
            if key not in FAULT_MODES:
                raise ValueError(f"fault {spec!r}: unknown flag {key!r}")
            if fault.mode:
                raise ValueError(f"fault {spec!r}: only one of {sorted(FAULT_MODES)} per fault")
            fault.mode = key
        elif key == "status":
            fault.status = int(value)
            if fault.status not in FAULT_STATUSES:
                raise ValueError(f"fault {spec!r}: status must be one of {sorted(FAULT_STATUSES)}")
        elif key == "delay":
            fault.delay = float(value)
        elif key == "retry_after":
            fault.retry_after = value.strip()
        elif key == "times":
            fault.times = int(value)
        elif key == "match":
            fault.match = value
        else:
            raise ValueError(f"fault {spec!r}: unknown key {key!r}")
    if fault.status and fault.mode:
        raise ValueError(f"fault {spec!r}: status= cannot be combined with {fault.mode}")
    if not (fault.status or fault.mode or fault.delay):
        raise ValueError(f"fault {spec!r}: needs status=, delay= or one of {sorted(FAULT_MODES)}")
    return fault


class FaultPlan:
    """Chooses, per request, the first fault (in command-line order) that still applies."""

    def __init__(self, faults: list[Fault]):
        self.faults = faults
        self.lock = threading.Lock()

    def pick(self, query: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times is not None and fault.used >= fault.times:
                    continue
                if fault.match is not None and fault.match not in query:
                    continue
                fault.used += 1
                return fault
        return None


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict = field(default_factory=dict)
    reset: bool = False  # send part of the body and drop the connection


def json_answer(status: int, document: dict, headers: dict | None = None) -> Answer:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Answer(status, body, "application/json; charset=utf-8", dict(headers or {}))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.statuses: dict[str, int] = {}
        self.faults: dict[str, int] = {}

    def record(self, status: int, fault: Fault | None) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if fault is not None:
                self.faults[fault.spec] = self.faults.get(fault.spec, 0) + 1

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": self.requests, "statuses": dict(self.statuses),
                    "faults": dict(self.faults)}


_QUERY_PATH = re.compile(r"^/v1/workspaces/([^/]+)/query$")


class QueryApiHandler(BaseHTTPRequestHandler):
    """One HTTP request. Server-wide state hangs off ``self.server``."""

    protocol_version = "HTTP/1.1"
    server_version = "LocalLogAnalytics/1.0"
    # Headers and body go out in two writes; without this, Nagle's algorithm holds the body
    # until the client's delayed ACK of the headers, 40 ms later.
    disable_nagle_algorithm = True

    # -- entry points ---------------------------------------------------------

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/_stats":
            self._send(json_answer(200, {**self.server.stats.snapshot(),
                                         **self.server.limits.snapshot()}))
            return
        self._handle_query_request()

    def do_POST(self) -> None:
        if urlsplit(self.path).path == "/_reset":
            self.server.stats = Stats()
            self.server.limits.reset()
            self._send(json_answer(200, {"reset": True}))
            return
        if urlsplit(self.path).path == "/_limits":
            self._send(json_answer(200, switch_limits(self.server, urlsplit(self.path).query)))
            return
        self._handle_query_request()

    def do_PUT(self) -> None:
        self._handle_query_request()

    do_DELETE = do_PATCH = do_PUT

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base-class signature
        log(f"{self.address_string()} {format % args}")

    # -- the query endpoint ---------------------------------------------------

    def _handle_query_request(self) -> None:
        received = time.monotonic()
        body = self._read_body()
        fault = None
        try:
            answer, fault = self._answer(body, received)
        except ApiError as error:
            answer = json_answer(error.status, error.body, error.headers)
        except Exception as exc:  # a bug here must still produce an answer
            log(f"internal error: {exc!r}")
            answer = json_answer(500, error_body("InternalServerError", f"{type(exc).__name__}: {exc}"))
        self.server.stats.record(answer.status, fault)
        self._send(answer)

    def _answer(self, body: bytes, received: float) -> tuple[Answer, Fault | None]:
        server = self.server
        self._check_authorization()
        request = urlsplit(self.path)
        route = _QUERY_PATH.match(request.path)
        if not route or self.command not in ("GET", "POST") \
                or route.group(1).lower() not in server.workspaces:
            raise path_not_found()

        if self.command == "POST":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            try:
                payload = json.loads(body.decode("utf-8")) if body else None
            except (ValueError, UnicodeDecodeError):
                payload = None
            if content_type != "application/json" or not isinstance(payload, dict):
                return Answer(200), None  # what the service does without JSON
        else:
            payload = {k: v[-1] for k, v in parse_qs(request.query).items()}

        query = payload.get("query")
        if not isinstance(query, str) or not query.strip():
            raise bad_argument(inner("QueryValidationError",
                                     "The request body must contain a non-empty 'query' string."))
        window = None
        if payload.get("timespan"):
            try:
                window = parse_timespan(str(payload["timespan"]), utc_now())
            except ValueError as exc:
                raise bad_argument(inner("InvalidTimespan", str(exc)))

        tenants = request_tenants(server, route.group(1), payload.get("workspaces"))
        throttled = server.limits.admit(received)
        if throttled is not None:
            return throttled, None
        try:
            deadline = received + parse_prefer_wait(self.headers.get("Prefer"))
            fault = server.faults.pick(query)
            try:
                answer = self._produce(query, window, deadline, fault, tenants)
            except GatewayTimeout:
                time.sleep(max(deadline - time.monotonic(), 0.0))
                return json_answer(504, gateway_timeout().body), fault
            except ApiError as error:
                answer = json_answer(error.status, error.body, error.headers)
            hold_for_latency(server, received)
            return answer, fault
        finally:
            server.limits.release()

    def _produce(self, query: str, window, deadline: float, fault: Fault | None,
                 tenants: list[str] | None = None) -> Answer:
        """Apply the fault (if any) and run the query, within *deadline*."""
        if fault and fault.delay:
            if fault.ignore_wait:
                # A server (or a proxy before it) that does not honour Prefer: wait.
                deadline = time.monotonic() + fault.delay + MAX_WAIT_SECONDS
            elif time.monotonic() + fault.delay >= deadline:
                raise GatewayTimeout()
            time.sleep(fault.delay)
        retry = {"Retry-After": fault.retry_after} if fault and fault.retry_after else {}
        if fault and fault.status:
            error = injected_status_error(fault.status)
            return json_answer(error.status, error.body, {**error.headers, **retry})
        mode = fault.mode if fault else None
        if mode == "empty200":
            return Answer(200, headers=retry)
        if mode == "nocontent":
            return Answer(204, headers=retry)
        if mode == "wrong_columns":
            return json_answer(200, {"tables": [{"name": "PrimaryResult",
                                                 "columns": [{"name": "Unexpected", "type": "string"}],
                                                 "rows": [["unexpected"]]}]}, retry)

        try:
            result = run_query(self.server, query, window, deadline - time.monotonic(), tenants)
        except GatewayTimeout:
            raise
        except Exception as exc:
            raise engine_error_to_api(exc, query)
        document: dict = {"tables": [encode_result(result)]}
        if mode == "partial":
            document["error"] = partial_error()
        answer = json_answer(200, document, retry)
        if mode == "malformed":
            answer.body = answer.body[: max(len(answer.body) * 2 // 3, 1)] + b",]"
        if mode == "reset":
            answer.reset = True
        return answer

    # -- helpers --------------------------------------------------------------

    def _check_authorization(self) -> None:
        header = self.headers.get("Authorization")
        if not header:
            raise missing_authorization()
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.server.token:
            raise invalid_token()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        if answer.content_type:
            self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.reset:
            self._send_then_reset(answer)
            return
        if answer.status != 204:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if answer.body:
            self.wfile.write(answer.body)

    def _send_then_reset(self, answer: Answer) -> None:
        """Promise the whole body, send a part, then drop the connection with a RST."""
        self.send_header("Content-Length", str(len(answer.body) + 4096))
        self.end_headers()
        self.wfile.write(answer.body[: max(len(answer.body) // 2, 1)])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


def partial_error() -> dict:
    return {
        "code": "PartialError",
        "message": "There were some errors when processing your query.",
        "details": [{
            "code": "EngineError",
            "message": "Something went wrong processing your query on the server.",
            "innererror": {
                "code": "-2133196790",
                "message": "Partial query failure injected by the local test workspace "
                           "(fault 'partial'); the rows returned are complete.",
                "severity": 3,
                "severityName": "Warning",
            },
        }],
    }


class LocalWorkspaceServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Set by ``configure_load`` (see "Latency, limits and cross-workspace queries").
    latency = 0.0
    forbidden: frozenset = frozenset()
    omit_forbidden = False
    limits: "ServiceLimits"
    answers: dict | None = None

    def __init__(self, port: int, workspace: LocalWorkspace, workspaces: list[str], token: str,
                 faults: FaultPlan, engines: dict[str, LocalWorkspace] | None = None):
        super().__init__(("127.0.0.1", port), QueryApiHandler)
        self.workspace = workspace
        # Workspaces served from a scenario of their own (``--workspace GUID=SCENARIO``).
        self.engines = {w.lower(): engine for w, engine in (engines or {}).items()}
        self.workspaces = {w.lower() for w in workspaces} | set(self.engines)
        self.token = token
        self.faults = faults
        self.stats = Stats()
        self.limits = ServiceLimits()

    def handle_error(self, request, client_address) -> None:
        log(f"connection error from {client_address}: {sys.exc_info()[1]!r}")


# ---------------------------------------------------------------------------
# Latency, limits and cross-workspace queries
# ---------------------------------------------------------------------------
# What the performance benchmark and the throttling tests need (README "Latency, limits and
# cross-workspace queries"): a service time per query, the per-user limits answered with 429,
# the `workspaces` body field, inaccessible workspaces, and a translation cache so that the
# Python translator does not become the bottleneck of a benchmark.

MAX_CROSS_WORKSPACES = 100

#: How much later than its real arrival a request may be read here: a handler thread waits for
#: the interpreter lock while other threads encode answers, 0.2 s at worst on a busy two-core
#: machine. The rate window is shortened by this much so that this server's own lateness is
#: not mistaken for a client's excess.
ARRIVAL_SLACK = 0.5

#: Translations by KQL text. The views every request sees have the same columns, and a query
#: without a pinned clock translates to SQL that reads the clock itself, so a translation can
#: be reused as long as it binds no parameters.
_TRANSLATIONS: dict[str, str] = {}


def run_kql(cursor, kql: str):
    """``duckdb_kql.query(cursor, kql)``, translating each distinct query text once."""
    sql = _TRANSLATIONS.get(kql)
    if sql is None:
        from duckdb_kql.engine import schema as read_schema
        translated = duckdb_kql.to_sql(kql, schema=read_schema(cursor), allow_write=False)
        if translated.parameters or translated.unbound:
            return duckdb_kql.query(cursor, kql, allow_write=False)
        sql = _TRANSLATIONS.setdefault(kql, str(translated))
    return cursor.sql(sql)


def view_source(name: str, schema: TableSchema, tenants: list[str] | None) -> str:
    """The SELECT behind a request's view of a table.

    Without *tenants*, the stored rows. With them, the stored rows once per workspace the
    request covers, each copy's ``TenantId`` set to that workspace: a cross-workspace query
    sees the union of the workspaces' tables, and a single one sees its own id there.
    """
    table = f'{STORE_SCHEMA}."{name}"'
    if not tenants:
        return f"SELECT * FROM {table}"
    values = ", ".join(f"('{tenant}')" for tenant in tenants)
    stamp = ' REPLACE (w.tenant AS "TenantId")' if "TenantId" in dict(schema.columns) else ""
    return f"SELECT s.*{stamp} FROM {table} s CROSS JOIN (VALUES {values}) w(tenant)"


def request_tenants(server, workspace: str, listed) -> list[str]:
    """The workspaces a query request covers: its path's, then the ``workspaces`` field's.

    Raises the error the request gets when one of them cannot be read: 403 for a workspace
    served as inaccessible (``--forbidden-workspace``), 400 for one not served at all, 400 for
    more than 100. The whole request fails, whichever workspace it is (see README), except
    that with ``--omit-forbidden`` an unreadable workspace of the list is left out silently.
    """
    if isinstance(listed, str):  # the GET form: comma-separated
        listed = [part for part in listed.split(",") if part.strip()]
    if listed is None:
        listed = []
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise bad_argument(inner("InvalidWorkspaces", "'workspaces' must be a list of strings."))
    tenants: list[str] = []
    for candidate in [workspace, *listed]:
        key = candidate.strip().lower()
        if key not in tenants:
            tenants.append(key)
    if len(tenants) > MAX_CROSS_WORKSPACES:
        raise bad_argument(inner("TooManyResources",
                                 f"A query may cover at most {MAX_CROSS_WORKSPACES} resources; "
                                 f"this one covers {len(tenants)}."))
    for tenant in tenants:
        if tenant not in server.workspaces:
            raise bad_argument(inner("FailedToResolveResource",
                                     f"Failed to resolve the resource '{tenant}'."))
        if tenant in server.forbidden and (tenant == tenants[0] or not server.omit_forbidden):
            raise injected_status_error(403)
    return [tenant for tenant in tenants if tenant not in server.forbidden]


def switch_limits(server, query: str) -> dict:
    """``POST /_limits?enforce=0`` stops enforcing ``--max-concurrent`` and ``--rate-limit``
    (for a warm-up), ``enforce=1`` resumes."""
    wanted = parse_qs(query).get("enforce", ["1"])[-1]
    server.limits.enforced = wanted not in ("0", "false", "no")
    return {"enforced": server.limits.enforced}


def run_query(server, query: str, window, timeout: float, tenants: list[str]) -> QueryResult:
    """``LocalWorkspace.run`` on the data of the request's workspaces, or with
    ``--reuse-answers`` a result computed before for the same query text, workspaces and time
    window."""
    if server.answers is None:
        return run_on_engines(server, query, window, timeout, tenants)
    key = (query, tuple(tenants), window)
    result = server.answers.get(key)
    if result is None:
        result = server.answers.setdefault(
            key, run_on_engines(server, query, window, timeout, tenants))
    return result


def run_on_engines(server, query: str, window, timeout: float,
                   tenants: list[str]) -> QueryResult:
    """Run *query* over *tenants*. Workspaces served with a scenario of their own
    (``--workspace GUID=SCENARIO``) have their own engine: a query covering several engines runs
    on each with its workspaces, and the rows are put together. That equals one union over
    all of them for the cross-workspace queries ``sentinel-kms`` sends, which keep ``TenantId``
    through every aggregation, so no result row mixes workspaces."""
    groups: dict[int, tuple[LocalWorkspace, list[str]]] = {}
    for tenant in tenants:
        engine = server.engines.get(tenant, server.workspace)
        groups.setdefault(id(engine), (engine, []))[1].append(tenant)
    deadline = time.monotonic() + timeout
    results = [engine.run(query, window, deadline - time.monotonic(), covered)
               for engine, covered in groups.values()]
    if len(results) == 1:
        return results[0]
    shaped = next((r for r in results if r.rows), results[0])
    return QueryResult(shaped.columns, shaped.duck_types,
                       [row for result in results for row in result.rows])


def hold_for_latency(server, received: float) -> None:
    """Hold the answer until ``--latency`` seconds after the request arrived (a service time:
    the work done for the answer counts towards it)."""
    if server.latency > 0:
        time.sleep(max(received + server.latency - time.monotonic(), 0.0))


class ServiceLimits:
    """The per-user limits, enforced when asked, and what the load looked like.

    ``--max-concurrent N``: a query arriving while N are being answered gets 429 (the service
    queues such queries instead; a client that stays within the limit never sees either).
    ``--rate-limit R/T``: a query arriving when R queries were accepted in the last T seconds
    (less ``ARRIVAL_SLACK``) gets 429 with ``Retry-After`` saying when the oldest leaves the
    window. Throttled requests are not counted in the window. A query's slot is freed before
    its answer is sent.
    """

    def __init__(self, max_concurrent: int | None = None, rate: tuple[int, float] | None = None):
        self.max_concurrent = max_concurrent
        self.rate = rate
        self.enforced = True
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.running = 0
            self.running_peak = 0
            self.accepted: list[float] = []  # monotonic arrival times inside the window
            self.window_peak = 0
            self.throttled = {"concurrency": 0, "rate": 0}
            self.first_query_at: float | None = None
            self.last_answer_at: float | None = None

    def admit(self, received: float) -> Answer | None:
        """Count a query in, or answer 429 for it."""
        with self.lock:
            if self.first_query_at is None:
                self.first_query_at = time.time() - (time.monotonic() - received)
            if self.enforced and self.max_concurrent is not None \
                    and self.running >= self.max_concurrent:
                self.throttled["concurrency"] += 1
                return throttled_answer(1)
            if self.enforced and self.rate is not None:
                limit, span = self.rate
                span = max(span - ARRIVAL_SLACK, span / 2)
                self.accepted = [t for t in self.accepted if received - t < span]
                if len(self.accepted) >= limit:
                    self.throttled["rate"] += 1
                    return throttled_answer(math.ceil(self.accepted[0] + span - received))
                self.accepted.append(received)
                self.window_peak = max(self.window_peak, len(self.accepted))
            self.running += 1
            self.running_peak = max(self.running_peak, self.running)
            return None

    def release(self) -> None:
        with self.lock:
            self.running -= 1
            self.last_answer_at = time.time()

    def snapshot(self) -> dict:
        with self.lock:
            return {"running_peak": self.running_peak, "window_peak": self.window_peak,
                    "throttled": dict(self.throttled), "first_query_at": self.first_query_at,
                    "last_answer_at": self.last_answer_at}


def throttled_answer(retry_after: int) -> Answer:
    error = injected_status_error(429)
    return json_answer(429, error.body, {**error.headers, "Retry-After": str(max(retry_after, 1))})


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="answer each query no sooner than SECONDS after it arrived")
    parser.add_argument("--max-concurrent", type=int, metavar="N",
                        help="answer 429 to a query arriving while N are being answered")
    parser.add_argument("--rate-limit", metavar="R/T",
                        help="answer 429 to a query beyond R accepted in the last T seconds")
    parser.add_argument("--forbidden-workspace", action="append", default=[], metavar="GUID",
                        help="a served workspace the token may not read: 403, alone or in a list")
    parser.add_argument("--omit-forbidden", action="store_true",
                        help="leave forbidden workspaces out of a cross-workspace query silently")
    parser.add_argument("--reuse-answers", action="store_true",
                        help="compute each distinct query once and answer repeats from memory")


def parse_load_arguments(args: argparse.Namespace) -> dict:
    """Check the load options; raise ValueError with the bad value."""
    rate = None
    if args.rate_limit:
        count, _, span = args.rate_limit.partition("/")
        try:
            rate = (int(count), float(span))
        except ValueError:
            raise ValueError(f"--rate-limit {args.rate_limit!r}: expected R/T, e.g. 200/30")
        if rate[0] < 1 or rate[1] <= 0:
            raise ValueError(f"--rate-limit {args.rate_limit!r}: both numbers must be positive")
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise ValueError(f"--max-concurrent {args.max_concurrent}: must be at least 1")
    if args.latency < 0:
        raise ValueError(f"--latency {args.latency}: must not be negative")
    return {"latency": args.latency, "max_concurrent": args.max_concurrent, "rate": rate,
            "forbidden": frozenset(w.strip().lower() for w in args.forbidden_workspace),
            "reuse_answers": args.reuse_answers, "omit_forbidden": args.omit_forbidden}


def configure_load(server, load: dict) -> None:
    server.latency = load["latency"]
    server.forbidden = load["forbidden"]
    server.omit_forbidden = load["omit_forbidden"]
    server.limits = ServiceLimits(load["max_concurrent"], load["rate"])
    server.answers = {} if load["reuse_answers"] else None


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Local stand-in for the Azure Monitor Logs query API, backed by duckdb-kql.")
    parser.add_argument("--scenario", required=True,
                        help="scenario name (scenarios/NAME.toml next to this file) or a path")
    parser.add_argument("--workspace", action="append", default=[],
                        help=f"workspace GUID to serve, or GUID=SCENARIO to serve it with a "
                             f"scenario of its own (repeatable; default {DEFAULT_WORKSPACE})")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="bearer token to accept")
    parser.add_argument("--fault", action="append", default=[],
                        help="fault to inject, e.g. status=429,retry_after=2,times=1 (repeatable)")
    add_load_arguments(parser)
    return parser.parse_args(argv)


def own_engines(own_scenarios: dict[str, str], schemas: dict[str, TableSchema]
                ) -> dict[str, LocalWorkspace]:
    """One database per distinct scenario named by ``--workspace GUID=SCENARIO``, shared by
    the workspaces that name it; ``TenantId`` holds the first of them."""
    by_scenario: dict[str, LocalWorkspace] = {}
    engines = {}
    for workspace, name in own_scenarios.items():
        if name not in by_scenario:
            by_scenario[name] = LocalWorkspace(schemas, load_scenario(name, schemas), workspace,
                                               utc_now())
        engines[workspace] = by_scenario[name]
    return engines


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = parse_arguments(argv)
    own_scenarios = dict(spec.split("=", 1) for spec in args.workspace if "=" in spec)
    workspaces = [spec for spec in args.workspace if "=" not in spec] \
        or ([] if own_scenarios else [DEFAULT_WORKSPACE])
    try:
        load = parse_load_arguments(args)
        workspaces += [w for w in args.forbidden_workspace if w.lower() not in
                       {known.lower() for known in workspaces}]
        faults = FaultPlan([parse_fault(spec) for spec in args.fault])
        schemas = load_table_schemas()
        scenario = load_scenario(args.scenario, schemas)
        first = (workspaces or list(own_scenarios))[0]
        workspace = LocalWorkspace(schemas, scenario, first, utc_now())
        engines = own_engines(own_scenarios, schemas)
    except (ValueError, tomllib.TOMLDecodeError, duckdb.Error) as exc:
        log(f"error: {exc}")
        return 2

    try:
        server = LocalWorkspaceServer(args.port, workspace, workspaces, args.token, faults,
                                      engines)
        configure_load(server, load)
    except OSError as exc:
        log(f"error: cannot listen on 127.0.0.1:{args.port}: {exc}")
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()

    seeded = ", ".join(f"{t}={n}" for t, n in workspace.row_counts.items())
    log(f"scenario {scenario.name!r}: {scenario.description}")
    log(f"tables: {seeded}; missing: {', '.join(scenario.missing_tables) or 'none'}")
    served = workspaces + [f"{w}={name}" for w, name in own_scenarios.items()]
    log(f"engine: {ENGINE_NAME}; workspaces: {', '.join(served)}; "
        f"ready in {time.monotonic() - started:.2f}s")
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)

    stop.wait()
    log("shutting down")
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
