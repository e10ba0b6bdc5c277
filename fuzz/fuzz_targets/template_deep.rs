//! Structure-aware templates: `arbitrary` builds a template from the
//! grammar in `src/template_gen.rs` (nested `if`/`range`/`with`, recursive
//! `template` calls, long pipelines, deep parenthesised arguments, `query`
//! calls with generated PromQL), parsed and executed as alert templates are,
//! on a thread with the server's stack size.

#![no_main]

use libfuzzer_sys::fuzz_target;
use watchfire_fuzz::template_gen::{render, Template};

fuzz_target!(|t: Template| {
    let text = render(&t);
    watchfire_fuzz::on_server_stack(|| watchfire_fuzz::check_template(&text));
});
