// SPDX-License-Identifier: GPL-2.0
//! Private kmalloc buckets (`kmem_buckets_create()`, `kmem_buckets_alloc()`,
//! Linux 6.11): a cache per kmalloc class that one user allocates from
//! instead of the shared classes, so that what it allocates (sizes an
//! attacker controls, say) never shares a slab with anyone else's objects.
//! Sizes above the classes are kmalloc's large blocks, as the kernel's. The
//! caches are made by the layer above (the registry: they are in sysfs as
//! `<name>-<size>`); `kfree()` takes their objects as any slab object.

use super::{Classes, Kmalloc, ZERO_SIZE_PTR};
use crate::{
    glue::gfp::Gfp,
    logic::slab::layout::{self, KMALLOC_INDICES},
    slab::Cache,
};
use kernel::{prelude::*, sync::Arc};

/// A set of buckets (`kmem_buckets`): a cache per kmalloc class.
pub(crate) struct Buckets {
    caches: Classes,
}

impl Buckets {
    /// Buckets whose cache for each class of `size` bytes `make(size)`
    /// makes (the first error, if any, after the caches already made are
    /// dropped).
    pub(crate) fn new(mut make: impl FnMut(u32) -> Result<Arc<Cache>>) -> Result<Self> {
        let mut caches: Classes = Default::default();
        for idx in KMALLOC_INDICES {
            caches[idx as usize] = Some(make(layout::kmalloc_size(idx) as u32)?);
        }
        Ok(Buckets { caches })
    }

    /// Its caches, by class index.
    pub(crate) fn caches(&self) -> impl Iterator<Item = &Arc<Cache>> {
        self.caches.iter().flatten()
    }
}

impl Kmalloc {
    /// `kmem_buckets_alloc()` (of node `nid`, `None`: any): `size` bytes
    /// from `b`'s class for that size, as `kmalloc()` gives them (zeroed up
    /// to `ksize()` for `__GFP_ZERO`), a large block above the classes;
    /// [`ZERO_SIZE_PTR`] for 0, null without memory. The zone flags choose
    /// nothing here, as in the kernel (the buckets are normal caches).
    pub(crate) fn buckets_alloc(
        &self,
        b: &Buckets,
        size: usize,
        gfp: Gfp,
        nid: Option<usize>,
    ) -> *mut u8 {
        if size == 0 {
            return ZERO_SIZE_PTR;
        }
        let class = layout::kmalloc_index(size).and_then(|i| b.caches.get(i as usize)?.as_ref());
        self.alloc_in(class, size, gfp, nid)
    }
}
