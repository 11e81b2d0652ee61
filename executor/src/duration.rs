//! Durations on the command line: `200ms`, `2s`, `1m`, `1h`, `0` (no limit).

use std::time::Duration;
use wesley_planner::timeout::Timeout;

/// Parses `200ms`, `2s`, `1.5s`, `1m`, `1h` or a bare `0`, with the planner's parser (so
/// `wesley plan` and `wesley apply` read durations alike).
pub fn parse(text: &str) -> Result<Duration, String> {
    Timeout::parse(text).map(|t| Duration::from_millis(t.millis()))
}

/// The PostgreSQL setting value for a duration: milliseconds, `0` meaning no limit.
pub fn to_pg(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// A duration as the command line writes it: `200ms`, `2s`, `10min`, `0`.
pub fn display(d: Duration) -> String {
    Timeout::from_millis(d.as_millis().min(u64::MAX as u128) as u64).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        for bad in ["", "5", "fast", "2x", "-1s", "1e400s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        for text in ["200ms", "2s", "10min", "1500ms", "0"] {
            assert_eq!(display(parse(text).unwrap()), text);
        }
    }
}
