// SPDX-License-Identifier: GPL-2.0
//! CPU hotplug: a dynamic, multi-instance "prepare" state whose teardown
//! runs on a control CPU once a CPU is dead, as mm's `page_alloc_cpu_dead`
//! (CPUHP_PAGE_ALLOC) drains a dead CPU's page lists.

use super::atomic::{Atomic, Relaxed};
use core::marker::PhantomData;
use kernel::{
    bindings,
    ffi::{c_int, c_uint},
    prelude::*,
    str::CStr,
    sync::Arc,
    types::Opaque,
};

/// The number of the module's registered state (0: none yet).
static STATE: Atomic<i32> = Atomic::new(0);

/// What a hotplug instance does when a CPU has gone.
pub(crate) trait CpuDead: Send + Sync + 'static {
    /// `cpu` is dead: nothing runs on it any more.
    ///
    /// # Safety
    ///
    /// `cpu` is dead, and stays so while this runs (the hotplug core's
    /// teardown of a dead CPU, with hotplug held off).
    unsafe fn cpu_dead(&self, cpu: usize);
}

/// The module's registered hotplug state; removed on drop. There is one per
/// module: [`Instance::new`] adds instances of any [`CpuDead`] type to it.
///
/// # Invariants
///
/// `state` was returned by `__cpuhp_setup_state` for a multi-instance state
/// with `teardown_cb` as its teardown.
pub(crate) struct State {
    state: c_int,
}

/// The registration's node: the kernel links it into the state's instance
/// list; the callback finds `target` from it.
#[repr(C)]
struct Node {
    hnode: Opaque<bindings::hlist_node>,
    target: Arc<dyn CpuDead>,
}

/// One instance of a [`State`]: while alive, `cpu_dead` of its target runs
/// for every CPU that goes offline.
///
/// # Invariants
///
/// `node` is added to the state `state` (and stays pinned in its box).
pub(crate) struct Instance<T: CpuDead> {
    node: Pin<KBox<Node>>,
    state: c_int,
    _t: PhantomData<T>,
}

// SAFETY: the node is only touched by the hotplug core (under its locks) and
// by `drop`; `T: Send + Sync`.
unsafe impl<T: CpuDead> Send for Instance<T> {}
// SAFETY: as above; `&Instance` gives nothing.
unsafe impl<T: CpuDead> Sync for Instance<T> {}

impl State {
    /// Registers the state (`cpuhp_setup_state_multi(CPUHP_BP_PREPARE_DYN,
    /// name, NULL, teardown)`).
    pub(crate) fn register(name: &'static CStr) -> Result<Self> {
        type Single = unsafe extern "C" fn(c_uint) -> c_int;
        type Multi = unsafe extern "C" fn(c_uint, *mut bindings::hlist_node) -> c_int;
        let teardown: Multi = Self::teardown_cb;
        // SAFETY: for a multi-instance state the hotplug core stores the
        // callback in a union and calls it through its multi-instance member
        // (`struct cpuhp_step`), which has type `Multi`; this is the same cast
        // `cpuhp_setup_state_multi()` makes in C.
        let teardown: Single = unsafe { core::mem::transmute::<Multi, Single>(teardown) };
        // SAFETY: `name` is static; the callbacks live as long as the module,
        // and the state is removed in `drop` before the module goes.
        let ret = unsafe {
            bindings::__cpuhp_setup_state(
                bindings::cpuhp_state_CPUHP_BP_PREPARE_DYN,
                name.as_char_ptr(),
                false,
                None,
                Some(teardown),
                true,
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        STATE.store(ret, Relaxed);
        // INVARIANT: a dynamic state returns its number (> 0) on success.
        Ok(State { state: ret })
    }

    /// The teardown callback.
    ///
    /// # Safety
    ///
    /// Called by the hotplug core only, with the node of a live [`Instance`].
    unsafe extern "C" fn teardown_cb(cpu: c_uint, hnode: *mut bindings::hlist_node) -> c_int {
        // SAFETY: `hnode` is the first field of a `#[repr(C)]` `Node<T>` that
        // stays alive until its instance is removed, which waits for running
        // callbacks (the hotplug lock).
        let node = unsafe { &*hnode.cast::<Node>() };
        // SAFETY: the hotplug core runs the teardown of a
        // `CPUHP_BP_PREPARE_DYN` state on a control CPU once `cpu` is dead,
        // holding hotplug off (it stays dead meanwhile).
        unsafe { node.target.cpu_dead(cpu as usize) };
        0
    }
}

impl<T: CpuDead> Instance<T> {
    /// Adds `target` as an instance of the module's state: from now on,
    /// until the returned [`Instance`] is dropped, `target.cpu_dead(cpu)` runs
    /// for each CPU that goes offline. `ENODEV` if no state is registered.
    pub(crate) fn new(target: Arc<T>) -> Result<Self> {
        let state = STATE.load(Relaxed);
        if state <= 0 {
            return Err(ENODEV);
        }
        let target: Arc<dyn CpuDead> = target;
        let node = KBox::pin(
            Node {
                hnode: Opaque::uninit(),
                target,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `node` is pinned in its box until the instance is removed
        // in `Instance::drop`; `invoke = false` runs no callback now. The
        // state was registered by `State::register` with `teardown_cb`
        // (there is one state per module; its callback works for any `T`).
        let ret = unsafe { bindings::__cpuhp_state_add_instance(state, node.hnode.get(), false) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: added above.
        Ok(Instance {
            node,
            state,
            _t: PhantomData,
        })
    }
}

impl Drop for State {
    fn drop(&mut self) {
        STATE.store(0, Relaxed);
        // SAFETY: registered in `register` (type invariant); no instance can
        // outlive the module, and `invoke = false` runs no callback.
        unsafe { bindings::__cpuhp_remove_state(self.state as bindings::cpuhp_state, false) };
    }
}

impl<T: CpuDead> Drop for Instance<T> {
    fn drop(&mut self) {
        // SAFETY: the node was added (type invariant); removal takes the
        // hotplug lock, so no callback runs on it afterwards.
        unsafe {
            bindings::__cpuhp_state_remove_instance(
                self.state as bindings::cpuhp_state,
                self.node.hnode.get(),
                false,
            )
        };
    }
}
