// SPDX-License-Identifier: GPL-2.0
//! Allocation flags (`gfp_t`) as every layer passes them down.

use kernel::bindings;

/// `__GFP_ZERO`.
pub(crate) const GFP_ZERO: bindings::gfp_t = 1 << bindings::___GFP_ZERO_BIT;

/// Allocation flags: a `gfp_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gfp(bindings::gfp_t);

impl Gfp {
    /// `GFP_KERNEL`: may sleep.
    pub(crate) const KERNEL: Gfp = Gfp(bindings::GFP_KERNEL);
    /// `GFP_ATOMIC`: never sleeps, may use reserves.
    pub(crate) const ATOMIC: Gfp = Gfp(bindings::GFP_ATOMIC);
    /// `GFP_NOWAIT`: never sleeps.
    pub(crate) const NOWAIT: Gfp = Gfp(bindings::GFP_NOWAIT);

    /// Whether the caller may sleep (`__GFP_DIRECT_RECLAIM`).
    pub(crate) fn can_sleep(self) -> bool {
        self.0 & (1 << bindings::___GFP_DIRECT_RECLAIM_BIT) != 0
    }

    /// Whether it has `__GFP_THISNODE`: no other node's memory.
    pub(crate) fn this_node(self) -> bool {
        self.0 & (1 << bindings::___GFP_THISNODE_BIT) != 0
    }

    /// Whether the memory is to be zeroed (`__GFP_ZERO`).
    pub(crate) fn zero(self) -> bool {
        self.0 & GFP_ZERO != 0
    }

    /// These flags for the pages of a new slab of a cache whose
    /// `allocflags` (its zone) are `allocflags`: the caller's zone and
    /// `__GFP_ZERO` dropped (objects are zeroed one by one as they are
    /// handed out), the cache's zone added.
    pub(crate) fn for_slab(self, allocflags: bindings::gfp_t) -> Gfp {
        let drop = GFP_ZERO | (1 << bindings::___GFP_DMA_BIT) | (1 << bindings::___GFP_DMA32_BIT);
        Gfp((self.0 & !drop) | allocflags)
    }

    /// These flags with `__GFP_ZERO` too (`kzalloc()`).
    pub(crate) fn zeroed(self) -> Gfp {
        Gfp(self.0 | GFP_ZERO)
    }

    /// Flags a caller passed (the exported API's `gfp_t`).
    pub(crate) fn from_raw(gfp: bindings::gfp_t) -> Gfp {
        Gfp(gfp)
    }

    /// The raw `gfp_t`.
    pub(crate) fn raw(self) -> bindings::gfp_t {
        self.0
    }

    /// The kernel crate's flags for metadata allocated on behalf of a
    /// request with these flags: `GFP_KERNEL` if it may sleep, else
    /// `GFP_ATOMIC`.
    pub(crate) fn for_metadata(self) -> kernel::alloc::Flags {
        if self.can_sleep() {
            kernel::alloc::flags::GFP_KERNEL
        } else {
            kernel::alloc::flags::GFP_ATOMIC
        }
    }
}
