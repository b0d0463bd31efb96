#!/usr/bin/env python3
"""Reduces a kmem trace (the text of /sys/kernel/tracing/trace with the
kmalloc, kfree, kmem_cache_alloc and kmem_cache_free events) to a replay
file for the benchmark's trace replay (samples/rslab_bench.c, `replay=`).

Usage: trace-reduce.py TRACE CACHES OUT
  CACHES: lines "RSLAB-TRACE-CACHE <name> <object_size> <align>"

The replay file, little-endian:
  header  "RSLABRP1", u32 caches, u32 ops, u32 live (allocations the trace
          never frees), u32 0
  caches  u32 object size, u32 alignment, char name[24] (NUL-padded)
  ops     u32 each: bits 31-30 what (0 kmalloc, 1 cache allocation, 2 free),
          bit 29 __GFP_ZERO, bits 28-26 the CPU (mod 8), bits 25-0 the
          kmalloc size, the cache's index, or for a free how many operations
          back its allocation is (its lifetime in operations).

Frees of objects allocated before the trace began are dropped; allocations
that fail (NULL) or ask for 0 bytes are dropped with their frees. A pointer
allocated again before a recorded free (freed by a path without an event,
such as a bulk free) counts its first life as never freed.
"""
import re
import struct
import sys

MAX_OPS = 100_000
VALUE = (1 << 26) - 1
EV = re.compile(r"\[(\d+)\]\s+\S+\s+[\d.]+: (kmalloc|kfree|kmem_cache_alloc|kmem_cache_free): (.*)$")


def fields(rest):
    return dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)


def main():
    trace, caches_file, out = sys.argv[1:4]
    align = {}
    for line in open(caches_file):
        w = line.split()
        if len(w) == 4 and w[0] == "RSLAB-TRACE-CACHE":
            align[w[1]] = (int(w[2]), int(w[3]))
    caches = {}  # (name, size, align) -> index
    ops = []  # (what, zero, cpu, value)
    live = {}  # ptr -> op index of its allocation
    null = ("0000000000000000", "00000000", "(null)")
    for line in open(trace, errors="replace"):
        m = EV.search(line)
        if not m:
            continue
        cpu, ev, f = int(m.group(1)), m.group(2), fields(m.group(3))
        ptr = f.get("ptr")
        if ptr is None or ptr in null:
            continue
        if ev in ("kmalloc", "kmem_cache_alloc"):
            req = int(f["bytes_req"])
            if req == 0:
                continue
            zero = "__GFP_ZERO" in f.get("gfp_flags", "")
            if ev == "kmalloc":
                op = (0, zero, cpu, min(req, VALUE))
            else:
                name = f["name"]
                size, al = align.get(name, (req, 8))
                key = (name, req, al)
                if key not in caches:
                    caches[key] = len(caches)
                op = (1, zero, cpu, caches[key])
            if len(ops) >= MAX_OPS:
                break
            live[ptr] = len(ops)
            ops.append(op)
        else:
            i = live.pop(ptr, None)
            if i is None:
                continue
            if len(ops) >= MAX_OPS:
                break
            ops.append((2, False, cpu, len(ops) - i))
    freed = sum(1 for o in ops if o[0] == 2)
    allocs = len(ops) - freed
    with open(out, "wb") as f:
        f.write(b"RSLABRP1" + struct.pack("<IIII", len(caches), len(ops), allocs - freed, 0))
        for (name, size, al), _ in sorted(caches.items(), key=lambda kv: kv[1]):
            f.write(struct.pack("<II24s", size, al, name.encode()[:23]))
        for what, zero, cpu, value in ops:
            assert value <= VALUE
            f.write(struct.pack("<I", what << 30 | int(zero) << 29 | (cpu & 7) << 26 | value))
    kb = sum(o[3] for o in ops if o[0] == 0)
    print(f"{out}: {len(ops)} operations ({allocs} allocations, {freed} frees, "
          f"{allocs - freed} never freed), {len(caches)} caches, "
          f"{sum(1 for o in ops if o[0] == 0)} kmallocs of {kb} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
