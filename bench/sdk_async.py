#!/usr/bin/env python3
"""The fair peer: Microsoft's Python SDK, async client, five queries at a time (the service's
limit per user), every query of the run gathered at once.

Usage: sdk_async.py ENDPOINT QUERIES_DIR WORKSPACE...
"""

import asyncio
import sys
import time
from pathlib import Path

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.monitor.query import LogsQueryStatus
from azure.monitor.query.aio import LogsQueryClient


class FixedToken:
    """The local workspace's test token, in place of azure-identity's async credentials."""

    async def get_token(self, *scopes, **kwargs):
        return AccessToken("local-workspace-token", int(time.time()) + 3600)

    async def close(self):
        pass


async def main() -> int:
    endpoint, queries_dir, *workspaces = sys.argv[1:]
    queries = [path.read_text() for path in sorted(Path(queries_dir).glob("*.kql"))]
    at_once = asyncio.Semaphore(5)

    async def run(client, workspace_id, query):
        async with at_once:
            try:
                response = await client.query_workspace(workspace_id, query, timespan=None,
                                                        enforce_https=False)
            except HttpResponseError as error:
                print(f"{workspace_id}: {error.message}", file=sys.stderr)
                return 0, 1
        data = response.tables if response.status == LogsQueryStatus.SUCCESS else response.partial_data
        failed = 0 if response.status == LogsQueryStatus.SUCCESS else 1
        return sum(len(table.rows) for table in data), failed

    async with LogsQueryClient(FixedToken(), endpoint=endpoint) as client:
        results = await asyncio.gather(*(run(client, w, q) for w in workspaces for q in queries))
    rows = sum(r for r, _ in results)
    failures = sum(f for _, f in results)
    print(f"rows {rows} failures {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
