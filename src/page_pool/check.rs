// SPDX-License-Identifier: GPL-2.0
//! The pool's consistency walk (`validate` in sysfs).

use super::{PageRecord, Pool, MAX_ORDER};
use crate::logic::page_pool::{
    freearea::{self as check, CheckError},
    pcp,
};
use kernel::prelude::*;

/// The pool's census: everything a consistency walk counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Census {
    /// Chunks held.
    pub(crate) chunks: usize,
    /// Pages in them.
    pub(crate) pages: usize,
    /// Pages free in the free areas.
    pub(crate) free: usize,
    /// Pages on per-CPU lists.
    pub(crate) pcp: usize,
    /// Pages held by users.
    pub(crate) in_use: usize,
}

/// What a consistency walk found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoolError {
    /// The walk could not allocate its bitmap.
    NoMemory,
    /// The free areas are inconsistent.
    Area(CheckError),
    /// A per-CPU list holds a block that is not an allocated head of its
    /// order, or holds it twice (page index given).
    BadPcpBlock(u32),
    /// A per-CPU list's count is not what its lists hold.
    PcpCount(usize),
    /// The counters disagree with the walk (what, counted, recorded).
    Counter(&'static str, usize, usize),
}

impl<R: PageRecord> Pool<R> {
    /// Walks every structure: the free areas, every per-CPU list (each block
    /// an allocated head of its order, none twice, counts exact), and the
    /// counters. Takes every lock, so the snapshot is consistent.
    pub(crate) fn check(&self) -> Result<Census, PoolError> {
        let slots = self.slots.len();
        // One bit per page index, to catch a block listed twice.
        let words = (slots << MAX_ORDER).div_ceil(64);
        let mut seen = VVec::from_elem(0u64, words, GFP_KERNEL).map_err(|_| PoolError::NoMemory)?;
        let ncpu = crate::glue::cpu::nr_cpu_ids();
        let room = KVec::with_capacity(ncpu, GFP_KERNEL).map_err(|_| PoolError::NoMemory)?;
        // The list locks are taken with interrupts off (see `PcpCell`), for
        // as long as the guards live: bound after `irq`, they go first.
        let irq = kernel::interrupt::local_interrupt_disable();
        let mut guards = room;
        for c in (0..ncpu).filter_map(|c| self.cpus.get(c)) {
            // Every list lock at once, by spinning on `try_lock`: no other
            // path ever holds two list locks, so this cannot deadlock, and
            // lockdep (which checks no trylock for recursion or ordering, as
            // for the kernel's own per-CPU page lists) stays quiet about
            // holding many locks of one class.
            let guard = loop {
                if let Some(guard) = c.try_lock(&irq) {
                    break guard;
                }
                core::hint::spin_loop();
            };
            // Capacity reserved above: cannot fail.
            let _ = guards.push(guard, GFP_ATOMIC);
        }
        let check = |what, counted: usize, recorded: usize| {
            if counted == recorded {
                Ok(())
            } else {
                Err(PoolError::Counter(what, counted, recorded))
            }
        };
        // One zone at a time (no path holds two zone locks), with every
        // list lock held: each zone's counts are exact, as every block of a
        // zone crosses between users and the pool under its zone lock or
        // the list lock of one of its node's CPUs.
        let mut total = check::Census::default();
        let mut pcp_pages = 0usize;
        let mut in_use_all = 0usize;
        for (zi, zone) in self.zones.iter().enumerate() {
            let z = zone.lock();
            let census = z.area.check(&z.chunks).map_err(PoolError::Area)?;
            let mut node_pcp = 0usize;
            let mut node_users = z.user_pages;
            for g in guards.iter().filter(|g| g.zone as usize == zi) {
                let mut pages = 0usize;
                for order in 0..pcp::PCP_ORDERS as u32 {
                    let list = g.pcp.list(order);
                    if list.iter().count() != list.len() {
                        return Err(PoolError::PcpCount(list.len()));
                    }
                    for idx in list.iter() {
                        if !z.chunks.is_allocated_head(idx, order) {
                            return Err(PoolError::BadPcpBlock(idx));
                        }
                        let (w, bit) = (idx as usize / 64, idx % 64);
                        if seen[w] & (1 << bit) != 0 {
                            return Err(PoolError::BadPcpBlock(idx));
                        }
                        seen[w] |= 1 << bit;
                        pages += 1 << order;
                    }
                }
                if pages != g.pcp.count() as usize {
                    return Err(PoolError::PcpCount(pages));
                }
                node_pcp += pages;
                node_users += g.user_pages;
            }
            // Exact: every count below changes only under a lock held here.
            let Ok(in_use) = usize::try_from(node_users) else {
                return Err(PoolError::Counter("pages held by users", 0, 0));
            };
            check(
                "allocated pages vs lists + users",
                census.allocated,
                node_pcp + in_use,
            )?;
            check("free pages", census.free, z.free)?;
            check(
                "zone free pages (lock-free copy)",
                census.free,
                self.zone_free_pages(zi),
            )?;
            check("total pages", census.pages, z.total)?;
            // The pool's own total: exact with one zone (its lock held);
            // with more, other zones may change while one is walked. (The
            // pool's free pages are the zones' copies summed, checked above.)
            if self.nr_nodes() == 1 && self.node_zones(0).count() == 1 {
                check("pool total pages", census.pages, self.total_pages())?;
            }
            total.chunks += census.chunks;
            total.pages += census.pages;
            total.free += census.free;
            pcp_pages += node_pcp;
            in_use_all += in_use;
        }
        let (census, in_use) = (total, in_use_all);
        Ok(Census {
            chunks: census.chunks,
            pages: census.pages,
            free: census.free,
            pcp: pcp_pages,
            in_use,
        })
    }
}
