//! `watchfire query EXPR`: asks a running instance and prints a table.

use super::QueryArgs;
use serde_json::Value as Json;
use std::process::ExitCode;

/// Runs the query command.
pub fn query(args: QueryArgs) -> ExitCode {
    match fetch(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn fetch(args: &QueryArgs) -> anyhow::Result<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let url = format!("{}/api/v1/query", args.url.trim_end_matches('/'));
    let mut form = vec![("query", args.expr.clone())];
    if let Some(t) = &args.time {
        form.push(("time", t.clone()));
    }
    let body: Json = rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(&url)
            .form(&form)
            .timeout(std::time::Duration::from_secs(130))
            .send()
            .await?;
        anyhow::Ok(serde_json::from_slice(&resp.bytes().await?)?)
    })?;
    if body["status"] != "success" {
        anyhow::bail!(
            "{}: {}",
            body["errorType"].as_str().unwrap_or("error"),
            body["error"].as_str().unwrap_or("unknown error")
        );
    }
    let mut out = render_table(&body["data"]);
    for w in body["warnings"].as_array().into_iter().flatten() {
        out.push_str(&format!("warning: {}\n", w.as_str().unwrap_or_default()));
    }
    Ok(out)
}

/// Formats a query answer's `data` as an aligned table.
pub fn render_table(data: &Json) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    let metric = |m: &Json| -> String {
        let obj = m.as_object().cloned().unwrap_or_default();
        let name = obj
            .get("__name__")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        let labels: Vec<String> = obj
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| format!("{k}={:?}", v.as_str().unwrap_or_default()))
            .collect();
        format!("{name}{{{}}}", labels.join(", "))
    };
    match data["resultType"].as_str() {
        Some("vector") => {
            for s in data["result"].as_array().into_iter().flatten() {
                rows.push((
                    metric(&s["metric"]),
                    s["value"][1].as_str().unwrap_or("").into(),
                ));
            }
        }
        Some("matrix") => {
            for s in data["result"].as_array().into_iter().flatten() {
                let vals: Vec<String> = s["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| format!("{} @{}", p[1].as_str().unwrap_or(""), p[0]))
                    .collect();
                rows.push((metric(&s["metric"]), vals.join("  ")));
            }
        }
        Some("scalar") | Some("string") => {
            rows.push((
                String::from("(scalar)"),
                data["result"][1].as_str().unwrap_or("").into(),
            ));
        }
        _ => {}
    }
    if rows.is_empty() {
        return "(no data)\n".into();
    }
    let width = rows.iter().map(|(m, _)| m.len()).max().unwrap_or(0).max(6);
    let mut out = format!("{:<width$}  VALUE\n", "SERIES");
    for (m, v) in rows {
        out.push_str(&format!("{m:<width$}  {v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vector_table() {
        let data = json!({"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"demo"},"value":[1,"1"]}]});
        let t = render_table(&data);
        assert!(t.contains("up{job=\"demo\"}"), "{t}");
        assert!(t.lines().nth(1).unwrap().ends_with("  1"), "{t}");
        assert_eq!(
            render_table(&json!({"resultType":"vector","result":[]})),
            "(no data)\n"
        );
    }
}
