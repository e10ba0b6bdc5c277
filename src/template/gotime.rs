//! Go's `time.Time` and `time.Duration` as templates see them: `String()`,
//! `Format(layout)` with Go's reference-time layouts, always in UTC.

use std::fmt::Write as _;

/// Seconds from 0001-01-01 (Go's zero time) to the Unix epoch.
const ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// A point in time in UTC with nanosecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

impl GoTime {
    /// Go's zero time, `0001-01-01 00:00:00 +0000 UTC`.
    pub const ZERO: GoTime = GoTime {
        secs: ZERO_TIME_UNIX,
        nanos: 0,
    };

    /// A time from Unix nanoseconds.
    pub fn from_unix_nanos(n: i128) -> Self {
        let secs = n.div_euclid(1_000_000_000);
        let nanos = n.rem_euclid(1_000_000_000) as u32;
        GoTime {
            secs: secs.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            nanos,
        }
    }

    /// A time from Unix milliseconds.
    pub fn from_unix_millis(ms: i64) -> Self {
        Self::from_unix_nanos(ms as i128 * 1_000_000)
    }

    /// Unix nanoseconds.
    pub fn unix_nanos(&self) -> i128 {
        self.secs as i128 * 1_000_000_000 + self.nanos as i128
    }

    /// Whether this is Go's zero time.
    pub fn is_zero(&self) -> bool {
        *self == Self::ZERO
    }

    /// This time plus `d` nanoseconds.
    pub fn add_nanos(&self, d: i64) -> Self {
        Self::from_unix_nanos(self.unix_nanos() + d as i128)
    }

    fn civil(&self) -> Civil {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let weekday = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
        let yday = days - days_from_civil(year, 1, 1) + 1;
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem / 60 % 60) as u32,
            second: (rem % 60) as u32,
            weekday,
            yday: yday as u32,
        }
    }

    /// Go's `Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    pub fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// Go's `Time.Format(layout)` in UTC.
    pub fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, chunk, suffix) = next_chunk(rest);
            out.push_str(prefix);
            if let Some(chunk) = chunk {
                self.write_chunk(&mut out, &c, chunk);
            }
            rest = suffix;
        }
        out
    }

    fn write_chunk(&self, out: &mut String, c: &Civil, chunk: Chunk) {
        let hour12 = match c.hour % 12 {
            0 => 12,
            h => h,
        };
        let _ = match chunk {
            Chunk::LongMonth => write!(out, "{}", MONTHS[c.month as usize - 1]),
            Chunk::Month => write!(out, "{}", &MONTHS[c.month as usize - 1][..3]),
            Chunk::NumMonth => write!(out, "{}", c.month),
            Chunk::ZeroMonth => write!(out, "{:02}", c.month),
            Chunk::LongWeekDay => write!(out, "{}", DAYS[c.weekday]),
            Chunk::WeekDay => write!(out, "{}", &DAYS[c.weekday][..3]),
            Chunk::Day => write!(out, "{}", c.day),
            Chunk::UnderDay => write!(out, "{:>2}", c.day),
            Chunk::ZeroDay => write!(out, "{:02}", c.day),
            Chunk::UnderYearDay => write!(out, "{:>3}", c.yday),
            Chunk::ZeroYearDay => write!(out, "{:03}", c.yday),
            Chunk::Hour => write!(out, "{:02}", c.hour),
            Chunk::Hour12 => write!(out, "{hour12}"),
            Chunk::ZeroHour12 => write!(out, "{hour12:02}"),
            Chunk::Minute => write!(out, "{}", c.minute),
            Chunk::ZeroMinute => write!(out, "{:02}", c.minute),
            Chunk::Second => write!(out, "{}", c.second),
            Chunk::ZeroSecond => write!(out, "{:02}", c.second),
            Chunk::LongYear => {
                if c.year < 0 {
                    write!(out, "-{:04}", -c.year)
                } else {
                    write!(out, "{:04}", c.year)
                }
            }
            Chunk::Year => write!(out, "{:02}", c.year.rem_euclid(100)),
            Chunk::PM => write!(out, "{}", if c.hour >= 12 { "PM" } else { "AM" }),
            Chunk::Pm => write!(out, "{}", if c.hour >= 12 { "pm" } else { "am" }),
            Chunk::TzName => write!(out, "UTC"),
            Chunk::Tz { z: true, .. } => write!(out, "Z"),
            Chunk::Tz {
                colon,
                seconds,
                hours_only,
                ..
            } => {
                let s = if hours_only {
                    "+00"
                } else {
                    match (colon, seconds) {
                        (true, true) => "+00:00:00",
                        (true, false) => "+00:00",
                        (false, true) => "+000000",
                        (false, false) => "+0000",
                    }
                };
                write!(out, "{s}")
            }
            Chunk::Frac { sep, digits, trim } => {
                let frac = format!("{:09}", self.nanos);
                let mut f = &frac[..digits.min(9)];
                if trim {
                    f = f.trim_end_matches('0');
                    if f.is_empty() {
                        return;
                    }
                }
                write!(out, "{sep}{f}")
            }
        };
    }
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: usize,
    yday: u32,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Day count since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[derive(Clone, Copy)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TzName,
    Tz {
        z: bool,
        colon: bool,
        seconds: bool,
        hours_only: bool,
    },
    Frac {
        sep: char,
        digits: usize,
        trim: bool,
    },
}

/// Splits `layout` at its first layout element, as Go's `nextStdChunk`.
fn next_chunk(layout: &str) -> (&str, Option<Chunk>, &str) {
    let b = layout.as_bytes();
    const TZ: [(&str, bool, bool, bool); 5] = [
        ("07:00:00", true, true, false),
        ("070000", false, true, false),
        ("0700", false, false, false),
        ("07:00", true, false, false),
        ("07", false, false, true),
    ];
    for (i, _) in layout.char_indices() {
        let s = &layout[i..];
        let hit = |p: &str, c: Chunk| s.starts_with(p).then_some((p.len(), c));
        let found = match b[i] {
            b'J' => hit("January", Chunk::LongMonth).or_else(|| hit("Jan", Chunk::Month)),
            b'M' => hit("Monday", Chunk::LongWeekDay)
                .or_else(|| hit("Mon", Chunk::WeekDay))
                .or_else(|| hit("MST", Chunk::TzName)),
            b'0' => match b.get(i + 1) {
                Some(b'1') => Some((2, Chunk::ZeroMonth)),
                Some(b'2') => Some((2, Chunk::ZeroDay)),
                Some(b'3') => Some((2, Chunk::ZeroHour12)),
                Some(b'4') => Some((2, Chunk::ZeroMinute)),
                Some(b'5') => Some((2, Chunk::ZeroSecond)),
                Some(b'6') => Some((2, Chunk::Year)),
                Some(b'0') if b.get(i + 2) == Some(&b'2') => Some((3, Chunk::ZeroYearDay)),
                _ => None,
            },
            b'1' => hit("15", Chunk::Hour).or(Some((1, Chunk::NumMonth))),
            b'2' => hit("2006", Chunk::LongYear).or(Some((1, Chunk::Day))),
            b'_' => hit("_2006", Chunk::LongYear)
                .map(|_| (0, Chunk::LongYear))
                .or_else(|| hit("__2", Chunk::UnderYearDay))
                .or_else(|| hit("_2", Chunk::UnderDay)),
            b'3' => Some((1, Chunk::Hour12)),
            b'4' => Some((1, Chunk::Minute)),
            b'5' => Some((1, Chunk::Second)),
            b'P' => hit("PM", Chunk::PM),
            b'p' => hit("pm", Chunk::Pm),
            c @ (b'-' | b'Z') => TZ.iter().find_map(|(p, colon, seconds, hours_only)| {
                s[1..].starts_with(p).then_some((
                    p.len() + 1,
                    Chunk::Tz {
                        z: c == b'Z',
                        colon: *colon,
                        seconds: *seconds,
                        hours_only: *hours_only,
                    },
                ))
            }),
            c @ (b'.' | b',') if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let d = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == d {
                    j += 1;
                }
                if b.get(j).is_some_and(|x| x.is_ascii_digit()) {
                    None
                } else {
                    Some((
                        j - i,
                        Chunk::Frac {
                            sep: c as char,
                            digits: j - i - 1,
                            trim: d == b'9',
                        },
                    ))
                }
            }
            _ => None,
        };
        if let Some((len, chunk)) = found {
            if len == 0 {
                // "_2006" is a literal underscore followed by the year.
                return (&layout[..i + 1], Some(Chunk::LongYear), &layout[i + 5..]);
            }
            return (&layout[..i], Some(chunk), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, div, prec) = if u < 1_000 {
            ("ns", 1u64, 0)
        } else if u < 1_000_000 {
            ("µs", 1_000, 3)
        } else {
            ("ms", 1_000_000, 6)
        };
        out.push_str(&frac_string(u / div, u % div, prec));
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let nanos = u % 1_000_000_000;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            let _ = write!(out, "{h}h");
        }
        if h > 0 || m > 0 {
            let _ = write!(out, "{m}m");
        }
        out.push_str(&frac_string(s, nanos, 9));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `whole.frac` with `frac` printed in `prec` digits, trailing zeros removed.
fn frac_string(whole: u64, frac: u64, prec: usize) -> String {
    if frac == 0 || prec == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:0prec$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64, nanos: u32) -> GoTime {
        GoTime { secs, nanos }
    }

    #[test]
    fn string_matches_go() {
        assert_eq!(t(0, 0).go_string(), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(t(-1, 0).go_string(), "1969-12-31 23:59:59 +0000 UTC");
        assert_eq!(
            t(1435065584, 128_000_000).go_string(),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(
            t(9223372036, 0).go_string(),
            "2262-04-11 23:47:16 +0000 UTC"
        );
        assert_eq!(GoTime::ZERO.go_string(), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn layouts_match_go() {
        let now = t(1353755652, 0);
        assert_eq!(
            now.format("Mon Jan 2 15:04:05 2006"),
            "Sat Nov 24 11:14:12 2012"
        );
        assert_eq!(t(1435065584, 128_000_000).format("2006"), "2015");
        let x = t(1704114245, 5_000_000); // 2024-01-01 13:04:05.005
        assert_eq!(x.format(time_rfc3339_nano()), "2024-01-01T13:04:05.005Z");
        assert_eq!(
            x.format("02/01/06 03:04:05PM .000 -07:00 MST"),
            "01/01/24 01:04:05PM .005 +00:00 UTC"
        );
        assert_eq!(
            x.format("Monday January _2 002 pm"),
            "Monday January  1 001 pm"
        );
        assert_eq!(
            x.format("2006-01-02T15:04:05Z07:00"),
            "2024-01-01T13:04:05Z"
        );
        assert_eq!(x.format("é2006é-é"), "é2024é-é");
    }

    fn time_rfc3339_nano() -> &'static str {
        "2006-01-02T15:04:05.999999999Z07:00"
    }

    #[test]
    fn durations_match_go() {
        assert_eq!(duration_string(0), "0s");
        assert_eq!(duration_string(1_800_000_000_000), "30m0s");
        assert_eq!(duration_string(3_600_000_000_000), "1h0m0s");
        assert_eq!(duration_string(1_500_000_000), "1.5s");
        assert_eq!(duration_string(1_500_000), "1.5ms");
        assert_eq!(duration_string(1_000), "1µs");
        assert_eq!(duration_string(-90_000_000_000), "-1m30s");
        assert_eq!(duration_string(7), "7ns");
        assert_eq!(duration_string(i64::MIN), "-2562047h47m16.854775808s");
    }

    #[test]
    fn civil_round_trips() {
        for days in [-719_162i64, -1, 0, 59, 365, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
