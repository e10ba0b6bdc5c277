//! Quantiles: of a set of values (`quantile`, `quantile_over_time`) and of
//! classic `le` bucket histograms (`histogram_quantile`,
//! `histogram_fraction`), following Prometheus' promql/quantile.go.

/// One classic histogram bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub upper: f64,
    pub count: f64,
}

/// The φ-quantile of `values` (sorted in place), NaN for none.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

fn sort_buckets(b: &mut [Bucket]) {
    b.sort_by(|x, y| {
        x.upper
            .partial_cmp(&y.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

fn coalesce(b: &mut Vec<Bucket>) {
    let mut out: Vec<Bucket> = Vec::with_capacity(b.len());
    for x in b.iter() {
        match out.last_mut() {
            Some(last) if last.upper == x.upper => last.count += x.count,
            _ => out.push(*x),
        }
    }
    *b = out;
}

/// Go's `almost.Equal`.
pub(crate) fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = 2.2250738585072014e-308;
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Monotonicity repair: returns whether counts had to be forced upward.
fn ensure_monotonic(b: &mut [Bucket]) -> bool {
    let mut forced = false;
    let Some(first) = b.first() else {
        return false;
    };
    let mut prev = first.count;
    for x in b.iter_mut().skip(1) {
        let curr = x.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, 1e-12) {
            x.count = prev;
            continue;
        }
        if curr < prev {
            x.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// The φ-quantile of classic buckets; the flag says monotonicity was forced.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    sort_buckets(buckets);
    if !buckets.last().is_some_and(|b| b.upper == f64::INFINITY) {
        return (f64::NAN, false);
    }
    coalesce(buckets);
    let forced = ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let n = buckets.len() - 1;
    let b = buckets[..n].partition_point(|x| x.count < rank);
    let v = if b == n {
        buckets[n - 1].upper
    } else if b == 0 && buckets[0].upper <= 0.0 {
        buckets[0].upper
    } else {
        let mut start = 0.0;
        let end = buckets[b].upper;
        let mut count = buckets[b].count;
        if b > 0 {
            start = buckets[b - 1].upper;
            count -= buckets[b - 1].count;
            rank -= buckets[b - 1].count;
        }
        start + (end - start) * (rank / count)
    };
    (v, forced)
}

/// The fraction of observations between `lower` and `upper` in classic buckets.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    sort_buckets(buckets);
    if !buckets.last().is_some_and(|b| b.upper == f64::INFINITY) {
        return f64::NAN;
    }
    coalesce(buckets);
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].upper <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, b) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].upper;
        }
        let upper_bound = b.upper;
        let interp = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                return b.count;
            }
            rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(0.5, &mut v), 2.5);
        assert_eq!(quantile(1.5, &mut v), f64::INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
    }

    #[test]
    fn bucket_quantile_basic_and_monotonic_fix() {
        let mut b = vec![
            Bucket {
                upper: 1.0,
                count: 10.0,
            },
            Bucket {
                upper: 2.0,
                count: 20.0,
            },
            Bucket {
                upper: f64::INFINITY,
                count: 20.0,
            },
        ];
        assert_eq!(bucket_quantile(0.5, &mut b), (1.0, false));
        let mut b = vec![
            Bucket {
                upper: 1.0,
                count: 10.0,
            },
            Bucket {
                upper: 2.0,
                count: 5.0,
            },
            Bucket {
                upper: f64::INFINITY,
                count: 10.0,
            },
        ];
        assert!(bucket_quantile(0.5, &mut b).1);
    }

    #[test]
    fn fraction_of_buckets() {
        let mut b = vec![
            Bucket {
                upper: 1.0,
                count: 10.0,
            },
            Bucket {
                upper: 2.0,
                count: 20.0,
            },
            Bucket {
                upper: f64::INFINITY,
                count: 20.0,
            },
        ];
        assert_eq!(bucket_fraction(0.0, 1.0, &mut b), 0.5);
    }
}
