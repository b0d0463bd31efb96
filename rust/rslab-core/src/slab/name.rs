// SPDX-License-Identifier: GPL-2.0
//! A cache's name: what `kmem_cache_create()` and the `create` command
//! accept (it names a sysfs directory).

/// The longest cache name.
pub const NAME_LEN: usize = 32;

/// A cache name, as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name {
    buf: [u8; NAME_LEN],
    len: usize,
}

impl Name {
    /// Checks and copies `s`: 1 to [`NAME_LEN`] printable ASCII characters,
    /// no `/`, and not `.` or `..` (a directory of that name could not be
    /// reached).
    pub fn new(s: &str) -> Option<Name> {
        let b = s.as_bytes();
        if b.is_empty()
            || b.len() > NAME_LEN
            || !b.iter().all(|&c| c.is_ascii_graphic() && c != b'/')
            || b == b"."
            || b == b".."
        {
            return None;
        }
        let mut buf = [0; NAME_LEN];
        buf[..b.len()].copy_from_slice(b);
        Some(Name { buf, len: b.len() })
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_not_be_a_directory_are_refused() {
        for bad in ["", ".", "..", "a/b", "a b", "\u{e9}t\u{e9}"] {
            assert_eq!(Name::new(bad), None, "{bad:?}");
        }
        let x = [b'x'; NAME_LEN + 1];
        let long = core::str::from_utf8(&x).unwrap();
        assert_eq!(Name::new(long), None);
        let max = &long[..NAME_LEN];
        assert_eq!(Name::new(max).map(|n| n.as_bytes().len()), Some(NAME_LEN));
        assert_eq!(Name::new("kmalloc-64").unwrap().as_bytes(), b"kmalloc-64");
    }
}
