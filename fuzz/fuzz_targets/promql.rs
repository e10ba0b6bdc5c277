//! Parses arbitrary text as PromQL, formats it and evaluates what parses
//! over a small buffer with tight limits, on a thread with the server's
//! stack size: the front end and evaluator must never panic or overflow.
//! `promql_deep` generates the deep inputs this byte-level target misses.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    watchfire_fuzz::on_server_stack(|| watchfire_fuzz::check_promql(text));
});
