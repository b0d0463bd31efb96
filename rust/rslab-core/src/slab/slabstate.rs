// SPDX-License-Identifier: GPL-2.0
//! The life of a slab in SLUB (mm/slub.c of 6.1): its packed counters and
//! the decisions `__slab_free()`, `deactivate_slab()` and
//! `put_cpu_partial()` take. The kernel glue does the locking and the
//! compare-exchange; what to do in each state is decided here.

/// `slab->counters`: `inuse:16, objects:15, frozen:1`, packed as in the
/// kernel so that freelist + counters fit one double-word compare-exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters(pub u32);

impl Counters {
    /// Packs the three fields. `objects` must fit 15 bits, `inuse` 16.
    pub const fn new(inuse: u32, objects: u32, frozen: bool) -> Self {
        Counters((inuse & 0xffff) | ((objects & 0x7fff) << 16) | ((frozen as u32) << 31))
    }
    /// Objects handed out (or held on a CPU freelist while frozen).
    pub const fn inuse(self) -> u32 {
        self.0 & 0xffff
    }
    /// Objects in the slab.
    pub const fn objects(self) -> u32 {
        (self.0 >> 16) & 0x7fff
    }
    /// Whether a CPU owns the slab (its CPU slab or on its partial list).
    pub const fn frozen(self) -> bool {
        self.0 >> 31 != 0
    }
    /// The same with `inuse` set.
    pub const fn with_inuse(self, inuse: u32) -> Self {
        Self::new(inuse, self.objects(), self.frozen())
    }
    /// The same with `frozen` set.
    pub const fn with_frozen(self, frozen: bool) -> Self {
        Self::new(self.inuse(), self.objects(), frozen)
    }
}

/// What `__slab_free()` does once its compare-exchange has succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeAction {
    /// The slab was frozen: a CPU owns it, nothing else to do (`FREE_FROZEN`).
    Frozen,
    /// The slab was full and on no list; it was frozen by this free and goes
    /// to this CPU's partial list (`CPU_PARTIAL_FREE`).
    ToCpuPartial,
    /// The slab, partial and unfrozen, so on its node's partial list, is
    /// left empty: take `list_lock` (before the compare-exchange) and ask
    /// [`free_under_list_lock`].
    NodeList,
    /// The slab stays where it is, still partial (`FREE_SLOWPATH` only).
    Stay,
}

/// `__slab_free()`'s first step: freeing `cnt` objects into a slab with
/// counters `old`, whose freelist was empty (`prior_empty`, i.e. the slab
/// was full) or not. Returns the new counters and what to do after the
/// compare-exchange; `None` if the slab has fewer than `cnt` objects in
/// use (some are freed twice: nothing may change). For a cache with CPU
/// partial lists (`kmem_cache_has_cpu_partial()`: every cache that takes
/// this path; debug caches free otherwise).
pub fn slab_free(old: Counters, cnt: u32, prior_empty: bool) -> Option<(Counters, FreeAction)> {
    let was_frozen = old.frozen();
    let mut new = old.with_inuse(old.inuse().checked_sub(cnt)?);
    let action = if (new.inuse() == 0 || prior_empty) && !was_frozen {
        if prior_empty {
            // Was on no list and will be partially empty: freeze it instead
            // of moving it onto a node list.
            new = new.with_frozen(true);
            FreeAction::ToCpuPartial
        } else {
            FreeAction::NodeList
        }
    } else if was_frozen {
        FreeAction::Frozen
    } else {
        FreeAction::Stay
    };
    Some((new, action))
}

/// What `__slab_free()` does under `list_lock` (after [`FreeAction::NodeList`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListAction {
    /// The slab is empty and the node has `min_partial` partial slabs:
    /// take it off the partial list (`FREE_REMOVE_PARTIAL`) and free it
    /// (`FREE_SLAB`).
    Discard,
    /// It stays on the partial list.
    Nothing,
}

/// `__slab_free()` under the node's `list_lock`, for a slab that
/// [`slab_free`] left with counters `new` ([`FreeAction::NodeList`]: it was
/// on the partial list), on a node with `nr_partial` partial slabs.
pub fn free_under_list_lock(new: Counters, nr_partial: u32, min_partial: u32) -> ListAction {
    if new.inuse() == 0 && nr_partial >= min_partial {
        ListAction::Discard
    } else {
        ListAction::Nothing
    }
}

/// Where `deactivate_slab()` puts a CPU slab it gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deactivate {
    /// Empty, and the node has enough partial slabs: free it
    /// (`DEACTIVATE_EMPTY`, `FREE_SLAB`).
    Free,
    /// Onto the node's partial list, at the head (`DEACTIVATE_TO_HEAD`) or,
    /// if remote CPUs freed into it meanwhile, the tail
    /// (`DEACTIVATE_TO_TAIL`).
    Partial {
        /// To the tail.
        tail: bool,
    },
    /// Full: on no list (`DEACTIVATE_FULL`).
    Full,
}

/// `deactivate_slab()`: the slab's counters after the CPU's `free_delta`
/// unused objects went back (`new_inuse`), whether it then has free objects,
/// whether other CPUs had freed into it while it was frozen (`remote_frees`:
/// `slab->freelist` was not empty), and the node's partial count.
pub fn deactivate(
    new_inuse: u32,
    has_free: bool,
    remote_frees: bool,
    nr_partial: u32,
    min_partial: u32,
) -> Deactivate {
    if new_inuse == 0 && nr_partial >= min_partial {
        Deactivate::Free
    } else if has_free {
        Deactivate::Partial { tail: remote_frees }
    } else {
        Deactivate::Full
    }
}

/// `put_cpu_partial()`: whether a CPU partial list holding `slabs` slabs
/// must be drained to the node (`unfreeze_partials`, `CPU_PARTIAL_DRAIN`)
/// before one more slab is added, with the cache's `cpu_partial_slabs`.
pub fn cpu_partial_full(slabs: u32, cpu_partial_slabs: u32) -> bool {
    slabs >= cpu_partial_slabs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_pack_like_struct_slab() {
        let c = Counters::new(12, 32767, true);
        assert_eq!((c.inuse(), c.objects(), c.frozen()), (12, 32767, true));
        assert_eq!(c.0, 12 | (32767 << 16) | (1 << 31));
        let d = c.with_inuse(0).with_frozen(false);
        assert_eq!((d.inuse(), d.objects(), d.frozen()), (0, 32767, false));
    }

    #[test]
    fn freeing_into_a_frozen_slab_touches_no_list() {
        let c = Counters::new(5, 16, true);
        for prior_empty in [false, true] {
            let (new, a) = slab_free(c, 1, prior_empty).unwrap();
            assert_eq!(
                (new.inuse(), new.frozen(), a),
                (4, true, FreeAction::Frozen)
            );
        }
        // Even the last object: a frozen slab is its CPU's to deal with.
        let (new, a) = slab_free(Counters::new(1, 16, true), 1, false).unwrap();
        assert_eq!((new.inuse(), a), (0, FreeAction::Frozen));
    }

    #[test]
    fn more_frees_than_objects_in_use_change_nothing() {
        // Freed twice: the slab has fewer objects in use than are freed.
        for (inuse, cnt) in [(0, 1), (2, 3), (0, 16)] {
            for frozen in [false, true] {
                assert_eq!(
                    slab_free(Counters::new(inuse, 16, frozen), cnt, false),
                    None
                );
            }
        }
        assert!(slab_free(Counters::new(3, 16, false), 3, false).is_some());
    }

    #[test]
    fn a_full_slab_is_frozen_onto_the_cpu_partial_list() {
        let (new, a) = slab_free(Counters::new(16, 16, false), 1, true).unwrap();
        assert_eq!(
            (new.inuse(), new.frozen(), a),
            (15, true, FreeAction::ToCpuPartial)
        );
    }

    #[test]
    fn a_partial_slab_stays_until_it_is_empty() {
        let (_, a) = slab_free(Counters::new(7, 16, false), 1, false).unwrap();
        assert_eq!(a, FreeAction::Stay);
        let (new, a) = slab_free(Counters::new(1, 16, false), 1, false).unwrap();
        assert_eq!(a, FreeAction::NodeList);
        // Empty: freed only if the node keeps min_partial partial slabs.
        assert_eq!(free_under_list_lock(new, 5, 5), ListAction::Discard);
        assert_eq!(free_under_list_lock(new, 4, 5), ListAction::Nothing);
    }

    #[test]
    fn a_bulk_free_can_empty_a_full_slab_at_once() {
        let (new, a) = slab_free(Counters::new(16, 16, false), 16, true).unwrap();
        assert_eq!((new.inuse(), a), (0, FreeAction::ToCpuPartial));
    }

    #[test]
    fn deactivation_modes() {
        assert_eq!(deactivate(0, true, false, 5, 5), Deactivate::Free);
        assert_eq!(
            deactivate(0, true, false, 4, 5),
            Deactivate::Partial { tail: false }
        );
        assert_eq!(
            deactivate(3, true, true, 9, 5),
            Deactivate::Partial { tail: true }
        );
        assert_eq!(deactivate(16, false, false, 0, 5), Deactivate::Full);
        assert!(cpu_partial_full(2, 2) && !cpu_partial_full(1, 2));
    }
}
