//! Structure-aware configuration files: realistic skeletons whose values
//! come from the YAML grammar in `src/yaml_gen.rs` (deep flow/block nesting,
//! deep `routes:` trees, long sequences and mappings, anchors and aliases,
//! huge scalars), loaded as the main and the web configuration on a thread
//! with the server's stack size.

#![no_main]

use libfuzzer_sys::fuzz_target;
use watchfire_fuzz::yaml_gen::ConfigDoc;

fuzz_target!(|doc: ConfigDoc| {
    let text = doc.render();
    watchfire_fuzz::on_server_stack(|| watchfire_fuzz::check_config(&text));
});
