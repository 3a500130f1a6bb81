#!/usr/bin/env python3
"""The peer a team writes first: Microsoft's Python SDK, one query after another.

Follows the SDK's own sample for a single query (``LogsQueryClient.query_workspace``, a status
check, the tables of a full or partial result), looped over workspaces and checks.

Usage: sdk_sequential.py ENDPOINT QUERIES_DIR WORKSPACE...
"""

import sys
import time
from pathlib import Path

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.monitor.query import LogsQueryClient, LogsQueryStatus


class FixedToken:
    """The local workspace's test token, in place of azure-identity's credentials."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("local-workspace-token", int(time.time()) + 3600)


def main() -> int:
    endpoint, queries_dir, *workspaces = sys.argv[1:]
    queries = [path.read_text() for path in sorted(Path(queries_dir).glob("*.kql"))]
    client = LogsQueryClient(FixedToken(), endpoint=endpoint)
    rows = failures = 0
    for workspace_id in workspaces:
        for query in queries:
            try:
                response = client.query_workspace(workspace_id, query, timespan=None,
                                                  enforce_https=False)
                if response.status == LogsQueryStatus.SUCCESS:
                    data = response.tables
                else:
                    failures += 1
                    data = response.partial_data
                for table in data:
                    rows += len(table.rows)
            except HttpResponseError as error:
                failures += 1
                print(f"{workspace_id}: {error.message}", file=sys.stderr)
    print(f"rows {rows} failures {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
