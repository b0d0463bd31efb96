// SPDX-License-Identifier: GPL-2.0
//! Formatting into a fixed buffer, for short names built at run time
//! (`kmalloc-<size>`, benchmark case names) without allocating.

use core::fmt;

struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Cut at the buffer's end, on a character boundary.
        let mut n = s.len().min(self.buf.len() - self.len);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Formats `args` into `buf` (cut off at its end) and returns the text.
pub(crate) fn format<'a>(buf: &'a mut [u8], args: fmt::Arguments<'_>) -> &'a str {
    let mut c = Cursor { buf, len: 0 };
    let _ = fmt::Write::write_fmt(&mut c, args);
    let len = c.len;
    // Only whole characters were copied, so this cannot fail.
    core::str::from_utf8(&buf[..len]).unwrap_or("")
}
