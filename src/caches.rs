// SPDX-License-Identifier: GPL-2.0
//! The module's caches: the kmalloc classes and the caches users make
//! through `/sys/kernel/rslab/control`, each with its sysfs directory
//! `/sys/kernel/rslab/caches/<name>/` (the files and formats of
//! `/sys/kernel/slab/<name>/`, Documentation/ABI/testing/sysfs-kernel-slab)
//! and its CPU hotplug instance. (The cache workload is in
//! [`crate::workload`].)

use crate::{
    cpu, cpuhp,
    kmalloc::Kmalloc,
    logic::{
        control::{self, Name, NAME_LEN},
        layout,
    },
    pool::Pool,
    slab::{Cache, CacheConfig, SlabStat, NR_SLAB_STATS},
    sysfs::{self, Attr, Dir, Emitter, Parent},
};
use core::fmt::Write;
use kernel::{
    new_mutex,
    prelude::*,
    str::CStr,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
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
pub struct Registry {
    pool: Arc<Pool>,
    kmalloc: Kmalloc,
    #[pin]
    inner: Mutex<Inner>,
}

impl Registry {
    /// The registry of `pool`, with its kmalloc classes made (not yet in
    /// sysfs: see [`Registry::attach`]).
    pub fn new(pool: &Arc<Pool>) -> Result<Arc<Registry>> {
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
    pub fn kmalloc(&self) -> &Kmalloc {
        &self.kmalloc
    }

    /// Makes `caches/` in `parent` and registers the kmalloc classes there.
    pub fn attach<U: Send + Sync + 'static>(&self, parent: &Dir<U>) -> Result {
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
            CacheDir {
                cache: cache.clone(),
            },
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
    pub fn find(&self, name: &[u8]) -> Option<Arc<Cache>> {
        let g = self.inner.lock();
        g.entries
            .iter()
            .find(|e| e.cache.name() == name)
            .map(|e| e.cache.clone())
    }

    /// `create`: `EEXIST` for a name in use, `EINVAL` for a bad request.
    pub fn create(&self, name: &Name, size: u32, align: u32, flags: u32) -> Result<Arc<Cache>> {
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
        let mut g = self.inner.lock();
        if g.entries.iter().any(|e| e.cache.name() == name.as_bytes()) {
            pr_err!(
                "rslab: create: a cache {} exists\n",
                kernel::str::BStr::from_bytes(name.as_bytes())
            );
            return Err(EEXIST);
        }
        let cache = Cache::new(&self.pool, &cfg)?;
        Self::add(&mut g, cache.clone(), false)?;
        Ok(cache)
    }

    /// `destroy`: `ENOENT` for an unknown name, `EPERM` for a kmalloc
    /// class, `EBUSY` (with the objects reported, and the cache kept) if
    /// objects are still allocated.
    pub fn destroy(&self, name: &[u8]) -> Result {
        let entry = {
            let mut g = self.inner.lock();
            let i = g
                .entries
                .iter()
                .position(|e| e.cache.name() == name)
                .ok_or(ENOENT)?;
            if g.entries[i].builtin {
                return Err(EPERM);
            }
            g.entries.remove(i)?
        };
        let cache = entry.cache.clone();
        drop(entry);
        match cache.destroy() {
            Ok(()) => Ok(()),
            Err(_) => {
                // `kmem_cache_destroy()` with objects left keeps the cache:
                // its slabs still point to it. Never freed.
                core::mem::forget(cache);
                Err(EBUSY)
            }
        }
    }

    /// Removes every directory and destroys every cache (at unload); the
    /// registry is empty afterwards.
    pub fn teardown(&self) {
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
pub const CTOR_BYTE: u8 = 0xc7;

/// The constructor of caches made with `ctor`: fills the object's first
/// byte with [`CTOR_BYTE`] and counts the call.
fn stamp_ctor(obj: *mut u8) {
    // SAFETY: a constructor gets a whole object of at least one byte.
    unsafe { obj.write(CTOR_BYTE) };
    CTOR_CALLS.add(1, Relaxed);
}

/// How many times [`stamp_ctor`] ran.
pub static CTOR_CALLS: Atomic<u64> = Atomic::new(0);

/// The constructor [`stamp_ctor`], for tests.
pub fn test_ctor() -> crate::slab::Ctor {
    stamp_ctor
}

// ---- sysfs ----

/// What a cache directory holds.
pub struct CacheDir {
    cache: Arc<Cache>,
}

fn emit(e: &mut Emitter, args: core::fmt::Arguments<'_>) -> Result {
    e.write_fmt(args).map_err(|_| EINVAL)
}

fn flag(d: &CacheDir, e: &mut Emitter, f: u32) -> Result {
    emit(e, format_args!("{}\n", u32::from(d.cache.flags() & f != 0)))
}

fn write_one(s: &str) -> Result {
    // SLUB's shrink_store()/validate_store() look at the first byte.
    if s.as_bytes().first() == Some(&b'1') {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

fn show_slabs_cpu_partial(d: &CacheDir, e: &mut Emitter) -> Result {
    // slabs_cpu_partial_show(): "objects(slabs)" then per CPU.
    let per_slab = d.cache.layout().objects;
    let mut total = 0;
    for c in cpu::online_cpus() {
        total += d.cache.cpu_info(c).1;
    }
    emit(e, format_args!("{}({})", total * per_slab, total))?;
    for c in cpu::online_cpus() {
        let s = d.cache.cpu_info(c).1;
        if s > 0 {
            emit(e, format_args!(" C{}={}({})", c, s * per_slab, s))?;
        }
    }
    emit(e, format_args!("\n"))
}

macro_rules! stat_attr {
    ($name:literal, $stat:expr) => {
        Attr::rw(
            $name,
            |d: &CacheDir, e| d.cache.stats().show($stat as usize, e),
            |d: &CacheDir, s| d.cache.stats().clear($stat as usize, s),
        )
    };
}

const NR_CACHE_ATTRS: usize = 26 + NR_SLAB_STATS;

static CACHE_ATTRS: [Attr<CacheDir>; NR_CACHE_ATTRS] = [
    Attr::ro(c"object_size", |d, e| {
        emit(e, format_args!("{}\n", d.cache.layout().object_size))
    }),
    Attr::ro(c"slab_size", |d, e| {
        emit(e, format_args!("{}\n", d.cache.layout().size))
    }),
    Attr::ro(c"objs_per_slab", |d, e| {
        emit(e, format_args!("{}\n", d.cache.layout().objects))
    }),
    Attr::ro(c"order", |d, e| {
        emit(e, format_args!("{}\n", d.cache.layout().order))
    }),
    Attr::ro(c"align", |d, e| {
        emit(e, format_args!("{}\n", d.cache.layout().align))
    }),
    Attr::ro(c"objects", |d, e| {
        emit(e, format_args!("{}\n", d.cache.objects_in_use()))
    }),
    Attr::ro(c"objects_partial", |d, e| {
        emit(e, format_args!("{}\n", d.cache.partial_inuse()))
    }),
    Attr::ro(c"total_objects", |d, e| {
        emit(e, format_args!("{}\n", d.cache.counts().1))
    }),
    Attr::ro(c"slabs", |d, e| {
        emit(e, format_args!("{}\n", d.cache.counts().0))
    }),
    Attr::ro(c"partial", |d, e| {
        emit(e, format_args!("{}\n", d.cache.counts().2))
    }),
    Attr::ro(c"cpu_slabs", |d, e| {
        // show_slab_objects(SO_CPU): CPU slabs plus CPU partial slabs.
        let n: u32 = cpu::online_cpus()
            .map(|c| {
                let (has, partial) = d.cache.cpu_info(c);
                u32::from(has) + partial
            })
            .sum();
        emit(e, format_args!("{n}\n"))
    }),
    Attr::ro(c"slabs_cpu_partial", show_slabs_cpu_partial),
    Attr::rw(
        c"min_partial",
        |d, e| emit(e, format_args!("{}\n", d.cache.min_partial())),
        |d, s| {
            let v = u32::try_from(sysfs::parse_ulong(s)?).map_err(|_| EINVAL)?;
            d.cache.set_min_partial(v);
            Ok(())
        },
    ),
    Attr::rw(
        c"cpu_partial",
        |d, e| emit(e, format_args!("{}\n", d.cache.cpu_partial())),
        |d, s| {
            let v = u32::try_from(sysfs::parse_ulong(s)?).map_err(|_| EINVAL)?;
            d.cache.set_cpu_partial(v)
        },
    ),
    Attr::ro(c"ctor", |d, e| {
        if d.cache.has_ctor() {
            emit(e, format_args!("rslab_stamp_ctor\n"))
        } else {
            Ok(())
        }
    }),
    Attr::ro(c"aliases", |_, e| emit(e, format_args!("0\n"))),
    Attr::ro(c"poison", |d, e| flag(d, e, layout::SLAB_POISON)),
    Attr::ro(c"red_zone", |d, e| flag(d, e, layout::SLAB_RED_ZONE)),
    Attr::ro(c"store_user", |d, e| flag(d, e, layout::SLAB_STORE_USER)),
    Attr::ro(c"sanity_checks", |_, e| emit(e, format_args!("0\n"))),
    Attr::ro(c"hwcache_align", |d, e| {
        flag(d, e, layout::SLAB_HWCACHE_ALIGN)
    }),
    Attr::ro(c"reclaim_account", |d, e| {
        flag(d, e, layout::SLAB_RECLAIM_ACCOUNT)
    }),
    Attr::ro(c"destroy_by_rcu", |d, e| {
        flag(d, e, layout::SLAB_TYPESAFE_BY_RCU)
    }),
    Attr::ro(c"cache_dma", |d, e| flag(d, e, layout::SLAB_CACHE_DMA)),
    Attr::wo(c"shrink", |d, s| {
        write_one(s)?;
        d.cache.shrink();
        Ok(())
    }),
    Attr::wo(c"validate", |d, s| {
        write_one(s)?;
        match d.cache.validate() {
            Ok(_) => Ok(()),
            Err(err) => {
                pr_err!("rslab: cache {}: validate: {:?}\n", d.cache.bname(), err);
                Err(EIO)
            }
        }
    }),
    stat_attr!(c"alloc_fastpath", SlabStat::AllocFastpath),
    stat_attr!(c"alloc_slowpath", SlabStat::AllocSlowpath),
    stat_attr!(c"free_fastpath", SlabStat::FreeFastpath),
    stat_attr!(c"free_slowpath", SlabStat::FreeSlowpath),
    stat_attr!(c"free_frozen", SlabStat::FreeFrozen),
    stat_attr!(c"free_add_partial", SlabStat::FreeAddPartial),
    stat_attr!(c"free_remove_partial", SlabStat::FreeRemovePartial),
    stat_attr!(c"alloc_from_partial", SlabStat::AllocFromPartial),
    stat_attr!(c"alloc_slab", SlabStat::AllocSlab),
    stat_attr!(c"alloc_refill", SlabStat::AllocRefill),
    stat_attr!(c"alloc_node_mismatch", SlabStat::AllocNodeMismatch),
    stat_attr!(c"free_slab", SlabStat::FreeSlab),
    stat_attr!(c"cpuslab_flush", SlabStat::CpuslabFlush),
    stat_attr!(c"deactivate_full", SlabStat::DeactivateFull),
    stat_attr!(c"deactivate_empty", SlabStat::DeactivateEmpty),
    stat_attr!(c"deactivate_to_head", SlabStat::DeactivateToHead),
    stat_attr!(c"deactivate_to_tail", SlabStat::DeactivateToTail),
    stat_attr!(c"deactivate_remote_frees", SlabStat::DeactivateRemoteFrees),
    stat_attr!(c"deactivate_bypass", SlabStat::DeactivateBypass),
    stat_attr!(c"order_fallback", SlabStat::OrderFallback),
    stat_attr!(c"cmpxchg_double_cpu_fail", SlabStat::CmpxchgDoubleCpuFail),
    stat_attr!(c"cmpxchg_double_fail", SlabStat::CmpxchgDoubleFail),
    stat_attr!(c"cpu_partial_alloc", SlabStat::CpuPartialAlloc),
    stat_attr!(c"cpu_partial_free", SlabStat::CpuPartialFree),
    stat_attr!(c"cpu_partial_node", SlabStat::CpuPartialNode),
    stat_attr!(c"cpu_partial_drain", SlabStat::CpuPartialDrain),
];
