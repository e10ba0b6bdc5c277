//! The text grammar against upstream's catalogue of edge cases
//! (`promparse_test.go`, `exposition-cases.md` §2), rewritten as our own
//! inputs with the verdicts the server parser gives.

use super::testutil::{render, text, text_error};
use super::{Entry, Format, Parser, NORMAL_NAN_BITS};

#[test]
fn help_escapes_nan_bits_and_nul_bytes() {
    let help = "# HELP m a\\\\b\\nc\\\"d\\te\n# TYPE m untyped\nm NaN\n";
    let want =
        "1: help \"m\" \"a\\\\b\\nc\\\\\\\"d\\\\te\"\n2: type \"m\" unknown\n3: \"m\" = NaN\n";
    assert_eq!(text(help), want);
    let nan = Parser::new(b"m nan\n", Format::PrometheusText).find_map(|e| match e {
        Ok(Entry::Sample(s)) => Some(s.value.to_bits()),
        _ => None,
    });
    assert_eq!(nan, Some(NORMAL_NAN_BITS));
    let nul_errors: &[(&[u8], &str)] = &[
        (
            b"a{b=\x00\"ssss\"} 1\n",
            "line 1, column 5: expected quoted label value, found \"\\u{0}\\\"ssss\\\"}\"",
        ),
        (
            b"a{b\x00=\"hiih\"}\t1",
            "line 1, column 4: expected '=' after label name, found \"\\u{0}=\\\"hiih\\\"}\"",
        ),
        (
            b"a\x00{b=\"ddd\"} 1",
            "line 1, column 2: expected sample value, found \"\\u{0}{b=\\\"ddd\\\"}\"",
        ),
        (
            b"a 0 1\x00",
            "line 1, column 6: expected end of line after timestamp, found \"\\u{0}\"",
        ),
        (
            b"a{\"b\x00\"=\"1\"} 1",
            "line 1, column 5: nul byte not allowed in quoted string",
        ),
    ];
    for (input, want) in nul_errors {
        assert_eq!(
            text_error(input),
            *want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn refuses_what_the_server_parser_refuses() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"a",
            "line 1, column 2: expected sample value, found end of input",
        ),
        (
            b"a{b='c'} 1\n",
            "line 1, column 5: expected quoted label value, found \"'c'}\"",
        ),
        (
            b"a{b=\n",
            "line 1, column 5: expected quoted label value, found end of line",
        ),
        (
            b"a{\xff=\"foo\"} 1\n",
            "line 1, column 3: expected label name or '}', found \"\u{fffd}=\\\"foo\\\"}\"",
        ),
        (
            b"a{b=\"\xff\"} 1\n",
            "line 1, column 6: invalid utf-8 in label value",
        ),
        (
            br#"{"a", "b = "c"}"#,
            "line 1, column 13: expected '=' after label name, found \"c\\\"}\"",
        ),
        (
            br#"{"a",b\nc="d"} 1"#,
            "line 1, column 7: expected '=' after label name, found \"\\\\nc=\\\"d\\\"}\"",
        ),
        (
            b"a true\n",
            "line 1, column 3: invalid sample value \"true\": invalid syntax",
        ),
        (
            b"something_weird{problem=\"",
            "line 1, column 25: unterminated quoted string",
        ),
        (
            b"empty_label_name{=\"\"} 0",
            "line 1, column 18: expected label name or '}', found \"=\\\"\\\"}\"",
        ),
        (
            b"{A}0",
            "line 1, column 3: expected '=' after label name, found \"}0\"",
        ),
        (
            b"foo 1_2\n",
            "line 1, column 5: invalid sample value \"1_2\": unsupported character in float",
        ),
        (
            b"foo 0x1p-3\n",
            "line 1, column 5: invalid sample value \"0x1p-3\": unsupported character in float",
        ),
        (
            b"foo 0 1_2\n",
            "line 1, column 8: expected end of line after timestamp, found \"_2\"",
        ),
        (
            b"foo 0 -2\n",
            "line 1, column 7: expected timestamp or end of line, found \"-2\"",
        ),
        (
            b"foo 0 2.5\n",
            "line 1, column 8: expected end of line after timestamp, found \".5\"",
        ),
        (
            b"foo 0 1 2\n",
            "line 1, column 9: expected end of line after timestamp, found \"2\"",
        ),
        (
            b"foo 0 99999999999999999999\n",
            "line 1, column 7: invalid timestamp \"99999999999999999999\": value out of range",
        ),
        (
            b"foo 1e400\n",
            "line 1, column 5: invalid sample value \"1e400\": value out of range",
        ),
        (br#"{a="ok"} 1"#, "line 1, column 1: metric name not set"),
        (
            br#"{"a","b"} 1"#,
            "line 1, column 6: metric name already set",
        ),
        (br#"a{"b"} 1"#, "line 1, column 3: metric name already set"),
        (br#"{""} 1"#, "line 1, column 2: empty metric name"),
        (br#"a{""="x"} 1"#, "line 1, column 3: empty label name"),
        (
            b"# TYPE #\n",
            "line 1, column 8: expected metric name after TYPE, found \"#\"",
        ),
        (
            b"# HELP #\n",
            "line 1, column 8: expected metric name after HELP, found \"#\"",
        ),
        (
            b"# HELP \n",
            "line 1, column 8: expected metric name after HELP, found end of line",
        ),
        (
            b"# TYPE m unknown\n",
            "line 1, column 10: invalid metric type \"unknown\"",
        ),
        (
            b"# TYPE m counter \n",
            "line 1, column 10: invalid metric type \"counter \"",
        ),
        (
            b"# HELP m \xff\n",
            "line 1, column 10: invalid utf-8 in help text",
        ),
        (
            b"# HELP m x\xff\n",
            "line 1, column 11: invalid utf-8 in help text",
        ),
        (
            b"m 1\r\n",
            "line 1, column 3: invalid sample value \"1\\r\": invalid syntax",
        ),
        (
            b"ok 1\n@bad 1\n",
            "line 2, column 1: expected metric name, '{' or '#', found \"@bad\"",
        ),
        (
            b"a{b=\"x\",b=\"y\"} 1\n",
            "line 1, column 9: duplicate label name \"b\"",
        ),
        (
            b"a{b=\"x\",\"b\"=\"y\"} 1\n",
            "line 1, column 10: duplicate label name \"b\"",
        ),
        (
            b"a{__name__=\"x\"} 1\n",
            "line 1, column 3: duplicate label name \"__name__\"",
        ),
        (
            b"a{b=\"multi\nline\",c=d} 1\n",
            "line 2, column 9: expected quoted label value, found \"d}\"",
        ),
        (
            b"a{\"x\\\ny\"=\"1\"} 1\n",
            "line 1, column 6: backslash before line feed not allowed in quoted string",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            text_error(input),
            *want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn accepts_what_the_server_parser_accepts() {
    let cases: &[(&[u8], &str)] = &[
        (b"bla 3.14", "1: \"bla\" = 3.14"),
        (
            br#"metric{label="\t"} 3.14"#,
            r#"1: "metric" "label"="\\t" = 3.14"#,
        ),
        (
            b"metric{label=\"new\nline\"} 3.14\n",
            r#"1: "metric" "label"="new\nline" = 3.14"#,
        ),
        (b"m{a=\"1\",a=\"\"} 1\n", r#"1: "m" "a"="1" = 1.0"#),
        (b"m{} 0", r#"1: "m" = 0.0"#),
        (b"m 1 0\n", r#"1: "m" = 1.0 @0"#),
        (b"", ""),
        (b" \t\n\n", ""),
        (b"m 1\n\x00 garbage \xff", r#"1: "m" = 1.0"#),
        (b"#x\x00y\nm 1\n", ""),
        (b"# \x00\nm 1\n", ""),
        (b"m{a=\"\x00\"} 1\n", r#"1: "m" "a"="\0" = 1.0"#),
        (
            b"#comment \xff\nm 1\n",
            "1: comment \"comment \u{fffd}\"\n2: \"m\" = 1.0",
        ),
    ];
    for (input, want) in cases {
        let got = render(input, Format::PrometheusText);
        assert_eq!(
            got.trim_end(),
            *want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}
