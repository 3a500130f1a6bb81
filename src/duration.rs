//! Time spans in the three spellings the tool meets: KQL literals in check files (`14d`, `90m`),
//! the .NET form the Logs query API uses for `timespan` columns (`1.02:03:04.5000000`), and the
//! short human form used in messages (`2d 3h`).

use chrono::TimeDelta;

/// Parses a KQL timespan literal: a number with an optional fraction and one of the units
/// `d`, `h`, `m`, `s`, `ms` (for example `14d`, `1.5h`, `30m`). Returns `None` for anything else.
pub fn parse_kql(text: &str) -> Option<TimeDelta> {
    let text = text.trim();
    let unit_start = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(unit_start);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let nanos_per_unit: f64 = match unit {
        "d" => 86_400e9,
        "h" => 3_600e9,
        "m" => 60e9,
        "s" => 1e9,
        "ms" => 1e6,
        _ => return None,
    };
    let value: f64 = number.parse().ok()?;
    let nanos = value * nanos_per_unit;
    // Ten thousand years is far past any threshold anyone means; refuse instead of overflowing.
    if !nanos.is_finite() || nanos > 3.2e20 {
        return None;
    }
    Some(TimeDelta::nanoseconds(nanos.round() as i64))
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

/// Writes a span as the shortest exact KQL literal (`2d`, `90m`, `1500ms`).
pub fn to_kql(span: TimeDelta) -> String {
    let millis = span.num_milliseconds();
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
        for text in ["14d", "90m", "1500ms", "36h", "45s"] {
            assert_eq!(to_kql(parse_kql(text).unwrap()), text);
        }
    }
}
