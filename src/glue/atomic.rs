// SPDX-License-Identifier: GPL-2.0
//! Atomics for the fast paths, compiled inline.
//!
//! `kernel::sync::atomic::Atomic` is implemented over the C `atomic*_*()`
//! functions through `rust_helper_*` wrappers. Those are inlined (into
//! modules too, in 7.3) only with `CONFIG_RUST_INLINE_HELPERS`, which is
//! EXPERIMENTAL, needs `CONFIG_EXPERT` and is off in the kernels users run;
//! without it every access, a relaxed load included, is an out-of-line
//! call, and on the allocation fast paths that call was most of the cost.
//! So the data the fast paths touch uses this [`Atomic`] instead: the same
//! API (`load`, `store`, `xchg`, `cmpxchg`, `add`, `fetch_add`,
//! `fetch_sub`), over `core::sync::atomic`, which the compiler emits as
//! plain instructions.
//!
//! The orderings map to the LKMM as the kernel's own Rust atomics map them
//! (Documentation/atomic_t.txt):
//!
//! - [`Relaxed`] load/store: `READ_ONCE()`/`WRITE_ONCE()`, and relaxed
//!   read-modify-writes (`atomic_add()`, `atomic_cmpxchg_relaxed()`);
//! - [`Acquire`] load: `smp_load_acquire()`; [`Release`] store:
//!   `smp_store_release()`; acquire/release read-modify-writes;
//! - [`Full`]: the fully ordered read-modify-writes (`atomic_xchg()`),
//!   `SeqCst` in the C++ model, which both targets emit as a fully fenced
//!   instruction (`lock` prefix on x86_64, `.aqrl` AMO on riscv64).
//!
//! It is rslab's one atomic type, cold data included: one set of
//! orderings to read, and no call anywhere. Module-wide state that is
//! published at load and withdrawn at unload is a [`Global`].

pub(crate) use core::sync::atomic::Ordering::{self, Acquire, Relaxed, Release, SeqCst as Full};
use core::{
    cell::UnsafeCell,
    sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize},
};

/// The failure ordering a compare-exchange with `success` ordering uses.
const fn failure(success: Ordering) -> Ordering {
    match success {
        Acquire | Full => Acquire,
        _ => Relaxed,
    }
}

/// A type [`Atomic`] can hold: a word with a `core` atomic of its size.
///
/// # Safety
///
/// `Core` has the size and alignment of `Self`, and `core_of` returns the
/// atomic view of the word `p` points to.
pub(crate) unsafe trait Word: Copy {
    /// The `core::sync::atomic` type of the same size.
    type Core;
    /// The atomic view of `*p`.
    ///
    /// # Safety
    ///
    /// `p` is valid and aligned for the lifetime `'a`, and only accessed
    /// atomically meanwhile.
    unsafe fn core_of<'a>(p: *mut Self) -> &'a Self::Core;
    /// `load`.
    fn load(a: &Self::Core, o: Ordering) -> Self;
    /// `store`.
    fn store(a: &Self::Core, v: Self, o: Ordering);
    /// `swap`.
    fn swap(a: &Self::Core, v: Self, o: Ordering) -> Self;
    /// `compare_exchange`.
    fn cas(a: &Self::Core, old: Self, new: Self, o: Ordering) -> Result<Self, Self>;
}

/// An integer [`Word`].
pub(crate) trait Int: Word {
    /// `fetch_add`, wrapping.
    fn fetch_add(a: &Self::Core, v: Self, o: Ordering) -> Self;
    /// `fetch_sub`, wrapping.
    fn fetch_sub(a: &Self::Core, v: Self, o: Ordering) -> Self;
}

macro_rules! int_word {
    ($t:ty, $core:ty) => {
        // SAFETY: `$core` has the size and alignment of `$t` on the 64-bit
        // targets rslab builds for; `from_ptr` is its atomic view.
        unsafe impl Word for $t {
            type Core = $core;
            #[inline(always)]
            unsafe fn core_of<'a>(p: *mut Self) -> &'a $core {
                // SAFETY: the caller's guarantee.
                unsafe { <$core>::from_ptr(p) }
            }
            #[inline(always)]
            fn load(a: &$core, o: Ordering) -> Self {
                a.load(o)
            }
            #[inline(always)]
            fn store(a: &$core, v: Self, o: Ordering) {
                a.store(v, o)
            }
            #[inline(always)]
            fn swap(a: &$core, v: Self, o: Ordering) -> Self {
                a.swap(v, o)
            }
            #[inline(always)]
            fn cas(a: &$core, old: Self, new: Self, o: Ordering) -> Result<Self, Self> {
                a.compare_exchange(old, new, o, failure(o))
            }
        }
        impl Int for $t {
            #[inline(always)]
            fn fetch_add(a: &$core, v: Self, o: Ordering) -> Self {
                a.fetch_add(v, o)
            }
            #[inline(always)]
            fn fetch_sub(a: &$core, v: Self, o: Ordering) -> Self {
                a.fetch_sub(v, o)
            }
        }
    };
}

int_word!(u32, AtomicU32);
int_word!(i32, AtomicI32);
int_word!(u64, AtomicU64);
int_word!(usize, AtomicUsize);

// SAFETY: `AtomicPtr<T>` has the size and alignment of `*mut T`.
unsafe impl<T> Word for *mut T {
    type Core = AtomicPtr<T>;
    #[inline(always)]
    unsafe fn core_of<'a>(p: *mut Self) -> &'a AtomicPtr<T> {
        // SAFETY: the caller's guarantee.
        unsafe { AtomicPtr::from_ptr(p) }
    }
    #[inline(always)]
    fn load(a: &AtomicPtr<T>, o: Ordering) -> Self {
        a.load(o)
    }
    #[inline(always)]
    fn store(a: &AtomicPtr<T>, v: Self, o: Ordering) {
        a.store(v, o)
    }
    #[inline(always)]
    fn swap(a: &AtomicPtr<T>, v: Self, o: Ordering) -> Self {
        a.swap(v, o)
    }
    #[inline(always)]
    fn cas(a: &AtomicPtr<T>, old: Self, new: Self, o: Ordering) -> Result<Self, Self> {
        a.compare_exchange(old, new, o, failure(o))
    }
}

// SAFETY: as for `*mut T`: the same word, viewed as `*mut T`.
unsafe impl<T> Word for *const T {
    type Core = AtomicPtr<T>;
    #[inline(always)]
    unsafe fn core_of<'a>(p: *mut Self) -> &'a AtomicPtr<T> {
        // SAFETY: the caller's guarantee; `*const T` and `*mut T` have the
        // same layout.
        unsafe { AtomicPtr::from_ptr(p.cast()) }
    }
    #[inline(always)]
    fn load(a: &AtomicPtr<T>, o: Ordering) -> Self {
        a.load(o)
    }
    #[inline(always)]
    fn store(a: &AtomicPtr<T>, v: Self, o: Ordering) {
        a.store(v.cast_mut(), o)
    }
    #[inline(always)]
    fn swap(a: &AtomicPtr<T>, v: Self, o: Ordering) -> Self {
        a.swap(v.cast_mut(), o)
    }
    #[inline(always)]
    fn cas(a: &AtomicPtr<T>, old: Self, new: Self, o: Ordering) -> Result<Self, Self> {
        a.compare_exchange(old.cast_mut(), new.cast_mut(), o, failure(o))
            .map(|p| p.cast_const())
            .map_err(|p| p.cast_const())
    }
}

/// A word accessed atomically, inline (see the module comment).
///
/// # Invariants
///
/// The word is only accessed through its `core` atomic view.
#[repr(transparent)]
pub(crate) struct Atomic<T: Word>(UnsafeCell<T>);

// SAFETY: every access is atomic (type invariant); `T` is a plain word.
unsafe impl<T: Word> Sync for Atomic<T> {}
// SAFETY: as above.
unsafe impl<T: Word> Send for Atomic<T> {}

impl<T: Word> Atomic<T> {
    /// A new atomic holding `v`.
    pub(crate) const fn new(v: T) -> Self {
        Atomic(UnsafeCell::new(v))
    }

    #[inline(always)]
    fn core(&self) -> &T::Core {
        // SAFETY: the cell is valid and aligned while `self` is borrowed,
        // and only accessed atomically (type invariant).
        unsafe { T::core_of(self.0.get()) }
    }

    /// The C word at `p` (an `atomic_t`'s counter, say) as an [`Atomic`].
    ///
    /// # Safety
    ///
    /// `p` is valid and aligned for `'a`, and everything else accesses it
    /// atomically meanwhile.
    #[inline(always)]
    pub(crate) unsafe fn from_ptr<'a>(p: *mut T) -> &'a Self {
        // SAFETY: `Atomic<T>` is a transparent `UnsafeCell<T>`, which has
        // `T`'s layout; the caller's guarantee gives the rest (the type
        // invariant included).
        unsafe { &*p.cast::<Self>() }
    }

    /// A pointer to the word (for instructions `core` does not offer, such
    /// as a double-word compare-exchange).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.0.get()
    }

    /// Loads the value.
    #[inline(always)]
    pub(crate) fn load(&self, o: Ordering) -> T {
        T::load(self.core(), o)
    }

    /// Stores `v`.
    #[inline(always)]
    pub(crate) fn store(&self, v: T, o: Ordering) {
        T::store(self.core(), v, o)
    }

    /// Stores `v`, returning the old value.
    #[inline(always)]
    pub(crate) fn xchg(&self, v: T, o: Ordering) -> T {
        T::swap(self.core(), v, o)
    }

    /// Replaces `old` by `new` if the value is `old`: `Ok(old)`, or
    /// `Err(current)`.
    #[inline(always)]
    pub(crate) fn cmpxchg(&self, old: T, new: T, o: Ordering) -> Result<T, T> {
        T::cas(self.core(), old, new, o)
    }
}

impl<T: Int> Atomic<T> {
    /// Adds `v` (wrapping).
    #[inline(always)]
    pub(crate) fn add(&self, v: T, o: Ordering) {
        T::fetch_add(self.core(), v, o);
    }

    /// Adds `v` (wrapping), returning the old value.
    #[inline(always)]
    pub(crate) fn fetch_add(&self, v: T, o: Ordering) -> T {
        T::fetch_add(self.core(), v, o)
    }

    /// Subtracts `v` (wrapping), returning the old value.
    #[inline(always)]
    pub(crate) fn fetch_sub(&self, v: T, o: Ordering) -> T {
        T::fetch_sub(self.core(), v, o)
    }
}

/// Module-wide state published while the module is loaded (the registry
/// the exported API serves from, the kmalloc of `RslabAlloc`, the flush
/// workqueue): null until [`Global::publish`], and again after
/// [`Global::withdraw`]. The one way rslab publishes such state.
pub(crate) struct Global<T>(Atomic<*const T>);

// SAFETY: the pointer is accessed atomically; a reference to the `T` is
// only handed out for `T: Sync` ([`Global::get`]), a raw pointer otherwise.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    /// Nothing published.
    pub(crate) const fn new() -> Self {
        Global(Atomic::new(core::ptr::null()))
    }

    /// Publishes `v` (release: its contents are visible to whoever finds
    /// it).
    ///
    /// # Safety
    ///
    /// `v` stays alive and in place until [`Global::withdraw`] is called,
    /// and no reference that [`Global::get`] gave out is used after that:
    /// whoever gets it runs while the module is loaded and is done before
    /// its teardown withdraws it.
    pub(crate) unsafe fn publish(&self, v: *const T) {
        self.0.store(v, Release);
    }

    /// Withdraws what was published, returning it (null if nothing was).
    pub(crate) fn withdraw(&self) -> *const T {
        self.0.xchg(core::ptr::null(), Full)
    }

    /// What is published, if anything.
    #[inline(always)]
    pub(crate) fn get(&self) -> Option<&'static T>
    where
        T: Sync,
    {
        let p = self.0.load(Acquire);
        // SAFETY: `p` is null or was published and not yet withdrawn, and
        // stays alive while it is used (the contract of `publish`).
        unsafe { p.as_ref() }
    }

    /// What is published, as a pointer (for C objects that Rust must not
    /// reference); null if nothing is.
    #[inline(always)]
    pub(crate) fn ptr(&self) -> *const T {
        self.0.load(Acquire)
    }
}
