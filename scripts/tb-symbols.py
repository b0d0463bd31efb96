#!/usr/bin/env python3
"""Names the blocks of a tb-profile.c count (scripts/profile.sh).

Usage: tb-symbols.py CONSOLE_LOG COUNTS SYSTEM_MAP [TOP]

The kernel's functions come from SYSTEM_MAP, moved by the guest's `_text`
if the kernel was relocated; the modules' from the `RSLAB-KSYM` lines
(`/proc/kallsyms` of the guest) in CONSOLE_LOG. Prints the instructions
run in all, then the TOP functions of rslab's modules and the TOP others,
each with its instructions and share.
"""
import bisect
import collections
import re
import sys


def local(name):
    """An assembler's local label or mapping symbol (riscv64's `$x`,
    `.Lpcrel_hi3`), not a function."""
    return name.startswith(("$", ".L"))


def main():
    log, counts, smap = sys.argv[1:4]
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    kernel, text = [], None
    with open(smap) as f:
        for line in f:
            a, t, name = line.split()[:3]
            if name == "_text":
                text = int(a, 16)
            if t in "tTwW" and not local(name):
                kernel.append((int(a, 16), name))
    mods, guest_text = [], None
    ksym = re.compile(r"RSLAB-KSYM ([0-9a-f]+) (\w) (\S+)(?:\s+\[(\w+)\])?")
    with open(log, errors="replace") as f:
        for line in f:
            m = ksym.search(line)
            if not m:
                continue
            if m.group(4) is None:
                if m.group(3) == "_text":
                    guest_text = int(m.group(1), 16)
            elif m.group(2) in "tT" and not local(m.group(3)):
                mods.append((int(m.group(1), 16), f"{m.group(3)} [{m.group(4)}]"))
    shift = guest_text - text if guest_text and text else 0
    syms = sorted([(a + shift, n) for a, n in kernel] + mods)
    addrs = [a for a, _ in syms]
    per = collections.Counter()
    with open(counts) as f:
        for line in f:
            v, _, n = line.split()
            k = bisect.bisect_right(addrs, int(v, 16)) - 1
            per[syms[k][1] if k >= 0 else "(user or unknown)"] += int(n)
    total = sum(per.values())
    print(f"# {total} guest instructions in all")
    for title, want in (("rslab", True), ("others", False)):
        print(f"# {title}: instructions, share, function")
        rows = [(n, s) for s, n in per.items() if ("[rslab" in s) == want]
        for n, s in sorted(rows, reverse=True)[:top]:
            print(f"{n:14d} {100.0 * n / total:6.2f}% {s}")


if __name__ == "__main__":
    main()
