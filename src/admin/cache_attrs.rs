// SPDX-License-Identifier: GPL-2.0
//! A cache's sysfs directory, `/sys/kernel/rslab/caches/<name>/`: the files
//! and formats of `/sys/kernel/slab/<name>/`
//! (Documentation/ABI/testing/sysfs-kernel-slab).

use crate::{
    glue::{
        cpu,
        decay::Decays,
        kallsyms, numa,
        sysfs::{self, Attr, Dir, Emitter, Parent},
    },
    logic::slab::{layout, name::NAME_LEN},
    registry::CacheView,
    slab::{Cache, NodeCount, SlabError, SlabStat, Track, TrackItem, NR_SLAB_STATS},
};
use kernel::{prelude::*, str::CStr, sync::Arc};

/// What a cache directory holds.
pub(crate) struct CacheDir {
    cache: Arc<Cache>,
}

/// `caches/`: shows each cache of the registry as a directory of its name
/// with [`CACHE_ATTRS`].
pub(crate) struct CachesDir {
    dir: Dir<()>,
}

impl CachesDir {
    /// `caches/` in `parent`, as the registry's view.
    pub(crate) fn view<U: Send + Sync + 'static>(parent: &Dir<U>) -> Result<KBox<dyn CacheView>> {
        let dir = Dir::new(Parent::Dir(parent), c"caches", (), &[])?;
        Ok(KBox::new(CachesDir { dir }, GFP_KERNEL)?)
    }
}

impl CacheView for CachesDir {
    fn show(&self, cache: &Arc<Cache>) -> Result<KBox<dyn Send + Sync>> {
        let name = cache.name();
        let mut buf = [0u8; NAME_LEN + 1];
        let len = name.len().min(NAME_LEN);
        buf[..len].copy_from_slice(&name[..len]);
        let name = CStr::from_bytes_with_nul(&buf[..=len]).map_err(|_| EINVAL)?;
        let dir = Dir::new(
            Parent::Dir(&self.dir),
            name,
            CacheDir {
                cache: cache.clone(),
            },
            &CACHE_ATTRS,
        )?;
        Ok(KBox::new(dir, GFP_KERNEL)?)
    }
}

fn flag(d: &CacheDir, e: &mut Emitter, f: u32) -> Result {
    e.emit(format_args!("{}\n", u32::from(d.cache.flags() & f != 0)))
}

fn write_one(s: &str) -> Result {
    // SLUB's shrink_store()/validate_store() look at the first byte.
    if s.as_bytes().first() == Some(&b'1') {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// One caller of `alloc_calls`/`free_calls` (`struct location`).
struct Location {
    addr: usize,
    count: u64,
    sum_time: u64,
    min_time: usize,
    max_time: usize,
    min_pid: i32,
    max_pid: i32,
    cpus: u64,
}

/// `list_locations()`: the allocated objects' last allocations (or frees)
/// grouped by caller, in address order: `count caller age=min/avg/max
/// pid=min-max cpus=list`. Empty without `SLAB_STORE_USER`.
fn show_calls(d: &CacheDir, e: &mut Emitter, t: TrackItem) -> Result {
    let now = crate::glue::debug::jiffies();
    let mut locs: KVec<Location> = KVec::new();
    d.cache.for_each_track(t, |tr: &Track| {
        let age = now.wrapping_sub(tr.when);
        let at = locs.binary_search_by_key(&tr.addr, |l| l.addr);
        let cpu_bit = if (0..64).contains(&tr.cpu) {
            1u64 << tr.cpu
        } else {
            0
        };
        match at {
            Ok(i) => {
                if let Some(l) = locs.get_mut(i) {
                    l.count += 1;
                    l.sum_time += age as u64;
                    l.min_time = l.min_time.min(age);
                    l.max_time = l.max_time.max(age);
                    l.min_pid = l.min_pid.min(tr.pid);
                    l.max_pid = l.max_pid.max(tr.pid);
                    l.cpus |= cpu_bit;
                }
            }
            Err(i) => {
                let l = Location {
                    addr: tr.addr,
                    count: 1,
                    sum_time: age as u64,
                    min_time: age,
                    max_time: age,
                    min_pid: tr.pid,
                    max_pid: tr.pid,
                    cpus: cpu_bit,
                };
                // Under spinlocks: no sleeping allocation (a caller that
                // does not fit is left out, as SLUB's GFP_NOWAIT does).
                if locs.len() == locs.capacity() && locs.reserve(1, GFP_ATOMIC).is_err() {
                    return;
                }
                let _ = locs.insert_within_capacity(i, l);
            }
        }
    })?;
    if locs.is_empty() {
        return e.emit(format_args!("No data\n"));
    }
    let multi_cpu = cpu::online_cpus().nth(1).is_some();
    for l in locs.iter() {
        let mut buf = KBox::new([0u8; kallsyms::SYMBOL_LEN], GFP_KERNEL)?;
        let r = (|| -> Result {
            e.emit(format_args!("{:7} ", l.count))?;
            if l.addr != 0 {
                let name = kallsyms::symbol(l.addr, &mut buf);
                e.emit(format_args!(
                    "{}",
                    core::str::from_utf8(name).unwrap_or("?")
                ))?;
            } else {
                e.emit(format_args!("<not-available>"))?;
            }
            if l.sum_time != l.min_time as u64 {
                e.emit(format_args!(
                    " age={}/{}/{}",
                    l.min_time,
                    // (`checked_div`: a location counts at least one
                    // object; Linux 7.3's objtool does not know
                    // `panic_const_div_by_zero` as noreturn.)
                    l.sum_time.checked_div(l.count).unwrap_or(0),
                    l.max_time
                ))?;
            } else {
                e.emit(format_args!(" age={}", l.min_time))?;
            }
            if l.min_pid != l.max_pid {
                e.emit(format_args!(" pid={}-{}", l.min_pid, l.max_pid))?;
            } else {
                e.emit(format_args!(" pid={}", l.min_pid))?;
            }
            if multi_cpu && l.cpus != 0 {
                e.emit(format_args!(" cpus="))?;
                emit_cpu_list(e, l.cpus)?;
            }
            e.emit(format_args!("\n"))
        })();
        if r.is_err() {
            // The page is full: what fits is shown.
            break;
        }
    }
    Ok(())
}

/// `%*pbl` of a CPU mask: ranges such as `0-1,3`.
fn emit_cpu_list(e: &mut Emitter, mask: u64) -> Result {
    let mut first = true;
    let mut c = 0u32;
    while c < 64 {
        if mask & (1 << c) == 0 {
            c += 1;
            continue;
        }
        let start = c;
        while c + 1 < 64 && mask & (1 << (c + 1)) != 0 {
            c += 1;
        }
        let sep = if first { "" } else { "," };
        if start == c {
            e.emit(format_args!("{sep}{start}"))?;
        } else {
            e.emit(format_args!("{sep}{start}-{c}"))?;
        }
        first = false;
        c += 1;
    }
    Ok(())
}

/// `show_slab_objects()`'s format: the total, then with `CONFIG_NUMA`
/// ` N<node>=<count>` for each node with a non-zero count. With NUMA the
/// total is the sum of the nodes' counts (one walk: they always agree);
/// without, `total(d)`.
fn show_nodes(
    d: &CacheDir,
    e: &mut Emitter,
    what: NodeCount,
    total: fn(&CacheDir) -> usize,
) -> Result {
    if !numa::enabled() {
        return e.emit(format_args!("{}\n", total(d)));
    }
    let nodes = d.cache.per_node(what)?;
    e.emit(format_args!("{}", nodes.iter().sum::<usize>()))?;
    for (n, &x) in nodes.iter().enumerate() {
        if x > 0 {
            e.emit(format_args!(" N{n}={x}"))?;
        }
    }
    e.emit(format_args!("\n"))
}

fn show_slabs_cpu_partial(d: &CacheDir, e: &mut Emitter) -> Result {
    // slabs_cpu_partial_show(): "objects(slabs)" then per CPU.
    let per_slab = d.cache.layout().objects;
    let mut total = 0;
    for c in cpu::online_cpus() {
        total += d.cache.cpu_info(c).partial_slabs;
    }
    e.emit(format_args!("{}({})", total * per_slab, total))?;
    for c in cpu::online_cpus() {
        let s = d.cache.cpu_info(c).partial_slabs;
        if s > 0 {
            e.emit(format_args!(" C{}={}({})", c, s * per_slab, s))?;
        }
    }
    e.emit(format_args!("\n"))
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

const NR_CACHE_ATTRS: usize = 38 + NR_SLAB_STATS;

pub(crate) static CACHE_ATTRS: [Attr<CacheDir>; NR_CACHE_ATTRS] = [
    Attr::ro(c"object_size", |d, e| {
        e.emit(format_args!("{}\n", d.cache.layout().object_size))
    }),
    Attr::ro(c"slab_size", |d, e| {
        e.emit(format_args!("{}\n", d.cache.layout().size))
    }),
    Attr::ro(c"objs_per_slab", |d, e| {
        e.emit(format_args!("{}\n", d.cache.layout().objects))
    }),
    Attr::ro(c"order", |d, e| {
        e.emit(format_args!("{}\n", d.cache.layout().order))
    }),
    Attr::ro(c"align", |d, e| {
        e.emit(format_args!("{}\n", d.cache.layout().align))
    }),
    Attr::ro(c"objects", |d, e| {
        show_nodes(d, e, NodeCount::Objects, |d| d.cache.objects_in_use())
    }),
    Attr::ro(c"objects_partial", |d, e| {
        show_nodes(d, e, NodeCount::ObjectsPartial, |d| d.cache.partial_inuse())
    }),
    Attr::ro(c"total_objects", |d, e| {
        show_nodes(d, e, NodeCount::TotalObjects, |d| d.cache.counts().objects)
    }),
    Attr::ro(c"slabs", |d, e| {
        show_nodes(d, e, NodeCount::Slabs, |d| d.cache.counts().slabs)
    }),
    Attr::ro(c"partial", |d, e| {
        show_nodes(d, e, NodeCount::Partial, |d| {
            d.cache.counts().partial as usize
        })
    }),
    Attr::ro(c"cpu_slabs", |d, e| {
        // show_slab_objects(SO_CPU): CPU slabs plus CPU partial slabs.
        show_nodes(d, e, NodeCount::CpuSlabs, |d| {
            cpu::online_cpus()
                .map(|c| {
                    let i = d.cache.cpu_info(c);
                    usize::from(i.has_slab) + i.partial_slabs as usize
                })
                .sum()
        })
    }),
    Attr::ro(c"slabs_cpu_partial", show_slabs_cpu_partial),
    // SLUB's: percent (0..=100; ERANGE above, EINVAL for a non-number) of
    // allocations that may take other nodes' partial slabs.
    Attr::rw(
        c"remote_node_defrag_ratio",
        |d, e| e.emit(format_args!("{}\n", d.cache.remote_node_defrag_ratio())),
        |d, s| {
            let v = u32::try_from(sysfs::parse_ulong(s)?).map_err(|_| ERANGE)?;
            d.cache.set_remote_node_defrag_ratio(v)
        },
    ),
    Attr::rw(
        c"min_partial",
        |d, e| e.emit(format_args!("{}\n", d.cache.min_partial())),
        |d, s| {
            let v = u32::try_from(sysfs::parse_ulong(s)?).map_err(|_| EINVAL)?;
            d.cache.set_min_partial(v);
            Ok(())
        },
    ),
    Attr::rw(
        c"cpu_partial",
        |d, e| e.emit(format_args!("{}\n", d.cache.cpu_partial())),
        |d, s| {
            let v = u32::try_from(sysfs::parse_ulong(s)?).map_err(|_| EINVAL)?;
            d.cache.set_cpu_partial(v)
        },
    ),
    // Time-based decay: once the cache has been idle this many ms (0:
    // never), it does what `shrink` does.
    Attr::rw(
        c"decay_ms",
        |d, e| e.emit(format_args!("{}\n", d.cache.decay_state().ms())),
        |d, s| d.cache.decay_state().set_ms(sysfs::parse_ulong(s)?),
    ),
    // Decay passes made, and the slabs they gave back to the pool.
    Attr::ro(c"decay_passes", |d, e| {
        e.emit(format_args!("{}\n", d.cache.decay_state().passes().0))
    }),
    Attr::ro(c"decay_slabs", |d, e| {
        e.emit(format_args!("{}\n", d.cache.decay_state().passes().1))
    }),
    Attr::ro(c"ctor", |d, e| {
        // ctor_show(): the constructor as `%pS` prints it, if any.
        let Some(f) = d.cache.ctor() else {
            return Ok(());
        };
        let mut buf = KBox::new([0u8; kallsyms::SYMBOL_LEN], GFP_KERNEL)?;
        let name = kallsyms::symbol(f as usize, &mut buf);
        e.emit(format_args!(
            "{}\n",
            core::str::from_utf8(name).unwrap_or("?")
        ))
    }),
    Attr::ro(c"sheaf_capacity", |d, e| {
        e.emit(format_args!("{}\n", d.cache.sheaf_capacity()))
    }),
    // Adaptive sheaf capacity (rslab's): 1 on, 0 7.3's fixed capacity
    // (the default); EINVAL for a cache without sheaves.
    Attr::rw(
        c"sheaf_adaptive",
        |d, e| {
            let on = d.cache.sheaves().is_some_and(|sh| sh.adaptive());
            e.emit(format_args!("{}\n", u32::from(on)))
        },
        |d, s| match sysfs::parse_ulong(s)? {
            v @ (0 | 1) => d.cache.set_sheaf_adaptive(v == 1),
            _ => Err(EINVAL),
        },
    ),
    // The objects the CPUs' sheaves may hold, all together (0 for a cache
    // without sheaves); EINVAL below every CPU at `sheaf_capacity`.
    Attr::rw(
        c"sheaf_budget",
        |d, e| {
            let b = d.cache.sheaves().map_or(0, |sh| sh.budget());
            e.emit(format_args!("{b}\n"))
        },
        |d, s| {
            let v = usize::try_from(sysfs::parse_ulong(s)?).map_err(|_| EINVAL)?;
            d.cache.set_sheaf_budget(v)
        },
    ),
    // Each online CPU's sheaf capacity now, as a counter's line: their
    // sum, then ` C<cpu>=<capacity>` (empty for a cache without sheaves).
    Attr::ro(c"sheaf_capacity_cpu", |d, e| {
        let Some(sh) = d.cache.sheaves() else {
            return e.emit(format_args!("0\n"));
        };
        let caps = |c| sh.cpu_capacity(c);
        let total: usize = cpu::online_cpus().map(caps).sum();
        e.emit(format_args!("{total}"))?;
        for c in cpu::online_cpus() {
            e.emit(format_args!(" C{c}={}", caps(c)))?;
        }
        e.emit(format_args!("\n"))
    }),
    // SLUB's: the size of the user-copyable region (`usersize`).
    Attr::ro(c"usersize", |d, e| {
        e.emit(format_args!("{}\n", d.cache.usercopy().1))
    }),
    Attr::ro(c"aliases", |_, e| e.emit(format_args!("0\n"))),
    Attr::ro(c"poison", |d, e| flag(d, e, layout::SLAB_POISON)),
    Attr::ro(c"red_zone", |d, e| flag(d, e, layout::SLAB_RED_ZONE)),
    Attr::ro(c"store_user", |d, e| flag(d, e, layout::SLAB_STORE_USER)),
    Attr::ro(c"sanity_checks", |d, e| {
        flag(d, e, layout::SLAB_CONSISTENCY_CHECKS)
    }),
    Attr::ro(c"trace", |d, e| flag(d, e, layout::SLAB_TRACE)),
    Attr::ro(c"alloc_calls", |d, e| show_calls(d, e, TrackItem::Alloc)),
    Attr::ro(c"free_calls", |d, e| show_calls(d, e, TrackItem::Free)),
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
            Err(SlabError::Busy) => {
                pr_info!(
                    "cache {}: validate: busy (objects freed during the walk), no finding; try again\n",
                    d.cache.display_name()
                );
                Err(EAGAIN)
            }
            Err(err) => {
                pr_err!("cache {}: validate: {:?}\n", d.cache.display_name(), err);
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
    stat_attr!(c"sheaf_flush", SlabStat::SheafFlush),
    stat_attr!(c"sheaf_refill", SlabStat::SheafRefill),
    stat_attr!(c"sheaf_alloc", SlabStat::SheafAlloc),
    stat_attr!(c"sheaf_free", SlabStat::SheafFree),
    stat_attr!(c"barn_get", SlabStat::BarnGet),
    stat_attr!(c"barn_get_fail", SlabStat::BarnGetFail),
    stat_attr!(c"barn_put", SlabStat::BarnPut),
    stat_attr!(c"barn_put_fail", SlabStat::BarnPutFail),
    stat_attr!(c"sheaf_prefill_fast", SlabStat::SheafPrefillFast),
    stat_attr!(c"sheaf_prefill_slow", SlabStat::SheafPrefillSlow),
    stat_attr!(c"sheaf_prefill_oversize", SlabStat::SheafPrefillOversize),
    stat_attr!(c"sheaf_return_fast", SlabStat::SheafReturnFast),
    stat_attr!(c"sheaf_return_slow", SlabStat::SheafReturnSlow),
    stat_attr!(c"sheaf_grow", SlabStat::SheafGrow),
    stat_attr!(c"sheaf_grow_fail", SlabStat::SheafGrowFail),
    stat_attr!(c"sheaf_shrink", SlabStat::SheafShrink),
];
