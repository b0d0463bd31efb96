// SPDX-License-Identifier: GPL-2.0
//! Allocation flags (`gfp_t`) as every layer passes them down.
//!
//! A [`Gfp`] carries one bit no `gfp_t` has, [`MARK`], always set: so a
//! rule "whatever the flags" is a mask with that bit, and a fast path tests
//! any rule with one `test` of the flags against a mask (see
//! [`Gfp::bits`]); [`Gfp::raw`] is the `gfp_t`, without it.

use kernel::bindings;

/// `__GFP_ZERO`.
pub(crate) const GFP_ZERO: bindings::gfp_t = 1 << bindings::___GFP_ZERO_BIT;

/// The bit every [`Gfp`] carries (`___GFP_LAST_BIT` is far below it): a
/// mask with it matches every request.
pub(crate) const MARK: u32 = crate::logic::slab::init::ALWAYS;

/// Allocation flags: a `gfp_t`.
///
/// # Invariants
///
/// The bit [`MARK`] is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gfp(bindings::gfp_t);

impl Gfp {
    // INVARIANT: each constant has the mark.
    /// `GFP_KERNEL`: may sleep.
    pub(crate) const KERNEL: Gfp = Gfp(bindings::GFP_KERNEL | MARK);
    /// `GFP_ATOMIC`: never sleeps, may use reserves.
    pub(crate) const ATOMIC: Gfp = Gfp(bindings::GFP_ATOMIC | MARK);
    /// `GFP_NOWAIT`: never sleeps.
    pub(crate) const NOWAIT: Gfp = Gfp(bindings::GFP_NOWAIT | MARK);

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

    /// These flags as `kmalloc_nolock()` takes them: only `__GFP_ZERO`,
    /// `__GFP_ACCOUNT`, `__GFP_NOWARN` and `__GFP_NOMEMALLOC` kept (7.3
    /// warns about others under `CONFIG_DEBUG_VM`; none can make it
    /// sleep or pick a zone here), with the last two added.
    pub(crate) fn for_nolock(self) -> Gfp {
        let quiet = (1 << bindings::___GFP_NOWARN_BIT) | (1 << bindings::___GFP_NOMEMALLOC_BIT);
        let keep = GFP_ZERO | (1 << bindings::___GFP_ACCOUNT_BIT) | quiet;
        // INVARIANT: the mark is kept.
        Gfp((self.0 & (keep | MARK)) | quiet)
    }

    /// These flags with `__GFP_ZERO` too (`kzalloc()`).
    pub(crate) fn zeroed(self) -> Gfp {
        Gfp(self.0 | GFP_ZERO)
    }

    /// Flags a caller passed (the exported API's `gfp_t`).
    #[inline(always)]
    pub(crate) fn from_raw(gfp: bindings::gfp_t) -> Gfp {
        // INVARIANT: the mark is set.
        Gfp(gfp | MARK)
    }

    /// The kernel crate's [`kernel::alloc::Flags`] as a `gfp_t`. The crate
    /// keeps their value to itself, and every `Flags` is made of its
    /// public constants: the union of those it contains is the value.
    pub(crate) fn from_flags(flags: kernel::alloc::Flags) -> Gfp {
        use kernel::alloc::flags::*;
        const ALL: [(kernel::alloc::Flags, bindings::gfp_t); 7] = [
            (GFP_KERNEL_ACCOUNT, bindings::GFP_KERNEL_ACCOUNT),
            (GFP_KERNEL, bindings::GFP_KERNEL),
            (GFP_ATOMIC, bindings::GFP_ATOMIC),
            (GFP_NOWAIT, bindings::GFP_NOWAIT),
            (__GFP_ZERO, bindings::__GFP_ZERO),
            (__GFP_HIGHMEM, bindings::__GFP_HIGHMEM),
            (__GFP_NOWARN, bindings::__GFP_NOWARN),
        ];
        Gfp::from_raw(
            ALL.iter()
                .filter(|(f, _)| flags.contains(*f))
                .fold(0, |acc, (_, raw)| acc | raw),
        )
    }

    /// The raw `gfp_t`, for the kernel.
    #[inline(always)]
    pub(crate) fn raw(self) -> bindings::gfp_t {
        self.0 & !MARK
    }

    /// The flags with [`MARK`]: what a fast path tests a mask against.
    #[inline(always)]
    pub(crate) fn bits(self) -> u32 {
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
