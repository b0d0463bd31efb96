// SPDX-License-Identifier: GPL-2.0
//! The commands of `/sys/kernel/rslab/control`, one per write.
//!
//! Grammar (words separated by single spaces or tabs, one optional trailing
//! newline):
//!
//! ```text
//! workload pool <ops> [<max_order>]
//! ```
//!
//! `workload pool` runs, on one kernel thread per online CPU at once, `ops`
//! random page allocations and frees (orders `0..=max_order`, default 3)
//! against the module's page pool. Anything else is rejected whole.

/// The most operations one workload thread runs.
pub const MAX_OPS: u32 = 10_000_000;

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
}

/// Why a line was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a known command, or the wrong number of words.
    Syntax,
    /// A number that is not one, or out of range.
    BadNumber,
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
    fn rejects_everything_else() {
        for (line, err) in [
            ("", ParseError::Syntax),
            ("\n", ParseError::Syntax),
            ("workload", ParseError::Syntax),
            ("workload pool", ParseError::Syntax),
            ("workload cache 10", ParseError::Syntax),
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
}
