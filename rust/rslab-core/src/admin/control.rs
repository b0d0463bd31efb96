// SPDX-License-Identifier: GPL-2.0
//! The commands of `/sys/kernel/debug/rslab/control`, one per write.
//!
//! Grammar (words separated by single spaces or tabs, one optional trailing
//! newline):
//!
//! ```text
//! workload pool <ops> [<max_order>]
//! create <name> <size> [<align> [<flag>,<flag>...]]
//! destroy <name>
//! workload cache <name> <ops> [<held>]
//! workload kmalloc <ops> [<held>]
//! bench [quick]
//! ```
//!
//! - `workload pool` runs, on one kernel thread per online CPU at once,
//!   `ops` random page allocations and frees (orders `0..=max_order`,
//!   default 3) against the module's page pool.
//! - `create` makes a slab cache: `name` is 1 to `NAME_LEN` (32) printable
//!   characters without `/`; `align` 0 means the minimum; the flags are
//!   `hwcache` (`SLAB_HWCACHE_ALIGN`), `reclaim` (`SLAB_RECLAIM_ACCOUNT`),
//!   `dma` (`SLAB_CACHE_DMA`), `ctor` (a constructor that stamps each
//!   object), `noharden` (plain free pointers), `norandom` (sequential
//!   freelists) and `sheaves` (the per-CPU sheaves mode of Linux 7.x), or
//!   `-` for none.
//! - `destroy` destroys a cache made by `create`.
//! - `workload cache` runs `ops` random allocations and frees of the cache's
//!   objects on one kernel thread per online CPU at once, each holding up to
//!   `held` objects (default 128).
//! - `workload kmalloc` does the same with kmalloc and random sizes.
//! - `bench` runs the benchmark against the kernel's own allocators (`quick`:
//!   tiny counts, a smoke run).
//!
//! Anything else is rejected whole.

pub use super::super::slab::name::Name;

/// The most operations one workload thread runs.
pub const MAX_OPS: u32 = 10_000_000;

/// The most objects one cache workload thread holds.
pub const MAX_HELD: u32 = 4096;

/// `create`'s flag `hwcache`: `SLAB_HWCACHE_ALIGN`.
pub const FLAG_HWCACHE: u32 = 1 << 0;
/// `reclaim`: `SLAB_RECLAIM_ACCOUNT`.
pub const FLAG_RECLAIM: u32 = 1 << 1;
/// `dma`: `SLAB_CACHE_DMA`.
pub const FLAG_DMA: u32 = 1 << 2;
/// `ctor`: a constructor.
pub const FLAG_CTOR: u32 = 1 << 3;
/// `noharden`: plain free pointers.
pub const FLAG_NOHARDEN: u32 = 1 << 4;
/// `norandom`: sequential freelists in new slabs.
pub const FLAG_NORANDOM: u32 = 1 << 5;
/// `sheaves`: the 7.x per-CPU sheaves mode.
pub const FLAG_SHEAVES: u32 = 1 << 6;

/// `consistency`: `SLAB_CONSISTENCY_CHECKS` (`slub_debug=F`).
pub const FLAG_CONSISTENCY: u32 = 1 << 7;
/// `red_zone`: `SLAB_RED_ZONE` (Z).
pub const FLAG_RED_ZONE: u32 = 1 << 8;
/// `poison`: `SLAB_POISON` (P).
pub const FLAG_POISON: u32 = 1 << 9;
/// `store_user`: `SLAB_STORE_USER` (U).
pub const FLAG_STORE_USER: u32 = 1 << 10;
/// `trace`: `SLAB_TRACE` (T).
pub const FLAG_TRACE: u32 = 1 << 11;

const FLAG_NAMES: [(&str, u32); 12] = [
    ("hwcache", FLAG_HWCACHE),
    ("reclaim", FLAG_RECLAIM),
    ("dma", FLAG_DMA),
    ("ctor", FLAG_CTOR),
    ("noharden", FLAG_NOHARDEN),
    ("norandom", FLAG_NORANDOM),
    ("sheaves", FLAG_SHEAVES),
    ("consistency", FLAG_CONSISTENCY),
    ("red_zone", FLAG_RED_ZONE),
    ("poison", FLAG_POISON),
    ("store_user", FLAG_STORE_USER),
    ("trace", FLAG_TRACE),
];

/// A parsed command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Random page allocations and frees on every online CPU.
    PoolWorkload {
        /// Operations per CPU.
        ops: u32,
        /// The largest order allocated.
        max_order: u32,
    },
    /// Make a cache.
    Create {
        /// Its name.
        name: Name,
        /// Object size.
        size: u32,
        /// Alignment (0: minimum).
        align: u32,
        /// `FLAG_*` bits.
        flags: u32,
    },
    /// Destroy a cache.
    Destroy {
        /// Its name.
        name: Name,
    },
    /// The benchmark.
    Bench {
        /// Tiny counts.
        quick: bool,
    },
    /// Random allocations and frees of a cache's objects on every online CPU.
    CacheWorkload {
        /// The cache.
        name: Name,
        /// Operations per CPU.
        ops: u32,
        /// Objects each thread holds at most.
        held: u32,
    },
    /// Random allocations (random sizes) and frees of kmalloc on every
    /// online CPU.
    KmallocWorkload {
        /// Operations per CPU.
        ops: u32,
        /// Objects each thread holds at most.
        held: u32,
    },
}

/// Why a line was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a known command, or the wrong number of words.
    Syntax,
    /// A number that is not one, or out of range.
    BadNumber,
    /// A cache name that is empty, too long or has bad characters.
    BadName,
    /// An unknown flag.
    BadFlag,
}

fn name(word: Option<&str>) -> Result<Name, ParseError> {
    Name::new(word.ok_or(ParseError::Syntax)?).ok_or(ParseError::BadName)
}

fn flags(word: &str) -> Result<u32, ParseError> {
    if word == "-" {
        return Ok(0);
    }
    let mut f = 0;
    for w in word.split(',') {
        f |= FLAG_NAMES
            .iter()
            .find(|(n, _)| *n == w)
            .ok_or(ParseError::BadFlag)?
            .1;
    }
    Ok(f)
}

/// `<ops> [<held>]` of an object workload: `ops` up to [`MAX_OPS`], `held`
/// up to [`MAX_HELD`] (default 128), neither 0.
fn ops_and_held<'a>(mut words: impl Iterator<Item = &'a str>) -> Result<(u32, u32), ParseError> {
    let ops = number(words.next().ok_or(ParseError::Syntax)?, MAX_OPS)?;
    let held = match words.next() {
        Some(w) => number(w, MAX_HELD)?,
        None => 128,
    };
    if ops == 0 || held == 0 {
        return Err(ParseError::BadNumber);
    }
    end(words)?;
    Ok((ops, held))
}

fn end<'a>(mut words: impl Iterator<Item = &'a str>) -> Result<(), ParseError> {
    match words.next() {
        Some(_) => Err(ParseError::Syntax),
        None => Ok(()),
    }
}

fn number(word: &str, max: u32) -> Result<u32, ParseError> {
    let v = super::parse::parse_ulong(word).ok_or(ParseError::BadNumber)?;
    if v > u64::from(max) {
        return Err(ParseError::BadNumber);
    }
    Ok(v as u32)
}

/// Parses one control line; `max_page_order` bounds `max_order`.
pub fn parse(line: &str, max_page_order: u32) -> Result<Command, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    if line.contains('\n') || line.contains('\0') {
        return Err(ParseError::Syntax);
    }
    let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
    match (words.next(), words.next()) {
        (Some("workload"), Some("pool")) => {
            let ops = number(words.next().ok_or(ParseError::Syntax)?, MAX_OPS)?;
            if ops == 0 {
                return Err(ParseError::BadNumber);
            }
            let max_order = match words.next() {
                Some(w) => number(w, max_page_order)?,
                None => 3.min(max_page_order),
            };
            if words.next().is_some() {
                return Err(ParseError::Syntax);
            }
            Ok(Command::PoolWorkload { ops, max_order })
        }
        (Some("workload"), Some("kmalloc")) => {
            let (ops, held) = ops_and_held(words)?;
            Ok(Command::KmallocWorkload { ops, held })
        }
        (Some("workload"), Some("cache")) => {
            let name = name(words.next())?;
            let (ops, held) = ops_and_held(words)?;
            Ok(Command::CacheWorkload { name, ops, held })
        }
        (Some("create"), n) => {
            let name = name(n)?;
            let size = number(words.next().ok_or(ParseError::Syntax)?, u32::MAX)?;
            let align = match words.next() {
                Some(w) => number(w, u32::MAX)?,
                None => 0,
            };
            let flags = match words.next() {
                Some(w) => flags(w)?,
                None => 0,
            };
            end(words)?;
            Ok(Command::Create {
                name,
                size,
                align,
                flags,
            })
        }
        (Some("bench"), w) => {
            let quick = match w {
                None => false,
                Some("quick") => true,
                Some(_) => return Err(ParseError::Syntax),
            };
            end(words)?;
            Ok(Command::Bench { quick })
        }
        (Some("destroy"), n) => {
            let name = name(n)?;
            end(words)?;
            Ok(Command::Destroy { name })
        }
        _ => Err(ParseError::Syntax),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_pool_workload() {
        assert_eq!(
            parse("workload pool 1000\n", 10),
            Ok(Command::PoolWorkload {
                ops: 1000,
                max_order: 3
            })
        );
        assert_eq!(
            parse("workload\tpool  0x10 10", 10),
            Ok(Command::PoolWorkload {
                ops: 16,
                max_order: 10
            })
        );
    }

    #[test]
    fn accepts_cache_commands() {
        let n = Name::new("my-cache").unwrap();
        assert_eq!(n.as_bytes(), b"my-cache");
        assert_eq!(
            parse("create my-cache 100\n", 10),
            Ok(Command::Create {
                name: n,
                size: 100,
                align: 0,
                flags: 0
            })
        );
        assert_eq!(
            parse(
                "create my-cache 16 0 red_zone,poison,store_user,consistency,trace",
                10
            ),
            Ok(Command::Create {
                name: n,
                size: 16,
                align: 0,
                flags: FLAG_RED_ZONE
                    | FLAG_POISON
                    | FLAG_STORE_USER
                    | FLAG_CONSISTENCY
                    | FLAG_TRACE
            })
        );
        assert_eq!(
            parse("create my-cache 0x40 64 hwcache,ctor,norandom", 10),
            Ok(Command::Create {
                name: n,
                size: 64,
                align: 64,
                flags: FLAG_HWCACHE | FLAG_CTOR | FLAG_NORANDOM
            })
        );
        assert_eq!(
            parse("create my-cache 8 0 -", 10),
            Ok(Command::Create {
                name: n,
                size: 8,
                align: 0,
                flags: 0
            })
        );
        assert_eq!(parse("bench\n", 10), Ok(Command::Bench { quick: false }));
        assert_eq!(parse("bench quick", 10), Ok(Command::Bench { quick: true }));
        assert_eq!(
            parse("destroy my-cache", 10),
            Ok(Command::Destroy { name: n })
        );
        assert_eq!(
            parse("workload cache my-cache 1000", 10),
            Ok(Command::CacheWorkload {
                name: n,
                ops: 1000,
                held: 128
            })
        );
        assert_eq!(
            parse("workload cache my-cache 1000 4096\n", 10),
            Ok(Command::CacheWorkload {
                name: n,
                ops: 1000,
                held: 4096
            })
        );
    }

    #[test]
    fn rejects_bad_cache_commands() {
        let long = "create aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 8"; // 33 characters
        for (line, err) in [
            ("create", ParseError::Syntax),
            ("create c", ParseError::Syntax),
            ("create c x", ParseError::BadNumber),
            ("create c 8 3x", ParseError::BadNumber),
            ("create c 8 0 shiny", ParseError::BadFlag),
            ("create c 8 0 hwcache,", ParseError::BadFlag),
            ("create c 8 0 - extra", ParseError::Syntax),
            ("create a/b 8", ParseError::BadName),
            (long, ParseError::BadName),
            ("create c 4294967296", ParseError::BadNumber),
            ("destroy", ParseError::Syntax),
            ("destroy c d", ParseError::Syntax),
            ("workload cache c", ParseError::Syntax),
            ("workload cache c 0", ParseError::BadNumber),
            ("workload cache c 10 0", ParseError::BadNumber),
            ("workload cache c 10 4097", ParseError::BadNumber),
            ("workload cache c 10 5 6", ParseError::Syntax),
            ("bench slow", ParseError::Syntax),
            ("bench quick quick", ParseError::Syntax),
        ] {
            assert_eq!(parse(line, 10), Err(err), "{line:?}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for (line, err) in [
            ("", ParseError::Syntax),
            ("\n", ParseError::Syntax),
            ("workload", ParseError::Syntax),
            ("workload pool", ParseError::Syntax),
            ("workload cache 10", ParseError::Syntax),
            ("workload cache c", ParseError::Syntax),
            ("Workload pool 10", ParseError::Syntax),
            ("workload pool 10 3 extra", ParseError::Syntax),
            ("workload pool 10\nworkload pool 10", ParseError::Syntax),
            ("workload pool 0", ParseError::BadNumber),
            ("workload pool -5", ParseError::BadNumber),
            ("workload pool ten", ParseError::BadNumber),
            ("workload pool 10000001", ParseError::BadNumber),
            ("workload pool 10 11", ParseError::BadNumber),
            ("workload pool 99999999999999999999", ParseError::BadNumber),
        ] {
            assert_eq!(parse(line, 10), Err(err), "{line:?}");
        }
    }

    #[test]
    fn dot_names_are_refused() {
        assert_eq!(parse("create . 8", 10), Err(ParseError::BadName));
        assert_eq!(parse("create .. 8", 10), Err(ParseError::BadName));
        assert_eq!(parse("destroy ..", 10), Err(ParseError::BadName));
        assert!(parse("create ... 8", 10).is_ok());
        assert!(parse("create .a 8", 10).is_ok());
    }

    #[test]
    fn accepts_the_kmalloc_workload() {
        assert_eq!(
            parse("workload kmalloc 1000\n", 10),
            Ok(Command::KmallocWorkload {
                ops: 1000,
                held: 128
            })
        );
        assert_eq!(
            parse("workload kmalloc 5 7", 10),
            Ok(Command::KmallocWorkload { ops: 5, held: 7 })
        );
        for bad in [
            "workload kmalloc",
            "workload kmalloc 0",
            "workload kmalloc 10 0",
            "workload kmalloc 10 4097",
            "workload kmalloc 10000001",
            "workload kmalloc 4294967296",
            "workload kmalloc 10 10 10",
        ] {
            assert!(parse(bad, 10).is_err(), "{bad}");
        }
    }
}
