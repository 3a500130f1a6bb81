"""Stands in for the `aws` and `jq` command-line tools when the policy tests run the shell
commands `sentinel-kms policy` prints.

    cli_stand_in.py WORLD aws SERVICE OPERATION [--option value ...]
    cli_stand_in.py WORLD jq [--arg NAME VALUE] FILTER      (JSON on standard input)

WORLD is a JSON file: `answers` maps "SERVICE OPERATION" to the answer AWS would give (as the
CLI's JSON output shows it), `expect` maps "SERVICE OPERATION" to option values the call must
carry (a wrong one fails the call, as a wrong bucket or key would), and `files` maps option names
whose `file://` values must name readable JSON files. Every call is appended as one JSON line to
the file named by `calls`.

`--query` is applied with jmespath and `--output text` is printed the way the AWS CLI prints it,
so the test runs the very expressions the tool prints. The jq filter runs in the jq library.
"""

import json
import sys


def aws(world, args):
    service, operation, rest = args[0], args[1], args[2:]
    options = {}
    while rest:
        name = rest.pop(0)
        if not name.startswith("--"):
            return fail(f"unexpected argument {name!r}")
        values = []
        while rest and not rest[0].startswith("--"):
            values.append(rest.pop(0))
        options[name] = values[0] if len(values) == 1 else values
    call = f"{service} {operation}"
    with open(world["calls"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"call": call, "options": options}) + "\n")

    for name, value in world.get("expect", {}).get(call, {}).items():
        if options.get(name) != value:
            return fail(f"{call}: {name} is {options.get(name)!r}, expected {value!r}")
    for name in world.get("files", []):
        value = options.get(name)
        if isinstance(value, str) and value.startswith("file://"):
            with open(value[len("file://"):], encoding="utf-8") as document:
                json.load(document)
    if call not in world["answers"]:
        return fail(f"no answer for {call}")

    import jmespath

    answer = world["answers"][call]
    if "--query" in options:
        answer = jmespath.search(options["--query"], answer)
    if options.get("--output") == "text":
        print(as_text(answer))
    elif answer is not None:
        print(json.dumps(answer, indent=4))
    return 0


def as_text(value):
    """The AWS CLI's text output for a query result."""
    if value is None:
        return "None"
    if isinstance(value, list):
        if value and all(isinstance(item, list) for item in value):
            return "\n".join("\t".join(scalar(cell) for cell in row) for row in value)
        return "\t".join(scalar(item) for item in value)
    if isinstance(value, dict):
        return "\t".join(scalar(item) for item in value.values())
    return scalar(value)


def scalar(value):
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    return value if isinstance(value, str) else json.dumps(value)


def jq(args):
    import jq as jq_library

    variables = {}
    while args[0] == "--arg":
        variables[args[1]] = args[2]
        args = args[3:]
    (program,) = args
    results = jq_library.compile(program, args=variables).input_text(sys.stdin.read()).all()
    for result in results:
        print(json.dumps(result, indent=2))
    return 0


def fail(message):
    print(f"stand-in: {message}", file=sys.stderr)
    return 254


def main():
    with open(sys.argv[1], encoding="utf-8") as file:
        world = json.load(file)
    tool, args = sys.argv[2], sys.argv[3:]
    return aws(world, args) if tool == "aws" else jq(args)


if __name__ == "__main__":
    sys.exit(main())
