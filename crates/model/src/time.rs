//! Instants (UTC, millisecond precision) and durations, parsed exactly as
//! SPEC §2 allows and nothing more.
//!
//! An instant is kept as `i64` milliseconds since the Unix epoch everywhere
//! inside flowseg; text forms exist only at the edges.

use std::fmt;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// A date as written by a user: either a plain `YYYY-MM-DD` (which, as an
/// operand, stands for the whole UTC day) or an exact instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateLiteral {
    /// A plain date; the value is 00:00:00.000 UTC of that day.
    Day(i64),
    /// An RFC 3339 date-time, truncated to the millisecond.
    Instant(i64),
}

impl DateLiteral {
    /// The instant this literal denotes when stored as a value: a plain date
    /// is the start of its UTC day.
    pub fn start_ms(self) -> i64 {
        match self {
            DateLiteral::Day(ms) | DateLiteral::Instant(ms) => ms,
        }
    }
}

/// Why a string is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a date: use an RFC 3339 date-time such as `2026-06-01T12:00:00Z` or a plain date such as `2026-06-01`"
)]
pub struct DateError {
    pub input: String,
}

/// Parses an RFC 3339 date-time (`T` separator, `Z` or `±HH:MM`, optional
/// fraction) or a plain `YYYY-MM-DD`. Anything else is refused.
pub fn parse_date(input: &str) -> Result<DateLiteral, DateError> {
    parse_date_inner(input.as_bytes()).ok_or_else(|| DateError {
        input: input.to_string(),
    })
}

/// Parses a date and returns the instant it stores as (plain date → start of day).
pub fn parse_instant(input: &str) -> Result<i64, DateError> {
    parse_date(input).map(DateLiteral::start_ms)
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

fn parse_date_inner(b: &[u8]) -> Option<DateLiteral> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let day_ms = days_from_civil(year, month, day) * DAY_MS;
    if b.len() == 10 {
        return Some(DateLiteral::Day(day_ms));
    }
    // YYYY-MM-DDTHH:MM:SS
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if rest.first() == Some(&b'.') {
        let frac_len = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if frac_len == 0 {
            return None;
        }
        let frac = &rest[1..1 + frac_len];
        // Keep the first three digits; finer than a millisecond is truncated.
        for i in 0..3 {
            millis = millis * 10 + frac.get(i).map_or(0, |d| i64::from(d - b'0'));
        }
        rest = &rest[1 + frac_len..];
    }
    let offset_minutes = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2])?;
            let om = digits(&[*m1, *m2])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let total = oh * 60 + om;
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };
    let local = day_ms + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
    Some(DateLiteral::Instant(local - offset_minutes * 60_000))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats an instant as RFC 3339 in UTC with milliseconds:
/// `2026-06-01T12:00:00.000Z`.
pub fn format_instant(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let in_day = ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let (h, rest) = (in_day / 3_600_000, in_day % 3_600_000);
    let (mi, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// Formats the UTC day that contains `ms` as `YYYY-MM-DD`.
pub fn format_day(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The UTC calendar month of an instant as `YYYY-MM` (usage metering).
pub fn format_month(ms: i64) -> String {
    let (y, m, _) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}")
}

/// The current time of the server clock, in epoch milliseconds.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// The unit of a [`Duration`] as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationUnit {
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl DurationUnit {
    fn ms(self) -> i64 {
        match self {
            DurationUnit::Minutes => 60_000,
            DurationUnit::Hours => 3_600_000,
            DurationUnit::Days => DAY_MS,
            DurationUnit::Weeks => 7 * DAY_MS,
        }
    }

    fn suffix(self) -> char {
        match self {
            DurationUnit::Minutes => 'm',
            DurationUnit::Hours => 'h',
            DurationUnit::Days => 'd',
            DurationUnit::Weeks => 'w',
        }
    }
}

/// A positive duration such as `30d`, kept as written so it prints back
/// the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Duration {
    pub amount: u64,
    pub unit: DurationUnit,
}

/// Why a string is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a duration: write a positive whole number and a unit m, h, d or w, such as `30d` or `12h`"
)]
pub struct DurationError {
    pub input: String,
}

/// The largest duration accepted: 10,000 years, far beyond any marketing
/// window, and small enough that `now ± d` never overflows.
const MAX_DURATION_MS: i64 = 10_000 * 366 * DAY_MS;

impl Duration {
    /// Parses `<positive integer><unit>` with unit `m`, `h`, `d` or `w`.
    pub fn parse(input: &str) -> Result<Duration, DurationError> {
        let err = || DurationError {
            input: input.to_string(),
        };
        let unit = match input.chars().last() {
            Some('m') => DurationUnit::Minutes,
            Some('h') => DurationUnit::Hours,
            Some('d') => DurationUnit::Days,
            Some('w') => DurationUnit::Weeks,
            _ => return Err(err()),
        };
        let number = &input[..input.len() - 1];
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let amount: u64 = number.parse().map_err(|_| err())?;
        let d = Duration { amount, unit };
        if amount == 0 || d.checked_ms().is_none() {
            return Err(err());
        }
        Ok(d)
    }

    fn checked_ms(self) -> Option<i64> {
        let ms = i64::try_from(self.amount)
            .ok()?
            .checked_mul(self.unit.ms())?;
        (ms <= MAX_DURATION_MS).then_some(ms)
    }

    /// The duration in milliseconds (always positive, bounded by parsing).
    pub fn as_ms(self) -> i64 {
        self.checked_ms().unwrap_or(MAX_DURATION_MS)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_dates_as_day_starts() {
        assert_eq!(parse_date("1970-01-02"), Ok(DateLiteral::Day(DAY_MS)));
        assert_eq!(
            parse_date("2026-06-01")
                .map(DateLiteral::start_ms)
                .map(format_instant),
            Ok("2026-06-01T00:00:00.000Z".to_string())
        );
    }

    #[test]
    fn parses_instants_with_offsets_and_truncates_fractions() {
        let a = parse_instant("2026-06-01T12:00:00.123999Z").unwrap();
        assert_eq!(format_instant(a), "2026-06-01T12:00:00.123Z");
        let b = parse_instant("2026-06-01T14:00:00+02:00").unwrap();
        assert_eq!(format_instant(b), "2026-06-01T12:00:00.000Z");
        let c = parse_instant("2026-06-01T11:30:00.5-00:30").unwrap();
        assert_eq!(format_instant(c), "2026-06-01T12:00:00.500Z");
        assert_eq!(
            format_instant(parse_instant("1969-12-31T23:59:59.999Z").unwrap()),
            "1969-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "2026-06-01 12:00:00Z",
            "2026-06-01T12:00:00",
            "2026-06-01t12:00:00Z",
            "2026-02-30",
            "2026-13-01",
            "2026-6-1",
            "26-06-01",
            "2026-06-01T24:00:00Z",
            "2026-06-01T12:00:00.Z",
            "2026-06-01T12:00Z",
            "2026-06-01T12:00:00+0200",
            "yesterday",
            "",
            "2026-06-01Z",
        ] {
            assert!(parse_date(bad).is_err(), "{bad} parsed");
        }
        assert!(parse_date("2024-02-29").is_ok());
        assert!(parse_date("2023-02-29").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("30d").unwrap().as_ms(), 30 * DAY_MS);
        assert_eq!(Duration::parse("2w").unwrap().as_ms(), 14 * DAY_MS);
        assert_eq!(Duration::parse("90m").unwrap().to_string(), "90m");
        for bad in [
            "0d",
            "d",
            "30",
            "-1d",
            "1.5h",
            "30 d",
            "30D",
            "1y",
            "99999999999999999999d",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad} parsed");
        }
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_is_identity(ms in -62_000_000_000_000i64..253_000_000_000_000i64) {
            proptest::prop_assert_eq!(parse_instant(&format_instant(ms)).unwrap(), ms);
        }
    }
}
