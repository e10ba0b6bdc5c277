//! Whether a time falls in a named time interval, and whether a route's time intervals keep a
//! group from notifying now: Alertmanager 0.33's `timeinterval.ContainsTime`, `Intervener` and
//! the `TimeActiveStage`/`TimeMuteStage` of its notification pipeline.
//!
//! - A time is looked at in the interval's `location` (UTC without one): its minute of the
//!   day must be in one of `times` (end exclusive), its weekday, day of month (negative days
//!   count back from the month's last day, clamped to the month), month and year in one of
//!   the respective ranges. An unset field places no condition; an empty list matches nothing.
//! - A route with `active_time_intervals` is muted when none of them contains the time; it is
//!   then "muted by" every one of them. Otherwise a route with `mute_time_intervals` is muted
//!   by those that contain the time (a name once per entry that contains it, as Alertmanager
//!   lists it).
//!
//! One departure: Alertmanager 0.33.0 counted the days of a month through its duration, so in
//! a zone whose clocks spring forward that month, `-1` meant the day before the last one; this
//! was fixed upstream after 0.33 (prometheus/alertmanager#5447) and watchfire counts calendar
//! days.
//!
//! **Invariant:** pure: time comes in as a parameter.

use crate::config::{Config, InclusiveRange, TimeInterval};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Why a group did not notify at a flush (the `reason` label of
/// `watchfire_notifications_suppressed_total`, Alertmanager's words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeMute {
    /// The time is inside one of the route's `mute_time_intervals`.
    MuteTimeInterval,
    /// The time is outside every one of the route's `active_time_intervals`.
    ActiveTimeInterval,
}

impl TimeMute {
    /// The metric label value.
    pub fn reason(self) -> &'static str {
        match self {
            TimeMute::MuteTimeInterval => "mute_time_interval",
            TimeMute::ActiveTimeInterval => "active_time_interval",
        }
    }
}

/// The named time intervals of a configuration.
#[derive(Clone, Debug, Default)]
pub struct TimeIntervals {
    by_name: HashMap<String, Vec<TimeInterval>>,
}

impl TimeIntervals {
    /// The intervals of `time_intervals` and `mute_time_intervals`.
    pub fn from_config(config: &Config) -> TimeIntervals {
        let by_name = config
            .mute_time_intervals
            .iter()
            .chain(&config.time_intervals)
            .map(|t| (t.name.clone(), t.time_intervals.clone()))
            .collect();
        TimeIntervals { by_name }
    }

    /// The names among `names` whose intervals contain `now`, each once per interval that
    /// does (a name the config does not define contains nothing).
    pub fn containing(&self, names: &[String], now: DateTime<Utc>) -> Vec<String> {
        let mut out = Vec::new();
        for name in names {
            for interval in self.by_name.get(name).into_iter().flatten() {
                if contains(interval, now) {
                    out.push(name.clone());
                }
            }
        }
        out
    }

    /// Whether a route with these `mute` and `active` time intervals is muted at `now`, and by
    /// which names; `None` when it may notify.
    pub fn route_muted(
        &self,
        mute: &[String],
        active: &[String],
        now: DateTime<Utc>,
    ) -> Option<(TimeMute, Vec<String>)> {
        if !active.is_empty() && self.containing(active, now).is_empty() {
            return Some((TimeMute::ActiveTimeInterval, active.to_vec()));
        }
        if mute.is_empty() {
            return None;
        }
        let by = self.containing(mute, now);
        (!by.is_empty()).then_some((TimeMute::MuteTimeInterval, by))
    }
}

fn in_any(ranges: &Option<Vec<InclusiveRange>>, value: i64) -> bool {
    ranges
        .as_ref()
        .is_none_or(|rs| rs.iter().any(|r| r.begin <= value && value <= r.end))
}

/// Whether `interval` contains the instant `t`.
pub fn contains(interval: &TimeInterval, t: DateTime<Utc>) -> bool {
    let Ok(ts) = jiff::Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32) else {
        return false;
    };
    let local = match &interval.location {
        Some(l) => l.zone().to_datetime(ts),
        None => jiff::tz::TimeZone::UTC.to_datetime(ts),
    };
    if let Some(times) = &interval.times {
        let minute = u32::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute()))
            .unwrap_or_default();
        if !times
            .iter()
            .any(|r| r.start_minute <= minute && minute < r.end_minute)
        {
            return false;
        }
    }
    if let Some(days) = &interval.days_of_month {
        let in_month = i64::from(local.date().days_in_month());
        let day = i64::from(local.day());
        let matched = days.iter().any(|r| {
            let from_end = |d: i64| if d < 0 { in_month + d + 1 } else { d };
            let (begin, end) = (from_end(r.begin), from_end(r.end));
            // A range starting after this month's last day is not in this month.
            if begin > in_month {
                return false;
            }
            let clamp = |d: i64| d.clamp(-in_month, in_month);
            clamp(begin) <= day && day <= clamp(end)
        });
        if !matched {
            return false;
        }
    }
    let weekday = i64::from(local.weekday().to_sunday_zero_offset());
    in_any(&interval.months, i64::from(local.month()))
        && interval.weekdays.as_ref().is_none_or(|ws| {
            ws.iter()
                .any(|w| w.0.begin <= weekday && weekday <= w.0.end)
        })
        && in_any(&interval.years, i64::from(local.year()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Location, TimeRange, WeekdayRange};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn r(begin: i64, end: i64) -> InclusiveRange {
        InclusiveRange { begin, end }
    }

    fn times(start: u32, end: u32) -> TimeInterval {
        TimeInterval {
            times: Some(vec![TimeRange {
                start_minute: start,
                end_minute: end,
            }]),
            ..TimeInterval::default()
        }
    }

    fn days(ranges: &[(i64, i64)]) -> TimeInterval {
        TimeInterval {
            days_of_month: Some(ranges.iter().map(|&(b, e)| r(b, e)).collect()),
            ..TimeInterval::default()
        }
    }

    fn with_location(mut t: TimeInterval, name: &str) -> TimeInterval {
        t.location = Some(Location::load(name).unwrap());
        t
    }

    #[test]
    fn an_empty_interval_always_matches_and_an_empty_list_never() {
        let all = TimeInterval::default();
        for t in ["2024-02-29T00:00:00Z", "1999-12-31T23:59:59Z"] {
            assert!(contains(&all, at(t)));
        }
        let none = TimeInterval {
            weekdays: Some(vec![]),
            ..TimeInterval::default()
        };
        assert!(!contains(&none, at("2024-02-29T12:00:00Z")));
    }

    #[test]
    fn times_include_the_start_and_exclude_the_end() {
        let t = times(9 * 60, 17 * 60);
        assert!(!contains(&t, at("2024-05-01T08:59:59Z")));
        assert!(contains(&t, at("2024-05-01T09:00:00Z")));
        assert!(contains(&t, at("2024-05-01T16:59:59Z")));
        assert!(!contains(&t, at("2024-05-01T17:00:00Z")));
        let late = times(23 * 60, 24 * 60);
        assert!(contains(&late, at("2024-05-01T23:59:59Z")));
        assert!(!contains(&late, at("2024-05-02T00:00:00Z")));
        let several = TimeInterval {
            times: Some(vec![
                TimeRange {
                    start_minute: 0,
                    end_minute: 60,
                },
                TimeRange {
                    start_minute: 120,
                    end_minute: 180,
                },
            ]),
            ..TimeInterval::default()
        };
        assert!(contains(&several, at("2024-05-01T02:30:00Z")));
        assert!(!contains(&several, at("2024-05-01T01:30:00Z")));
    }

    #[test]
    fn weekday_ranges() {
        let weekdays = TimeInterval {
            weekdays: Some(vec![WeekdayRange(r(1, 5))]),
            ..TimeInterval::default()
        };
        // 2024-05-03 is a Friday, 05-04 a Saturday, 05-05 a Sunday, 05-06 a Monday.
        assert!(contains(&weekdays, at("2024-05-03T23:59:59Z")));
        assert!(!contains(&weekdays, at("2024-05-04T00:00:00Z")));
        assert!(!contains(&weekdays, at("2024-05-05T12:00:00Z")));
        assert!(contains(&weekdays, at("2024-05-06T00:00:00Z")));
        let weekend = TimeInterval {
            weekdays: Some(vec![WeekdayRange(r(6, 6)), WeekdayRange(r(0, 0))]),
            ..TimeInterval::default()
        };
        assert!(contains(&weekend, at("2024-05-04T00:00:00Z")));
        assert!(contains(&weekend, at("2024-05-05T23:59:00Z")));
        assert!(!contains(&weekend, at("2024-05-06T00:00:00Z")));
    }

    #[test]
    fn negative_days_count_from_the_end_of_the_month() {
        let last = days(&[(-1, -1)]);
        assert!(contains(&last, at("2023-02-28T10:00:00Z")));
        assert!(!contains(&last, at("2024-02-28T10:00:00Z")), "leap year");
        assert!(contains(&last, at("2024-02-29T10:00:00Z")));
        assert!(contains(&last, at("2024-04-30T10:00:00Z")));
        assert!(!contains(&last, at("2024-05-30T10:00:00Z")));
        let last_week = days(&[(-7, -1)]);
        assert!(contains(&last_week, at("2023-02-22T00:00:00Z")));
        assert!(!contains(&last_week, at("2023-02-21T23:59:59Z")));
        assert!(contains(&last_week, at("2024-02-23T00:00:00Z")));
        assert!(!contains(&last_week, at("2024-02-22T00:00:00Z")));
        // Day 31 exists in no shorter month; a range reaching past the end is clamped.
        assert!(!contains(&days(&[(31, 31)]), at("2024-04-30T00:00:00Z")));
        assert!(!contains(&days(&[(30, 31)]), at("2023-02-28T00:00:00Z")));
        assert!(contains(&days(&[(28, 31)]), at("2023-02-28T00:00:00Z")));
        assert!(contains(&days(&[(1, 31)]), at("2024-02-29T00:00:00Z")));
        // -31 in February is before the first; Alertmanager clamps and so matches from the 1st.
        assert!(contains(&days(&[(-31, -28)]), at("2023-02-01T00:00:00Z")));
        assert!(!contains(&days(&[(-31, -28)]), at("2023-02-02T00:00:00Z")));
        assert!(contains(
            &days(&[(1, 1), (15, 15)]),
            at("2023-07-15T00:00:00Z")
        ));
    }

    #[test]
    fn month_and_year_ranges() {
        let spring = TimeInterval {
            months: Some(vec![r(3, 5)]),
            years: Some(vec![r(2020, 2022), r(2024, 2024)]),
            ..TimeInterval::default()
        };
        assert!(contains(&spring, at("2020-03-01T00:00:00Z")));
        assert!(contains(&spring, at("2022-05-31T23:59:59Z")));
        assert!(!contains(&spring, at("2022-06-01T00:00:00Z")));
        assert!(!contains(&spring, at("2023-04-01T00:00:00Z")));
        assert!(contains(&spring, at("2024-04-01T00:00:00Z")));
        assert!(!contains(&spring, at("2019-04-01T00:00:00Z")));
    }

    #[test]
    fn locations_shift_the_clock_and_follow_dst() {
        let morning = with_location(times(9 * 60, 10 * 60), "America/New_York");
        // EST (UTC-5) in January, EDT (UTC-4) in July.
        assert!(contains(&morning, at("2024-01-15T14:30:00Z")));
        assert!(!contains(&morning, at("2024-01-15T13:30:00Z")));
        assert!(contains(&morning, at("2024-07-15T13:30:00Z")));
        assert!(!contains(&morning, at("2024-07-15T14:30:00Z")));
        // 2024-03-10: 02:00 EST jumps to 03:00 EDT; 02:xx local never happens.
        let skipped = with_location(times(2 * 60, 3 * 60), "America/New_York");
        assert!(!contains(&skipped, at("2024-03-10T06:59:59Z")), "01:59 EST");
        assert!(!contains(&skipped, at("2024-03-10T07:00:00Z")), "03:00 EDT");
        // 2024-11-03: 01:xx local happens twice, both times inside.
        let twice = with_location(times(60, 2 * 60), "America/New_York");
        assert!(contains(&twice, at("2024-11-03T05:30:00Z")), "01:30 EDT");
        assert!(contains(&twice, at("2024-11-03T06:30:00Z")), "01:30 EST");
        assert!(!contains(&twice, at("2024-11-03T07:00:00Z")), "02:00 EST");
        // The weekday and the day of month are the local ones.
        let sunday = with_location(
            TimeInterval {
                weekdays: Some(vec![WeekdayRange(r(0, 0))]),
                ..TimeInterval::default()
            },
            "Asia/Tokyo",
        );
        assert!(
            contains(&sunday, at("2024-05-04T15:00:00Z")),
            "Sun 00:00 JST"
        );
        assert!(!contains(&sunday, at("2024-05-04T14:59:59Z")));
        // The last day of a month whose clocks spring forward is still its last day.
        let last = with_location(days(&[(-1, -1)]), "America/New_York");
        assert!(contains(&last, at("2021-03-31T16:00:00Z")));
        assert!(!contains(&last, at("2021-03-30T16:00:00Z")));
    }

    #[test]
    fn routes_are_muted_by_mute_intervals_or_outside_active_ones() {
        let config = crate::config::parse_with_env(
            "route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals:\n\
             - {name: jan, time_intervals: [{months: [january]}, {months: ['1:2']}]}\n\
             - {name: feb, time_intervals: [{months: [february]}]}\n",
            "c.yml",
            &|_| None,
        )
        .unwrap();
        let ti = TimeIntervals::from_config(&config);
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let jan = at("2024-01-10T00:00:00Z");
        let mar = at("2024-03-10T00:00:00Z");
        assert_eq!(ti.containing(&names(&["jan", "feb"]), jan), ["jan", "jan"]);
        assert_eq!(ti.route_muted(&[], &[], jan), None);
        assert_eq!(
            ti.route_muted(&names(&["feb", "jan"]), &[], jan),
            Some((TimeMute::MuteTimeInterval, names(&["jan", "jan"])))
        );
        assert_eq!(ti.route_muted(&names(&["jan"]), &[], mar), None);
        assert_eq!(ti.route_muted(&[], &names(&["jan"]), jan), None);
        assert_eq!(
            ti.route_muted(&[], &names(&["jan", "feb"]), mar),
            Some((TimeMute::ActiveTimeInterval, names(&["jan", "feb"])))
        );
        // Active, then muted: the mute intervals decide.
        assert_eq!(
            ti.route_muted(&names(&["jan"]), &names(&["jan"]), jan),
            Some((TimeMute::MuteTimeInterval, names(&["jan", "jan"])))
        );
        assert_eq!(
            TimeMute::ActiveTimeInterval.reason(),
            "active_time_interval"
        );
    }
}
