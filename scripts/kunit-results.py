#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count the results of one test VM run.

Reads a console log written by scripts/vm.sh running scripts/guest/rslab-test.sh:
each KUnit suite's KTAP results sit between "RSLAB-KTAP-BEGIN <suite>" and
"RSLAB-KTAP-END <suite>" ("<suite>@<tag>" for a later run of it, as after a
reload) and are parsed by the kernel's own
`tools/testing/kunit/kunit.py parse`; each "RSLAB-CHECK ok|fail <name>;" at the
start of a line is one more test (what follows the ";" is ignored: a kernel
report printed meanwhile on the shared console may land there). A suite that
is expected but absent (crash, timeout, not registered) counts as a failure,
and so does a run that never finished.

Prints one line per failure and, last, "<label>: N passed, N failed, N skipped".
Exit status: 0 if nothing failed.
"""
import argparse
import json
import re
import subprocess
import sys


def parse_ktap(kunit_py, text):
    """Returns [(test name, status)] from kunit.py's JSON for one KTAP doc."""
    out = subprocess.run([sys.executable, kunit_py, "parse", "--json"],
                         input=text, capture_output=True, text=True)
    start = out.stdout.find("{")
    if start < 0:
        return [("kunit.py parse", "FAIL")]
    tree = json.loads(out.stdout[start:])
    cases = []

    def walk(group, prefix):
        name = group.get("name", "")
        if group.get("misc", {}).get("errors", 0):
            cases.append((f"{prefix}{name} (KTAP parse errors)", "ERROR"))
        for case in group.get("test_cases", []):
            cases.append((f"{prefix}{name}.{case['name']}", case["status"]))
        for sub in group.get("sub_groups", []):
            walk(sub, f"{prefix}{name}." if name else prefix)

    walk(tree, "")
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kunit-py", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("log")
    ap.add_argument("suites", nargs="*")
    args = ap.parse_args()

    text = open(args.log, errors="replace").read()
    # Serial consoles end lines with \r\n.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    passed = failed = skipped = 0
    failures = []

    # "suite" is the run at first load, "suite@tag" a later run (a reload);
    # every run is counted, and every expected suite must have run once.
    blocks = re.findall(
        r"^RSLAB-KTAP-BEGIN (\S+)\n(.*?)^RSLAB-KTAP-END \1$", text, re.M | re.S)
    ran = {tagged.split("@")[0] for tagged, _ in blocks}
    for suite in args.suites:
        if suite not in ran:
            failed += 1
            failures.append(f"suite {suite}: no results (crash, timeout or not registered)")
    for tagged, block in blocks:
        tag = tagged.partition("@")[2]
        for name, status in parse_ktap(args.kunit_py, block):
            if status == "PASS":
                passed += 1
            elif status == "SKIP":
                skipped += 1
            else:
                failed += 1
                failures.append(f"{name}{' (' + tag + ')' if tag else ''}: {status}")

    for status, name in re.findall(r"^RSLAB-CHECK (ok|fail) ([^;\s]+);", text, re.M):
        if status == "ok":
            passed += 1
        else:
            failed += 1
            failures.append(f"check {name}: failed")

    if not re.search(r"^RSLAB-GUEST done$", text, re.M):
        failed += 1
        failures.append("guest run did not finish (crash or timeout): see " + args.log)

    for f in failures:
        print(f"{args.label}: FAIL {f}")
    print(f"{args.label}: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
