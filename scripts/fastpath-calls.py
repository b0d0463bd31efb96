#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fails if a fast-path function of rslab.ko makes a call.

Disassembles the module (llvm-objdump -dr --demangle) and, for each named
fast-path function, lists every call it makes: `call` instructions, and
calls or tail jumps through a relocation (x86_64 R_X86_64_PLT32/PC32 on a
call or jump; riscv64 R_RISCV_CALL/CALL_PLT, and R_RISCV_JAL to another
function). A call is allowed only to the function's own slow path(s), named
in FAST below. Prints one line per function and ends with
"fast paths: N passed, N failed".

Usage: fastpath-calls.py ARCH rslab.ko [--objdump llvm-objdump] [--nm llvm-nm]
"""
import argparse
import re
import subprocess
import sys

# Fast-path function (demangled name, exact) -> callees allowed (substrings
# of the demangled callee): its slow paths and error reports, and the
# zeroing that __GFP_ZERO, init_on_alloc and init_on_free ask for (taken
# only then: one test on the fast path).
SLAB_SLOW = ["Cache>::slab_alloc_slow", "Cache>::slab_free_slow",
             "Cache>::bad_free", "Cache>::double_free"]
SHEAF_SLOW = ["Cache>::sheaf_alloc_slow", "Cache>::sheaf_free_slow"]
INIT_ALLOC = ["Cache>::init_alloced"]
INIT_FREE = ["Cache>::free_hooks", "Cache>::free_hooked"]
POOL = "Pool<rslab::slab::page::SlabPage>>"
# The exported entries' traced variants, jumped to when the event's static
# key is on (a no-op instruction until then, on kernels with tracepoints).
TRACE = ["api::traced::"]
KMALLOC_SLOW = ["Cache>::slab_alloc_slow", "Cache>::slab_alloc_node::{closure", "Cache>::sheaf_alloc_slow",
                "Kmalloc>::alloc_large", "Kmalloc>::kmalloc_slow"]
FAST = {
    "<rslab::slab::Cache>::alloc": ["Cache>::slab_alloc_slow", "Cache>::sheaf_alloc_slow"] + INIT_ALLOC,
    # (node_match() on the fast path; the sheaves' node check likewise.)
    "<rslab::slab::Cache>::alloc_node": ["Cache>::slab_alloc_slow", "Cache>::sheaf_alloc_slow",
                                         "Cache>::sheaf_alloc_node_slow"] + INIT_ALLOC,
    "<rslab::slab::Cache>::free": SLAB_SLOW + ["Cache>::sheaf_free_slow"] + INIT_FREE,
    # (alloc_bulk's failure path frees what it took: the free slow paths.)
# The free hooks are init_on_free's zeroing, kmemleak's and allocation
# profiling's (taken only with one of them: one test on the fast path).
    "<rslab::slab::Cache>::alloc_bulk": ["Cache>::slab_alloc_slow"] + SLAB_SLOW + SHEAF_SLOW + INIT_ALLOC + INIT_FREE,
    "<rslab::slab::Cache>::free_bulk": SLAB_SLOW + SHEAF_SLOW + INIT_FREE,
    # (kmalloc_slow: the zones, and zeroing. A class has sheaves or not
    # (kmalloc_sheaves=): beside the sheaves' path, the compiler may keep the
    # classic slow path's closure out of line, a call on that slow path.)
    "<rslab::kmalloc::Kmalloc>::kmalloc": KMALLOC_SLOW,
    "<rslab::kmalloc::Kmalloc>::kfree": SLAB_SLOW + ["Cache>::sheaf_free_slow", "Kmalloc>::free_large",
                                                     "kmalloc::bad_kfree"] + INIT_FREE,
    # The exported entries, each the fast path itself (inline) or one jump
    # to it.
    "rslab_cache_alloc": ["Cache>::slab_alloc_slow", "Cache>::sheaf_alloc_slow"] + INIT_ALLOC + TRACE,
    "rslab_cache_free": SLAB_SLOW + ["Cache>::sheaf_free_slow"] + INIT_FREE + TRACE,
    "rslab_kmalloc": KMALLOC_SLOW + TRACE,
    "rslab_kfree": SLAB_SLOW + ["Cache>::sheaf_free_slow", "Kmalloc>::free_large",
                                "kmalloc::bad_kfree"] + INIT_FREE + TRACE,
    "rslab_cache_alloc_bulk": ["Cache>::alloc_bulk"],
    "rslab_cache_free_bulk": ["Cache>::free_bulk"],
    "rslab_alloc_pages": [POOL + "::alloc", POOL + "::alloc_slow", POOL + "::alloc_compound",
                          "Kmalloc>::alloc_pages"] + TRACE,
    "rslab_free_pages": [POOL + "::free", "Kmalloc>::free_other_pages", "Kmalloc>::put_block_shared",
                         "kmalloc::bad_kfree", "Kmalloc>::free_pages"] + TRACE,
    # The page pool as the slab layer instantiates it: its per-CPU lists.
    "<rslab::page_pool::" + POOL + "::alloc": [POOL + "::alloc_slow"],
    "<rslab::page_pool::" + POOL + "::free": [POOL + "::free_slow"],
}

HEADER = re.compile(r"^([0-9a-f]+) <(.*)>:$")
INSN = re.compile(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$")
RELOC = re.compile(r"^\s+([0-9a-f]+):\s+(R_\S+)\s+(.*)$")
TARGET = re.compile(r"<(.*)>")


def symbols(nm, ko):
    """Function symbols of .text: sorted (address, name)."""
    out = subprocess.run([nm, "--demangle", "--defined-only", "-n", ko],
                         check=True, capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tT" and not parts[2].startswith(".L"):
            syms.append((int(parts[0], 16), parts[2]))
    return syms


def containing(syms, addr):
    """The function that holds .text address `addr`."""
    best = None
    for a, n in syms:
        if a <= addr:
            best = n
        else:
            break
    return best


def resolve(syms, target):
    """The function a relocation target (`sym`, `sym+0x10`, `.text+0x..`) names."""
    m = re.match(r"^(.*?)(?:([+-])0x([0-9a-f]+))?$", target)
    name, sign, off = m.group(1), m.group(2), m.group(3)
    if name.startswith(".text"):
        addr = int(off or "0", 16) * (-1 if sign == "-" else 1)
        # x86_64 PC-relative calls carry addend target-4.
        return containing(syms, addr + 4) or target
    return name


def functions(objdump, ko):
    """Demangled function name -> list of (insn line, [relocations])."""
    out = subprocess.run([objdump, "-dr", "--demangle", "--no-show-raw-insn", ko],
                         check=True, capture_output=True, text=True).stdout
    funcs, cur, last = {}, None, None
    for line in out.splitlines():
        h = HEADER.match(line)
        if h:
            if h.group(2).startswith(".L"):
                continue  # a local label inside the current function
            cur = funcs.setdefault(h.group(2), [])
            last = None
            continue
        if cur is None:
            continue
        r = RELOC.match(line)
        if r and last is not None:
            last[1].append((r.group(2), r.group(3)))
            continue
        i = INSN.match(line)
        if i:
            last = (line, [])
            cur.append(last)
    return funcs


def calls(arch, syms, name, body):
    """The functions `name` calls (or tail-calls)."""
    found = []
    for line, relocs in body:
        i = INSN.match(line)
        mnem, ops = i.group(2), i.group(3)
        if arch == "x86_64":
            is_call = mnem.startswith("call")
            is_jump = mnem.startswith("j")
            for kind, tgt in relocs:
                if (is_call or is_jump) and kind in ("R_X86_64_PLT32", "R_X86_64_PC32"):
                    callee = resolve(syms, tgt)
                    if callee != name:
                        found.append(callee)
                    is_call = False
            if is_call:
                t = TARGET.search(ops)
                callee = t.group(1).split("+")[0] if t else ops
                if callee != name:
                    found.append(callee)
        else:
            for kind, tgt in relocs:
                if kind in ("R_RISCV_CALL", "R_RISCV_CALL_PLT", "R_RISCV_JAL"):
                    callee = resolve(syms, tgt)
                    if callee != name and not callee.startswith(".L"):
                        found.append(callee)
            if mnem in ("jalr", "jal") and not relocs and "ra" in ops.split(",")[0]:
                # A resolved call shows its target; `.L` labels are the
                # second half of an `auipc ra` + `jalr ra` pair whose
                # relocation, on the `auipc`, was counted above.
                t = TARGET.search(ops)
                callee = t.group(1).split("+")[0] if t else ops
                if callee != name and not callee.startswith(".L"):
                    found.append(callee)
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch")
    ap.add_argument("ko")
    ap.add_argument("--objdump", default="llvm-objdump")
    ap.add_argument("--nm", default="llvm-nm")
    a = ap.parse_args()
    syms = symbols(a.nm, a.ko)
    funcs = functions(a.objdump, a.ko)
    passed = failed = 0
    for name, allowed in FAST.items():
        if name not in funcs:
            print(f"not ok {name}: not found in {a.ko} (inlined away or renamed)")
            failed += 1
            continue
        bad = [c for c in calls(a.arch, syms, name, funcs[name])
               if not any(s in c for s in allowed)]
        if bad:
            print(f"not ok {name}: calls {', '.join(sorted(set(bad)))}")
            failed += 1
        else:
            print(f"ok {name}: {len(funcs[name])} instructions, no call but its slow path")
            passed += 1
    print(f"fast paths: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
