//! `time()` and the calendar functions (`year`, `month`, `day_of_month`,
//! `day_of_week`, `day_of_year`, `days_in_month`, `hour`, `minute`), in UTC.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use super::super::eval::{Evaluator, Key, Out};
use super::super::plan::Node;
use super::super::types::Val;
use super::super::EvalError;
use crate::model::Labels;

/// A calendar function of a UTC time.
pub(crate) type DateFn = fn(&DateTime<Utc>) -> f64;

fn days_in_month(t: &DateTime<Utc>) -> f64 {
    let (y, m) = (t.year(), t.month());
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    match (
        NaiveDate::from_ymd_opt(y, m, 1),
        NaiveDate::from_ymd_opt(ny, nm, 1),
    ) {
        (Some(a), Some(b)) => (b - a).num_days() as f64,
        _ => f64::NAN,
    }
}

/// The calendar function called `name`, or `time` (None inside).
pub(crate) fn lookup(name: &str) -> Option<Option<DateFn>> {
    Some(Some(match name {
        "time" => return Some(None),
        "year" => |t| f64::from(t.year()),
        "month" => |t| f64::from(t.month()),
        "day_of_month" => |t| f64::from(t.day()),
        "day_of_week" => |t| f64::from(t.weekday().num_days_from_sunday()),
        "day_of_year" => |t| f64::from(t.ordinal()),
        "hour" => |t| f64::from(t.hour()),
        "minute" => |t| f64::from(t.minute()),
        "days_in_month" => days_in_month,
        _ => return None,
    }))
}

fn at(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// Go's float-to-int64 conversion (saturating; NaN as the minimum).
fn to_i64(f: f64) -> i64 {
    if f.is_nan() {
        i64::MIN
    } else {
        f as i64
    }
}

/// Evaluates `time()` or a calendar function.
pub(crate) fn eval(ev: &Evaluator<'_>, f: Option<DateFn>, args: &[Node]) -> Result<Val, EvalError> {
    let inputs = args
        .iter()
        .map(|a| ev.eval(a).map(Val::into_matrix))
        .collect::<Result<Vec<_>, _>>()?;
    let mut table = vec![Labels::empty()];
    let no_args = inputs.is_empty();
    ev.range_eval(inputs, &mut table, |st, _, out| {
        let Some(f) = f else {
            out.push(Out {
                key: Key::Table(0),
                v: st.ts as f64 / 1000.0,
                drop_name: false,
            });
            return Ok(());
        };
        if no_args {
            let v = at(st.ts / 1000).map_or(f64::NAN, |t| f(&t));
            out.push(Out {
                key: Key::Table(0),
                v,
                drop_name: false,
            });
            return Ok(());
        }
        for x in &st.vecs[0] {
            let v = at(to_i64(x.v)).map_or(f64::NAN, |t| f(&t));
            out.push(Out {
                key: Key::Arg(0, x.idx),
                v,
                drop_name: true,
            });
        }
        Ok(())
    })
    .map(Val::Matrix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_values() {
        let t = at(1_136_239_445).unwrap(); // 2006-01-02T22:04:05Z, a Monday
        assert_eq!((lookup("year").unwrap().unwrap())(&t), 2006.0);
        assert_eq!((lookup("day_of_week").unwrap().unwrap())(&t), 1.0);
        assert_eq!((lookup("hour").unwrap().unwrap())(&t), 22.0);
        assert_eq!(days_in_month(&at(1_454_284_800).unwrap()), 29.0);
    }
}
