//! `watchfire check rules` over the rulefmt conformance corpus: every
//! `*.bad.yaml` is refused, every other file is accepted. Files named
//! `legacy_*` are checked with legacy name validation, as upstream does.

use std::path::PathBuf;
use watchfire::rules::check::{check_rule_files, CheckOptions};
use watchfire::rules::{LoadOptions, NameValidation};

fn corpus(sub: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/rules"
    ))
    .join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: conformance folder {} is absent", dir.display());
        None
    }
}

fn yaml_files(dir: &PathBuf) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

fn opts_for(name: &str) -> CheckOptions {
    let name_validation = if name.starts_with("legacy_") {
        NameValidation::Legacy
    } else {
        NameValidation::Utf8
    };
    CheckOptions {
        load: LoadOptions {
            name_validation,
            ignore_unknown_fields: false,
        },
        ..Default::default()
    }
}

#[test]
fn rulefmt_corpus_good_and_bad() {
    let Some(dir) = corpus("rulefmt") else { return };
    let files = yaml_files(&dir);
    assert!(files.len() >= 10, "corpus unexpectedly small");
    let mut failures = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let res = check_rule_files(&[&f], opts_for(&name)).remove(0);
        let bad = name.ends_with(".bad.yaml");
        match (&res.result, bad) {
            (Ok(_), true) => failures.push(format!("{name}: accepted but is bad")),
            (Err(errs), false) => failures.push(format!("{name}: refused: {errs:?}")),
            (Err(errs), true) => {
                for e in errs {
                    assert!(e.to_string().starts_with(&res.path), "{e}");
                }
            }
            (Ok(_), false) => {}
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn bad_files_report_upstream_messages() {
    let Some(dir) = corpus("rulefmt") else { return };
    let cases = [
        ("duplicate_grp.bad.yaml", "groupname: \"yolo\" is repeated in the same file"),
        ("bad_expr.bad.yaml", "could not parse expression"),
        ("record_and_alert.bad.yaml", "only one of 'record' and 'alert' must be set"),
        ("no_rec_alert.bad.yaml", "one of 'record' or 'alert' must be set"),
        ("noexpr.bad.yaml", "field 'expr' must be set in rule"),
        (
            "invalid_record_name.bad.yaml",
            "braces present in the recording rule name; should it be in expr?: strawberry{flavor=\"sweet\"}",
        ),
        ("bad_field.bad.yaml", "field annotation not found"),
        ("invalid_label_name.bad.yaml", "invalid label name"),
        ("record_and_for.bad.yaml", "invalid field 'for' in recording rule"),
        ("record_and_keep_firing_for.bad.yaml", "invalid field 'keep_firing_for' in recording rule"),
        ("legacy_validation_annotation.bad.yaml", "invalid annotation name: ins-tance"),
    ];
    for (file, want) in cases {
        let res = check_rule_files(&[dir.join(file)], opts_for(file)).remove(0);
        let errs = res.result.expect_err(file);
        assert!(
            errs.iter().any(|e| e.to_string().contains(want)),
            "{file}: no error containing {want:?} in {errs:?}"
        );
        assert!(
            errs.iter().all(|e| e.pos.is_some_and(|p| p.line > 0)),
            "{file}: {errs:?}"
        );
    }
}

#[test]
fn fixtures_and_promtool_rule_files_load() {
    let Some(fixtures) = corpus("fixtures") else {
        return;
    };
    for f in yaml_files(&fixtures) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let res = check_rule_files(&[&f], opts_for(&name)).remove(0);
        assert_eq!(
            res.result.is_ok(),
            name != "invalid_rules.yaml",
            "{name}: {:?}",
            res.result.err()
        );
    }
    let Some(promtool) = corpus("promtool") else {
        return;
    };
    for (name, ok) in [
        ("rules.yml", true),
        ("rules-bad.yml", false),
        ("rules_duplicates.yml", true),
        ("prometheus-config.rules.good.yml", true),
        ("bad-rules-syntax.yml", false),
        ("rules_extrafields.yml", false),
    ] {
        let res = check_rule_files(&[promtool.join(name)], opts_for(name)).remove(0);
        assert_eq!(res.result.is_ok(), ok, "{name}: {:?}", res.result.err());
    }
}

#[test]
fn duplicate_rule_lint_reports_once() {
    let Some(promtool) = corpus("promtool") else {
        return;
    };
    let opts = CheckOptions {
        lint_duplicates: true,
        ..Default::default()
    };
    let res = check_rule_files(&[promtool.join("rules_duplicates.yml")], opts).remove(0);
    assert_eq!(res.duplicates.len(), 1, "{:?}", res.duplicates);
    assert_eq!(res.duplicates[0].0, "job:test:count_over_time1m");
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = watchfire::rules::check::check_rules_command(
        &[promtool.join("prometheus-rules.lint.yml")],
        CheckOptions {
            lint_duplicates: true,
            lint_fatal: true,
            ..Default::default()
        },
        &mut out,
        &mut err,
    )
    .unwrap();
    assert_eq!(code, 3, "{}", String::from_utf8_lossy(&err));
}
