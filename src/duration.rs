//! Time spans in the three spellings the tool meets: KQL literals in check files (`14d`, `90m`),
//! the .NET form the Logs query API uses for `timespan` columns (`1.02:03:04.5000000`), and the
//! short human form used in messages (`2d 3h`).

use chrono::TimeDelta;

/// Parses a KQL timespan literal: a number with an optional fraction and one of the units
/// `d`, `h`, `m`, `s`, `ms` (for example `14d`, `1.5h`, `30m`). Returns `None` for anything else,
/// and for a span too long for nanosecond precision (about 292 years). The arithmetic is exact:
/// a fraction is rounded to the nearest nanosecond only once.
pub fn parse_kql(text: &str) -> Option<TimeDelta> {
    let text = text.trim();
    let unit_start = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(unit_start);
    let nanos_per_unit: i128 = match unit {
        "d" => 86_400_000_000_000,
        "h" => 3_600_000_000_000,
        "m" => 60_000_000_000,
        "s" => 1_000_000_000,
        "ms" => 1_000_000,
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits(whole)
        || !digits(fraction)
        || (number.contains('.') && fraction.is_empty())
    {
        return None;
    }
    // Leading zeros aside, a whole part this long is past the limit whatever its unit.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 20 {
        return None;
    }
    let mut nanos = whole.parse::<i128>().unwrap_or(0) * nanos_per_unit;
    if !fraction.is_empty() {
        // Eighteen digits are more than a nanosecond of a day needs; the rest cannot matter
        // beyond the rounding.
        let kept = &fraction[..fraction.len().min(18)];
        let scale = 10_i128.pow(kept.len() as u32);
        let value: i128 = kept.parse().ok()?;
        nanos += (value * nanos_per_unit + scale / 2) / scale;
    }
    let nanos = i64::try_from(nanos).ok()?;
    Some(TimeDelta::nanoseconds(nanos))
}

/// Parses the .NET "c" format `[-][d.]hh:mm:ss[.fffffff]` that the Logs query API uses for
/// `timespan` values. Hours must be below 24, minutes and seconds below 60, and the fraction
/// has one to seven digits (100 ns ticks).
pub fn parse_dotnet(text: &str) -> Option<TimeDelta> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (clock, fraction) = match rest.split_once('.') {
        // A dot before the first colon separates days, not a fraction.
        Some((before, _)) if !before.contains(':') => {
            let (days, clock) = rest.split_once('.')?;
            let (clock, fraction) = split_fraction(clock);
            let days: i64 = parse_digits(days, 1, 8)?;
            let span = clock_span(clock, fraction)? + TimeDelta::days(days);
            return Some(if negative { -span } else { span });
        }
        _ => split_fraction(rest),
    };
    let span = clock_span(clock, fraction)?;
    Some(if negative { -span } else { span })
}

fn split_fraction(clock: &str) -> (&str, Option<&str>) {
    match clock.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (clock, None),
    }
}

fn clock_span(clock: &str, fraction: Option<&str>) -> Option<TimeDelta> {
    let mut parts = clock.split(':');
    let hours: i64 = parse_digits(parts.next()?, 1, 2)?;
    let minutes: i64 = parse_digits(parts.next()?, 2, 2)?;
    let seconds: i64 = parse_digits(parts.next()?, 2, 2)?;
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    let ticks = match fraction {
        None => 0,
        Some(digits) => {
            let value: i64 = parse_digits(digits, 1, 7)?;
            value * 10_i64.pow(7 - digits.len() as u32)
        }
    };
    Some(
        TimeDelta::hours(hours)
            + TimeDelta::minutes(minutes)
            + TimeDelta::seconds(seconds)
            + TimeDelta::nanoseconds(ticks * 100),
    )
}

fn parse_digits(text: &str, min_len: usize, max_len: usize) -> Option<i64> {
    let valid =
        (min_len..=max_len).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    if valid { text.parse().ok() } else { None }
}

/// Writes a span the way a person reads it: the two largest non-zero units, e.g. `2d 3h`,
/// `45m`, `12s`. Negative spans get a leading minus.
pub fn human(span: TimeDelta) -> String {
    if span < TimeDelta::zero() {
        return format!("-{}", human(-span));
    }
    let total = span.num_seconds();
    if total == 0 {
        return if span.is_zero() {
            "0s".into()
        } else {
            "<1s".into()
        };
    }
    // Seconds matter only in spans under a minute.
    let units: &[(&str, i64)] = if total >= 60 {
        &[("d", 86_400), ("h", 3_600), ("m", 60)]
    } else {
        &[("s", 1)]
    };
    let mut remaining = total;
    let mut pieces = Vec::new();
    for &(name, size) in units {
        let count = remaining / size;
        remaining %= size;
        if count > 0 {
            pieces.push(format!("{count}{name}"));
        }
        if pieces.len() == 2 || (!pieces.is_empty() && count == 0) {
            break;
        }
    }
    pieces.join(" ")
}

/// Writes a span as the shortest exact KQL literal (`2d`, `90m`, `1500ms`, `1.5ms`).
pub fn to_kql(span: TimeDelta) -> String {
    let millis = span.num_milliseconds();
    let sub_millis = span.subsec_nanos() % 1_000_000;
    if sub_millis != 0 {
        // A fraction of a millisecond, written out so that it reads back exactly.
        let sign = if span < TimeDelta::zero() { "-" } else { "" };
        let fraction = format!("{:06}", sub_millis.unsigned_abs());
        return format!(
            "{sign}{}.{}ms",
            millis.unsigned_abs(),
            fraction.trim_end_matches('0')
        );
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if millis % size == 0 {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kql_literals() {
        assert_eq!(parse_kql("14d"), Some(TimeDelta::days(14)));
        assert_eq!(parse_kql("1.5h"), Some(TimeDelta::minutes(90)));
        assert_eq!(parse_kql("30m"), Some(TimeDelta::minutes(30)));
        assert_eq!(parse_kql("250ms"), Some(TimeDelta::milliseconds(250)));
        assert_eq!(parse_kql(" 10s "), Some(TimeDelta::seconds(10)));
        for bad in [
            "",
            "d",
            "14",
            "14x",
            "1..5h",
            ".5h",
            "5.h",
            "-1h",
            "1 h",
            "1e3s",
            "99999999999d",
            // Past what nanoseconds hold (about 292 years): refused, never cut short.
            "200000d",
            "1.h",
            "1.5.h",
            "+1h",
        ] {
            assert_eq!(parse_kql(bad), None, "{bad:?} should be rejected");
        }
    }

    #[test]
    fn dotnet_timespans() {
        assert_eq!(parse_dotnet("00:30:00"), Some(TimeDelta::minutes(30)));
        assert_eq!(
            parse_dotnet("1.02:03:04.5000000"),
            Some(
                TimeDelta::days(1)
                    + TimeDelta::seconds(2 * 3600 + 3 * 60 + 4)
                    + TimeDelta::milliseconds(500)
            )
        );
        assert_eq!(parse_dotnet("-00:00:01"), Some(TimeDelta::seconds(-1)));
        assert_eq!(parse_dotnet("-2.00:00:00"), Some(TimeDelta::days(-2)));
        assert_eq!(
            parse_dotnet("00:00:00.0000001"),
            Some(TimeDelta::nanoseconds(100))
        );
        assert_eq!(
            parse_dotnet("00:00:00.5"),
            Some(TimeDelta::milliseconds(500))
        );
        assert_eq!(
            parse_dotnet("3:04:05"),
            Some(TimeDelta::seconds(3 * 3600 + 4 * 60 + 5))
        );
        for bad in [
            "",
            "24:00:00",
            "00:60:00",
            "00:00:60",
            "1.2.3",
            "00:00",
            "00:00:00.12345678",
            "a.00:00:00",
            "00:00:00:00",
            "1d",
        ] {
            assert_eq!(parse_dotnet(bad), None, "{bad:?} should be rejected");
        }
    }

    #[test]
    fn human_form() {
        assert_eq!(human(TimeDelta::seconds(0)), "0s");
        assert_eq!(human(TimeDelta::milliseconds(10)), "<1s");
        assert_eq!(human(TimeDelta::seconds(12)), "12s");
        assert_eq!(human(TimeDelta::minutes(45)), "45m");
        assert_eq!(human(TimeDelta::hours(51)), "2d 3h");
        assert_eq!(human(TimeDelta::days(3) + TimeDelta::seconds(5)), "3d");
        assert_eq!(human(TimeDelta::minutes(-90)), "-1h 30m");
    }

    #[test]
    fn kql_round_trip() {
        for text in ["14d", "90m", "1500ms", "36h", "45s", "1.5ms", "0.000001ms"] {
            assert_eq!(to_kql(parse_kql(text).unwrap()), text);
        }
        assert_eq!(parse_kql("106751d"), Some(TimeDelta::days(106_751)));
        assert_eq!(
            parse_kql("0.1234567891h"),
            Some(TimeDelta::nanoseconds(444_444_440_760))
        );
        assert_eq!(to_kql(-TimeDelta::microseconds(1500)), "-1.5ms");
    }
}
