//! Expectations from Prometheus' `model/relabel/relabel_test.go` (3.x, UTF-8 label names) and
//! Go's `regexp.Expand` rules, written as our own cases.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// A spec from YAML-like fields; unset fields keep Prometheus' defaults.
fn spec(f: impl FnOnce(&mut RelabelSpec)) -> RelabelSpec {
    let mut s = RelabelSpec::default();
    f(&mut s);
    s
}

fn rule(f: impl FnOnce(&mut RelabelSpec)) -> RelabelConfig {
    RelabelConfig::new(spec(f)).unwrap_or_else(|e| panic!("{e}"))
}

fn src(names: &[&str]) -> Option<Vec<String>> {
    Some(names.iter().map(|n| (*n).to_owned()).collect())
}

fn run(input: &[(&str, &str)], rules: &[RelabelConfig]) -> Option<Labels> {
    process(labels(input), rules)
}

#[test]
fn replace_expands_groups_in_replacement() {
    let r = rule(|s| {
        s.source_labels = src(&["a"]);
        s.regex = Some("f(.*)".into());
        s.target_label = "d".into();
        s.replacement = "ch${1}-ch${1}".into();
    });
    let out = run(&[("a", "foo"), ("b", "bar"), ("c", "baz")], &[r]);
    assert_eq!(
        out,
        Some(labels(&[
            ("a", "foo"),
            ("b", "bar"),
            ("c", "baz"),
            ("d", "choo-choo")
        ]))
    );
}

#[test]
fn replace_chains_and_joins_with_the_separator() {
    let r1 = rule(|s| {
        s.source_labels = src(&["a", "b"]);
        s.regex = Some("f(.*);(.*)r".into());
        s.target_label = "a".into();
        s.replacement = "b${1}${2}m".into();
    });
    let r2 = rule(|s| {
        s.source_labels = src(&["c", "a"]);
        s.regex = Some("(b).*b(.*)ba(.*)".into());
        s.target_label = "d".into();
        s.replacement = "$1$2$2$3".into();
    });
    let out = run(&[("a", "foo"), ("b", "bar"), ("c", "baz")], &[r1, r2]);
    assert_eq!(
        out,
        Some(labels(&[
            ("a", "boobam"),
            ("b", "bar"),
            ("c", "baz"),
            ("d", "boooom")
        ]))
    );
}

#[test]
fn custom_separator_and_missing_source_label_is_empty() {
    let r = rule(|s| {
        s.source_labels = src(&["a", "missing", "b"]);
        s.separator = "|".into();
        s.target_label = "joined".into();
    });
    let out = run(&[("a", "1"), ("b", "2")], &[r]).unwrap();
    assert_eq!(out.get("joined"), Some("1||2"));
}

#[test]
fn drop_and_keep_match_the_whole_value() {
    let drop = |re: &str| {
        rule(|s| {
            s.source_labels = src(&["a"]);
            s.regex = Some(re.into());
            s.action = "drop".into();
        })
    };
    let keep = |re: &str| {
        rule(|s| {
            s.source_labels = src(&["a"]);
            s.regex = Some(re.into());
            s.action = "keep".into();
        })
    };
    let input = [("a", "foo"), ("b", "bar")];
    assert_eq!(run(&input, &[drop(".*o.*")]), None);
    assert!(run(&input, &[drop("no-match")]).is_some());
    // Anchored: "f|o" matches neither all of "foo" nor of any whole value.
    assert!(run(&input, &[drop("f|o")]).is_some());
    assert_eq!(run(&input, &[keep("no-match")]), None);
    assert_eq!(run(&input, &[keep("f.*")]), Some(labels(&input)));
    // A drop stops the chain: later rules do not run.
    let later = rule(|s| {
        s.source_labels = src(&["a"]);
        s.target_label = "d".into();
    });
    assert_eq!(run(&input, &[drop(".*o.*"), later]), None);
}

#[test]
fn replace_without_match_changes_nothing() {
    let r = rule(|s| {
        s.source_labels = src(&["a"]);
        s.regex = Some("f".into());
        s.target_label = "b".into();
        s.replacement = "bar".into();
    });
    assert_eq!(run(&[("a", "boo")], &[r]), Some(labels(&[("a", "boo")])));
}

#[test]
fn replace_group_inside_match() {
    let r = rule(|s| {
        s.source_labels = src(&["a"]);
        s.regex = Some(".*(b).*".into());
        s.target_label = "d".into();
    });
    assert_eq!(
        run(&[("a", "abc")], &[r]),
        Some(labels(&[("a", "abc"), ("d", "b")]))
    );
}

#[test]
fn replace_with_an_empty_result_deletes_the_target() {
    let r = rule(|s| {
        s.source_labels = src(&["nothing"]);
        s.target_label = "a".into();
    });
    assert_eq!(
        run(&[("a", "x"), ("b", "y")], &[r]),
        Some(labels(&[("b", "y")]))
    );
    // The fast path: empty value, default regex, literal replacement.
    let r = rule(|s| {
        s.target_label = "env".into();
        s.replacement = "prod".into();
    });
    assert_eq!(run(&[("b", "y")], &[r]).unwrap().get("env"), Some("prod"));
}

#[test]
fn hashmod_matches_prometheus() {
    let r = |from: &str, to: &str| {
        rule(|s| {
            s.source_labels = src(&[from]);
            s.target_label = to.into();
            s.action = "hashmod".into();
            s.modulus = 1000;
        })
    };
    let out = run(&[("a", "foo"), ("b", "bar"), ("c", "baz")], &[r("c", "d")]).unwrap();
    assert_eq!(out.get("d"), Some("976"));
    let out = run(&[("a", "foo\nbar")], &[r("a", "b")]).unwrap();
    assert_eq!(out.get("b"), Some("734"));
}

#[test]
fn labelmap_copies_matching_names() {
    let r = rule(|s| {
        s.regex = Some("(b.*)".into());
        s.replacement = "bar_${1}".into();
        s.action = "labelmap".into();
    });
    let out = run(&[("a", "foo"), ("b1", "bar"), ("b2", "baz")], &[r]);
    assert_eq!(
        out,
        Some(labels(&[
            ("a", "foo"),
            ("b1", "bar"),
            ("b2", "baz"),
            ("bar_b1", "bar"),
            ("bar_b2", "baz"),
        ]))
    );
    let r = rule(|s| {
        s.regex = Some("__meta_(my.*)".into());
        s.replacement = "${1}".into();
        s.action = "labelmap".into();
    });
    let input = [
        ("a", "foo"),
        ("__meta_my_bar", "aaa"),
        ("__meta_my_baz", "bbb"),
        ("__meta_other", "ccc"),
    ];
    let out = run(&input, &[r]).unwrap();
    assert_eq!(out.get("my_bar"), Some("aaa"));
    assert_eq!(out.get("my_baz"), Some("bbb"));
    assert_eq!(out.len(), 6);
}

#[test]
fn target_label_templates() {
    let r = |replacement: &str, target: &str, re: &str| {
        rule(|s| {
            s.source_labels = src(&["a"]);
            s.regex = Some(re.into());
            s.replacement = replacement.into();
            s.target_label = target.into();
        })
    };
    let re = "some-([^-]+)-([^,]+)";
    assert_eq!(
        run(&[("a", "some-name-value")], &[r("${2}", "${1}", re)]),
        Some(labels(&[("a", "some-name-value"), ("name", "value")]))
    );
    // An empty value deletes: nothing to delete here.
    assert_eq!(
        run(&[("a", "some-name-value")], &[r("${3}", "${1}", re)]),
        Some(labels(&[("a", "some-name-value")]))
    );
    // A target that expands to the empty name is skipped.
    let rules = [
        r("${1}", "${3}", re),
        r("${1}", "${3}", re),
        r("${1}", "${3}", "some-([^-]+)(-[^,]+)"),
    ];
    assert_eq!(
        run(&[("a", "some-name-0")], &rules),
        Some(labels(&[("a", "some-name-0")]))
    );
}

#[test]
fn real_life_sd_tags() {
    let r = |re: &str, replacement: &str, target: &str| {
        rule(|s| {
            s.source_labels = src(&["__meta_sd_tags"]);
            s.regex = Some(re.into());
            s.replacement = replacement.into();
            s.target_label = target.into();
        })
    };
    let rules = [
        r("(?:.+,|^)path:(/[^,]+).*", "${1}", "__metrics_path__"),
        r("(?:.+,|^)job:([^,]+).*", "${1}", "job"),
        r("(?:.+,|^)label:([^=]+)=([^,]+).*", "${2}", "${1}"),
    ];
    let tags = "path:/secret,job:some-job,label:foo=bar";
    assert_eq!(
        run(&[("__meta_sd_tags", tags)], &rules),
        Some(labels(&[
            ("__meta_sd_tags", tags),
            ("__metrics_path__", "/secret"),
            ("job", "some-job"),
            ("foo", "bar"),
        ]))
    );
}

#[test]
fn labeldrop_then_replace_then_keep() {
    // prometheus/prometheus#12283.
    let rules = [
        rule(|s| {
            s.regex = Some("^__meta_kubernetes_pod_container_port_name$".into());
            s.action = "labeldrop".into();
        }),
        rule(|s| {
            s.source_labels = src(&["__meta_kubernetes_pod_annotation_XXX_metrics_port"]);
            s.regex = Some("(.+)".into());
            s.replacement = "metrics".into();
            s.target_label = "__meta_kubernetes_pod_container_port_name".into();
        }),
        rule(|s| {
            s.source_labels = src(&["__meta_kubernetes_pod_container_port_name"]);
            s.regex = Some("^metrics$".into());
            s.action = "keep".into();
        }),
    ];
    let input = [
        ("__meta_kubernetes_pod_container_port_name", "foo"),
        ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
    ];
    let out = run(&input, &rules).unwrap();
    assert_eq!(
        out.get("__meta_kubernetes_pod_container_port_name"),
        Some("metrics")
    );
}

#[test]
fn labelkeep_and_labeldrop() {
    let r = |action: &str| {
        rule(|s| {
            s.regex = Some("(b.*)".into());
            s.action = action.into();
        })
    };
    let input = [("a", "foo"), ("b1", "bar"), ("b2", "baz")];
    assert_eq!(
        run(&input, &[r("labelkeep")]),
        Some(labels(&[("b1", "bar"), ("b2", "baz")]))
    );
    assert_eq!(
        run(&input, &[r("LabelDrop")]),
        Some(labels(&[("a", "foo")]))
    );
}

#[test]
fn lowercase_and_uppercase() {
    let r = |action: &str, target: &str| {
        rule(|s| {
            s.source_labels = src(&["foo"]);
            s.action = action.into();
            s.target_label = target.into();
        })
    };
    let out = run(
        &[("foo", "bAr123Foo")],
        &[
            r("uppercase", "foo_uppercase"),
            r("lowercase", "foo_lowercase"),
        ],
    );
    assert_eq!(
        out,
        Some(labels(&[
            ("foo", "bAr123Foo"),
            ("foo_lowercase", "bar123foo"),
            ("foo_uppercase", "BAR123FOO"),
        ]))
    );
}

#[test]
fn case_mapping_is_go_s_simple_mapping() {
    let r = |action: &str| {
        rule(|s| {
            s.source_labels = src(&["v"]);
            s.action = action.into();
            s.target_label = "out".into();
        })
    };
    let get = |action: &str, v: &str| {
        run(&[("v", v)], &[r(action)])
            .unwrap()
            .get("out")
            .map(str::to_owned)
    };
    assert_eq!(get("uppercase", "straße").as_deref(), Some("STRAßE"));
    assert_eq!(get("lowercase", "ΟΔΟΣ").as_deref(), Some("οδοσ"));
    assert_eq!(get("lowercase", "İx").as_deref(), Some("ix"));
}

#[test]
fn keepequal_and_dropequal() {
    let r = |action: &str, target: &str| {
        rule(|s| {
            s.source_labels = src(&["__tmp_port"]);
            s.action = action.into();
            s.target_label = target.into();
        })
    };
    let input = [
        ("__tmp_port", "1234"),
        ("__port1", "1234"),
        ("__port2", "5678"),
    ];
    assert!(run(&input, &[r("keepequal", "__port1")]).is_some());
    assert_eq!(run(&input, &[r("dropequal", "__port1")]), None);
    assert!(run(&input, &[r("dropequal", "__port2")]).is_some());
    assert_eq!(run(&input, &[r("keepequal", "__port2")]), None);
}

#[test]
fn go_expand_rules() {
    let r = |replacement: &str| {
        rule(|s| {
            s.source_labels = src(&["a"]);
            s.regex = Some("(?P<first>\\w+)-(\\w+)".into());
            s.replacement = replacement.into();
            s.target_label = "out".into();
        })
    };
    let get = |replacement: &str| {
        run(&[("a", "ab-cd")], &[r(replacement)])
            .unwrap()
            .get("out")
            .map(str::to_owned)
    };
    // `$1x` names group "1x", which does not exist: empty.
    assert_eq!(get("$1x"), None);
    assert_eq!(get("${1}x").as_deref(), Some("abx"));
    assert_eq!(get("$first/$2").as_deref(), Some("ab/cd"));
    assert_eq!(get("${first}").as_deref(), Some("ab"));
    assert_eq!(get("$$1").as_deref(), Some("$1"));
    // Malformed references stay literal.
    assert_eq!(get("${1").as_deref(), Some("${1"));
    assert_eq!(get("a$").as_deref(), Some("a$"));
    assert_eq!(get("$-").as_deref(), Some("$-"));
    // Out-of-range groups and leading zeros expand to nothing.
    assert_eq!(get("[$9]").as_deref(), Some("[]"));
    assert_eq!(get("[$01]").as_deref(), Some("[]"));
    assert_eq!(get("$0").as_deref(), Some("ab-cd"));
}

#[test]
fn re2_classes_are_ascii() {
    let keep = |re: &str| {
        rule(|s| {
            s.source_labels = src(&["a"]);
            s.regex = Some(re.into());
            s.action = "keep".into();
        })
    };
    let kept = |re: &str, value: &str| run(&[("a", value)], &[keep(re)]).is_some();
    assert!(kept(r"\d+", "123"));
    assert!(!kept(r"\d+", "١٢٣"), "Arabic digits are not \\d in RE2");
    assert!(!kept(r"\w+", "héllo"));
    assert!(kept(r"[\w.]+", "a.b_c"));
    assert!(!kept(r"[\w.]+", "é"));
    assert!(kept(r"\S+", "é"));
    assert!(kept(r"\Qa.b\E", "a.b"));
    assert!(!kept(r"\Qa.b\E", "axb"));
    assert!(kept(r"[[:alpha:]]+", "abc"));
    assert!(kept(r"[a&&b]+", "a&b"));
    assert!(kept(r"[]a]+", "]a"));
    assert!(kept(r"\<x\>", "<x>"));
    assert!(kept(r"\101", "A"));
    // No backreferences in RE2.
    let e = error(|s| {
        s.target_label = "a".into();
        s.regex = Some(r"(a)\1".into());
    });
    assert_eq!(e, r"error parsing regexp: invalid escape sequence: `\1`");
    assert!(kept(r".*\bfoo\b.*", "a foo b"));
    assert!(kept(r"(?i)FOO", "foo"));
    // Prometheus 3.x anchors with `(?s:…)`: `.` matches a newline.
    assert!(kept(r"a.b", "a\nb"));
}

#[test]
fn empty_rule_list_and_builder_variant() {
    let input = labels(&[("a", "1")]);
    assert_eq!(process(input.clone(), &[]), Some(input.clone()));
    let mut lb = LabelsBuilder::new(&input);
    let r = rule(|s| {
        s.source_labels = src(&["a"]);
        s.target_label = "b".into();
    });
    assert!(process_builder(&mut lb, &[r]));
    assert_eq!(lb.get("b"), Some("1"));
}

fn error(f: impl FnOnce(&mut RelabelSpec)) -> String {
    match RelabelConfig::new(spec(f)) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn validation_errors_as_prometheus_words_them() {
    assert_eq!(
        error(|s| s.action.clear()),
        "relabel action cannot be empty"
    );
    assert_eq!(
        error(|s| s.action = "rename".into()),
        r#"unknown relabel action "rename""#
    );
    assert_eq!(
        error(|_| {}),
        "relabel configuration for replace action requires 'target_label' value"
    );
    assert_eq!(
        error(|s| s.action = "lowercase".into()),
        "relabel configuration for lowercase action requires 'target_label' value"
    );
    assert_eq!(
        error(|s| {
            s.action = "hashmod".into();
            s.target_label = "x".into();
        }),
        "relabel configuration for hashmod requires non-zero modulus"
    );
    assert_eq!(
        error(|s| {
            s.action = "uppercase".into();
            s.target_label = "x".into();
            s.replacement = "y".into();
        }),
        "'replacement' can not be set for uppercase action"
    );
    assert_eq!(
        error(|s| {
            s.action = "labelmap".into();
            s.replacement = String::new();
        }),
        r#""" is invalid 'replacement' for labelmap action"#
    );
    assert_eq!(
        error(|s| {
            s.action = "keepequal".into();
            s.target_label = "x".into();
            s.regex = Some("(.*)".into());
        }),
        "keepequal action requires only 'source_labels' and `target_label`, and no other fields"
    );
    assert_eq!(
        error(|s| {
            s.action = "dropequal".into();
            s.target_label = "x".into();
            s.separator = ",".into();
        }),
        "dropequal action requires only 'source_labels' and `target_label`, and no other fields"
    );
    assert_eq!(
        error(|s| {
            s.action = "labeldrop".into();
            s.source_labels = src(&["a"]);
        }),
        "labeldrop action requires only 'regex', and no other fields"
    );
    assert_eq!(
        error(|s| {
            s.action = "labelkeep".into();
            s.target_label = "a".into();
        }),
        "labelkeep action requires only 'regex', and no other fields"
    );
    assert_eq!(
        error(|s| {
            s.source_labels = src(&[""]);
            s.target_label = "a".into();
        }),
        r#""" is not a valid label name"#
    );
    let bad_regex = error(|s| {
        s.target_label = "a".into();
        s.regex = Some("(abc".into());
    });
    assert!(
        bad_regex.starts_with("error parsing regexp: "),
        "{bad_regex}"
    );
    assert_eq!(
        bad_regex,
        "error parsing regexp: missing closing ): `^(?s:(abc)$`"
    );
    // UTF-8 names (the 3.x default): templates and unusual names are valid.
    for target in ["${3}", "0${3}", "-${3}", "foo bar"] {
        assert_eq!(
            error(|s| {
                s.target_label = target.into();
            }),
            "ok"
        );
    }
}

#[test]
fn hostile_regex_is_refused_not_grown() {
    let e = error(|s| {
        s.target_label = "a".into();
        s.regex = Some("((((a{100}){100}){100}){100})".into());
    });
    assert!(e.starts_with("error parsing regexp: "), "{e}");
}

#[test]
fn action_names() {
    for a in Action::ALL {
        assert_eq!(Action::parse(a.as_str()), Some(a));
        assert_eq!(Action::parse(&a.as_str().to_uppercase()), Some(a));
    }
    assert_eq!(Action::parse("nope"), None);
}
