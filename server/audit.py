"""`hwc audit URL`: anyone (a privacy officer, another region) downloads every organisation's
key log, verifies chains, rules and head signatures, and prints the heads; with `--compare` an
earlier run's output, every head must extend the one seen then, so a rewritten history shows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from server import keylog
from server.client import Client, ClientError, _checked

RETRIES = 5  # a 429 (the log route is rate limited) is waited out this many times


def add_commands(commands: Any) -> None:
    audit = commands.add_parser(
        "audit",
        help="verify every organisation's key log and print the heads",
        description="Download the log key, every organisation's key log and head; verify the "
        "hash chains, the rules and the signatures; print the heads as JSON. With --compare, "
        "fail when a head does not extend the one in an earlier run's output.",
    )
    audit.add_argument("url", help="the server, e.g. https://hwc.example.nl")
    audit.add_argument("--compare", type=Path, help="an earlier run's output (JSON)")
    audit.set_defaults(run=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    earlier = json.loads(args.compare.read_text(encoding="utf-8")) if args.compare else None
    try:
        report, problems = audit(Client(args.url, None), earlier)
    except ClientError as error:
        print(error, file=sys.stderr)
        return 1
    print(json.dumps(report, indent=1, sort_keys=True))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def audit(client: Client, earlier: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """(the heads as verified now, the problems found: one Dutch line each)."""
    log_key = client._json("GET", "/api/log/key")["key"]
    problems: list[str] = []
    if earlier is not None and earlier.get("log_key") != log_key:
        problems.append("De sleutel van de sleutellijsten is veranderd sinds de vorige controle.")
    before = {h["org"]: h for h in (earlier or {}).get("heads", [])}
    trusted = {} if problems else before  # heads under another log key are checked anew
    heads = []
    for listed in client._json("GET", "/api/log/heads"):
        org_id = listed["org"]
        try:
            if not _unchanged(log_key, listed, trusted.get(org_id)):
                log = _log(client, org_id)
                _verify(log_key, org_id, listed, log, before.get(org_id))
                listed = log["head"]
        except keylog.LogError as error:
            problems.append(f"Organisatie {org_id}: sleutellijst afgekeurd ({error}).")
        heads.append(listed)
    missing = sorted(set(before) - {h["org"] for h in heads})
    problems += [f"Organisatie {org_id}: ontbreekt nu." for org_id in missing]
    return {"url": client.url, "log_key": log_key, "heads": heads}, problems


def _unchanged(log_key: str, listed: dict[str, Any], earlier: dict[str, Any] | None) -> bool:
    """The signed head is the one the earlier run verified the whole log up to: the hash chain
    then holds the same entries, so the log need not be fetched again (the route is rate
    limited; an audit of thousands of organisations downloads only what changed)."""
    if earlier is None or (listed["size"], listed["hash"]) != (earlier["size"], earlier["hash"]):
        return False
    keylog.check_head(log_key, listed, listed["org"])
    return True


def _verify(
    log_key: str,
    org_id: str,
    listed: dict[str, Any],
    log: dict[str, Any],
    earlier: dict[str, Any] | None,
) -> None:
    """The log and its head; the head in the list (which may be older) and the earlier run's
    head must both be prefixes of it."""
    remembered = None if earlier is None else (earlier["size"], earlier["hash"])
    keylog.verify_log(log_key, org_id, log["entries"], log["head"], remembered)
    keylog.check_head(log_key, listed, org_id)
    if not keylog.consistent(log["entries"], listed["size"], listed["hash"]):
        raise keylog.LogFork("the listed head is not a prefix of the served log")


def _log(client: Client, org_id: str) -> dict[str, Any]:
    for _attempt in range(RETRIES):
        status, answer = client._request("GET", f"/api/orgs/{org_id}/log")
        if status != 429:
            return dict(_checked(status, answer))
        time.sleep(1.0)
    raise ClientError("De server laat te lang wachten (429); probeer het later opnieuw.")
