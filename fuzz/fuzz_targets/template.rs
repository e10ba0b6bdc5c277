//! Parses and executes arbitrary templates in both flavours with tight
//! limits, `query` calls going to the real engine, on a thread with the
//! server's stack size: the engine must never panic, overflow or run away.
//! `template_deep` generates the deep inputs this byte-level target misses.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    watchfire_fuzz::on_server_stack(|| watchfire_fuzz::check_template(text));
});
