//! Structure-aware PromQL: `arbitrary` builds an expression from the
//! grammar in `src/promql_gen.rs` (deep wrappers, long operator chains,
//! subqueries, `label_replace` nesting), rendered to text and put through
//! `/api/v1/query`'s path (parse, format round trip, instant and range
//! evaluation) on a thread with the server's stack size.

#![no_main]

use libfuzzer_sys::fuzz_target;
use watchfire_fuzz::promql_gen::{render, Expr};

fuzz_target!(|expr: Expr| {
    let text = render(&expr);
    watchfire_fuzz::on_server_stack(|| watchfire_fuzz::check_promql(&text));
});
