// SPDX-License-Identifier: GPL-2.0
//! The pool's sysfs directory, `/sys/kernel/rslab/pool/`.

use crate::{
    glue::{
        cpu,
        decay::Decays,
        mm::Zone,
        numa,
        sysfs::{self, Attr, Emitter},
    },
    page_pool::{Stat, Watermarks, NR_ORDERS},
    slab::SlabPool,
};
use kernel::{prelude::*, sync::Arc};

/// What the pool's sysfs directory holds.
pub(crate) struct PoolDir {
    pool: Arc<SlabPool>,
}

impl PoolDir {
    pub(crate) fn new(pool: Arc<SlabPool>) -> Self {
        PoolDir { pool }
    }
}

/// The pool's zones as `/proc/buddyinfo` and `/proc/zoneinfo` list them:
/// by node with memory, then by kind in the kernel's order (`ZONE_DMA`,
/// `ZONE_DMA32`, `ZONE_NORMAL`), the kinds this kernel has.
fn zones(d: &PoolDir) -> impl Iterator<Item = (usize, Zone)> + '_ {
    numa::memory_nodes()
        .filter(|&n| n < d.pool.nr_nodes())
        .flat_map(|n| {
            [Zone::Dma, Zone::Dma32, Zone::Normal]
                .into_iter()
                .filter(|z| z.exists())
                .map(move |z| (n, z))
        })
}

fn show_buddyinfo(d: &PoolDir, e: &mut Emitter) -> Result {
    // /proc/buddyinfo: "Node %d, zone %8s " then "%6lu " per order.
    for (node, zone) in zones(d) {
        let nr = d.pool.buddyinfo_zone(node, zone);
        e.emit(format_args!("Node {node}, zone {:>8} ", zone.name()))?;
        for n in nr.iter().take(NR_ORDERS) {
            e.emit(format_args!("{n:6} "))?;
        }
        e.emit(format_args!("\n"))?;
    }
    Ok(())
}

fn show_zoneinfo(d: &PoolDir, e: &mut Emitter) -> Result {
    // buddyinfo's lines, with each zone's pages: in its chunks, free.
    for (node, zone) in zones(d) {
        let (total, free) = d.pool.zone_pages(node, zone);
        e.emit(format_args!(
            "Node {node}, zone {:>8} total {total} free {free}\n",
            zone.name()
        ))?;
    }
    Ok(())
}

fn show_pcp(d: &PoolDir, e: &mut Emitter) -> Result {
    for c in cpu::online_cpus() {
        if let Some(i) = d.pool.pcp_info(c) {
            e.emit(format_args!(
                "cpu{c}: count {} high {} batch {} high_min {} high_max {}\n",
                i.count, i.high, i.batch, i.high_min, i.high_max
            ))?;
        }
    }
    Ok(())
}

fn store_wmark(d: &PoolDir, s: &str, set: fn(&mut Watermarks, usize)) -> Result {
    let v = usize::try_from(sysfs::parse_ulong(s)?).map_err(|_| EINVAL)?;
    let mut w = d.pool.watermarks();
    set(&mut w, v);
    d.pool.set_watermarks(w)
}

macro_rules! stat_attr {
    ($name:literal, $stat:expr) => {
        Attr::rw(
            $name,
            |d: &PoolDir, e| d.pool.stats().show($stat as usize, e),
            |d: &PoolDir, s| d.pool.stats().clear($stat as usize, s),
        )
    };
}

pub(crate) static POOL_ATTRS: [Attr<PoolDir>; 25] = [
    Attr::ro(c"buddyinfo", show_buddyinfo),
    Attr::ro(c"zoneinfo", show_zoneinfo),
    // Pages of the compound blocks (`__GFP_COMP`) handed out, which the
    // kernel's allocator serves.
    Attr::ro(c"compound_pages", |d, e| {
        e.emit(format_args!("{}\n", d.pool.compound_pages()))
    }),
    Attr::ro(c"pcp", show_pcp),
    Attr::ro(c"pages_total", |d, e| {
        e.emit(format_args!("{}\n", d.pool.total_pages()))
    }),
    Attr::ro(c"pages_free", |d, e| {
        e.emit(format_args!("{}\n", d.pool.free_pages()))
    }),
    Attr::rw(
        c"watermark_min",
        |d, e| e.emit(format_args!("{}\n", d.pool.watermarks().min)),
        |d, s| store_wmark(d, s, |w, v| w.min = v),
    ),
    Attr::rw(
        c"watermark_low",
        |d, e| e.emit(format_args!("{}\n", d.pool.watermarks().low)),
        |d, s| store_wmark(d, s, |w, v| w.low = v),
    ),
    Attr::rw(
        c"watermark_high",
        |d, e| e.emit(format_args!("{}\n", d.pool.watermarks().high)),
        |d, s| store_wmark(d, s, |w, v| w.high = v),
    ),
    // Time-based decay: free pages above the low watermark go back to the
    // kernel once the pool has been idle this many ms (0: never).
    Attr::rw(
        c"decay_ms",
        |d, e| e.emit(format_args!("{}\n", d.pool.decay_state().ms())),
        |d, s| d.pool.decay_state().set_ms(sysfs::parse_ulong(s)?),
    ),
    // Decay passes made, and the pages they gave back.
    Attr::ro(c"decay_passes", |d, e| {
        e.emit(format_args!("{}\n", d.pool.decay_state().passes().0))
    }),
    Attr::ro(c"decay_pages", |d, e| {
        e.emit(format_args!("{}\n", d.pool.decay_state().passes().1))
    }),
    // As SLUB's `shrink`: write 1 to shrink now (down to the min watermark).
    Attr::wo(c"shrink", |d, s| {
        if sysfs::parse_ulong(s)? != 1 {
            return Err(EINVAL);
        }
        d.pool.shrink(d.pool.watermarks().min);
        Ok(())
    }),
    // As SLUB's `validate`: write 1 to walk every structure; EIO (and the
    // finding in the kernel log) if anything is inconsistent.
    Attr::wo(c"validate", |d, s| {
        if sysfs::parse_ulong(s)? != 1 {
            return Err(EINVAL);
        }
        match d.pool.check() {
            Ok(_) => Ok(()),
            Err(err) => {
                pr_err!("pool: validate: {err:?}\n");
                Err(EIO)
            }
        }
    }),
    stat_attr!(c"alloc_fastpath", Stat::AllocFastpath),
    stat_attr!(c"alloc_slowpath", Stat::AllocSlowpath),
    stat_attr!(c"refill", Stat::Refill),
    stat_attr!(c"drain", Stat::Drain),
    stat_attr!(c"split", Stat::Split),
    stat_attr!(c"merge", Stat::Merge),
    stat_attr!(c"grow", Stat::Grow),
    stat_attr!(c"release", Stat::Release),
    stat_attr!(c"order_fallback", Stat::OrderFallback),
    stat_attr!(c"alloc_fail", Stat::AllocFail),
    stat_attr!(c"numa_miss", Stat::NumaMiss),
];
