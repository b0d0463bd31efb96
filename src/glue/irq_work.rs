// SPDX-License-Identifier: GPL-2.0
//! Work deferred from any context, NMI included, to a hard interrupt soon
//! after on the same CPU: a lock-free list (`llist_add()`) and the
//! `struct irq_work` that empties it (`irq_work_queue()`), as 7.3's
//! `defer_free()` pairs them.

use super::{
    atomic::{Acquire, Atomic, Relaxed, Release},
    ffi,
    percpu::{IrqsAreOff, PerCpu},
};
use kernel::{bindings, prelude::*, types::Opaque};

/// What a [`DeferCell`]'s work runs on the items it takes: `ctx` is the
/// value given to [`Deferred::new`], `first` the first item of the list (each
/// item's first word links the next; 0 ends it).
///
/// # Safety
///
/// An implementation is called in hard interrupt context (interrupts off)
/// with a list that nobody else holds any more.
pub(crate) type DeferFn = unsafe fn(ctx: usize, first: usize);

/// One CPU's deferred items.
///
/// # Invariants
///
/// `work` is initialised (`init_irq_work()`) with [`run`] as its function,
/// and lives, in place, until [`Deferred`]'s drop has synced it. `head` is
/// 0 or the first item of a list of items linked through their first words,
/// which the list owns until its work takes it. `run` and `ctx` are set
/// when the cell is made, before its work can run, and never change.
#[repr(C)]
pub(crate) struct DeferCell {
    /// First, so that the work's address is the cell's.
    work: Opaque<bindings::irq_work>,
    head: Atomic<usize>,
    run: DeferFn,
    ctx: usize,
}

// SAFETY: `work` is only reached through the kernel's irq_work functions,
// which any CPU may call; `head` is atomic; `run` and `ctx` are only read
// after they were written (type invariant).
unsafe impl Sync for DeferCell {}
// SAFETY: as above.
unsafe impl Send for DeferCell {}

/// The work function of every [`DeferCell`]: takes the cell's whole list
/// and hands it to the cell's [`DeferFn`].
///
/// # Safety
///
/// `work` is the `work` field of a [`DeferCell`] (its first field), called
/// by the irq_work core in hard interrupt context.
unsafe extern "C" fn run(work: *mut bindings::irq_work) {
    // SAFETY: `work` is the first field of a `repr(C)` `DeferCell` (the
    // caller's guarantee), which lives while its work can run.
    let cell = unsafe { &*work.cast::<DeferCell>() };
    // `llist_del_all()`: acquire pairs with the pushes' release, so the
    // items' links are seen.
    let first = cell.head.xchg(0, Acquire);
    if first == 0 {
        return;
    }
    // SAFETY: hard interrupt context (the irq_work core's), and `first` the
    // list just taken off the cell: nobody else holds it; `ctx` is what
    // `run` requires (`Deferred::new`'s guarantee).
    unsafe { (cell.run)(cell.ctx, first) };
}

/// A [`DeferCell`] per CPU, all running one [`DeferFn`].
pub(crate) struct Deferred(PerCpu<DeferCell>);

impl Deferred {
    /// Cells whose work runs `f(ctx, list)`.
    ///
    /// # Safety
    ///
    /// `ctx` meets what `f` requires of it (an address `f` dereferences
    /// stays valid) for as long as the result lives.
    pub(crate) unsafe fn new(f: DeferFn, ctx: usize) -> Result<Self> {
        let cells = PerCpu::new(|_| DeferCell {
            work: Opaque::uninit(),
            head: Atomic::new(0),
            run: f,
            ctx,
        })?;
        for cpu in (0..super::cpu::nr_cpu_ids()).filter(|&c| super::percpu::possible(c)) {
            // INVARIANT: initialised with `run`, in place, before any push
            // can queue it.
            // SAFETY: `work` is an unqueued `irq_work` in per-CPU memory that
            // stays in place until `drop`; `init_irq_work()` writes all of it.
            unsafe { ffi::rslab_init_irq_work(cells[cpu].work.get(), Some(run)) };
        }
        Ok(Deferred(cells))
    }

    /// `llist_add()` of `item` onto this CPU's list, and `irq_work_queue()`
    /// of its work if the list was empty. Lock-free: any context, NMI
    /// included.
    ///
    /// # Safety
    ///
    /// `item` is the address of at least a word that the caller gives to
    /// the list: nobody uses it until the [`DeferFn`] gets it.
    pub(crate) unsafe fn push(&self, irq: &impl IrqsAreOff, item: usize) {
        let c = self.0.this(irq);
        let mut first = c.head.load(Relaxed);
        loop {
            // SAFETY: `item` is a word the caller gave up (its guarantee).
            unsafe { (item as *mut usize).write(first) };
            // Release: the link is written before the item is reachable.
            match c.head.cmpxchg(first, item, Release) {
                Ok(_) => break,
                Err(now) => first = now,
            }
        }
        if first == 0 {
            // SAFETY: the cell's work is initialised and lives in place
            // (type invariant of `DeferCell`); any context may queue it.
            unsafe { bindings::irq_work_queue(c.work.get()) };
        }
    }

    /// `irq_work_sync()` of every CPU's work: what was pushed before this
    /// call has been handed to the [`DeferFn`] when it returns. Sleeps.
    pub(crate) fn sync(&self) {
        for cpu in (0..super::cpu::nr_cpu_ids()).filter(|&c| super::percpu::possible(c)) {
            // SAFETY: the work is initialised and in place (type invariant).
            unsafe { bindings::irq_work_sync(self.0[cpu].work.get()) };
        }
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        // Every work has run and none is queued before the cells go.
        self.sync();
    }
}
