//! Structure-aware rule files: skeletons of alerting, recording and
//! threshold rules whose `expr` is generated PromQL, whose annotation is a
//! generated template and whose other values come from the YAML grammar,
//! loaded as the rule manager and `watchfire check rules` load them, on a
//! thread with the server's stack size.

#![no_main]

use libfuzzer_sys::fuzz_target;
use watchfire_fuzz::yaml_gen::RulesDoc;

fuzz_target!(|doc: RulesDoc| {
    let text = doc.render();
    watchfire_fuzz::on_server_stack(|| watchfire_fuzz::check_rules(&text));
});
