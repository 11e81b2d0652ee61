//! Durations as PostgreSQL settings take them (`lock_timeout`, `statement_timeout`), and as
//! the command line writes them: `250ms`, `5s`, `1.5s`, `1min`, `2h`, `1d`, `0` for no
//! limit. One parser and one printer, shared by `wesley plan` (the SQL rendering) and
//! `wesley apply`, so both read and print durations alike.

use std::fmt;

/// A PostgreSQL time setting, in milliseconds; zero means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timeout(u64);

impl Timeout {
    /// No limit.
    pub const NONE: Timeout = Timeout(0);

    /// `ms` milliseconds (0: no limit).
    pub const fn from_millis(ms: u64) -> Timeout {
        Timeout(ms)
    }

    /// `s` seconds (0: no limit).
    pub const fn from_secs(s: u64) -> Timeout {
        Timeout(s * 1000)
    }

    /// In milliseconds (0: no limit).
    pub fn millis(self) -> u64 {
        self.0
    }

    /// No limit.
    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// Reads `0`, `250ms`, `5s`, `1.5s`, `1m` or `1min`, `2h`, `1d`. A unit is required (except
    /// for 0): PostgreSQL reads a bare number as milliseconds, which surprises.
    pub fn parse(text: &str) -> Result<Timeout, String> {
        let t = text.trim();
        if t == "0" {
            return Ok(Timeout::NONE);
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let factor: u64 = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(format!("invalid duration `{text}`: write a whole number followed by ms, s, min, h or d (for example 5s), or 0 for no limit")),
        };
        let n: f64 = num
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite())
            .ok_or_else(|| format!("invalid duration `{text}`: it must start with a number"))?;
        let ms = (n * factor as f64).round();
        (ms <= i32::MAX as f64)
            .then_some(Timeout(ms as u64))
            .ok_or_else(|| format!("duration `{text}` is too long for PostgreSQL"))
    }

    /// The value for a `SET` statement: `'5s'`, or `0` for no limit.
    pub fn to_sql(self) -> String {
        if self.is_none() {
            "0".to_string()
        } else {
            format!("'{self}'")
        }
    }
}

impl fmt::Display for Timeout {
    /// The largest PostgreSQL unit that divides the value: `5s`, `1min`, `1500ms`, `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms == 0 {
            return f.write_str("0");
        }
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("min", 60_000),
            ("s", 1_000),
        ] {
            if ms % size == 0 {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}
