// SPDX-License-Identifier: GPL-2.0
//! The module's caches (SLUB's `slab_caches` list and `slab_mutex`,
//! mm/slab_common.c): the kmalloc classes and every cache made through the
//! API or the control file, by name, each with its CPU hotplug instance, and
//! the `slub_debug=` option that new caches get their debug flags from.
//!
//! The layer above (the admin side) shows each cache, its sysfs directory,
//! through a [`CacheView`] it attaches: this layer knows nothing of sysfs.

use crate::{
    glue::{cpuhp, fmtbuf},
    kmalloc::{Buckets, Kmalloc},
    logic::slab::{debugopt::SlubDebug, name::NAME_LEN},
    slab::{Cache, CacheConfig, SlabPool},
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// How the layer above shows a cache (its sysfs directory).
pub(crate) trait CacheView: Send + Sync {
    /// Shows `cache`, until the result is dropped.
    fn show(&self, cache: &Arc<Cache>) -> Result<KBox<dyn Send + Sync>>;
}

/// A registered cache.
struct Entry {
    /// What shows it: dropped first, before the cache can go.
    _shown: Option<KBox<dyn Send + Sync>>,
    _hotplug: cpuhp::Instance<Cache>,
    cache: Arc<Cache>,
    /// A kmalloc class: not destroyable by users.
    builtin: bool,
}

/// What the registry's lock protects.
struct Inner {
    /// What shows the caches (`None` until attached, and after teardown).
    view: Option<KBox<dyn CacheView>>,
    entries: KVec<Entry>,
}

impl Inner {
    /// The index of the entry of the cache at `c`.
    fn at(&self, c: *const Cache) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| core::ptr::eq(Arc::as_ptr(&e.cache), c))
    }
}

/// Every cache of the module, by name.
#[pin_data(PinnedDrop)]
pub(crate) struct Registry {
    pool: Arc<SlabPool>,
    kmalloc: Kmalloc,
    slub_debug: SlubDebug<'static>,
    #[pin]
    inner: Mutex<Inner>,
}

impl Registry {
    /// The registry of `pool`, with its kmalloc classes made under
    /// `slub_debug`, with sheaves if `kmalloc_sheaves` (not yet shown: see
    /// [`Registry::attach`]).
    pub(crate) fn new(
        pool: &Arc<SlabPool>,
        slub_debug: SlubDebug<'static>,
        kmalloc_sheaves: bool,
    ) -> Result<Arc<Self>> {
        let kmalloc = Kmalloc::new(pool, slub_debug, kmalloc_sheaves)?;
        let mut entries = KVec::new();
        for c in kmalloc.caches() {
            entries.push(Self::entry(c.clone(), None, true)?, GFP_KERNEL)?;
        }
        Arc::pin_init(
            pin_init!(Registry {
                pool: pool.clone(),
                kmalloc,
                slub_debug,
                inner <- new_mutex!(Inner {
                    view: None,
                    entries,
                }),
            }),
            GFP_KERNEL,
        )
    }

    /// The kmalloc classes.
    pub(crate) fn kmalloc(&self) -> &Kmalloc {
        &self.kmalloc
    }

    /// Shows every cache, and every cache made from now on, through `view`.
    pub(crate) fn attach(&self, view: KBox<dyn CacheView>) -> Result {
        let mut g = self.inner.lock();
        let g = &mut *g;
        for e in g.entries.iter_mut() {
            e._shown = Some(view.show(&e.cache)?);
        }
        g.view = Some(view);
        Ok(())
    }

    /// An entry for `cache`, shown by `view` if there is one.
    fn entry(cache: Arc<Cache>, view: Option<&dyn CacheView>, builtin: bool) -> Result<Entry> {
        Ok(Entry {
            _shown: view.map(|v| v.show(&cache)).transpose()?,
            _hotplug: cpuhp::Instance::new(cache.clone())?,
            cache,
            builtin,
        })
    }

    /// The cache named `name`.
    pub(crate) fn find(&self, name: &[u8]) -> Option<Arc<Cache>> {
        let g = self.inner.lock();
        g.entries
            .iter()
            .find(|e| e.cache.name() == name)
            .map(|e| e.cache.clone())
    }

    /// A cache made from `cfg` (with the `slub_debug=` option's flags for
    /// its name), registered and shown: `EEXIST` for a name in use, `EINVAL`
    /// for a bad request (the `create` command, `rslab_cache_create()`).
    pub(crate) fn create(&self, cfg: &CacheConfig<'_>) -> Result<Arc<Cache>> {
        let mut g = self.inner.lock();
        if g.entries
            .iter()
            .any(|e| e.cache.name() == cfg.name.as_bytes())
        {
            pr_err!("create: a cache {} exists\n", cfg.name);
            return Err(EEXIST);
        }
        let mut cfg = *cfg;
        cfg.slub_debug = self.slub_debug;
        let cache = Cache::new(&self.pool, &cfg)?;
        let e = Self::entry(cache.clone(), g.view.as_deref(), false)?;
        g.entries.push(e, GFP_KERNEL)?;
        Ok(cache)
    }

    /// `kmem_buckets_create()`: a cache `<name>-<size>` for each kmalloc
    /// class, made as `cfg` says (its name and size replaced, its user copy
    /// region clipped to each size as the kernel's; `EINVAL` if a name would
    /// be too long), each registered and shown as any cache. Nothing is
    /// left made on failure.
    pub(crate) fn create_buckets(&self, name: &str, cfg: &CacheConfig<'_>) -> Result<Buckets> {
        let mut made = KVec::with_capacity(crate::kmalloc::NR_CLASSES, GFP_KERNEL)?;
        let b = Buckets::new(|size| {
            // One byte more than a name may have: too long is refused.
            let mut buf = [0u8; NAME_LEN + 1];
            let mut c = *cfg;
            c.name = fmtbuf::format(&mut buf, format_args!("{name}-{size}"));
            c.size = size;
            if cfg.useroffset >= size {
                c.useroffset = 0;
                c.usersize = 0;
            } else {
                c.usersize = cfg.usersize.min(size - cfg.useroffset);
            }
            let cache = self.create(&c)?;
            // Room reserved above: cannot fail.
            let _ = made.push_within_capacity(Arc::as_ptr(&cache));
            Ok(cache)
        });
        if b.is_err() && self.destroy_all(&made).is_err() {
            pr_err!("kmem_buckets_create({name}): a cache made could not be destroyed\n");
        }
        b
    }

    /// Destroys every cache of `caches` (of [`Registry::create_buckets`]),
    /// or none: `EBUSY` if any still has objects allocated (each reported),
    /// `ENOENT` if one is not registered, `EPERM` for a kmalloc class.
    pub(crate) fn destroy_all(&self, caches: &[*const Cache]) -> Result {
        self.kmalloc.sync_deferred();
        let mut g = self.inner.lock();
        let mut at = KVec::with_capacity(caches.len(), GFP_KERNEL)?;
        for &c in caches {
            let i = g.at(c).ok_or(ENOENT)?;
            if g.entries[i].builtin {
                return Err(EPERM);
            }
            at.push(i, GFP_KERNEL)?;
        }
        // Each destroy frees only empty slabs: one that fails reports its
        // objects, and the caches that did not fail are merely shrunk.
        let mut busy = false;
        for &i in at.iter() {
            busy |= g.entries[i].cache.destroy().is_err();
        }
        if busy {
            return Err(EBUSY);
        }
        for &c in caches {
            if let Some(i) = g.at(c) {
                drop(g.entries.remove(i)?);
            }
        }
        Ok(())
    }

    /// Destroys the cache at `c` (the exported `rslab_cache_destroy()`):
    /// as [`Registry::destroy`], found by address. `ENOENT` if no cache of
    /// the registry is at `c`.
    pub(crate) fn destroy_at(&self, c: *const Cache) -> Result {
        // Frees `kfree_nolock()` deferred to the cache are done first.
        self.kmalloc.sync_deferred();
        let mut g = self.inner.lock();
        let i = g.at(c).ok_or(ENOENT)?;
        Self::destroy_entry(&mut g, i)
    }

    /// `destroy`: `ENOENT` for an unknown name, `EPERM` for a kmalloc
    /// class, `EBUSY` (with the objects reported) if objects are still
    /// allocated: then nothing changes (the cache, its directory and its
    /// name stay, and a later destroy can succeed).
    pub(crate) fn destroy(&self, name: &[u8]) -> Result {
        self.kmalloc.sync_deferred();
        let mut g = self.inner.lock();
        let i = g
            .entries
            .iter()
            .position(|e| e.cache.name() == name)
            .ok_or(ENOENT)?;
        Self::destroy_entry(&mut g, i)
    }

    /// Destroys entry `i` (see [`Registry::destroy`]).
    fn destroy_entry(g: &mut Inner, i: usize) -> Result {
        if g.entries[i].builtin {
            return Err(EPERM);
        }
        // Under the registry's lock, so that no `create`/`destroy` of the
        // name races with it; `destroy` frees only empty slabs.
        if g.entries[i].cache.destroy().is_err() {
            return Err(EBUSY);
        }
        // Its directory and hotplug instance go with the entry; the cache
        // itself goes with its last reference (a workload may still hold
        // one: it then frees its objects to it, and the cache's drop
        // reports anything left).
        drop(g.entries.remove(i)?);
        Ok(())
    }

    /// Stops showing the caches and destroys every one (at unload); the
    /// registry is empty afterwards.
    pub(crate) fn teardown(&self) {
        let (entries, view) = {
            let mut g = self.inner.lock();
            (core::mem::take(&mut g.entries), g.view.take())
        };
        for e in entries {
            let cache = e.cache.clone();
            let builtin = e.builtin;
            drop(e);
            if !builtin && cache.destroy().is_err() {
                core::mem::forget(cache);
            }
        }
        drop(view);
    }
}

#[pinned_drop]
impl PinnedDrop for Registry {
    fn drop(self: Pin<&mut Self>) {
        self.teardown();
    }
}
