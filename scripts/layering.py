#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The layering of rslab's sources: each layer of src/ uses only the layers
below it (and the pure logic, `crate::logic`, which any layer may use).

Top down: instance, admin, api, registry, kmalloc, slab, page_pool, glue.
A file's layer is the first component of its path under src/ (src/slab.rs and
src/slab/** are `slab`); src/rslab.rs, the crate root, is above them all.
Every `crate::<name>` in the code (comments and strings aside), including the
names inside `use crate::{...}` groups, is checked. Prints each violation as
"file:line: <layer> uses <layer>" and exits 1 if there is any.

Usage: layering.py [<top>]   (the repository; default: this script's parent)
"""

import os
import re
import sys

LAYERS = ["instance", "admin", "api", "registry", "kmalloc", "slab", "page_pool", "glue"]
ANYWHERE = {"logic"}


def strip(code):
    """The code without comments and string literals (same line numbers)."""
    out, i, n = [], 0, len(code)
    while i < n:
        c = code[i]
        if code.startswith("//", i):
            j = code.find("\n", i)
            i = n if j < 0 else j
        elif code.startswith("/*", i):
            j = code.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * code.count("\n", i, j))
            i = j
        elif c == '"' and not code.startswith("b'\"'", i - 2):
            j = i + 1
            while j < n and code[j] != '"':
                j += 2 if code[j] == "\\" else 1
            out.append('""' + "\n" * code.count("\n", i, j))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def uses(code):
    """(line, name) of every layer named after `crate::`."""
    found = []
    for m in re.finditer(r"\bcrate\s*::\s*(\{|\w+)", code):
        line = code.count("\n", 0, m.start()) + 1
        if m.group(1) != "{":
            found.append((line, m.group(1)))
            continue
        depth, i, expect = 1, m.end(), True
        while i < len(code) and depth > 0:
            c = code[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == ",":
                expect = depth == 1
            elif depth == 1 and expect and (c.isalpha() or c == "_"):
                w = re.match(r"\w+", code[i:]).group(0)
                found.append((code.count("\n", 0, i) + 1, w))
                expect = False
                i += len(w)
                continue
            i += 1
    return found


def layer_of(rel):
    first = rel.split(os.sep)[0]
    return first[:-3] if first.endswith(".rs") else first


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = os.path.join(top, "src")
    bad = 0
    for d, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(d, f)
            rel = os.path.relpath(path, src)
            layer = layer_of(rel)
            if layer == "rslab":
                continue
            if layer not in LAYERS:
                print(f"src/{rel}: not in a known layer ({', '.join(LAYERS)})")
                bad += 1
                continue
            below = set(LAYERS[LAYERS.index(layer):]) | ANYWHERE
            with open(path, encoding="utf-8") as fh:
                code = strip(fh.read())
            for line, name in uses(code):
                if name not in below:
                    print(f"src/{rel}:{line}: {layer} uses {name}")
                    bad += 1
    print(f"layering: {bad} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
