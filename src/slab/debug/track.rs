// SPDX-License-Identifier: GPL-2.0
//! The allocation and free tracks of a debug cache's objects
//! (`SLAB_STORE_USER`: `struct track`, `set_track()`, `get_track()`), and
//! their walk for `alloc_calls` and `free_calls`.

use super::{fill, marked};
use crate::{
    glue::{cpu, debug as kdebug},
    logic::slab::layout::{SLAB_STORE_USER, TRACK_SIZE},
    slab::Cache,
};
use kernel::prelude::*;

/// `enum track_item`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrackItem {
    /// The last allocation.
    Alloc = 0,
    /// The last free.
    Free = 1,
}

/// `struct track`: the caller, its stack (a stack depot handle, 0 if none
/// was saved), CPU, task and time.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Track {
    /// The stack from the caller on, in the stack depot (0: none).
    pub(crate) handle: u32,
    pad: u32,
    /// The caller.
    pub(crate) addr: usize,
    /// The CPU it ran on.
    pub(crate) cpu: i32,
    /// The task.
    pub(crate) pid: i32,
    /// `jiffies` then.
    pub(crate) when: usize,
}

const _: () = assert!(core::mem::size_of::<Track>() == TRACK_SIZE as usize);

impl Cache {
    fn track_addr(&self, obj: usize, t: TrackItem) -> usize {
        obj + self.layout.info_end() as usize + t as usize * TRACK_SIZE as usize
    }

    /// The track `t` of `obj` (`get_track()`).
    ///
    /// # Safety
    ///
    /// The cache stores tracks (`SLAB_STORE_USER`), and `obj` is an object
    /// of a kept slab (see the `slab::debug` module): the caller holds
    /// `obj`, or its slab.
    pub(crate) unsafe fn track(&self, obj: usize, t: TrackItem) -> Track {
        // SAFETY: the track lies in the object's slot (layout with
        // `SLAB_STORE_USER`), in a slab that stays (our caller's guarantee):
        // mapped slab memory; a racing update gives a mixed record, as in
        // SLUB.
        unsafe { core::ptr::read_volatile(self.track_addr(obj, t) as *const Track) }
    }

    /// `set_track()`.
    ///
    /// # Safety
    ///
    /// The cache stores tracks (`SLAB_STORE_USER`), and `obj` is an object
    /// of this cache that the caller holds (allocated to it, or being
    /// allocated or freed by it under its slab's `list_lock`), so that
    /// nobody else writes its tracks.
    pub(super) unsafe fn set_track(&self, obj: usize, t: TrackItem, caller: kdebug::Caller) {
        let tr = Track {
            addr: caller.addr,
            handle: caller.handle,
            cpu: cpu::current() as i32,
            pid: kdebug::pid(),
            when: kdebug::jiffies(),
            ..Track::default()
        };
        // SAFETY: the track is this cache's metadata in `obj`'s slot, which
        // the caller holds (its guarantee).
        unsafe { core::ptr::write_volatile(self.track_addr(obj, t) as *mut Track, tr) };
    }

    /// `init_tracking()`.
    ///
    /// # Safety
    ///
    /// `obj` is an object of a new slab of this cache that the caller has
    /// alone.
    pub(super) unsafe fn init_tracking(&self, obj: usize) {
        if self.has(SLAB_STORE_USER) {
            // SAFETY: both tracks are this cache's metadata in `obj`'s slot,
            // which the caller has alone (its guarantee).
            unsafe {
                fill(
                    self.track_addr(obj, TrackItem::Alloc),
                    2 * TRACK_SIZE as usize,
                    0,
                )
            };
        }
    }

    /// The allocated objects' tracks of item `t` (for `alloc_calls` and
    /// `free_calls`): calls `f` with each object's track, under
    /// `list_lock` (so no slab comes or goes).
    pub(crate) fn for_each_track(&self, t: TrackItem, mut f: impl FnMut(&Track)) -> Result {
        if !self.has(SLAB_STORE_USER) {
            return Ok(());
        }
        self.flush_all();
        let mut bits = self.object_map()?;
        let me = self.as_owner();
        let size = self.layout.size as usize;
        // Node by node, each under its `list_lock` (slabs come and go
        // under it).
        for nid in 0..self.nodes.len() {
            let _n = self.node(nid).list.lock();
            self.pool.for_each_record_in(nid, |s| {
                if !s.is_head() || s.owner_here() != me {
                    return;
                }
                // SAFETY: `s` is a slab of this cache (the head of its pages,
                // owned by it) of node `nid`, whose `list_lock` is held, so
                // it is not discarded meanwhile: kept.
                unsafe { self.free_map(s, &mut bits) };
                for k in 0..s.counters().objects() as usize {
                    if marked(&bits, k) {
                        continue;
                    }
                    // SAFETY: the cache stores tracks (tested above), and
                    // this is an object of `s`, which is kept (as above).
                    f(&unsafe { self.track(s.base() as usize + k * size, t) });
                }
            });
        }
        Ok(())
    }
}
