// SPDX-License-Identifier: GPL-2.0
//! The module's caches: the kmalloc classes and the caches users make
//! through the control file, each with its sysfs directory
//! `/sys/kernel/rslab/caches/<name>/` (see [`super::cache_attrs`]) and its
//! CPU hotplug instance.

use super::cache_attrs::{CacheDir, CACHE_ATTRS};
use crate::{
    glue::{
        cpuhp,
        sysfs::{Dir, Parent},
    },
    kmalloc::Kmalloc,
    logic::{
        admin::control::{self, Name, NAME_LEN},
        slab::layout,
    },
    slab::{Cache, CacheConfig, SlabPool},
};
use kernel::{
    new_mutex,
    prelude::*,
    str::CStr,
    sync::{Arc, Mutex},
};

/// A registered cache.
struct Entry {
    /// Sysfs first: dropped before the cache goes.
    _dir: Dir<CacheDir>,
    _hotplug: cpuhp::Instance<Cache>,
    cache: Arc<Cache>,
    /// A kmalloc class: not destroyable by users.
    builtin: bool,
}

/// What the registry's lock protects.
struct Inner {
    /// `/sys/kernel/rslab/caches/` (`None` until attached, and after
    /// teardown).
    dir: Option<Dir<()>>,
    entries: KVec<Entry>,
}

/// Every cache of the module, by name.
#[pin_data(PinnedDrop)]
pub(crate) struct Registry {
    pool: Arc<SlabPool>,
    kmalloc: Kmalloc,
    #[pin]
    inner: Mutex<Inner>,
}

impl Registry {
    /// The registry of `pool`, with its kmalloc classes made (not yet in
    /// sysfs: see [`Registry::attach`]).
    pub(crate) fn new(pool: &Arc<SlabPool>) -> Result<Arc<Registry>> {
        let kmalloc = Kmalloc::new(pool)?;
        Arc::pin_init(
            pin_init!(Registry {
                pool: pool.clone(),
                kmalloc,
                inner <- new_mutex!(Inner {
                    dir: None,
                    entries: KVec::new(),
                }),
            }),
            GFP_KERNEL,
        )
    }

    /// The kmalloc classes.
    pub(crate) fn kmalloc(&self) -> &Kmalloc {
        &self.kmalloc
    }

    /// Makes `caches/` in `parent` and registers the kmalloc classes there.
    pub(crate) fn attach<U: Send + Sync + 'static>(&self, parent: &Dir<U>) -> Result {
        let dir = Dir::new(Parent::Dir(parent), c"caches", (), &[])?;
        let mut g = self.inner.lock();
        g.dir = Some(dir);
        for c in self.kmalloc.caches() {
            Self::add(&mut g, c.clone(), true)?;
        }
        Ok(())
    }

    fn add(g: &mut Inner, cache: Arc<Cache>, builtin: bool) -> Result {
        let parent = g.dir.as_ref().ok_or(ENODEV)?;
        let mut buf = [0u8; NAME_LEN + 1];
        let name = cstr(cache.name(), &mut buf)?;
        let dir = Dir::new(
            Parent::Dir(parent),
            name,
            CacheDir::new(cache.clone()),
            &CACHE_ATTRS,
        )?;
        let hp = cpuhp::Instance::new(cache.clone())?;
        g.entries.push(
            Entry {
                _dir: dir,
                _hotplug: hp,
                cache,
                builtin,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// The cache named `name`.
    pub(crate) fn find(&self, name: &[u8]) -> Option<Arc<Cache>> {
        let g = self.inner.lock();
        g.entries
            .iter()
            .find(|e| e.cache.name() == name)
            .map(|e| e.cache.clone())
    }

    /// `create`: `EEXIST` for a name in use, `EINVAL` for a bad request.
    pub(crate) fn create(
        &self,
        name: &Name,
        size: u32,
        align: u32,
        flags: u32,
    ) -> Result<Arc<Cache>> {
        let mut cfg = CacheConfig::new(
            core::str::from_utf8(name.as_bytes()).map_err(|_| EINVAL)?,
            size,
        );
        cfg.align = align;
        if flags & control::FLAG_HWCACHE != 0 {
            cfg.flags |= layout::SLAB_HWCACHE_ALIGN;
        }
        if flags & control::FLAG_RECLAIM != 0 {
            cfg.flags |= layout::SLAB_RECLAIM_ACCOUNT;
        }
        if flags & control::FLAG_DMA != 0 {
            cfg.flags |= layout::SLAB_CACHE_DMA;
        }
        if flags & control::FLAG_CTOR != 0 {
            cfg.ctor = Some(stamp_ctor);
        }
        cfg.harden = flags & control::FLAG_NOHARDEN == 0;
        cfg.randomize = flags & control::FLAG_NORANDOM == 0;
        cfg.sheaves = flags & control::FLAG_SHEAVES != 0;
        for (f, slab) in [
            (control::FLAG_CONSISTENCY, layout::SLAB_CONSISTENCY_CHECKS),
            (control::FLAG_RED_ZONE, layout::SLAB_RED_ZONE),
            (control::FLAG_POISON, layout::SLAB_POISON),
            (control::FLAG_STORE_USER, layout::SLAB_STORE_USER),
            (control::FLAG_TRACE, layout::SLAB_TRACE),
        ] {
            if flags & f != 0 {
                cfg.flags |= slab;
            }
        }
        self.create_config(&cfg)
    }

    /// A cache made from `cfg`, with its directory: `EEXIST` for a name in
    /// use, `EINVAL` for a bad request (`create`, and the exported
    /// `rslab_cache_create()`).
    pub(crate) fn create_config(&self, cfg: &CacheConfig<'_>) -> Result<Arc<Cache>> {
        let mut g = self.inner.lock();
        if g.entries
            .iter()
            .any(|e| e.cache.name() == cfg.name.as_bytes())
        {
            pr_err!("create: a cache {} exists\n", cfg.name);
            return Err(EEXIST);
        }
        let cache = Cache::new(&self.pool, cfg)?;
        Self::add(&mut g, cache.clone(), false)?;
        Ok(cache)
    }

    /// Destroys the cache at `c` (the exported `rslab_cache_destroy()`):
    /// as [`Registry::destroy`], found by address. `ENOENT` if no cache of
    /// the registry is at `c`.
    pub(crate) fn destroy_at(&self, c: *const Cache) -> Result {
        let mut g = self.inner.lock();
        let i = g
            .entries
            .iter()
            .position(|e| core::ptr::eq(Arc::as_ptr(&e.cache), c))
            .ok_or(ENOENT)?;
        Self::destroy_entry(&mut g, i)
    }

    /// `destroy`: `ENOENT` for an unknown name, `EPERM` for a kmalloc
    /// class, `EBUSY` (with the objects reported) if objects are still
    /// allocated: then nothing changes (the cache, its directory and its
    /// name stay, and a later destroy can succeed).
    pub(crate) fn destroy(&self, name: &[u8]) -> Result {
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

    /// Removes every directory and destroys every cache (at unload); the
    /// registry is empty afterwards.
    pub(crate) fn teardown(&self) {
        let entries = {
            let mut g = self.inner.lock();
            let e = core::mem::take(&mut g.entries);
            g.dir = None;
            e
        };
        for e in entries {
            let cache = e.cache.clone();
            let builtin = e.builtin;
            drop(e);
            if !builtin && cache.destroy().is_err() {
                core::mem::forget(cache);
            }
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Registry {
    fn drop(self: Pin<&mut Self>) {
        self.teardown();
    }
}

/// `name` as a C string in `buf`.
fn cstr<'a>(name: &[u8], buf: &'a mut [u8; NAME_LEN + 1]) -> Result<&'a CStr> {
    buf[..name.len()].copy_from_slice(name);
    buf[name.len()] = 0;
    CStr::from_bytes_with_nul(&buf[..=name.len()]).map_err(|_| EINVAL)
}

/// The byte [`stamp_ctor`] writes.
const CTOR_BYTE: u8 = 0xc7;

/// The constructor of caches made with `ctor` (a control command's flag):
/// fills the object's first byte with [`CTOR_BYTE`].
///
/// # Safety
///
/// `obj` points to a whole object of at least one byte (a constructor's
/// contract, see [`crate::slab::Ctor`]).
unsafe extern "C" fn stamp_ctor(obj: *mut core::ffi::c_void) {
    // SAFETY: a constructor gets a whole object of at least one byte.
    unsafe { obj.cast::<u8>().write(CTOR_BYTE) };
}
