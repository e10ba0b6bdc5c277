//! `/`: a small status page — targets, alerts, links to the API — rendered
//! on the server from the same data the API serves, no JavaScript.

use super::AppState;
use crate::rules::alert::AlertState;
use axum::extract::State;
use axum::response::Html;
use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
.up,.inactive{color:#2a7d2a}.down,.firing{color:#c00}.pending,.warning{color:#d97a00}.critical{color:#c00;font-weight:bold}";

/// `GET /`.
pub async fn index(State(s): State<AppState>) -> Html<String> {
    let mut out = String::with_capacity(8192);
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=utf-8><title>watchfire</title>\
         <meta http-equiv=refresh content=10><style>{STYLE}</style></head><body><h1>watchfire</h1>"
    );
    out.push_str("<h2>Alerts</h2><table><tr><th>alert</th><th>labels</th><th>state</th><th>severity</th><th>value</th></tr>");
    let mut alerts = 0;
    for g in s.rules.groups() {
        g.with_state(|st| {
            for r in &st.rules {
                for a in r.alerts.iter().filter(|a| a.state != AlertState::Inactive) {
                    alerts += 1;
                    let labels: Vec<String> = a
                        .labels
                        .iter()
                        .filter(|l| &*l.name != "alertname")
                        .map(|l| format!("{}={}", l.name, l.value))
                        .collect();
                    let severity = a
                        .public_labels()
                        .get("severity")
                        .unwrap_or("")
                        .to_string();
                    let _ = write!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td class={state}>{state}</td><td class={sev}>{sev}</td><td>{}</td></tr>",
                        esc(a.labels.get("alertname").unwrap_or("")),
                        esc(&labels.join(", ")),
                        a.value,
                        state = a.state.as_str(),
                        sev = esc(&severity),
                    );
                }
            }
        });
    }
    if alerts == 0 {
        out.push_str("<tr><td colspan=5>no pending or firing alerts</td></tr>");
    }
    out.push_str("</table><h2>Targets</h2><table><tr><th>job</th><th>endpoint</th><th>health</th><th>last error</th></tr>");
    for t in s.scrape.targets() {
        let health = t.status.health.as_str();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class={health}>{health}</td><td>{}</td></tr>",
            esc(&t.spec.job),
            esc(&t.spec.url),
            esc(&t.status.last_error)
        );
    }
    out.push_str(
        "</table><p>API: <a href=\"/api/v1/alerts\">alerts</a> · <a href=\"/api/v1/rules\">rules</a> · \
         <a href=\"/api/v1/targets\">targets</a> · <a href=\"/api/v1/alerts/history\">history</a> · \
         <a href=\"/api/v2/silences\">silences</a> · <a href=\"/metrics\">metrics</a></p></body></html>",
    );
    Html(out)
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
