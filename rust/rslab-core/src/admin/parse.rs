// SPDX-License-Identifier: GPL-2.0
//! Parsing of what users write to rslab's sysfs files.

/// Parses one unsigned integer the way `kstrtoul(s, 0, ...)` does for a sysfs
/// write: decimal, `0x`/`0X`-prefixed hex or `0`-prefixed octal, with one
/// optional trailing newline. Anything else (signs, spaces, garbage, overflow)
/// is `None`.
pub fn parse_ulong(s: &str) -> Option<u64> {
    let s = s.strip_suffix('\n').unwrap_or(s);
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_kstrtoul_accepts() {
        assert_eq!(parse_ulong("0"), Some(0));
        assert_eq!(parse_ulong("42\n"), Some(42));
        assert_eq!(parse_ulong("0x1f"), Some(31));
        assert_eq!(parse_ulong("0X1F\n"), Some(31));
        assert_eq!(parse_ulong("017"), Some(15));
        assert_eq!(parse_ulong("18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "\n",
            "-1",
            "+1",
            " 1",
            "1 ",
            "1\n\n",
            "abc",
            "0x",
            "08",
            "1a",
            "18446744073709551616",
            "1.5",
        ] {
            assert_eq!(parse_ulong(bad), None, "{bad:?}");
        }
    }
}
