// SPDX-License-Identifier: GPL-2.0
//! KUnit: time-based decay (`src/glue/decay.rs`, `decay_ms` in sysfs).
//!
//! Most tests force the looks the timer would make (`Decay::look`), with a
//! period of an hour so that the timer itself never runs meanwhile: the
//! counters then move exactly. One test lets a short timer do it.

use crate::{
    glue::{decay::Decays, gfp::Gfp, vfs},
    kunit::{
        slab::{alloc, free, pages_in_use, pool},
        util::{ensure, some},
    },
    logic::decay::{Step, MAX_DECAY_MS},
    page_pool::{Config, Pool, CHUNK_PAGES, MAX_ORDER},
    slab::{Cache, CacheConfig, CacheCounts, SlabPool},
};
use kernel::{
    prelude::*,
    sync::Arc,
    time::{delay::fsleep, Delta},
};

/// An hour: a period the timer does not reach within a test.
const LONG: u64 = MAX_DECAY_MS as u64;

fn cache(p: &Arc<SlabPool>, name: &str) -> Result<Arc<Cache>> {
    let mut cfg = CacheConfig::new(name, 512);
    cfg.randomize = false;
    Cache::new(p, &cfg)
}

/// A pool that keeps its free pages (`Config::keeping()`) and decays after
/// [`LONG`]: only forced looks pass within a test.
fn idle_pool() -> Result<Arc<Pool<()>>> {
    Pool::new(Config {
        decay_ms: LONG as u32,
        ..Config::keeping()
    })
}

/// Allocates `n` objects of `c` and frees them all: the cache keeps their
/// slabs (its CPU slab, partial and empty slabs).
fn churn(c: &Cache, n: usize) -> Result {
    let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
    for _ in 0..n {
        v.push(alloc(c)?, GFP_KERNEL)?;
    }
    for o in v.drain_all() {
        free(c, o);
    }
    Ok(())
}

/// Waits (up to 10 s) until `c` made a decay pass; returns whether it did.
fn wait_for_pass(c: &Cache) -> bool {
    for _ in 0..1000 {
        if c.decay_state().passes().0 > 0 {
            return true;
        }
        fsleep(Delta::from_millis(10));
    }
    false
}

#[kunit_tests(rslab_decay)]
mod tests {
    use super::*;

    /// Turned on, a cache is looked at: the first look only notes its
    /// activity; a second one with nothing allocated or freed in between
    /// gives back every slab it keeps, counts one pass and those slabs,
    /// and disarms.
    #[test]
    fn idle_cache_gives_back_every_slab_it_keeps() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-decay")?;
        let d = c.decay_state();
        assert_eq!(d.ms(), 0);
        churn(&c, 3 * c.layout().objects as usize)?;
        let kept = c.counts().slabs;
        ensure!(kept >= 3, "{kept} slabs kept");
        // Off: nothing is armed by the churn.
        assert!(!d.armed());
        d.set_ms(LONG)?;
        assert!(d.armed());
        assert_eq!(d.look(&*c), Step::Wait);
        assert_eq!(d.passes(), (0, 0));
        assert_eq!(c.counts().slabs, kept);
        assert_eq!(d.look(&*c), Step::Decay);
        assert_eq!(d.passes(), (1, kept as u64));
        assert!(!d.armed());
        assert_eq!(
            c.counts(),
            CacheCounts {
                slabs: 0,
                objects: 0,
                partial: 0
            }
        );
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// Activity between two looks only starts the wait again; a new slab
    /// arms a disarmed cache; turned off, a look disarms without decaying.
    #[test]
    fn activity_postpones_decay_and_new_slabs_arm_it() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-decay-busy")?;
        let d = c.decay_state();
        d.set_ms(LONG)?;
        churn(&c, 1)?;
        assert_eq!(d.look(&*c), Step::Wait);
        assert_eq!(d.look(&*c), Step::Decay);
        assert_eq!(d.passes(), (1, 1));
        assert!(!d.armed());
        // The next allocation makes a new slab: armed again.
        let o = alloc(&c)?;
        assert!(d.armed());
        assert_eq!(d.look(&*c), Step::Wait);
        free(&c, o);
        assert_eq!(d.look(&*c), Step::Wait);
        churn(&c, 2)?;
        assert_eq!(d.look(&*c), Step::Wait);
        assert_eq!(d.passes(), (1, 1));
        assert_eq!(c.counts().slabs, 1);
        assert_eq!(d.look(&*c), Step::Decay);
        assert_eq!(d.passes(), (2, 2));
        // Off: the pending look disarms and gives nothing back.
        churn(&c, 1)?;
        assert!(d.armed());
        d.set_ms(0)?;
        assert_eq!(d.look(&*c), Step::Off);
        assert!(!d.armed());
        assert_eq!(d.passes(), (2, 2));
        assert_eq!(c.counts().slabs, 1);
        Ok(())
    }

    /// A short period on the real timer: the cache decays by itself, once,
    /// and stays disarmed while idle (no further pass).
    #[test]
    fn the_timer_decays_an_idle_cache_once() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-decay-timer")?;
        churn(&c, 2 * c.layout().objects as usize)?;
        let kept = c.counts().slabs as u64;
        c.decay_state().set_ms(20)?;
        ensure!(wait_for_pass(&c), "no decay pass within 10 s");
        // The pass ends by disarming; what it gave back is counted with it.
        for _ in 0..100 {
            if !c.decay_state().armed() {
                break;
            }
            fsleep(Delta::from_millis(10));
        }
        assert_eq!(c.decay_state().passes(), (1, kept));
        assert_eq!(c.counts().slabs, 0);
        fsleep(Delta::from_millis(200));
        assert_eq!(c.decay_state().passes(), (1, kept));
        assert!(!c.decay_state().armed());
        Ok(())
    }

    /// The pool: chunks taken arm it; an idle look gives back the wholly
    /// free chunks while each zone keeps its low watermark free.
    #[test]
    fn idle_pool_gives_back_free_chunks_above_low() -> Result {
        let p = idle_pool()?;
        let d = p.decay_state();
        assert!(!d.armed());
        let a = some!(p.alloc(MAX_ORDER, Gfp::KERNEL));
        let b = some!(p.alloc(MAX_ORDER, Gfp::KERNEL));
        assert!(d.armed());
        assert_eq!(p.total_pages(), 2 * CHUNK_PAGES);
        p.free(a);
        p.free(b);
        assert_eq!(p.free_pages(), 2 * CHUNK_PAGES);
        // Keeping a chunk's worth plus one: one chunk goes, one stays.
        let mut w = p.watermarks();
        w.low = CHUNK_PAGES / 2;
        p.set_watermarks(w)?;
        assert_eq!(d.look(&*p), Step::Wait);
        assert_eq!(d.look(&*p), Step::Decay);
        assert_eq!(d.passes(), (1, CHUNK_PAGES as u64));
        assert_eq!(p.total_pages(), CHUNK_PAGES);
        // Nothing allocated since: armed by nothing, and the next pass with
        // a low watermark of 0 gives the last chunk back.
        assert!(!d.armed());
        w.low = 0;
        p.set_watermarks(w)?;
        d.set_ms(LONG)?;
        assert_eq!(d.look(&*p), Step::Wait);
        assert_eq!(d.look(&*p), Step::Decay);
        assert_eq!(d.passes(), (2, 2 * CHUNK_PAGES as u64));
        assert_eq!(p.total_pages(), 0);
        Ok(())
    }

    /// Pages freed to a disarmed pool arm it as idle from then on: its
    /// first look gives them back, unless it allocated meanwhile.
    #[test]
    fn pages_freed_to_an_idle_pool_go_back_at_its_first_look() -> Result {
        let p = idle_pool()?;
        let d = p.decay_state();
        let a = some!(p.alloc(MAX_ORDER, Gfp::KERNEL));
        assert_eq!(d.look(&*p), Step::Wait);
        // In use: the pass gives nothing back, and disarms.
        assert_eq!(d.look(&*p), Step::Decay);
        assert_eq!(d.passes(), (1, 0));
        assert!(!d.armed());
        p.free(a);
        assert!(d.armed());
        assert_eq!(d.look(&*p), Step::Decay);
        assert_eq!(d.passes(), (2, CHUNK_PAGES as u64));
        assert_eq!(p.total_pages(), 0);
        // Freed, then an allocation before the look: it waits a period.
        let a = some!(p.alloc(MAX_ORDER, Gfp::KERNEL));
        assert_eq!(d.look(&*p), Step::Wait);
        assert_eq!(d.look(&*p), Step::Decay);
        let b = some!(p.alloc(MAX_ORDER, Gfp::KERNEL));
        p.free(a);
        let c = some!(p.alloc(0, Gfp::KERNEL));
        assert_eq!(d.look(&*p), Step::Wait);
        p.free(b);
        p.free(c);
        Ok(())
    }

    /// `decay_ms` in sysfs: a number up to an hour; anything else is
    /// EINVAL and changes nothing.
    #[test]
    fn decay_ms_files_take_a_bounded_number() -> Result {
        for f in [
            c"/sys/kernel/rslab_kunit/pool/decay_ms",
            c"/sys/kernel/rslab_kunit/caches/kmalloc-64/decay_ms",
        ] {
            assert_eq!(vfs::read_number(f)?, 0);
            for bad in [
                &b"x\n"[..],
                b"-1\n",
                b"3600001\n",
                b"99999999999999999999\n",
            ] {
                assert_eq!(vfs::write(f, bad), Err(EINVAL));
            }
            assert_eq!(vfs::read_number(f)?, 0);
            assert_eq!(vfs::write(f, b"3600000\n"), Ok(8));
            assert_eq!(vfs::read_number(f)?, 3_600_000);
            assert_eq!(vfs::write(f, b"0\n"), Ok(2));
            assert_eq!(vfs::read_number(f)?, 0);
        }
        Ok(())
    }
}
