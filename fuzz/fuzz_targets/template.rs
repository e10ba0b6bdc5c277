//! Parses and executes arbitrary templates in both flavours with tight
//! limits: the engine must never panic or run away.

#![no_main]

use libfuzzer_sys::fuzz_target;
use watchfire::model::Labels;
use watchfire::template::{Data, Flavor, Limits, QuerySample, RuleData, Template};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let rule = RuleData {
        labels: Labels::from_pairs([("instance", "a:1"), ("job", "api")]),
        value: 0.5,
        ..RuleData::default()
    };
    let query = |q: &str| -> Result<Vec<QuerySample>, String> {
        Ok(vec![QuerySample {
            labels: Labels::from_pairs([("q", q)]),
            value: q.len() as f64,
        }])
    };
    let limits = Limits {
        max_steps: 20_000,
        max_output_bytes: 1 << 16,
        max_depth: 50,
    };
    for flavor in [Flavor::Rule, Flavor::Notification] {
        if let Ok(t) = Template::parse_with("fuzz", text, flavor) {
            let data = Data::rule(&rule).with_time_ms(0).with_query(&query);
            let _ = t.with_limits(limits).execute(&data);
        }
    }
});
