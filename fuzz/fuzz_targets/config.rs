//! Loads arbitrary text as a configuration file and as a web config file
//! (`--web.config.file`), environment lookups answered from a fixed table:
//! errors are fine, panics are not.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let env = |name: &str| (name == "HOME").then(|| "/tmp".to_string());
    if let Err(errors) = watchfire::config::parse_with_env(text, "fuzz.yml", &env) {
        let _ = errors.lines();
    }
    if let Err(errors) = watchfire::config::parse_web_with_env(text, "web.yml", &env) {
        let _ = errors.lines();
    }
});
