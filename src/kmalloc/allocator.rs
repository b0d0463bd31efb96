// SPDX-License-Identifier: GPL-2.0
//! [`RslabAlloc`]: the kernel crate's `Allocator` over the module's kmalloc.

use super::Kmalloc;
use crate::glue::{atomic::Global, gfp::Gfp};
use core::{alloc::Layout, ptr::NonNull};
use kernel::{
    alloc::{AllocError, Allocator, Flags, NumaNode},
    page::PAGE_SIZE,
};

/// The [`Kmalloc`] that [`RslabAlloc`] uses: the module's, set while it is
/// loaded.
static GLOBAL: Global<Kmalloc> = Global::new();

/// Makes `k` the one [`RslabAlloc`] uses until [`clear_global`].
///
/// # Safety
///
/// `k` stays alive (and in place) until [`clear_global`] is called, and no
/// allocation of [`RslabAlloc`] is still live then.
pub(crate) unsafe fn set_global(k: &Kmalloc) {
    // SAFETY: the caller's guarantee, which is `publish`'s.
    unsafe { GLOBAL.publish(k) };
}

/// Stops [`RslabAlloc`] (it fails every allocation afterwards).
pub(crate) fn clear_global() {
    GLOBAL.withdraw();
}

/// The module's [`Kmalloc`], while loaded.
pub(crate) fn global() -> Option<&'static Kmalloc> {
    GLOBAL.get()
}

/// The kernel crate's [`Allocator`] over rslab's kmalloc: `KBox`/`KVec`
/// with `RslabAlloc` as their allocator take their memory from rslab.
pub(crate) struct RslabAlloc;

impl RslabAlloc {
    /// `nid` as a node number, `None` for [`NumaNode::NO_NODE`] (the kernel
    /// crate keeps its value to itself too).
    fn node(nid: NumaNode) -> Option<usize> {
        if nid == NumaNode::NO_NODE {
            return None;
        }
        (0..crate::glue::numa::nr_node_ids())
            .find(|&n| i32::try_from(n).ok().and_then(|n| NumaNode::new(n).ok()) == Some(nid))
    }

    /// The kmalloc size that gives `layout`'s alignment: classes of a power
    /// of two are aligned to their size, so a stricter alignment than 8
    /// asks for a power of two at least that big.
    fn size_for(layout: Layout) -> Option<usize> {
        let size = layout.size();
        if layout.align() <= 8 {
            return Some(size);
        }
        if layout.align() > PAGE_SIZE {
            return None;
        }
        size.max(layout.align()).checked_next_power_of_two()
    }
}

// SAFETY: memory from `Kmalloc` stays valid until `kfree`; any pointer from
// it may go to any function here; the guarantees are met below (sizes
// rounded for alignment, contents kept on realloc, `ptr` untouched on
// failure).
unsafe impl Allocator for RslabAlloc {
    const MIN_ALIGN: usize = 8;

    unsafe fn realloc(
        ptr: Option<NonNull<u8>>,
        layout: Layout,
        old_layout: Layout,
        flags: Flags,
        nid: NumaNode,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let k = global().ok_or(AllocError)?;
        let old = ptr.filter(|_| old_layout.size() > 0);
        if layout.size() == 0 {
            if let Some(p) = old {
                // SAFETY: the caller's guarantee: `p` is ours and live.
                unsafe { k.kfree(p.as_ptr()) };
            }
            let dangling = NonNull::new(layout.align() as *mut u8).ok_or(AllocError)?;
            return Ok(NonNull::slice_from_raw_parts(dangling, 0));
        }
        let size = Self::size_for(layout).ok_or(AllocError)?;
        // The caller's flags as they are (zeroing, zones, sleeping), and its
        // node.
        let gfp = Gfp::from_flags(flags);
        if let Some(p) = old {
            // SAFETY: as above.
            let ks = unsafe { k.ksize(p.as_ptr()) };
            if size <= ks && (p.as_ptr() as usize).checked_rem(layout.align()) == Some(0) {
                if gfp.zero() && layout.size() > old_layout.size() {
                    // Grown in place: the new bytes zeroed, as asked.
                    // SAFETY: `p` holds `ks >= layout.size()` bytes.
                    unsafe {
                        core::ptr::write_bytes(
                            p.as_ptr().add(old_layout.size()),
                            0,
                            layout.size() - old_layout.size(),
                        )
                    };
                }
                return Ok(NonNull::slice_from_raw_parts(p, layout.size()));
            }
        }
        let n = NonNull::new(k.kmalloc_node(size, gfp, Self::node(nid))).ok_or(AllocError)?;
        if let Some(p) = old {
            let keep = old_layout.size().min(layout.size());
            // SAFETY: `p` holds `old_layout.size()` bytes, `n` at least
            // `layout.size()`; distinct allocations.
            unsafe { core::ptr::copy_nonoverlapping(p.as_ptr(), n.as_ptr(), keep) };
            // SAFETY: as above.
            unsafe { k.kfree(p.as_ptr()) };
        }
        Ok(NonNull::slice_from_raw_parts(n, layout.size()))
    }
}
