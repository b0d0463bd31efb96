// SPDX-License-Identifier: GPL-2.0
//! NUMA nodes: how many there can be, which have memory, a CPU's node, the
//! node of an address, distances (the kernel crate has no NUMA interface).
//! On a kernel without `CONFIG_NUMA` there is one node, 0. Out-of-line
//! calls: for slow paths and setup.

use super::ffi;

/// Whether the kernel has `CONFIG_NUMA` (else: one node, and SLUB's sysfs
/// files print no per-node breakdown).
pub(crate) fn enabled() -> bool {
    // SAFETY: reads a constant.
    unsafe { ffi::rslab_numa_enabled() }
}

/// `nr_node_ids`: node numbers are below it (at least 1).
pub(crate) fn nr_node_ids() -> usize {
    // SAFETY: reads a variable set at boot.
    (unsafe { ffi::rslab_nr_node_ids() } as usize).max(1)
}

/// Whether node `nid` has memory (`N_MEMORY`).
pub(crate) fn has_memory(nid: usize) -> bool {
    // SAFETY: `node_state()` only tests a bit of a node mask; `nid` is
    // bounded first.
    nid < nr_node_ids() && unsafe { ffi::rslab_node_has_memory(nid as i32) }
}

/// The nodes with memory.
pub(crate) fn memory_nodes() -> impl Iterator<Item = usize> {
    (0..nr_node_ids()).filter(|&n| has_memory(n))
}

/// The node whose memory is nearest `cpu` (`cpu_to_mem()`): its node, as a
/// CPU's node always has memory here.
pub(crate) fn cpu_node(cpu: usize) -> usize {
    // SAFETY: reads a per-CPU variable of a possible CPU (the caller's
    // numbers come from `nr_cpu_ids`).
    let n = unsafe { ffi::rslab_cpu_to_mem(cpu as i32) };
    usize::try_from(n).unwrap_or(0).min(nr_node_ids() - 1)
}

/// `node_distance(a, b)`.
pub(crate) fn distance(a: usize, b: usize) -> i32 {
    // SAFETY: reads the distance table; both are node numbers.
    unsafe { ffi::rslab_node_distance(a as i32, b as i32) }
}

/// The nodes other than `from`, nearest first (ties by number), at most
/// `MAX_FALLBACK` of them: a zonelist's fallback order.
pub(crate) fn fallback_nodes(from: usize) -> ([u16; MAX_FALLBACK], usize) {
    let mut out = [0u16; MAX_FALLBACK];
    let mut n = 0;
    for node in (0..nr_node_ids()).filter(|&x| x != from) {
        if n == MAX_FALLBACK {
            break;
        }
        let d = distance(from, node);
        // Insertion by distance; equal distances keep node order.
        let mut i = n;
        while i > 0 && distance(from, out[i - 1] as usize) > d {
            out[i] = out[i - 1];
            i -= 1;
        }
        out[i] = node as u16;
        n += 1;
    }
    (out, n)
}

/// How many other nodes [`fallback_nodes`] considers.
pub(crate) const MAX_FALLBACK: usize = 64;
