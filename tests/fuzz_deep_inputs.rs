//! Generated deep and long inputs (issue 10, item 7), the proptest side of
//! `fuzz/`: well-formed PromQL, templates, configuration and rule files with
//! deep nesting and long chains, through the entry points the server uses,
//! on a thread with a tokio worker's 2 MiB stack and a deadline.
//!
//! The generators produce valid input only, so each case asserts a result,
//! not just the absence of a panic: PromQL parses, formats to a fixpoint and
//! evaluates; templates parse and execute; configs and rule files load with
//! every job, route and rule counted.
//!
//! Depths: the generated nesting and chains stay within the PromQL limits
//! (depth 512, length 128 KiB, `promql::limits`) and the template limit (100
//! levels), so every case must parse and evaluate; deeper or longer input is
//! refused by the limits (unit tests in `promql::limits`, the `regression-*`
//! fuzz seeds in `tests/e2e_fuzz.rs`).

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use std::sync::mpsc;
use std::time::Duration;
use watchfire::model::Labels;
use watchfire::promql::{format_query, parse, Engine, EngineOptions, Value, MAX_QUERY_BYTES};
use watchfire::store::{Store, StoreOptions};
use watchfire::template::{Data, QuerySample, RuleData, Template};

/// Deepest generated nesting of PromQL wrappers (parentheses, functions,
/// aggregations, subqueries) and template blocks: under the template limit
/// of 100 levels. With [`MAX_CHAIN`] terms each this deep, the longest
/// wrappers take the query text past the PromQL length limit of 128 KiB,
/// where the property is a clean refusal instead.
const MAX_NEST: usize = 60;

/// Longest generated chain (`a + b + …` terms, template pipeline stages,
/// sequence and mapping entries).
const MAX_CHAIN: usize = 60;

/// Deepest generated YAML nesting in configuration files, under the YAML
/// nesting limit of 64 (`config::yaml_options`).
const MAX_YAML_NEST: usize = 30;

/// Runs `f` on a thread with a tokio worker's stack and fails the test if it
/// panics, overflows (the test process dies) or takes longer than 20 s.
fn on_server_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn");
    rx.recv_timeout(Duration::from_secs(20))
        .expect("did not finish within 20 s, or panicked")
}

fn store() -> Store {
    let s = Store::new(StoreOptions { retention_ms: None });
    for module in ["a", "b"] {
        for le in ["0.1", "1", "+Inf"] {
            let labels =
                Labels::from_pairs([("__name__", "req_bucket"), ("module", module), ("le", le)]);
            let (series, _) = s.get_or_create(labels);
            for t in 0..20i64 {
                s.append(&series, t * 15_000, t as f64).expect("append");
            }
        }
    }
    s
}

fn engine() -> Engine {
    Engine::new(EngineOptions {
        timeout: Duration::from_secs(5),
        max_samples: 1_000_000,
        ..Default::default()
    })
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })
}

// ---------------------------------------------------------------- PromQL

/// Wrappers that keep an instant vector an instant vector.
const VECTOR_WRAPPERS: &[(&str, &str)] = &[
    ("(", ")"),
    ("-", ""),
    ("abs(", ")"),
    ("sum by (module, le) (", ")"),
    ("max(", ")"),
    ("topk(2, ", ")"),
    ("clamp_min(", ", 0)"),
    ("label_replace(", ", \"x\", \"$1\", \"module\", \"(.*)\")"),
    ("max_over_time((", ")[1m:15s])"),
    ("last_over_time((", ")[1m:15s] offset 15s)"),
    ("1 * (", ")"),
    ("sort(", ")"),
];

const VECTOR_OPS: &[&str] = &["+", "-", "*", "/", "and", "or", "unless", "> bool"];

/// A typed, valid instant-vector expression tree of small depth.
fn vector_tree() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("req_bucket".to_string()),
        Just("req_bucket{module=\"a\"}".to_string()),
        Just("rate(req_bucket[1m])".to_string()),
        Just("vector(1)".to_string()),
        Just("histogram_quantile(0.9, req_bucket)".to_string()),
    ];
    leaf.prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            (0..VECTOR_WRAPPERS.len(), inner.clone())
                .prop_map(|(w, e)| format!("{}{e}{}", VECTOR_WRAPPERS[w].0, VECTOR_WRAPPERS[w].1)),
            (inner.clone(), 0..VECTOR_OPS.len(), inner.clone())
                .prop_map(|(l, op, r)| format!("({l}) {} ({r})", VECTOR_OPS[op])),
            (inner, -3i32..3).prop_map(|(e, k)| format!("{e} * {k}")),
        ]
    })
}

/// A vector expression wrapped `depth` times in one wrapper, then chained
/// `len` times with one operator: the shapes that overflowed the server.
fn deep_vector() -> impl Strategy<Value = String> {
    (
        vector_tree(),
        0..VECTOR_WRAPPERS.len(),
        0..=MAX_NEST,
        0..VECTOR_OPS.len(),
        1..=MAX_CHAIN,
    )
        .prop_map(|(tree, w, depth, op, len)| {
            let (pre, post) = VECTOR_WRAPPERS[w];
            let deep = format!("{}{tree}{}", pre.repeat(depth), post.repeat(depth));
            vec![format!("({deep})"); len].join(&format!(" {} ", VECTOR_OPS[op]))
        })
}

#[test]
fn promql_deep_and_long_expressions_parse_format_and_evaluate() {
    let store = std::sync::Arc::new(store());
    runner(24)
        .run(&deep_vector(), |query| {
            let store = store.clone();
            let q = query.clone();
            let outcome = on_server_stack(move || {
                let significant = q.bytes().filter(|b| !b.is_ascii_whitespace()).count();
                if significant > MAX_QUERY_BYTES {
                    return match parse(&q) {
                        Err(e) if e.to_string().contains("query too long") => Ok(()),
                        other => Err(format!("over the length limit, not refused: {other:?}")),
                    };
                }
                let expr = parse(&q).map_err(|e| format!("does not parse: {e}"))?;
                let formatted = format_query(&expr);
                let again = parse(&formatted)
                    .map_err(|e| format!("formatted {formatted:?} does not parse: {e}"))?;
                if format_query(&again) != formatted {
                    return Err(format!("format is not a fixpoint: {formatted:?}"));
                }
                let result = engine()
                    .instant_query(&store, &expr, 285_000)
                    .map_err(|e| format!("instant query failed: {e}"))?;
                if !matches!(result.value, Value::Vector(_)) {
                    return Err(format!("not a vector: {:?}", result.value));
                }
                engine()
                    .range_query(&store, &expr, 60_000, 285_000, 15_000)
                    .map_err(|e| format!("range query failed: {e}"))?;
                Ok(())
            });
            prop_assert!(outcome.is_ok(), "{} in {query}", outcome.unwrap_err());
            Ok(())
        })
        .unwrap();
}

// ------------------------------------------------------------- templates

/// A valid template: text, actions, nested `if`/`with`/`range`, pipelines
/// with parenthesised arguments, and `query` calls over generated PromQL.
fn template_tree() -> impl Strategy<Value = String> {
    let pipe = prop_oneof![
        Just("$value".to_string()),
        Just("$labels.job".to_string()),
        Just("humanize $value".to_string()),
        (1..=MAX_NEST).prop_map(|n| format!(
            "printf \"%v\" {}$value{}",
            "(".repeat(n),
            ")".repeat(n)
        )),
        (1..=MAX_CHAIN).prop_map(|n| format!("$labels.job{}", " | printf \"%s\"".repeat(n))),
        (1..=MAX_CHAIN)
            .prop_map(|n| format!("$value{}", " | humanize | printf \"%s\" | len".repeat(n))),
    ];
    let leaf = prop_oneof![
        Just("text ".to_string()),
        pipe.clone().prop_map(|p| format!("{{{{ {p} }}}}")),
        vector_tree()
            .prop_map(|q| format!("{{{{ range query {q:?} }}}}{{{{ .Value }}}} {{{{ end }}}}")),
        vector_tree()
            .prop_map(|q| format!("{{{{ with query {q:?} }}}}{{{{ len . }}}}{{{{ end }}}}")),
    ];
    leaf.prop_recursive(5, 32, 3, move |inner| {
        prop_oneof![
            (pipe.clone(), inner.clone(), inner.clone())
                .prop_map(|(p, a, b)| format!("{{{{ if {p} }}}}{a}{{{{ else }}}}{b}{{{{ end }}}}")),
            inner
                .clone()
                .prop_map(|a| format!("{{{{ with $labels }}}}{a}{{{{ end }}}}")),
            inner.clone().prop_map(|a| format!(
                "{{{{ range $k, $v := $labels }}}}{{{{ $k }}}}{a}{{{{ end }}}}"
            )),
            prop::collection::vec(inner, 1..4).prop_map(|v| v.concat()),
        ]
    })
}

/// A template tree inside `depth` nested blocks of one kind.
fn deep_template() -> impl Strategy<Value = String> {
    // `else if` nests an `if` inside the `else`: two levels per repetition.
    const BLOCKS: &[(&str, &str, usize)] = &[
        ("{{ if true }}", "{{ end }}", 1),
        ("{{ with $labels }}", "{{ end }}", 1),
        ("{{ range query \"vector(1)\" }}", "{{ end }}", 1),
        ("{{ if false }}{{ else if true }}", "{{ end }}", 2),
    ];
    // The tree inside holds up to 5 blocks and a pipeline of up to `MAX_NEST` parentheses;
    // the blocks around it take the rest of the parser's 100 levels, with a margin.
    const TEMPLATE_NESTING: usize = 100;
    let blocks = TEMPLATE_NESTING - MAX_NEST - 10;
    (template_tree(), 0..BLOCKS.len(), 0..=blocks).prop_map(|(t, b, depth)| {
        let (pre, post, levels) = BLOCKS[b];
        let n = depth / levels;
        format!("{}{t}{}", pre.repeat(n), post.repeat(n))
    })
}

#[test]
fn templates_with_deep_blocks_and_long_pipelines_parse_and_execute() {
    let store = std::sync::Arc::new(store());
    runner(24)
        .run(&deep_template(), |text| {
            let store = store.clone();
            let t = text.clone();
            let outcome = on_server_stack(move || {
                let template =
                    Template::parse("fuzz", &t).map_err(|e| format!("does not parse: {e}"))?;
                let rule = RuleData {
                    labels: Labels::from_pairs([("instance", "a:1"), ("job", "api")]),
                    value: 0.5,
                    ..RuleData::default()
                };
                let query = |q: &str| -> Result<Vec<QuerySample>, String> {
                    let expr = parse(q).map_err(|e| e.message)?;
                    match engine().instant_query(&store, &expr, 285_000) {
                        Ok(r) => match r.value {
                            Value::Vector(v) => Ok(v
                                .into_iter()
                                .map(|s| QuerySample {
                                    labels: s.labels,
                                    value: s.v,
                                })
                                .collect()),
                            other => Err(format!("not a vector: {other:?}")),
                        },
                        Err(e) => Err(e.to_string()),
                    }
                };
                let data = Data::rule(&rule).with_time_ms(285_000).with_query(&query);
                template
                    .execute(&data)
                    .map_err(|e| format!("does not execute: {e}"))
            });
            prop_assert!(outcome.is_ok(), "{} in {text}", outcome.unwrap_err());
            Ok(())
        })
        .unwrap();
}

// ------------------------------------------------ configs and rule files

/// A config with `jobs` scrape jobs of `targets` targets each, a route tree
/// `routes` levels deep, and `labels` external labels, in block or flow
/// style.
fn config_text(jobs: usize, targets: usize, routes: usize, labels: usize, flow: bool) -> String {
    let mut s = String::from("global:\n  scrape_interval: 15s\n  external_labels:\n");
    for i in 0..labels.max(1) {
        s.push_str(&format!("    l{i}: v{i}\n"));
    }
    s.push_str("scrape_configs:\n");
    for j in 0..jobs {
        let list: Vec<String> = (0..targets)
            .map(|t| format!("'10.0.{j}.{t}:9100'"))
            .collect();
        if flow {
            s.push_str(&format!(
                "  - {{job_name: j{j}, static_configs: [{{targets: [{}]}}]}}\n",
                list.join(", ")
            ));
        } else {
            s.push_str(&format!(
                "  - job_name: j{j}\n    static_configs:\n      - targets:\n"
            ));
            for t in &list {
                s.push_str(&format!("          - {t}\n"));
            }
        }
    }
    s.push_str("route:\n  receiver: r\n  routes: ");
    s.push_str(&"[{receiver: r, matchers: ['severity=\"x\"'], routes: ".repeat(routes));
    s.push_str("[]");
    s.push_str(&"}]".repeat(routes));
    s.push_str("\nreceivers:\n  - name: r\n");
    s
}

fn route_depth(r: &watchfire::config::RouteConfig) -> usize {
    r.routes
        .iter()
        .map(|c| 1 + route_depth(c))
        .max()
        .unwrap_or(0)
}

#[test]
fn configs_with_long_lists_and_deep_route_trees_load() {
    let shapes = (
        1..=MAX_CHAIN,
        1..=MAX_CHAIN,
        0..=MAX_YAML_NEST,
        1..=MAX_CHAIN,
        any::<bool>(),
    );
    runner(32)
        .run(&shapes, |(jobs, targets, routes, labels, flow)| {
            let text = config_text(jobs, targets, routes, labels, flow);
            let outcome = on_server_stack(move || {
                let env = |_: &str| None;
                let config = watchfire::config::parse_with_env(&text, "deep.yml", &env)
                    .map_err(|e| e.to_string())?;
                let route = config.route.as_ref().map(route_depth);
                Ok::<_, String>((
                    config.scrape_configs.len(),
                    config
                        .scrape_configs
                        .iter()
                        .map(|j| {
                            j.static_configs
                                .iter()
                                .map(|s| s.targets.len())
                                .sum::<usize>()
                        })
                        .max(),
                    route,
                    config.global.external_labels.len(),
                ))
            });
            prop_assert_eq!(
                outcome,
                Ok((jobs, Some(targets), Some(routes), labels)),
                "jobs={} targets={} routes={} labels={} flow={}",
                jobs,
                targets,
                routes,
                labels,
                flow
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn deeply_nested_yaml_where_a_list_belongs_is_a_positioned_error() {
    let shapes = (1..=MAX_YAML_NEST * 2, any::<bool>());
    runner(32)
        .run(&shapes, |(depth, in_rules)| {
            let value = format!("{}'x'{}", "[".repeat(depth + 1), "]".repeat(depth + 1));
            let outcome = on_server_stack(move || {
                if in_rules {
                    let text = format!("groups:\n  - name: g\n    rules: {value}\n");
                    let errors =
                        watchfire::rules::parse_rule_file("deep.yml", &text, Default::default())
                            .err()
                            .unwrap_or_default();
                    errors.iter().map(ToString::to_string).collect::<Vec<_>>()
                } else {
                    let text = format!("rule_files: {value}\n");
                    let env = |_: &str| None;
                    watchfire::config::parse_with_env(&text, "deep.yml", &env)
                        .err()
                        .map(|e| e.lines())
                        .unwrap_or_default()
                }
            });
            prop_assert!(
                !outcome.is_empty(),
                "nested lists were accepted (depth {})",
                depth
            );
            for line in &outcome {
                prop_assert!(
                    line.starts_with("deep.yml:"),
                    "error without position: {}",
                    line
                );
            }
            Ok(())
        })
        .unwrap();
}

/// A rule file of `groups` groups with `rules` rules each, every rule's
/// expression a generated deep vector expression and its annotation a
/// generated template.
fn rule_file() -> impl Strategy<Value = (String, usize)> {
    (1..=3usize, 1..=12usize, deep_vector(), template_tree()).prop_map(
        |(groups, rules, expr, template)| {
            let mut s = String::from("groups:\n");
            for g in 0..groups {
                s.push_str(&format!("  - name: g{g}\n    rules:\n"));
                for r in 0..rules {
                    s.push_str(&format!(
                        "      - alert: A{r}\n        expr: {expr:?}\n        for: 1m\n        \
                         annotations:\n          summary: {template:?}\n"
                    ));
                }
            }
            (s, groups * rules)
        },
    )
}

#[test]
fn rule_files_with_deep_expressions_and_many_rules_load() {
    runner(8)
        .run(&rule_file(), |(text, expected)| {
            let t = text.clone();
            let outcome = on_server_stack(move || {
                watchfire::rules::parse_rule_file("deep.yml", &t, Default::default())
                    .map(|f| f.rule_count())
                    .map_err(|errors| {
                        errors
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
            });
            prop_assert_eq!(outcome, Ok(expected), "{}", text);
            Ok(())
        })
        .unwrap();
}
