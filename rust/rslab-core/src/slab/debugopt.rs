// SPDX-License-Identifier: GPL-2.0
//! The `slub_debug=` option (`slab_debug=` in 7.3), as mm/slub.c's
//! `parse_slub_debug_flags()`, `setup_slub_debug()` and
//! `kmem_cache_flags()` read it:
//!
//! ```text
//! slub_debug=<flags>[,<cache>[,<cache>...]][;<flags>[,<cache>...]]...
//! ```
//!
//! `<flags>` are letters: `F` consistency checks, `Z` red zones, `P`
//! poisoning, `U` user tracking, `T` tracing, `-` none (`A` and `O` are
//! known and ignored here). A block without a cache list sets the flags of
//! every cache; a cache name may end in `*` (a prefix). An empty option
//! means `FZPU` for every cache, a block that starts with `,` `FZPU` for its
//! caches.

use super::layout::{
    SLAB_CONSISTENCY_CHECKS, SLAB_POISON, SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TRACE,
};

/// `DEBUG_DEFAULT_FLAGS`: `FZPU`.
pub const DEBUG_DEFAULT_FLAGS: u32 =
    SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER;

/// A parsed `slub_debug=` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlubDebug<'a> {
    /// The flags of every cache not named in a block (`slub_debug`).
    pub global: u32,
    /// The option, if a block names caches (`slub_debug_string`).
    blocks: Option<&'a [u8]>,
}

/// `parse_slub_debug_flags()`: one block from `s`. Returns its flags, its
/// cache list (if any), the rest (after the `;`s) and the first unknown
/// flag letter.
fn parse_block(s: &[u8]) -> (u32, Option<&[u8]>, &[u8], Option<u8>) {
    let mut i = 0;
    while s.get(i) == Some(&b';') {
        i += 1;
    }
    let mut flags = 0;
    let mut unknown = None;
    if s.get(i) == Some(&b',') {
        flags = DEBUG_DEFAULT_FLAGS;
    } else {
        while let Some(&c) = s.get(i) {
            if c == b',' || c == b';' {
                break;
            }
            match c.to_ascii_lowercase() {
                b'-' => flags = 0,
                b'f' => flags |= SLAB_CONSISTENCY_CHECKS,
                b'z' => flags |= SLAB_RED_ZONE,
                b'p' => flags |= SLAB_POISON,
                b'u' => flags |= SLAB_STORE_USER,
                b't' => flags |= SLAB_TRACE,
                // Failslab and "no higher order": accepted, no effect here.
                b'a' | b'o' => {}
                _ => {
                    unknown.get_or_insert(c);
                }
            }
            i += 1;
        }
    }
    let list_start = (s.get(i) == Some(&b',')).then_some(i + 1);
    while s.get(i).is_some_and(|&c| c != b';') {
        i += 1;
    }
    let list = list_start.map(|st| s.get(st..i).unwrap_or_default());
    while s.get(i) == Some(&b';') {
        i += 1;
    }
    (flags, list, s.get(i..).unwrap_or_default(), unknown)
}

impl<'a> SlubDebug<'a> {
    /// No debugging (no option given).
    pub const NONE: SlubDebug<'static> = SlubDebug {
        global: 0,
        blocks: None,
    };

    /// `setup_slub_debug()`: parses the option. Returns it and the first
    /// unknown flag letter (skipped, as the kernel does with a message).
    pub fn parse(opt: &'a [u8]) -> (Self, Option<u8>) {
        if opt.is_empty() {
            return (
                SlubDebug {
                    global: DEBUG_DEFAULT_FLAGS,
                    blocks: None,
                },
                None,
            );
        }
        let mut global = DEBUG_DEFAULT_FLAGS;
        let (mut global_changed, mut listed) = (false, false);
        let mut unknown = None;
        let mut rest = opt;
        while !rest.is_empty() {
            let (flags, list, next, u) = parse_block(rest);
            unknown = unknown.or(u);
            if list.is_some() {
                listed = true;
            } else {
                global = flags;
                global_changed = true;
            }
            rest = next;
        }
        // A single list of flags with caches changes only those caches.
        if listed && !global_changed {
            global = 0;
        }
        (
            SlubDebug {
                global,
                blocks: listed.then_some(opt),
            },
            unknown,
        )
    }

    /// `kmem_cache_flags()`: the debug flags for a cache called `name`: the
    /// first block whose list matches it, else the global flags.
    pub fn flags_for(&self, name: &[u8]) -> u32 {
        let mut rest = self.blocks.unwrap_or_default();
        while !rest.is_empty() {
            let (flags, list, next, _) = parse_block(rest);
            rest = next;
            let Some(list) = list else {
                continue;
            };
            for pat in list.split(|&c| c == b',') {
                let matches = match pat.iter().position(|&c| c == b'*') {
                    Some(star) => name.starts_with(pat.get(..star).unwrap_or_default()),
                    None => !pat.is_empty() && name == pat,
                };
                if matches {
                    return flags;
                }
            }
        }
        self.global
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    const FZPU: u32 = DEBUG_DEFAULT_FLAGS;

    fn flags(opt: &str, name: &str) -> u32 {
        SlubDebug::parse(opt.as_bytes())
            .0
            .flags_for(name.as_bytes())
    }

    #[test]
    fn flags_and_cache_lists_as_the_kernel_reads_them() {
        // The issue's example: only the named caches.
        let o = "FZPU,cache-a,cache-b";
        assert_eq!(flags(o, "cache-a"), FZPU);
        assert_eq!(flags(o, "cache-b"), FZPU);
        assert_eq!(flags(o, "cache-c"), 0);
        assert_eq!(flags(o, "cache-"), 0);
        // Empty: everything, full debugging.
        assert_eq!(flags("", "x"), FZPU);
        // Global flags, case-insensitive, with a '-' resetting.
        assert_eq!(flags("zp", "x"), SLAB_RED_ZONE | SLAB_POISON);
        assert_eq!(flags("F-T", "x"), SLAB_TRACE);
        // No flags before the list: full debugging for the list.
        assert_eq!(flags(",kmalloc-64", "kmalloc-64"), FZPU);
        assert_eq!(flags(",kmalloc-64", "kmalloc-32"), 0);
        // Prefixes with '*'.
        let o = "Z,kmalloc-*;U,dentry";
        assert_eq!(flags(o, "kmalloc-8"), SLAB_RED_ZONE);
        assert_eq!(flags(o, "dentry"), SLAB_STORE_USER);
        assert_eq!(flags(o, "inode"), 0);
        // A global block beside lists: the rest get the global flags.
        let o = "T;FZ,a";
        assert_eq!(flags(o, "a"), SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE);
        assert_eq!(flags(o, "b"), SLAB_TRACE);
        // Empty blocks are skipped.
        assert_eq!(flags(";;P,a;;", "a"), SLAB_POISON);
    }

    #[test]
    fn unknown_letters_are_reported_and_skipped() {
        let (d, u) = SlubDebug::parse(b"FQZ,a");
        assert_eq!(u, Some(b'Q'));
        assert_eq!(d.flags_for(b"a"), SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE);
        assert_eq!(SlubDebug::parse(b"AO").1, None);
        assert_eq!(SlubDebug::NONE.flags_for(b"a"), 0);
    }

    #[test]
    fn any_bytes_parse_without_panicking() {
        let mut rng = crate::rand::XorShift64::new(7);
        let alphabet = b"FZPUTAO-,;*ab";
        for _ in 0..20_000 {
            let n = (rng.next_u64() % 24) as usize;
            let s: std::vec::Vec<u8> = (0..n)
                .map(|_| alphabet[(rng.next_u64() % alphabet.len() as u64) as usize])
                .collect();
            let (d, _) = SlubDebug::parse(&s);
            let _ = d.flags_for(b"ab");
            let _ = d.flags_for(b"");
        }
    }
}
