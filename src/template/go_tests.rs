//! Golden cases for the Go template language itself (expected outputs as
//! Go's `text/template` gives them) and for notification templates over
//! Alertmanager's data model.

use super::golden_tests::{exec_error, ints, run, NOW_MS};
use super::*;
use crate::model::Labels;

#[test]
fn go_language_semantics() {
    let l = ints(&[1, 2, 3, 4, 5]);
    let m = TValue::map(
        MapKind::Any,
        [
            ("b".into(), TValue::Int(2)),
            ("a".into(), TValue::Int(1)),
            ("c".into(), TValue::Int(3)),
        ]
        .into_iter()
        .collect(),
    );
    let cases: &[(&str, &TValue, &str)] = &[
        ("{{\"output\"}}", &TValue::Null, "output"),
        ("{{`output`}}", &TValue::Null, "output"),
        ("{{printf \"%q\" \"output\"}}", &TValue::Null, "\"output\""),
        ("{{\"output\" | printf \"%q\"}}", &TValue::Null, "\"output\""),
        ("{{printf \"%q\" (print \"out\" \"put\")}}", &TValue::Null, "\"output\""),
        ("{{\"put\" | printf \"%s%s\" \"out\" | printf \"%q\"}}", &TValue::Null, "\"output\""),
        ("{{with \"output\"}}{{printf \"%q\" .}}{{end}}", &TValue::Null, "\"output\""),
        ("{{with $x := \"output\" | printf \"%q\"}}{{$x}}{{end}}", &TValue::Null, "\"output\""),
        ("{{with $x := \"output\"}}{{$x | printf \"%q\"}}{{end}}", &TValue::Null, "\"output\""),
        ("{{range $i, $x := .}}{{$i}}={{$x}} {{end}}", &l, "0=1 1=2 2=3 3=4 4=5 "),
        ("{{range $k, $v := .}}{{$k}}{{$v}}{{end}}", &m, "a1b2c3"),
        ("{{range .}}{{.}}{{end}}", &m, "123"),
        ("{{range $v := .}}{{$v}}{{end}}", &m, "123"),
        ("{{range .}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}", &l, "13"),
        ("{{range .Missing}}x{{else}}empty{{end}}", &m, "empty"),
        ("{{range $i := 3}}{{$i}}{{end}}", &TValue::Null, "012"),
        ("{{$x := 0}}{{range .}}{{$x = .}}{{end}}{{$x}}", &l, "5"),
        ("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", &TValue::Null, "21"),
        ("{{23 -}} < {{- 45}}", &TValue::Null, "23<45"),
        ("a {{- /* comment */ -}} b", &TValue::Null, "ab"),
        ("a{{/* comment */}}b", &TValue::Null, "ab"),
        ("{{if and 1 0}}y{{else}}n{{end}} {{and 1 0}} {{and 1 2}} {{or 0 \"\" 3}} {{or 0 \"\"}}|", &TValue::Null, "n 0 2 3 |"),
        ("{{not true}} {{not 0}}", &TValue::Null, "false true"),
        ("{{if 0}}a{{else if 1}}b{{else}}c{{end}}", &TValue::Null, "b"),
        ("{{with .Missing}}x{{else with .a}}{{.}}{{end}}", &m, "1"),
        ("{{define \"T\"}}[{{.}}]{{end}}{{template \"T\" \"x\"}}{{template \"T\" 1}}{{template \"T\"}}", &TValue::Null, "[x][1][<no value>]"),
        ("{{block \"B\" .}}default {{.a}}{{end}}", &m, "default 1"),
        ("{{ 1.5 }} {{ 1e3 }} {{ 0x10 }} {{ 'a' }} {{ -1 }} {{ true }} {{ 1_000 }}", &TValue::Null, "1.5 1000 16 97 -1 true 1000"),
        ("{{ len \"hello\" }} {{ len . }} {{ index . 1 }} {{ slice \"abcde\" 1 3 }} {{ index \"abc\" 1 }}", &l, "5 5 2 bc 98"),
        ("{{ index . \"b\" }} {{ index . \"zz\" }}", &m, "2 <no value>"),
        ("{{print 1 2 \"x\" 3}}|{{println 1 2}}|", &TValue::Null, "1 2x3|1 2\n|"),
        ("{{ html \"<b>\" }} {{ urlquery \"a b\" }} {{ js \"'\" }}", &TValue::Null, "&lt;b&gt; a+b \\'"),
        ("{{ .Missing.Deeper }} {{ eq .Missing \"x\" }}", &m, "<no value> false"),
        ("{{ eq 1 1 }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}", &TValue::Null, "true true true true true false"),
        ("{{ eq \"a\" \"b\" \"c\" \"a\" }}", &TValue::Null, "true"),
        ("{{ printf \"%v\" nil }} {{ printf \"%d %s\" 1 }}", &TValue::Null, "<nil> 1 %!s(MISSING)"),
        ("{{ printf \"%.2f %5.1f %x %X %o %e %g\" 3.14159 2.5 255 255 8 1234.5678 0.000001 }}", &TValue::Null, "3.14   2.5 ff FF 10 1.234568e+03 1e-06"),
        ("{{ (index . \"zz\") }}-{{ $.a }}", &m, "<no value>-1"),
        ("x{{ \"\" }}y", &TValue::Null, "xy"),
        ("{{ . }}", &l, "[1 2 3 4 5]"),
        ("{{ . }}", &m, "map[a:1 b:2 c:3]"),
    ];
    for (text, dot, want) in cases {
        let got = run(text, (*dot).clone(), &[], false).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&got, want, "{text}");
    }
}

#[test]
fn go_execution_errors() {
    let m = TValue::map(
        MapKind::Strings,
        [("a".into(), TValue::str("1"))].into_iter().collect(),
    );
    let cases: &[(&str, &str)] = &[
        (
            "{{ eq 1 1.0 }}",
            "error calling eq: incompatible types for comparison",
        ),
        (
            "{{ lt true false }}",
            "error calling lt: invalid type for comparison",
        ),
        (
            "{{ index . 1 }}",
            "error calling index: value has type int; should be string",
        ),
        ("{{ .a.b }}", "can't evaluate field b in type string"),
        ("{{ nil }}", "nil is not a command"),
        ("{{ 1 2 }}", "can't give argument to non-function 1"),
        ("{{ .a 1 }}", "a is not a method but has arguments"),
        ("{{ range 1.5 }}{{ end }}", "range can't iterate over 1.5"),
        ("{{ template \"nope\" }}", "no such template \"nope\""),
        ("{{ len 3 }}", "error calling len: len of type int"),
        (
            "{{ toUpper 1 }}",
            "error calling toUpper: wrong type for value; expected string; got int",
        ),
        (
            "{{ humanize true }}",
            "error calling humanize: can't convert bool to float",
        ),
        (
            "{{ reReplaceAll \"(\" \"\" \"x\" }}",
            "error calling reReplaceAll: error parsing regexp \"(\"",
        ),
        (
            "{{ query \"up\" 1 }}",
            "wrong number of args for query: want 1 got 2",
        ),
    ];
    for (text, want) in cases {
        let (_, _, _, msg) = exec_error(text, m.clone(), &[]);
        assert!(msg.starts_with(want), "{text}: {msg}");
    }
}

#[test]
fn error_positions_across_lines_and_definitions() {
    let text = "line1\n{{ define \"d\" }}\n  {{ humanize .x }}\n{{ end }}\n{{ template \"d\" . }}";
    let e = Template::parse("file.tmpl", text)
        .unwrap()
        .execute(&Data::new(TValue::Null))
        .unwrap_err();
    let m = TValue::map(
        MapKind::Any,
        [("x".into(), TValue::Bool(true))].into_iter().collect(),
    );
    let e2 = Template::parse("file.tmpl", text)
        .unwrap()
        .execute(&Data::new(m))
        .unwrap_err();
    assert!(matches!(e, TemplateError::Exec { .. }));
    assert_eq!(
        e2.to_string(),
        "template: file.tmpl:3:6: executing \"d\" at <humanize .x>: error calling humanize: can't convert bool to float"
    );
    let e = Template::parse("t", "ok\n\n   {{ nope }}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: t:3:7: function \"nope\" not defined"
    );
    let e = Template::parse("t", "é{{ \"abc }}").unwrap_err();
    assert_eq!(e.to_string(), "template: t:1:5: unterminated quoted string");
}

#[test]
fn notification_subject_and_alert_lists() {
    let alert = |status, instance: &str, starts_at_ms| AlertData {
        status,
        labels: Labels::from_pairs([
            ("alertname", "DiskFull"),
            ("cluster", "eu1"),
            ("instance", instance),
            ("severity", "page"),
        ]),
        annotations: Labels::from_pairs([("summary", format!("Disk on {instance} full"))]),
        starts_at_ms,
        ends_at_ms: None,
        generator_url: "http://prom/graph".into(),
        fingerprint: "5e8f2b3c9d0a1b7e".into(),
    };
    let mut n = NotificationData {
        receiver: "db-team".into(),
        group_labels: Labels::from_pairs([("alertname", "DiskFull"), ("cluster", "eu1")]),
        alerts: vec![
            alert(AlertStatus::Firing, "db1:9100", 1787322600123),
            alert(AlertStatus::Firing, "db2:9100", 0),
        ],
        external_url: "http://am:9093".into(),
    };
    // The subject rule of notification-payloads.md, written out as a template.
    let lib = Template::parse_with(
        "subject.tmpl",
        r#"{{ define "subject" -}}
[{{ toUpper .Status }}{{ if eq .Status "firing" }}:{{ len .Alerts.Firing }}{{ end }}]
{{- " " }}{{ join " " .GroupLabels.SortedPairs.Values }}{{ " " -}}
{{ if gt (len .CommonLabels) (len .GroupLabels) -}}
({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ join " " .Values }}{{ end }})
{{- end }}{{ end }}"#,
        Flavor::Notification,
    )
    .unwrap();
    let subject =
        Template::parse_with_library(&lib, "title", r#"{{ template "subject" . }}"#).unwrap();
    assert_eq!(
        subject.execute(&Data::notification(&n)).unwrap(),
        "[FIRING:2] DiskFull eu1 (page)"
    );
    n.alerts[1].status = AlertStatus::Resolved;
    n.alerts[1].labels = Labels::from_pairs([("alertname", "DiskFull"), ("cluster", "eu1")]);
    assert_eq!(
        subject.execute(&Data::notification(&n)).unwrap(),
        "[FIRING:1] DiskFull eu1 "
    );
    let list = Template::parse_with(
        "list",
        "{{ range .Alerts.Firing }}{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }} \
         {{ .StartsAt }} {{ .StartsAt.Format \"15:04\" }} {{ .EndsAt.IsZero }} {{ .Annotations.summary }}\n{{ end }}\
         {{ len .Alerts.Resolved }} {{ .CommonLabels }} {{ .GroupLabels.Names.Join \",\" }} {{ .Receiver | urlquery }}",
        Flavor::Notification,
    )
    .unwrap();
    assert_eq!(
        list.execute(&Data::notification(&n)).unwrap(),
        "alertname=DiskFull;cluster=eu1;instance=db1:9100;severity=page; 2026-08-21 14:30:00.123 +0000 UTC 14:30 true Disk on db1:9100 full\n\
         1 alertname=DiskFull, cluster=eu1 alertname,cluster db-team"
    );
}

#[test]
fn notification_functions() {
    let data = Data::new(TValue::Null).with_time_ms(NOW_MS);
    let run_am = |text: &str| {
        Template::parse_with("n", text, Flavor::Notification)
            .unwrap()
            .execute(&data)
            .unwrap()
    };
    assert_eq!(run_am("{{ \"aa bb CC\" | title }}"), "Aa Bb Cc");
    assert_eq!(run_am("{{ \"  x \" | trimSpace }}|"), "x|");
    assert_eq!(run_am("{{ stringSlice \"a\" \"b\" | join \"-\" }}"), "a-b");
    assert_eq!(
        run_am("{{ now | date \"2006-01-02\" }} {{ (now | tz \"UTC\").Year }}"),
        "2012-11-24 2012"
    );
    assert_eq!(
        run_am("{{ \"hello\" | base64encode }} {{ \"aGVsbG8=\" | base64decode }}"),
        "aGVsbG8= hello"
    );
    assert_eq!(
        run_am("{{ dict \"a\" 1 \"b\" (list 1 \"x\") | toJson }}"),
        r#"{"a":1,"b":[1,"x"]}"#
    );
    assert_eq!(
        run_am("{{ append (list 1) 2 3 }} {{ urlUnescape \"a%20b+c\" }}"),
        "[1 2 3] a b c"
    );
    assert!(Template::parse_with("n", "{{ humanize 1 }}", Flavor::Notification).is_err());
}
