//! Postings: label name → value → sorted series ids, and the plan that
//! turns a list of matchers into candidate ids with PromQL semantics.
//!
//! A matcher that does not match the empty string selects the union of the
//! lists of the values it matches; such lists are intersected. A matcher
//! that matches "" also keeps series lacking the label: `!=` subtracts one
//! list, the others are checked against each candidate's labels. With no
//! matcher of the first kind, every series is a candidate.

use crate::model::{Labels, MatchOp, Matcher};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Name → value → ids.
#[derive(Debug, Default)]
pub(crate) struct Postings {
    names: HashMap<Arc<str>, HashMap<Arc<str>, Vec<u64>>>,
}

/// Which series a selection starts from.
#[derive(Debug, PartialEq)]
pub(crate) enum Candidates {
    /// Every series.
    All,
    /// These ids, sorted.
    Ids(Vec<u64>),
}

/// Candidates plus the matchers still to check on each candidate's labels.
#[derive(Debug)]
pub(crate) struct Plan<'m> {
    pub(crate) candidates: Candidates,
    pub(crate) filters: Vec<&'m Matcher>,
}

impl Plan<'_> {
    /// Whether labels pass the remaining filters.
    pub(crate) fn keeps(&self, labels: &Labels) -> bool {
        self.filters
            .iter()
            .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
    }
}

impl Postings {
    /// Adds series `id` under each of its (interned) labels.
    pub(crate) fn add(&mut self, id: u64, labels: &Labels) {
        for l in labels {
            if !self.names.contains_key(&*l.name) {
                self.names.insert(l.name.clone(), HashMap::new());
            }
            let values = self.names.get_mut(&*l.name).expect("inserted above");
            if !values.contains_key(&*l.value) {
                values.insert(l.value.clone(), Vec::new());
            }
            let list = values.get_mut(&*l.value).expect("inserted above");
            match list.last() {
                Some(&last) if last >= id => {
                    if let Err(i) = list.binary_search(&id) {
                        list.insert(i, id);
                    }
                }
                _ => list.push(id),
            }
        }
    }

    /// Removes the given series (ids with their labels) in one pass per
    /// affected list; empty lists and names disappear.
    pub(crate) fn remove<'a>(&mut self, series: impl IntoIterator<Item = (u64, &'a Labels)>) {
        let mut ids = Vec::new();
        let mut affected: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (id, labels) in series {
            ids.push(id);
            for l in labels {
                affected.entry(&l.name).or_default().insert(&l.value);
            }
        }
        ids.sort_unstable();
        for (name, vals) in affected {
            let Some(values) = self.names.get_mut(name) else {
                continue;
            };
            for v in vals {
                let Some(list) = values.get_mut(v) else {
                    continue;
                };
                list.retain(|id| ids.binary_search(id).is_err());
                if list.is_empty() {
                    values.remove(v);
                } else if list.capacity() > 2 * list.len() + 16 {
                    list.shrink_to_fit();
                }
            }
            if values.is_empty() {
                self.names.remove(name);
            } else if values.capacity() > 4 * values.len().max(16) {
                values.shrink_to_fit();
            }
        }
    }

    fn list(&self, name: &str, value: &str) -> &[u64] {
        self.names
            .get(name)
            .and_then(|vals| vals.get(value))
            .map_or(&[], Vec::as_slice)
    }

    /// The lists of the values of label `name` that `m` matches (the
    /// caller knows `m` does not match ""); one list per value, disjoint.
    fn matching(&self, name: &str, m: &Matcher) -> Vec<&[u64]> {
        if let MatchOp::Equal(v) = &m.op {
            let l = self.list(name, v);
            return if l.is_empty() { Vec::new() } else { vec![l] };
        }
        let Some(values) = self.names.get(name) else {
            return Vec::new();
        };
        match (&m.op, literal_alternatives(m)) {
            (MatchOp::Re(_), Some(alts)) => alts
                .iter()
                .filter_map(|a| values.get(*a).map(Vec::as_slice))
                .collect(),
            _ => values
                .iter()
                .filter(|(v, _)| m.matches(v))
                .map(|(_, l)| l.as_slice())
                .collect(),
        }
    }

    /// Plans a selection. Matchers that match "" become a subtraction
    /// (`!=`) or label filters; the others are intersected smallest first,
    /// and a large union (`job=~".+"`) is never built when the candidates
    /// are already few: each of its lists is intersected with them instead.
    pub(crate) fn plan<'m>(&self, matchers: &'m [Matcher]) -> Plan<'m> {
        let mut positive: Vec<(usize, Vec<&[u64]>)> = Vec::new();
        let mut subtract: Vec<&[u64]> = Vec::new();
        let mut filters = Vec::new();
        for m in matchers {
            if m.matches_empty() {
                match &m.op {
                    MatchOp::NotEqual(v) => subtract.push(self.list(&m.name, v)),
                    _ => filters.push(m),
                }
                continue;
            }
            let lists = self.matching(&m.name, m);
            let total: usize = lists.iter().map(|l| l.len()).sum();
            if total == 0 {
                return Plan {
                    candidates: Candidates::Ids(Vec::new()),
                    filters: Vec::new(),
                };
            }
            positive.push((total, lists));
        }
        if positive.is_empty() {
            return Plan {
                candidates: Candidates::All,
                filters: matchers.iter().collect(),
            };
        }
        positive.sort_by_key(|(total, _)| *total);
        let mut rest = positive.into_iter();
        let mut ids = rest
            .next()
            .map(|(_, lists)| union(lists).into_owned())
            .unwrap_or_default();
        for (total, lists) in rest {
            if ids.is_empty() {
                break;
            }
            ids = if lists.len() > 1 && total > 8 * ids.len() {
                let mut out: Vec<u64> = lists.iter().flat_map(|l| intersect(&ids, l)).collect();
                out.sort_unstable();
                out
            } else {
                intersect(&ids, &union(lists))
            };
        }
        for l in subtract {
            if !l.is_empty() && !ids.is_empty() {
                ids = difference(&ids, l);
            }
        }
        Plan {
            candidates: Candidates::Ids(ids),
            filters,
        }
    }

    /// Every label name with at least one series, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.names.keys().map(|k| k.to_string()).collect();
        out.sort_unstable();
        out
    }

    /// Every value of label `name`, sorted.
    pub(crate) fn values(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .names
            .get(name)
            .map(|vals| vals.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        out.sort_unstable();
        out
    }

    /// Bytes of the maps and lists (strings are counted by the intern table).
    pub(crate) fn bytes(&self) -> usize {
        let key = std::mem::size_of::<Arc<str>>();
        let map = std::mem::size_of::<HashMap<Arc<str>, Vec<u64>>>();
        let vec = std::mem::size_of::<Vec<u64>>();
        self.names.capacity() * (key + map + 1)
            + self
                .names
                .values()
                .map(|vals| {
                    vals.capacity() * (key + vec + 1)
                        + vals.values().map(|l| l.capacity() * 8).sum::<usize>()
                })
                .sum::<usize>()
    }
}

/// The alternatives of a regex made only of literal text and `|`
/// (`a|b|c`), looked up directly instead of scanning every value.
fn literal_alternatives(m: &Matcher) -> Option<Vec<&str>> {
    const META: &[char] = &[
        '\\', '.', '+', '*', '?', '(', ')', '[', ']', '{', '}', '^', '$',
    ];
    let p = m.value();
    (!p.contains(META)).then(|| p.split('|').collect())
}

/// Union of disjoint or overlapping sorted lists.
fn union(lists: Vec<&[u64]>) -> Cow<'_, [u64]> {
    match lists.len() {
        0 => Cow::Borrowed(&[]),
        1 => Cow::Borrowed(lists[0]),
        _ => {
            let mut out: Vec<u64> = lists.concat();
            out.sort_unstable();
            out.dedup();
            Cow::Owned(out)
        }
    }
}

/// Sorted intersection; binary-searches the longer list when lengths differ a lot.
fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    if large.len() > 16 * small.len() {
        let mut rest = large;
        for &x in small {
            match rest.binary_search(&x) {
                Ok(i) => {
                    out.push(x);
                    rest = &rest[i + 1..];
                }
                Err(i) => rest = &rest[i..],
            }
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    while i < small.len() && j < large.len() {
        match small[i].cmp(&large[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(small[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Sorted `a` minus sorted `b`.
fn difference(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postings() -> Postings {
        let mut p = Postings::default();
        p.add(1, &Labels::from_pairs([("__name__", "a"), ("job", "x")]));
        p.add(2, &Labels::from_pairs([("__name__", "a"), ("job", "y")]));
        p.add(3, &Labels::from_pairs([("__name__", "a")]));
        p.add(4, &Labels::from_pairs([("__name__", "b"), ("job", "x")]));
        p
    }

    fn ids(p: &Postings, ms: &[Matcher]) -> Candidates {
        p.plan(ms).candidates
    }

    #[test]
    fn equal_intersects_and_missing_value_is_empty() {
        let p = postings();
        let a = Matcher::equal("__name__", "a");
        let x = Matcher::equal("job", "x");
        assert_eq!(ids(&p, &[a.clone(), x]), Candidates::Ids(vec![1]));
        assert_eq!(
            ids(&p, std::slice::from_ref(&a)),
            Candidates::Ids(vec![1, 2, 3])
        );
        let z = Matcher::equal("job", "z");
        assert_eq!(ids(&p, &[a, z]), Candidates::Ids(vec![]));
    }

    #[test]
    fn not_equal_keeps_series_without_the_label() {
        let p = postings();
        let ms = [
            Matcher::equal("__name__", "a"),
            Matcher::not_equal("job", "x"),
        ];
        let plan = p.plan(&ms);
        assert_eq!(plan.candidates, Candidates::Ids(vec![2, 3]));
        assert!(plan.filters.is_empty());
    }

    #[test]
    fn regexes_use_values_and_literal_alternatives() {
        let p = postings();
        let re = Matcher::regex("job", "x|y").unwrap();
        assert_eq!(literal_alternatives(&re), Some(vec!["x", "y"]));
        assert_eq!(ids(&p, &[re]), Candidates::Ids(vec![1, 2, 4]));
        let re = Matcher::regex("job", ".+").unwrap();
        assert_eq!(ids(&p, &[re]), Candidates::Ids(vec![1, 2, 4]));
        let nre = Matcher::not_regex("__name__", "a").unwrap();
        assert_eq!(ids(&p, &[nre]), Candidates::All);
        let nre = Matcher::not_regex("job", "").unwrap();
        assert_eq!(ids(&p, &[nre]), Candidates::Ids(vec![1, 2, 4]));
    }

    #[test]
    fn empty_matching_matchers_become_filters() {
        let p = postings();
        let ms = [Matcher::equal("__name__", "a"), Matcher::equal("job", "")];
        let plan = p.plan(&ms);
        assert_eq!(plan.candidates, Candidates::Ids(vec![1, 2, 3]));
        assert!(plan.keeps(&Labels::from_pairs([("__name__", "a")])));
        assert!(!plan.keeps(&Labels::from_pairs([("__name__", "a"), ("job", "x")])));
        let only = [Matcher::regex("job", "x|").unwrap()];
        let plan = p.plan(&only);
        assert_eq!(plan.candidates, Candidates::All);
        assert_eq!(plan.filters.len(), 1);
    }

    #[test]
    fn remove_drops_ids_and_empty_entries() {
        let mut p = postings();
        let l4 = Labels::from_pairs([("__name__", "b"), ("job", "x")]);
        let l2 = Labels::from_pairs([("__name__", "a"), ("job", "y")]);
        p.remove([(4, &l4), (2, &l2)]);
        assert_eq!(p.values("__name__"), vec!["a"]);
        assert_eq!(p.values("job"), vec!["x"]);
        assert_eq!(p.list("job", "x"), &[1]);
        assert_eq!(p.names(), vec!["__name__", "job"]);
        assert!(p.bytes() > 0);
    }

    #[test]
    fn big_unions_are_intersected_list_by_list() {
        let mut p = Postings::default();
        for id in 1..=1000u64 {
            let g = (id % 100).to_string();
            p.add(id, &Labels::from_pairs([("i", id.to_string()), ("g", g)]));
        }
        let ms = [Matcher::equal("g", "7"), Matcher::regex("i", ".+").unwrap()];
        let want: Vec<u64> = (0..10).map(|k| k * 100 + 7).collect();
        assert_eq!(ids(&p, &ms), Candidates::Ids(want));
        // Ids 7, 107, ..., 907 and 8, 108, ..., 908: only 107 and 108 start with 1.
        let ms = [
            Matcher::regex("g", "7|8").unwrap(),
            Matcher::regex("i", "1.*").unwrap(),
        ];
        assert_eq!(ids(&p, &ms), Candidates::Ids(vec![107, 108]));
    }

    #[test]
    fn set_operations() {
        let big: Vec<u64> = (0..1000).collect();
        assert_eq!(intersect(&[5, 500, 2000], &big), vec![5, 500]);
        assert_eq!(intersect(&[1, 3, 5], &[2, 3, 4, 5]), vec![3, 5]);
        assert_eq!(difference(&[1, 2, 3, 4], &[2, 4, 9]), vec![1, 3]);
        assert_eq!(&*union(vec![&[1, 4], &[2, 3], &[4]]), &[1, 2, 3, 4]);
    }

    #[test]
    fn out_of_order_ids_are_inserted_sorted() {
        let mut p = Postings::default();
        let l = Labels::from_pairs([("a", "1")]);
        for id in [5, 3, 9, 3, 7] {
            p.add(id, &l);
        }
        assert_eq!(p.list("a", "1"), &[3, 5, 7, 9]);
    }
}
