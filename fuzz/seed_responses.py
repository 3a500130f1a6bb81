"""Writes seed inputs for the `response` fuzz target: the local workspace's real answers to
every shipped check in every scenario, plus the service's error and partial-error shapes.

    .venv/bin/python fuzz/seed_responses.py fuzz/corpus/response
"""

import hashlib
import json
import pathlib
import subprocess
import sys
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKSPACE = "00000000-0000-0000-0000-000000000001"
TOKEN = "local-workspace-token"


def save(folder: pathlib.Path, body: bytes) -> None:
    name = hashlib.sha1(body).hexdigest()
    (folder / name).write_bytes(body)


def answers(scenario: str, queries: list[str], faults: list[str]) -> list[bytes]:
    command = [sys.executable, str(ROOT / "tests/workspace/server.py"), "--scenario", scenario,
               "--port", "0", "--workspace", WORKSPACE, "--token", TOKEN]
    for fault in faults:
        command += ["--fault", fault]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().split()[1]
        bodies = []
        for query in queries:
            request = urllib.request.Request(
                f"{url}/v1/workspaces/{WORKSPACE}/query",
                data=json.dumps({"query": query}).encode(),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request) as response:
                    bodies.append(response.read())
            except urllib.error.HTTPError as error:
                bodies.append(error.read())
        return bodies
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    folder = pathlib.Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    queries = [path.read_text() for path in sorted((ROOT / "queries").rglob("*.kql"))]
    scenarios = sorted(path.stem for path in (ROOT / "tests/workspace/scenarios").glob("*.toml"))
    for scenario in scenarios:
        for body in answers(scenario, queries, []):
            save(folder, body)
    for body in answers("healthy", queries[:2], ["partial"]):
        save(folder, body)
    for body in answers("healthy", queries[:1], ["status=403"]):
        save(folder, body)
    for body in answers("table-missing", queries, []):
        save(folder, body)


if __name__ == "__main__":
    main()
