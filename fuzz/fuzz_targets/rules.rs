//! Loads arbitrary text as a rule file (PromQL, templates, thresholds
//! included), on a thread with the server's stack size: errors are fine
//! (and name the file), panics and overflows are not.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    watchfire_fuzz::on_server_stack(|| watchfire_fuzz::check_rules(text));
});
