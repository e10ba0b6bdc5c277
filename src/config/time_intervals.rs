//! Alertmanager's time intervals: the top-level `time_intervals` and the older
//! `mute_time_intervals` (same shape; one name space for both), read and checked as
//! Alertmanager 0.33 does (`config/config.go`, `timeinterval/timeinterval.go`), with its error
//! texts. Routes name them in `mute_time_intervals` and `active_time_intervals`.
//!
//! ```yaml
//! time_intervals:
//!   - name: offhours
//!     time_intervals:
//!       - times: [{start_time: "18:00", end_time: "24:00"}]  # HH:MM, end exclusive
//!         weekdays: ['monday:friday', saturday]
//!         days_of_month: ['1:7', '-1']    # negative counts from the month's end
//!         months: ['january:march', '12']
//!         years: ['2026:2027']
//!         location: Europe/Berlin         # IANA name or Local; default UTC
//! ```
//!
//! Every field of an entry must match (an entry with none matches always); a named interval
//! matches when any of its entries does. A field that is absent or null places no condition;
//! an empty list (`weekdays: []`) never matches, as in Alertmanager.
//!
//! Locations are loaded as Go's `time.LoadLocation` loads them for Alertmanager: from the
//! system's time zone database (`$TZDIR`, else `/usr/share/zoneinfo`), read by the `jiff`
//! crate; names are case-sensitive; `""` and `UTC` are UTC; `Local` is the process' zone
//! (`$TZ`, else `/etc/localtime`). Matching a time lives in `notify::time_interval`.

use super::decode::{yaml_section, At, Cx};
use super::notify::problem;
use serde::{Serialize, Serializer};
use std::collections::HashSet;
use std::fmt;

yaml_section! {
    /// A `time_intervals` or `mute_time_intervals` entry as written.
    pub(crate) struct RawNamedInterval {
        name: String,
        time_intervals: Vec<At<RawTimeInterval>>,
    }
}

yaml_section! {
    /// One interval of a named time interval, as written.
    pub(crate) struct RawTimeInterval {
        times: Vec<At<RawTimeRange>>,
        weekdays: Vec<At<String>>,
        days_of_month: Vec<At<String>>,
        months: Vec<At<String>>,
        years: Vec<At<String>>,
        location: String,
    }
}

yaml_section! {
    /// A `times` entry as written.
    pub(crate) struct RawTimeRange {
        start_time: String,
        end_time: String,
    }
}

/// A named time interval (`time_intervals` or `mute_time_intervals` entry).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeIntervalConfig {
    /// The name routes use.
    pub name: String,
    /// The intervals; the name matches a time when any of them does.
    pub time_intervals: Vec<TimeInterval>,
}

/// One interval: every field that is set must match.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TimeInterval {
    /// Ranges of minutes of the day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<Vec<TimeRange>>,
    /// Ranges of weekdays, 0 = Sunday.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weekdays: Option<Vec<WeekdayRange>>,
    /// Ranges of days of the month; negative values count from the month's end (-1 = last).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_of_month: Option<Vec<InclusiveRange>>,
    /// Ranges of months, 1 = January.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub months: Option<Vec<InclusiveRange>>,
    /// Ranges of years.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub years: Option<Vec<InclusiveRange>>,
    /// The zone the time is looked at in; UTC when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// Minutes of the day `[start_minute, end_minute)`, within `0..=1440`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// First minute in the range.
    pub start_minute: u32,
    /// First minute after the range.
    pub end_minute: u32,
}

/// Both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InclusiveRange {
    /// First value.
    pub begin: i64,
    /// Last value.
    pub end: i64,
}

/// A range of weekdays (0 = Sunday … 6 = Saturday), written with their names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeekdayRange(pub InclusiveRange);

/// A time zone loaded from the system's database, with the name it was given.
#[derive(Clone, Debug)]
pub struct Location {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl Location {
    /// Loads `name` as Go's `time.LoadLocation` does; the error text is Go's.
    pub fn load(name: &str) -> Result<Location, String> {
        let zone = match name {
            "" | "UTC" => jiff::tz::TimeZone::UTC,
            "Local" => jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC),
            _ if name.contains("..") || name.starts_with(['/', '\\']) => {
                return Err("time: invalid location name".to_owned())
            }
            _ => match jiff::tz::TimeZone::get(name) {
                // jiff looks names up ignoring case; Go opens the file, which does not.
                Ok(zone) if zone.iana_name() == Some(name) => zone,
                _ => return Err(format!("unknown time zone {name}")),
            },
        };
        let name = if name.is_empty() { "UTC" } else { name };
        Ok(Location {
            name: name.to_owned(),
            zone,
        })
    }

    /// The name, as Go's `Location.String()` gives it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone.
    pub fn zone(&self) -> &jiff::tz::TimeZone {
        &self.zone
    }
}

impl PartialEq for Location {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

impl fmt::Display for InclusiveRange {
    /// `begin:end`, or one value when both are equal (Alertmanager's `MarshalText`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.begin == self.end {
            write!(f, "{}", self.begin)
        } else {
            write!(f, "{}:{}", self.begin, self.end)
        }
    }
}

impl Serialize for InclusiveRange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for WeekdayRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |d: i64| {
            usize::try_from(d)
                .ok()
                .and_then(|d| WEEKDAYS.get(d))
                .copied()
                .unwrap_or("")
        };
        let InclusiveRange { begin, end } = self.0;
        if begin == end {
            f.write_str(name(begin))
        } else {
            write!(f, "{}:{}", name(begin), name(end))
        }
    }
}

impl Serialize for WeekdayRange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for TimeRange {
    /// `{start_time: "HH:MM", end_time: "HH:MM"}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let hhmm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        let mut s = serializer.serialize_struct("TimeRange", 2)?;
        s.serialize_field("start_time", &hhmm(self.start_minute))?;
        s.serialize_field("end_time", &hhmm(self.end_minute))?;
        s.end()
    }
}

/// Which top-level list an entry comes from (their messages differ).
#[derive(Clone, Copy)]
enum Kind {
    Mute,
    Time,
}

/// Resolves `mute_time_intervals` and `time_intervals`; returns both lists and every name.
pub(crate) fn resolve(
    mute: Option<At<Vec<At<RawNamedInterval>>>>,
    time: Option<At<Vec<At<RawNamedInterval>>>>,
    cx: &mut Cx<'_>,
) -> (
    Vec<TimeIntervalConfig>,
    Vec<TimeIntervalConfig>,
    HashSet<String>,
) {
    let mut names = HashSet::new();
    let mut lists = [Vec::new(), Vec::new()];
    for (slot, (kind, section, raw)) in [
        (Kind::Mute, "mute_time_intervals", mute),
        (Kind::Time, "time_intervals", time),
    ]
    .into_iter()
    .enumerate()
    {
        for (i, entry) in raw
            .map(|r| r.value)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let path = format!("{section}[{i}]");
            if let Some(named) = named(entry, kind, &path, &mut names, cx) {
                lists[slot].push(named);
            }
        }
    }
    let [mute, time] = lists;
    (mute, time, names)
}

fn named(
    entry: At<RawNamedInterval>,
    kind: Kind,
    path: &str,
    names: &mut HashSet<String>,
    cx: &mut Cx<'_>,
) -> Option<TimeIntervalConfig> {
    let (raw, pos) = (entry.value, entry.pos);
    let intervals: Vec<TimeInterval> = raw
        .time_intervals
        .map(|t| t.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| interval(t.value, &format!("{path}.time_intervals[{i}]"), cx))
        .collect();
    let name = raw.name.filter(|n| !n.value.is_empty());
    let Some(name) = name else {
        let message = match kind {
            Kind::Mute => "missing name in mute time interval",
            Kind::Time => "missing name in time interval",
        };
        problem(cx, pos, format!("{path}: {message}"));
        return None;
    };
    if !names.insert(name.value.clone()) {
        let what = match kind {
            Kind::Mute => "mute time interval",
            Kind::Time => "time interval",
        };
        let message = format!("{what} {:?} is not unique", name.value);
        problem(cx, name.pos, format!("{path}.name: {message}"));
    }
    Some(TimeIntervalConfig {
        name: name.value,
        time_intervals: intervals,
    })
}

fn interval(raw: RawTimeInterval, path: &str, cx: &mut Cx<'_>) -> TimeInterval {
    fn each<T>(
        list: Option<At<Vec<At<String>>>>,
        path: &str,
        field: &str,
        cx: &mut Cx<'_>,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<Vec<T>> {
        let list = list?.value;
        let mut out = Vec::with_capacity(list.len());
        for (i, item) in list.into_iter().enumerate() {
            match parse(&item.value) {
                Ok(v) => out.push(v),
                Err(e) => problem(cx, item.pos, format!("{path}.{field}[{i}]: {e}")),
            }
        }
        Some(out)
    }
    let times = raw.times.map(|list| {
        let mut out = Vec::new();
        for (i, t) in list.value.into_iter().enumerate() {
            let start = t.value.start_time.map(|s| s.value).unwrap_or_default();
            let end = t.value.end_time.map(|s| s.value).unwrap_or_default();
            match time_range(&start, &end) {
                Ok(r) => out.push(r),
                Err(e) => problem(cx, t.pos, format!("{path}.times[{i}]: {e}")),
            }
        }
        out
    });
    let location = raw.location.and_then(|l| match Location::load(&l.value) {
        Ok(loc) => Some(loc),
        Err(e) => {
            problem(cx, l.pos, format!("{path}.location: {e}"));
            None
        }
    });
    TimeInterval {
        times,
        weekdays: each(raw.weekdays, path, "weekdays", cx, weekday_range),
        days_of_month: each(
            raw.days_of_month,
            path,
            "days_of_month",
            cx,
            day_of_month_range,
        ),
        months: each(raw.months, path, "months", cx, month_range),
        years: each(raw.years, path, "years", cx, year_range),
        location,
    }
}

/// Go's `strconv.Atoi`, with its error texts.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let quoted = crate::gostd::text::quote(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {quoted}: invalid syntax"));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {quoted}: value out of range"))
}

/// Alertmanager's `stringableRangeFromString`: lower-cased, `a:b` or one member.
fn range_of(
    text: &str,
    member: impl Fn(&str) -> Result<i64, String>,
) -> Result<InclusiveRange, String> {
    let text = text.to_lowercase();
    if text.contains(':') {
        let parts: Vec<&str> = text.split(':').collect();
        let [begin, end] = parts[..] else {
            return Err(format!("couldn't parse range {text}, invalid format"));
        };
        return Ok(InclusiveRange {
            begin: member(begin)?,
            end: member(end)?,
        });
    }
    let v = member(&text)?;
    Ok(InclusiveRange { begin: v, end: v })
}

fn weekday_range(text: &str) -> Result<WeekdayRange, String> {
    let r = range_of(text, |m| {
        WEEKDAYS
            .iter()
            .position(|d| *d == m)
            .map(|d| d as i64)
            .ok_or_else(|| format!("{m} is not a valid weekday"))
    })?;
    if r.begin > r.end {
        return Err("start day cannot be before end day".to_owned());
    }
    Ok(WeekdayRange(r))
}

fn day_of_month_range(text: &str) -> Result<InclusiveRange, String> {
    let r = range_of(text, atoi)?;
    for day in [r.begin, r.end] {
        if day == 0 || !(-31..=31).contains(&day) {
            return Err(format!(
                "{day} is not a valid day of the month: out of range"
            ));
        }
    }
    if r.begin < 0 && r.end > 0 {
        return Err("end day must be negative if start day is negative".to_owned());
    }
    // Negative days are checked against the shortest month (28 days), as Alertmanager does.
    let shortest = |d: i64| if d < 0 { 28 + d } else { d };
    if shortest(r.begin) > shortest(r.end) {
        return Err(format!(
            "end day {} is always before start day {}",
            r.end, r.begin
        ));
    }
    Ok(r)
}

fn month_range(text: &str) -> Result<InclusiveRange, String> {
    let r = range_of(text, |m| match MONTHS.iter().position(|n| *n == m) {
        Some(i) => Ok(i as i64 + 1),
        None => atoi(m).map_err(|_| format!("{m} is not a valid month")),
    })?;
    if r.begin > r.end {
        let name = |m: i64| {
            usize::try_from(m - 1)
                .ok()
                .and_then(|i| MONTHS.get(i))
                .copied()
                .unwrap_or("")
        };
        return Err(format!(
            "end month {} is before start month {}",
            name(r.end),
            name(r.begin)
        ));
    }
    Ok(r)
}

fn year_range(text: &str) -> Result<InclusiveRange, String> {
    let r = range_of(text, atoi)?;
    if r.begin > r.end {
        return Err(format!(
            "end year {} is before start year {}",
            r.end, r.begin
        ));
    }
    Ok(r)
}

fn time_range(start: &str, end: &str) -> Result<TimeRange, String> {
    if start.is_empty() || end.is_empty() {
        return Err("both start and end times must be provided".to_owned());
    }
    let (start_minute, end_minute) = (minute_of_day(start)?, minute_of_day(end)?);
    if start_minute >= end_minute {
        return Err("start time cannot be equal or greater than end time".to_owned());
    }
    Ok(TimeRange {
        start_minute,
        end_minute,
    })
}

/// `HH:MM` (00:00 to 23:59, or 24:00) as minutes since midnight.
fn minute_of_day(text: &str) -> Result<u32, String> {
    let invalid = || format!("couldn't parse timestamp {text}, invalid format");
    if text == "24:00" {
        return Ok(24 * 60);
    }
    let b = text.as_bytes();
    let ok = b.len() == 5
        && b[2] == b':'
        && matches!(
            (b[0], b[1]),
            (b'0' | b'1', b'0'..=b'9') | (b'2', b'0'..=b'3')
        )
        && matches!((b[3], b[4]), (b'0'..=b'5', b'0'..=b'9'));
    if !ok {
        return Err(invalid());
    }
    let n = |i: usize| u32::from(b[i] - b'0');
    Ok((n(0) * 10 + n(1)) * 60 + n(3) * 10 + n(4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_with_env, Config};
    use std::path::Path;

    fn load(text: &str) -> Result<Config, Vec<String>> {
        parse_with_env(text, Path::new("c.yml"), &|_| None).map_err(|e| e.lines())
    }

    const BASE: &str = "route: {receiver: r}\nreceivers: [{name: r}]\n";

    #[test]
    fn reads_every_field() {
        let c = load(&format!(
            "{BASE}time_intervals:\n- name: work\n  time_intervals:\n  \
             - times: [{{start_time: '09:00', end_time: '24:00'}}]\n    \
             weekdays: ['Monday:friday', sunday]\n    days_of_month: ['1:5', -1, '-7:-1']\n    \
             months: ['january:march', 12, '5:6']\n    years: ['2020:2022', 2030]\n    \
             location: Europe/Berlin\n  - {{}}\nmute_time_intervals:\n- name: old\n  \
             time_intervals: [{{weekdays: []}}]\n"
        ))
        .unwrap();
        assert_eq!(c.mute_time_intervals[0].name, "old");
        assert_eq!(
            c.mute_time_intervals[0].time_intervals[0].weekdays,
            Some(vec![])
        );
        let work = &c.time_intervals[0];
        assert_eq!(work.time_intervals[1], TimeInterval::default());
        let t = &work.time_intervals[0];
        assert_eq!(
            t.times,
            Some(vec![TimeRange {
                start_minute: 540,
                end_minute: 1440
            }])
        );
        let r = |begin, end| InclusiveRange { begin, end };
        assert_eq!(
            t.weekdays,
            Some(vec![WeekdayRange(r(1, 5)), WeekdayRange(r(0, 0))])
        );
        assert_eq!(t.days_of_month, Some(vec![r(1, 5), r(-1, -1), r(-7, -1)]));
        assert_eq!(t.months, Some(vec![r(1, 3), r(12, 12), r(5, 6)]));
        assert_eq!(t.years, Some(vec![r(2020, 2022), r(2030, 2030)]));
        assert_eq!(t.location.as_ref().unwrap().name(), "Europe/Berlin");
        assert_eq!(t.location, Some(Location::load("Europe/Berlin").unwrap()));
    }

    #[test]
    fn errors_are_alertmanagers_with_positions() {
        let text = format!(
            "{BASE}time_intervals:\n- name: a\n  time_intervals:\n  - weekdays: [friday:monday, funday, 'a:b:c']\n    \
             days_of_month: ['0', '-3:4', '10:-20', '-40', x]\n    months: ['december:january', smarch, '20:15']\n    \
             years: ['2022:2020', '1e3']\n    times: [{{start_time: '10:00', end_time: '09:00'}}, {{start_time: '9:00', end_time: '10:00'}}, {{end_time: '10:00'}}, {{start_time: '10:00', end_time: '10:00'}}, {{start_time: '23:00', end_time: '24:01'}}]\n    \
             location: Mars/Olympus\n- {{time_intervals: []}}\n- name: a\n\
             mute_time_intervals:\n- name: b\n- name: b\n- name: c\n  time_intervals: [{{location: ../etc/passwd}}, {{location: america/new_york}}]\n"
        );
        let errors = load(&text).unwrap_err();
        let want = [
            "c.yml:6:16: time_intervals[0].time_intervals[0].weekdays[0]: start day cannot be before end day",
            "c.yml:6:31: time_intervals[0].time_intervals[0].weekdays[1]: funday is not a valid weekday",
            "c.yml:6:39: time_intervals[0].time_intervals[0].weekdays[2]: couldn't parse range a:b:c, invalid format",
            "c.yml:7:21: time_intervals[0].time_intervals[0].days_of_month[0]: 0 is not a valid day of the month: out of range",
            "c.yml:7:26: time_intervals[0].time_intervals[0].days_of_month[1]: end day must be negative if start day is negative",
            "c.yml:7:34: time_intervals[0].time_intervals[0].days_of_month[2]: end day -20 is always before start day 10",
            "c.yml:7:44: time_intervals[0].time_intervals[0].days_of_month[3]: -40 is not a valid day of the month: out of range",
            "c.yml:7:51: time_intervals[0].time_intervals[0].days_of_month[4]: strconv.Atoi: parsing \"x\": invalid syntax",
            "c.yml:8:14: time_intervals[0].time_intervals[0].months[0]: end month january is before start month december",
            "c.yml:8:34: time_intervals[0].time_intervals[0].months[1]: smarch is not a valid month",
            "c.yml:8:42: time_intervals[0].time_intervals[0].months[2]: end month  is before start month ",
            "c.yml:9:13: time_intervals[0].time_intervals[0].years[0]: end year 2020 is before start year 2022",
            "c.yml:9:26: time_intervals[0].time_intervals[0].years[1]: strconv.Atoi: parsing \"1e3\": invalid syntax",
            "c.yml:10:13: time_intervals[0].time_intervals[0].times[0]: start time cannot be equal or greater than end time",
            "c.yml:10:55: time_intervals[0].time_intervals[0].times[1]: couldn't parse timestamp 9:00, invalid format",
            "c.yml:10:96: time_intervals[0].time_intervals[0].times[2]: both start and end times must be provided",
            "c.yml:10:117: time_intervals[0].time_intervals[0].times[3]: start time cannot be equal or greater than end time",
            "c.yml:10:159: time_intervals[0].time_intervals[0].times[4]: couldn't parse timestamp 24:01, invalid format",
            "c.yml:11:15: time_intervals[0].time_intervals[0].location: unknown time zone Mars/Olympus",
            "c.yml:12:3: time_intervals[1]: missing name in time interval",
            "c.yml:13:9: time_intervals[2].name: time interval \"a\" is not unique",
            "c.yml:16:9: mute_time_intervals[1].name: mute time interval \"b\" is not unique",
            "c.yml:18:31: mute_time_intervals[2].time_intervals[0].location: time: invalid location name",
            "c.yml:18:58: mute_time_intervals[2].time_intervals[1].location: unknown time zone america/new_york",
        ];
        assert_eq!(errors, want);
    }

    #[test]
    fn names_are_shared_by_both_lists_and_routes_must_use_known_ones() {
        let errors = load(
            "route:\n  receiver: r\n  routes:\n  - receiver: r\n    mute_time_intervals: [old, nope]\n    \
             active_time_intervals: [new, gone]\nreceivers: [{name: r}]\n\
             mute_time_intervals: [{name: old}]\ntime_intervals: [{name: new}, {name: old}]\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "c.yml:5:32: route.routes[0].mute_time_intervals: undefined time interval \"nope\" used in route",
                "c.yml:6:34: route.routes[0].active_time_intervals: undefined time interval \"gone\" used in route",
                "c.yml:9:38: time_intervals[1].name: time interval \"old\" is not unique",
            ]
        );
        let errors = load(
            "route:\n  receiver: r\n  mute_time_intervals: [a]\n  active_time_intervals: [a]\n\
             receivers: [{name: r}]\ntime_intervals: [{name: a}]\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "c.yml:3:24: route.mute_time_intervals: root route must not have any mute time intervals",
                "c.yml:4:26: route.active_time_intervals: root route must not have any active time intervals",
            ]
        );
    }

    #[test]
    fn locations_load_as_go_loads_them() {
        assert_eq!(Location::load("").unwrap().name(), "UTC");
        assert_eq!(
            Location::load("UTC").unwrap().zone(),
            &jiff::tz::TimeZone::UTC
        );
        assert_eq!(Location::load("Local").unwrap().name(), "Local");
        assert!(Location::load("America/New_York").is_ok());
        assert_eq!(
            Location::load("/etc/localtime").unwrap_err(),
            "time: invalid location name"
        );
        assert_eq!(
            Location::load("Nowhere").unwrap_err(),
            "unknown time zone Nowhere"
        );
    }

    #[test]
    fn written_back_as_alertmanager_reads_them() {
        let c = load(&format!(
            "{BASE}time_intervals:\n- name: w\n  time_intervals:\n  \
             - times: [{{start_time: '09:05', end_time: '24:00'}}]\n    \
             weekdays: ['monday:friday', saturday]\n    days_of_month: ['-7:-1']\n    \
             months: [march]\n    years: ['2020:2022']\n    location: Asia/Tokyo\n"
        ))
        .unwrap();
        let yaml = serde_saphyr::to_string(&c.time_intervals).unwrap();
        let again = load(&format!("{BASE}time_intervals:\n{yaml}")).unwrap();
        assert_eq!(again.time_intervals, c.time_intervals, "{yaml}");
        for want in [
            "monday:friday",
            "-7:-1",
            "2020:2022",
            "Asia/Tokyo",
            "09:05",
            "24:00",
        ] {
            assert!(yaml.contains(want), "{want} in {yaml}");
        }
    }

    #[test]
    fn atoi_is_gos() {
        assert_eq!(atoi("+7"), Ok(7));
        assert_eq!(atoi("-31"), Ok(-31));
        assert!(atoi("")
            .unwrap_err()
            .ends_with("parsing \"\": invalid syntax"));
        assert!(atoi("99999999999999999999")
            .unwrap_err()
            .ends_with("value out of range"));
        assert!(atoi("1_0").is_err() && atoi(" 1").is_err() && atoi("-").is_err());
    }
}
