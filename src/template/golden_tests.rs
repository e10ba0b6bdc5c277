//! Golden cases: expected outputs are those of Prometheus'
//! `template/template_test.go` (same inputs, same evaluation time and external
//! URL) and of Go's `text/template` for the language itself.

use super::*;
use crate::model::Labels;

/// Prometheus' test evaluation time and external URL.
pub(super) const NOW_MS: i64 = 1353755652000;
pub(super) const EXT_URL: &str = "http://testhost:9090/path/prefix";

pub(super) fn floats(v: &[f64]) -> TValue {
    TValue::list(ListKind::Any, v.iter().map(|f| TValue::Float(*f)).collect())
}

pub(super) fn strs(v: &[&str]) -> TValue {
    TValue::list(ListKind::Any, v.iter().map(TValue::str).collect())
}

pub(super) fn ints(v: &[i64]) -> TValue {
    TValue::list(ListKind::Any, v.iter().map(|i| TValue::Int(*i)).collect())
}

pub(super) fn sample(pairs: &[(&str, &str)], value: f64) -> QuerySample {
    QuerySample {
        labels: Labels::from_pairs(pairs.iter().copied()),
        value,
    }
}

pub(super) fn run(
    text: &str,
    dot: TValue,
    result: &[QuerySample],
    html: bool,
) -> Result<String, TemplateError> {
    let mut t = Template::parse("test", text)?;
    if html {
        t = t.with_html_escaping();
    }
    let result = result.to_vec();
    let query = move |_: &str| Ok(result.clone());
    let data = Data::new(dot)
        .with_time_ms(NOW_MS)
        .with_external_url(EXT_URL)
        .with_query(&query);
    t.execute(&data)
}

pub(super) fn expand(text: &str, dot: TValue) -> String {
    run(text, dot, &[], false).unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub(super) fn expand_query(text: &str, result: &[QuerySample]) -> String {
    run(text, TValue::Null, result, false).unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub(super) fn exec_error(
    text: &str,
    dot: TValue,
    result: &[QuerySample],
) -> (usize, usize, String, String) {
    match run(text, dot, result, false) {
        Err(TemplateError::Exec {
            line,
            column,
            context,
            message,
            ..
        }) => (line, column, context, message),
        other => panic!("{text}: expected an execution error, got {other:?}"),
    }
}

#[test]
fn prometheus_basics() {
    assert_eq!(expand("plain text", TValue::Null), "plain text");
    assert_eq!(expand("{{ 1 }}", TValue::Null), "1");
    assert_eq!(
        run("{{ \"<b>\" }}", TValue::Null, &[], true).unwrap(),
        "&lt;b&gt;"
    );
    assert_eq!(
        run("{{ \"<b>\" | safeHtml }}", TValue::Null, &[], true).unwrap(),
        "<b>"
    );
    assert_eq!(expand("{{ \"<b>\" }}", TValue::Null), "<b>");
    let args = "{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}";
    assert_eq!(expand(args, TValue::Null), "1 2");
    assert_eq!(expand("{{ .Foo }}", TValue::Null), "<no value>");
    assert_eq!(run("{{ .Foo }}", TValue::Null, &[], true).unwrap(), "");
    assert_eq!(
        expand("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", TValue::Null),
        "xa"
    );
    assert_eq!(
        expand("{{ \"aa bb CC\" | title }}", TValue::Null),
        "Aa Bb CC"
    );
    assert_eq!(
        expand("{{ \"aa bb CC\" | toUpper }}", TValue::Null),
        "AA BB CC"
    );
    assert_eq!(
        expand("{{ \"aA bB CC\" | toLower }}", TValue::Null),
        "aa bb cc"
    );
    assert_eq!(
        expand(
            "{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}",
            TValue::Null
        ),
        "true false"
    );
    assert_eq!(
        expand("{{ graphLink \"up\" }}", TValue::Null),
        "/graph?g0.expr=up&g0.tab=0"
    );
    assert_eq!(
        expand("{{ tableLink \"up\" }}", TValue::Null),
        "/graph?g0.expr=up&g0.tab=1"
    );
    assert_eq!(expand("{{ pathPrefix }}", TValue::Null), "/path/prefix");
    assert_eq!(
        expand("{{ externalURL }}", TValue::Null),
        "http://testhost:9090/path/prefix"
    );
    assert_eq!(
        expand(
            "{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}",
            TValue::Null
        ),
        "3720.01"
    );
    assert_eq!(
        expand(
            "{{ printf \"%0.2f\" (parseDuration \"-1h2m10ms\") }}",
            TValue::Null
        ),
        "-3720.01"
    );
    assert_eq!(
        expand("{{ urlQueryEscape \"a b&c\" }}", TValue::Null),
        "a+b%26c"
    );
}

#[test]
fn prometheus_queries() {
    assert_eq!(
        expand_query("{{ query \"1.5\" | first | value }}", &[sample(&[], 1.5)]),
        "1.5"
    );
    let a = [sample(&[("__name__", "metric"), ("instance", "a")], 11.0)];
    assert_eq!(
        expand_query("{{ query \"metric{instance='a'}\" | first | value }}", &a),
        "11"
    );
    assert_eq!(
        expand_query(
            "{{ query \"metric{instance='a'}\" | first | label \"instance\" }}",
            &a
        ),
        "a"
    );
    assert_eq!(
        expand_query(
            "{{ query \"metric{instance='a'}\" | first | label \"foo\" }}",
            &a
        ),
        ""
    );
    assert_eq!(
        expand_query(
            "{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}",
            &a
        ),
        ""
    );
    let html = run(
        "{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}",
        TValue::Null,
        &a,
        true,
    );
    assert_eq!(html.unwrap(), "");
    let v = [sample(&[("__name__", "metric"), ("__value__", "a")], 11.0)];
    assert_eq!(
        expand_query(
            "{{ query \"metric{__value__='a'}\" | first | strvalue }}",
            &v
        ),
        "a"
    );
    let two = [
        sample(&[("__name__", "metric"), ("instance", "b")], 21.0),
        sample(&[("__name__", "metric"), ("instance", "a")], 11.0),
    ];
    let text = "{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}";
    assert_eq!(expand_query(text, &two), "a:11: b:21: ");
}

#[test]
fn prometheus_host_functions() {
    let cases = [
        ("foo.example.com", "foo.example.com", "foo"),
        ("foo.example.com:12345", "foo.example.com", "foo:12345"),
        ("192.0.2.1", "192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:12345", "192.0.2.1", "192.0.2.1:12345"),
        ("2001:0DB8::1", "2001:0DB8::1", "2001:0DB8::1"),
        (
            "[2001:0DB8::1]:12345",
            "2001:0DB8::1",
            "[2001:0DB8::1]:12345",
        ),
        (
            "[2001:0DB8::1]::12345",
            "[2001:0DB8::1]::12345",
            "[2001:0DB8::1]::12345",
        ),
    ];
    for (input, port, domain) in cases {
        assert_eq!(
            expand(&format!("{{{{ {input:?} | stripPort }}}}"), TValue::Null),
            port
        );
        assert_eq!(
            expand(&format!("{{{{ {input:?} | stripDomain }}}}"), TValue::Null),
            domain
        );
    }
}

#[test]
fn prometheus_humanize() {
    let each = |f: &str| format!("{{{{ range . }}}}{{{{ {f} . }}}}:{{{{ end }}}}");
    assert_eq!(
        expand(&each("humanize"), floats(&[0.0, 1.0, 1234567.0, 0.12])),
        "0:1:1.235M:120m:"
    );
    assert_eq!(
        expand(&each("humanize"), strs(&["0.0", "1.0", "1234567.0", ".12"])),
        "0:1:1.235M:120m:"
    );
    let big = ints(&[0, -1, 1, 1234567, i64::MAX]);
    assert_eq!(
        expand(&each("humanize"), big.clone()),
        "0:-1:1:1.235M:9.223E:"
    );
    assert_eq!(
        expand(&each("humanize1024"), floats(&[0.0, 1.0, 1048576.0, 0.12])),
        "0:1:1Mi:0.12:"
    );
    assert_eq!(
        expand(
            &each("humanize1024"),
            strs(&["0.0", "1.0", "1048576.0", ".12"])
        ),
        "0:1:1Mi:0.12:"
    );
    assert_eq!(
        expand(&each("humanize1024"), big.clone()),
        "0:-1:1:1.177Mi:8Ei:"
    );
    let durations = floats(&[
        0.0,
        1.0,
        60.0,
        3600.0,
        86400.0,
        86400.0 + 3600.0,
        -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
        899.99,
    ]);
    assert_eq!(
        expand(&each("humanizeDuration"), durations),
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"
    );
    let sub = floats(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]);
    assert_eq!(
        expand(&each("humanizeDuration"), sub),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"
    );
    let sub = strs(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"]);
    assert_eq!(
        expand(&each("humanizeDuration"), sub),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"
    );
    assert_eq!(
        expand(&each("humanizeDuration"), ints(&[0, -1, 1, 1234567])),
        "0s:-1s:1s:14d 6h 56m 7s:"
    );
    let all = "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}";
    let want = "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:";
    assert_eq!(
        expand(all, floats(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN])),
        want
    );
    assert_eq!(expand(all, strs(&["+Inf", "-Inf", "NaN"])), want);
    let pct = "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}";
    assert_eq!(expand(pct, TValue::Null), "-22.22%:0%:12.35%:123.5%");
    assert_eq!(
        expand(&each("humanizePercentage"), big),
        "0%:-100%:100%:1.235e+08%:9.223e+20%:"
    );
    assert_eq!(
        expand(
            "{{ 90 | humanizeDuration }} {{ 0.123 | humanizePercentage }}",
            TValue::Null
        ),
        "1m 30s 12.3%"
    );
}

#[test]
fn prometheus_time_functions() {
    let each = "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}";
    assert_eq!(
        expand(each, ints(&[0, -1, 1, 1234567, 9223372036])),
        "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"
    );
    assert_eq!(
        expand("{{ 1435065584.128 | humanizeTimestamp }}", TValue::Null),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
    assert_eq!(
        expand("{{ \"1435065584.128\" | humanizeTimestamp }}", TValue::Null),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
    assert_eq!(
        expand(
            "{{ (1435065584.128 | toTime).Format \"2006\" }}",
            TValue::Null
        ),
        "2015"
    );
    assert_eq!(
        expand(
            "{{ (\"1435065584.128\" | toTime).Format \"2006\" }}",
            TValue::Null
        ),
        "2015"
    );
    assert_eq!(
        expand("{{ (1800 | toDuration).String }}", TValue::Null),
        "30m0s"
    );
    assert_eq!(
        expand("{{ (\"1800\" | toDuration).String }}", TValue::Null),
        "30m0s"
    );
    assert_eq!(expand("{{ now }}", TValue::Null), "1.353755652e+09");
    assert_eq!(
        expand(
            "{{ (now | toTime).Format \"Mon Jan 2 15:04:05 2006\" }}",
            TValue::Null
        ),
        "Sat Nov 24 11:14:12 2012"
    );
    let ago = "{{ (\"-30m\" | parseDuration | toDuration | (now | toTime).Add).UnixMilli }}";
    assert_eq!(expand(ago, TValue::Null), "1353753852000");
}

#[test]
fn prometheus_errors() {
    let e = Template::parse("test", "{{").unwrap_err();
    assert_eq!(e.to_string(), "template: test:1:1: unclosed action");
    let e = Template::parse("test", "{{\u{a0}}}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: test:1:3: unrecognized character in action: U+00A0"
    );
    let (line, col, ctx, msg) = exec_error("{{ query \"missing\" | first }}", TValue::Null, &[]);
    assert_eq!((line, col, ctx.as_str()), (1, 22, "first"));
    assert_eq!(
        msg,
        "error calling first: first() called on vector with no elements"
    );
    let (_, _, _, msg) = exec_error("{{ (query \"missing\").banana }}", TValue::Null, &[]);
    assert_eq!(
        msg,
        "can't evaluate field banana in type template.queryResult"
    );
    let (line, col, ctx, msg) = exec_error("{{ humanize \"one\" }}", TValue::Null, &[]);
    assert_eq!((line, col, ctx.as_str()), (1, 4, "humanize \"one\""));
    assert_eq!(
        msg,
        "error calling humanize: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );
    let (_, col, ctx, msg) = exec_error("{{ \"one\" | humanizePercentage }}", TValue::Null, &[]);
    assert_eq!((col, ctx.as_str()), (12, "humanizePercentage"));
    assert_eq!(
        msg,
        "error calling humanizePercentage: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );
    let (_, _, _, msg) = exec_error(
        "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
        ints(&[i64::MIN]),
        &[],
    );
    assert_eq!(
        msg,
        "error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64"
    );
    let (_, _, _, msg) = exec_error("{{ humanizeDuration \"one\" }}", TValue::Null, &[]);
    assert_eq!(
        msg,
        "error calling humanizeDuration: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );
}

#[test]
fn rule_prelude_variables() {
    let rule = RuleData {
        labels: Labels::from_pairs([("instance", "db1"), ("job", "node")]),
        external_labels: Labels::from_pairs([("cluster", "eu1")]),
        external_url: "http://wf:9090".into(),
        value: 1234567.0,
        threshold: Some(0.9),
        severity: Some("critical".into()),
    };
    let t = Template::parse(
        "a",
        "{{$labels.instance}} {{.Labels.job}} {{$externalLabels.cluster}} {{$externalURL}} {{$value}} \
         {{$value | humanize}} {{$threshold}} {{$severity}} [{{$labels.missing}}] {{$.Value}}",
    )
    .unwrap();
    assert_eq!(
        t.execute(&Data::rule(&rule)).unwrap(),
        "db1 node eu1 http://wf:9090 1.234567e+06 1.235M 0.9 critical [] 1.234567e+06"
    );
    let plain = RuleData::default();
    assert_eq!(
        Template::parse("b", "{{$threshold}}|{{$severity}}")
            .unwrap()
            .execute(&Data::rule(&plain))
            .unwrap(),
        "<no value>|<no value>"
    );
    let e = Template::parse("c", "{{ .labels.job }}")
        .unwrap()
        .execute(&Data::rule(&plain))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("can't evaluate field labels in type struct"),
        "{e}"
    );
}

/// Templates from the shared rule corpus: promtool's `unittest.yml` expects
/// these annotation values for `rules.yml` with these labels.
#[test]
fn promtool_unittest_annotations() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/rules/promtool"
    );
    let Ok(rules) = std::fs::read_to_string(format!("{dir}/rules.yml")) else {
        println!("skipping: {dir} is absent");
        return;
    };
    let rules: serde_json::Value = serde_saphyr::from_str(&rules).expect("rules.yml parses");
    let rule = &rules["groups"][0]["rules"][0];
    assert_eq!(rule["alert"], "InstanceDown");
    let labels = Labels::from_pairs([
        ("instance", "localhost:9090"),
        ("job", "prometheus"),
        ("severity", "page"),
    ]);
    let data = RuleData {
        labels,
        value: 0.0,
        ..RuleData::default()
    };
    let expected = [
        ("summary", "Instance localhost:9090 down"),
        (
            "description",
            "localhost:9090 of job prometheus has been down for more than 5 minutes.",
        ),
    ];
    for (name, want) in expected {
        let text = rule["annotations"][name].as_str().expect("annotation text");
        let t = Template::parse(name, text).unwrap();
        assert_eq!(t.execute(&Data::rule(&data)).unwrap(), want);
    }
    let bad = std::fs::read_to_string(format!("{dir}/rules-bad.yml")).expect("rules-bad.yml");
    let bad: serde_json::Value = serde_saphyr::from_str(&bad).expect("rules-bad.yml parses");
    let summary = bad["groups"][0]["rules"][0]["annotations"]["summary"]
        .as_str()
        .unwrap();
    let e = Template::parse("summary", summary).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: summary:1:13: undefined variable \"$label\""
    );
}
