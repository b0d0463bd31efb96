// SPDX-License-Identifier: GPL-2.0
//! Time-based decay (see [`crate::logic::decay`]): each owner's state and
//! its deferrable delayed work (`INIT_DEFERRABLE_WORK()`, queued on the
//! kernel's default unbound workqueue), which the kernel crate's
//! `DelayedWork` does not offer (neither deferrable timers nor disabling).

use super::{
    atomic::{Atomic, Relaxed},
    ffi,
};
use crate::logic::decay::{self, Step};
use core::convert::Infallible;
use kernel::{bindings, prelude::*, types::Opaque};

/// What decays: a cache or the pool.
///
/// # Safety
///
/// `DECAY_OFFSET` is the offset of a [`Decay`] in `Self`, made by
/// [`Decay::new::<Self>`] and stopped ([`Decay::stop`]) first thing in
/// `Self`'s drop, so that its work runs only on a live `Self`.
pub(crate) unsafe trait Decays: Sync + Sized {
    /// `offset_of!(Self, <its Decay>)`.
    const DECAY_OFFSET: usize;
    /// The owner's activity: its allocation and free counters, summed.
    fn decay_activity(&self) -> u64;
    /// Gives back what the owner keeps free above its floor (process
    /// context, may sleep); returns how much (the owner's unit).
    fn decay_give_back(&self) -> usize;
    /// The owner's [`Decay`].
    fn decay_state(&self) -> &Decay;
}

/// `seen` before the first look since the owner was armed.
const UNSEEN: u64 = u64::MAX;

/// An owner's decay: its period, whether it is armed, and its timer.
///
/// # Invariants
///
/// `work` is initialised (`INIT_DEFERRABLE_WORK()`) with [`run::<T>`] of
/// the `T` this is embedded in at `T::DECAY_OFFSET`, and stays in place
/// until [`Decay::stop`] has disabled it. `armed` is 1 from an
/// [`Decay::arm`] that queued the work until a look disarms it.
#[pin_data(PinnedDrop)]
#[repr(C)]
pub(crate) struct Decay {
    /// First: the work function finds the owner from its address.
    #[pin]
    work: Opaque<bindings::delayed_work>,
    /// The period, in ms (0: off).
    ms: Atomic<u32>,
    armed: Atomic<u32>,
    /// The owner's activity at the previous look, or [`UNSEEN`].
    seen: Atomic<u64>,
    /// Decay passes made, and what they gave back.
    passes: Atomic<u64>,
    given: Atomic<u64>,
}

// SAFETY: `work` is only reached through the workqueue functions, which any
// CPU may call; everything else is atomic.
unsafe impl Sync for Decay {}
// SAFETY: as above.
unsafe impl Send for Decay {}

/// The work function of `T`'s [`Decay`]: a look, and the next one a period
/// later unless it disarmed.
///
/// # Safety
///
/// `work` is the work of the [`Decay`] of a live `T`, at `T::DECAY_OFFSET`
/// (the `Decays` contract).
unsafe extern "C" fn run<T: Decays>(work: *mut bindings::work_struct) {
    // SAFETY: `work` is the first field of the `delayed_work`, itself the
    // first of a `repr(C)` `Decay`, which is at `T::DECAY_OFFSET` in a live
    // `T` (the caller's guarantee).
    let owner = unsafe { &*work.cast::<u8>().sub(T::DECAY_OFFSET).cast::<T>() };
    let d = owner.decay_state();
    if d.look(owner) == Step::Wait {
        d.queue(false);
    }
}

impl Decay {
    /// The decay of a `T`, with period `ms` (0: off), disarmed.
    ///
    /// # Safety
    ///
    /// The result is placed in a `T` at `T::DECAY_OFFSET`.
    pub(crate) unsafe fn new<T: Decays, E: From<Infallible>>(ms: u32) -> impl PinInit<Self, E> {
        let ms = ms.min(decay::MAX_DECAY_MS);
        try_pin_init!(Self {
            work <- Opaque::ffi_init(|slot: *mut bindings::delayed_work| {
                // SAFETY: `slot` is this `Decay`'s, in place; `run::<T>` is
                // a work function for it (the caller's guarantee).
                unsafe { ffi::rslab_init_deferrable_work(slot, Some(run::<T>)) }
            }),
            ms: Atomic::new(ms),
            armed: Atomic::new(0),
            seen: Atomic::new(UNSEEN),
            passes: Atomic::new(0),
            given: Atomic::new(0),
        }? E)
    }

    /// The period, in ms (0: off).
    pub(crate) fn ms(&self) -> u32 {
        self.ms.load(Relaxed)
    }

    /// Sets the period (`EINVAL` above [`decay::MAX_DECAY_MS`], and nothing
    /// changes). Turned on, the owner is looked at a period from now
    /// whether armed or not: it may keep memory from before.
    pub(crate) fn set_ms(&self, ms: u64) -> Result {
        if !decay::valid_decay_ms(ms) {
            return Err(EINVAL);
        }
        let ms = ms as u32;
        self.ms.store(ms, Relaxed);
        if ms != 0 {
            self.seen.store(UNSEEN, Relaxed);
            self.armed.store(1, Relaxed);
            self.queue(true);
        }
        Ok(())
    }

    /// Decay passes made, and what they gave back.
    pub(crate) fn passes(&self) -> (u64, u64) {
        (self.passes.load(Relaxed), self.given.load(Relaxed))
    }

    /// Whether a look is pending.
    #[cfg(rslab_kunit)]
    pub(crate) fn armed(&self) -> bool {
        self.armed.load(Relaxed) != 0
    }

    /// Arms the decay, unless it is off or armed already: the owner's slow
    /// paths call this when they make memory the owner may keep free. Any
    /// context (an interrupts-off section included).
    #[inline]
    pub(crate) fn arm(&self) {
        if self.ms.load(Relaxed) != 0 && self.armed.load(Relaxed) == 0 {
            self.arm_slow();
        }
    }

    #[inline(never)]
    fn arm_slow(&self) {
        if self.armed.xchg(1, Relaxed) == 0 {
            self.seen.store(UNSEEN, Relaxed);
            self.queue(false);
        }
    }

    /// [`Decay::arm`] for a slow path that frees: the owner's activity
    /// now (`activity()`, read only if this arms) is noted as seen, so
    /// that the first look gives back unless the owner was used meanwhile
    /// (what a free made, an idle owner need not keep a period more).
    #[inline]
    pub(crate) fn arm_idle(&self, activity: impl FnOnce() -> u64) {
        if self.ms.load(Relaxed) != 0 && self.armed.load(Relaxed) == 0 {
            self.arm_idle_slow(activity());
        }
    }

    #[inline(never)]
    fn arm_idle_slow(&self, now: u64) {
        if self.armed.xchg(1, Relaxed) == 0 {
            self.seen.store(now, Relaxed);
            self.queue(false);
        }
    }

    /// Queues the work a period from now (`again`: whether queued or not,
    /// `mod_delayed_work()`).
    fn queue(&self, again: bool) {
        let ms = self.ms.load(Relaxed);
        let delay = kernel::time::msecs_to_jiffies(ms.max(1));
        let cpu = bindings::wq_misc_consts_WORK_CPU_UNBOUND as i32;
        // SAFETY: `system_dfl_wq` is the kernel's, set up at boot and never
        // freed; `work` is initialised and in place (type invariant); the
        // workqueue functions may be called from any context, and fail
        // (return false) once `stop` has disabled the work.
        unsafe {
            let wq = bindings::system_dfl_wq;
            if again {
                bindings::mod_delayed_work_on(cpu, wq, self.work.get(), delay);
            } else {
                bindings::queue_delayed_work_on(cpu, wq, self.work.get(), delay);
            }
        }
    }

    /// A look at `owner` (what the timer runs; a test may call it to force
    /// one): decays it if idle for a whole period. Process context.
    pub(crate) fn look<T: Decays>(&self, owner: &T) -> Step {
        let now = owner.decay_activity();
        let seen = self.seen.load(Relaxed);
        let step = decay::step(self.ms(), (seen != UNSEEN).then_some(seen), now);
        match step {
            Step::Wait => self.seen.store(now, Relaxed),
            Step::Off => self.armed.store(0, Relaxed),
            Step::Decay => {
                let given = owner.decay_give_back();
                self.passes.add(1, Relaxed);
                self.given.add(given as u64, Relaxed);
                let after = owner.decay_activity();
                self.armed.store(0, Relaxed);
                // A slow path that found it still armed meanwhile did not
                // arm it: arm it for that.
                if owner.decay_activity() != after {
                    self.arm();
                }
            }
        }
        step
    }

    /// Disables the work, waiting for a look that runs (its owner is going
    /// away). Idempotent.
    pub(crate) fn stop(&self) {
        // SAFETY: `work` is initialised and in place (type invariant).
        unsafe { bindings::disable_delayed_work_sync(self.work.get()) };
    }
}

#[pinned_drop]
impl PinnedDrop for Decay {
    fn drop(self: Pin<&mut Self>) {
        // The owner stopped it already (the `Decays` contract); this is for
        // a `Decay` whose owner was never made.
        self.stop();
    }
}
