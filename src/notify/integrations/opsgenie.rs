//! Opsgenie's Alert API v2, as Alertmanager's `notify/opsgenie`: a firing group creates an
//! alert (`POST v2/alerts`) whose alias is the SHA-256 of the group key, and with
//! `update_alerts` also rewrites its message and description (`PUT .../message`,
//! `PUT .../description`, `identifierType=alias`); a resolved group closes it
//! (`POST .../close`). `Authorization: GenieKey <api_key>` (it takes precedence over
//! `http_config` credentials, as in Alertmanager). Details are the common labels plus the
//! configured ones; tags and actions are comma-separated lists; a `teams` responder becomes
//! one `team` per name; the message is cut to 130 characters. 429 and 5xx are retried, and the
//! whole sequence is sent again.

use super::incident_text::{check, exchange, read_key_file, subject, truncate_runes, Texts};
use crate::config::OpsgenieConfig;
use crate::gostd::json as gojson;
use crate::notify::alert::AlertStatus;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::templates::TemplateLibrary;
use crate::notify::text;
use crate::notify::FailureReason;
use std::collections::BTreeMap;

use super::incident_text::{key_hash, opsgenie_description};

/// The longest message Opsgenie accepts, in characters.
const MAX_MESSAGE_CHARS: usize = 130;

/// One request of a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `POST` or `PUT`.
    pub method: &'static str,
    /// Full URL.
    pub url: String,
    /// JSON body (with Go's trailing newline).
    pub body: String,
}

/// A configured Opsgenie integration.
pub struct Opsgenie {
    config: OpsgenieConfig,
    texts: Texts,
    client: reqwest::Client,
}

impl Opsgenie {
    /// Builds the integration; fails when a configured text does not parse.
    pub fn new(
        config: OpsgenieConfig,
        client: reqwest::Client,
        lib: &TemplateLibrary,
    ) -> Result<Opsgenie, String> {
        let c = &config;
        let mut sources: Vec<&str> = [
            &c.message,
            &c.description,
            &c.source,
            &c.entity,
            &c.actions,
            &c.tags,
            &c.note,
            &c.priority,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
        sources.extend(c.details.values().map(String::as_str));
        for r in &c.responders {
            sources.extend([&r.id, &r.name, &r.username, &r.kind].map(String::as_str));
        }
        let texts = Texts::compile(lib, "opsgenie", sources)?;
        Ok(Opsgenie {
            config,
            texts,
            client,
        })
    }

    fn text(
        &self,
        source: Option<&String>,
        n: &Notification,
        default: fn(&Notification) -> String,
    ) -> Result<String, NotifyError> {
        self.texts.render_or(source.map(String::as_str), n, default)
    }

    fn url(&self, path: &str, alias_query: bool) -> String {
        let base = &self.config.api_url;
        let (base, query) = base.split_once('?').unwrap_or((base, ""));
        let mut out = format!("{base}{path}");
        let mut params: Vec<String> = query
            .split('&')
            .filter(|q| !q.is_empty() && !q.starts_with("identifierType="))
            .map(str::to_owned)
            .collect();
        if alias_query {
            params.push("identifierType=alias".to_owned());
        }
        params.sort();
        if !params.is_empty() {
            out.push('?');
            out.push_str(&params.join("&"));
        }
        out
    }

    /// The requests for `n`, in order.
    pub fn requests(&self, n: &Notification) -> Result<Vec<Request>, NotifyError> {
        let c = &self.config;
        let alias = key_hash(&n.group_key);
        let source = self.text(c.source.as_ref(), n, text::alerts_link)?;
        if n.status() == AlertStatus::Resolved {
            let mut body = String::from("{");
            gojson::key(&mut body, "source");
            gojson::string(&mut body, &source);
            body.push_str("}\n");
            return Ok(vec![Request {
                method: "POST",
                url: self.url(&format!("v2/alerts/{alias}/close"), true),
                body,
            }]);
        }
        let mut details: BTreeMap<String, String> = n
            .common_labels()
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect();
        for (k, v) in &c.details {
            details.insert(k.clone(), self.texts.render(v, n)?);
        }
        let message = truncate_runes(
            &self.text(c.message.as_ref(), n, subject)?,
            MAX_MESSAGE_CHARS,
        );
        let description = self.text(c.description.as_ref(), n, opsgenie_description)?;
        let empty = |_: &Notification| String::new();
        let mut body = String::with_capacity(1024);
        body.push('{');
        field(&mut body, "alias", &alias);
        body.push(',');
        field(&mut body, "message", &message);
        optional(&mut body, "description", &description);
        body.push(',');
        gojson::key(&mut body, "details");
        gojson::btree(&mut body, &details);
        body.push(',');
        field(&mut body, "source", &source);
        self.responders(&mut body, n)?;
        list(
            &mut body,
            "tags",
            &safe_split(&self.text(c.tags.as_ref(), n, empty)?),
        );
        optional(&mut body, "note", &self.text(c.note.as_ref(), n, empty)?);
        optional(
            &mut body,
            "priority",
            &self.text(c.priority.as_ref(), n, empty)?,
        );
        optional(
            &mut body,
            "entity",
            &self.text(c.entity.as_ref(), n, empty)?,
        );
        list(
            &mut body,
            "actions",
            &safe_split(&self.text(c.actions.as_ref(), n, empty)?),
        );
        body.push_str("}\n");
        let mut out = vec![Request {
            method: "POST",
            url: self.url("v2/alerts", false),
            body,
        }];
        if c.update_alerts {
            let mut m = String::from("{");
            if !message.is_empty() {
                field(&mut m, "message", &message);
            }
            m.push_str("}\n");
            out.push(Request {
                method: "PUT",
                url: self.url(&format!("v2/alerts/{alias}/message"), true),
                body: m,
            });
            let mut d = String::from("{");
            if !description.is_empty() {
                field(&mut d, "description", &description);
            }
            d.push_str("}\n");
            out.push(Request {
                method: "PUT",
                url: self.url(&format!("v2/alerts/{alias}/description"), true),
                body: d,
            });
        }
        Ok(out)
    }

    fn responders(&self, body: &mut String, n: &Notification) -> Result<(), NotifyError> {
        let mut list: Vec<[String; 4]> = Vec::new();
        for r in &self.config.responders {
            let one = [
                self.texts.render(&r.id, n)?,
                self.texts.render(&r.name, n)?,
                self.texts.render(&r.username, n)?,
                self.texts.render(&r.kind, n)?,
            ];
            if one.iter().all(String::is_empty) {
                continue;
            }
            if one[3] == "teams" {
                for team in safe_split(&one[1]) {
                    let name = self.texts.render(&team, n)?;
                    list.push([String::new(), name, String::new(), "team".to_owned()]);
                }
                continue;
            }
            list.push(one);
        }
        if list.is_empty() {
            return Ok(());
        }
        body.push(',');
        gojson::key(body, "responders");
        body.push('[');
        for (i, [id, name, username, kind]) in list.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push('{');
            let mut first = true;
            for (k, v) in [("id", id), ("name", name), ("username", username)] {
                if !v.is_empty() {
                    if !first {
                        body.push(',');
                    }
                    first = false;
                    field(body, k, v);
                }
            }
            if !first {
                body.push(',');
            }
            field(body, "type", kind);
            body.push('}');
        }
        body.push(']');
        Ok(())
    }

    fn api_key(&self, n: &Notification) -> Result<String, NotifyError> {
        let c = &self.config;
        match (&c.api_key, &c.api_key_file) {
            (Some(k), _) => self.texts.render(k.expose(), n),
            (None, Some(path)) => Ok(self
                .texts
                .render(&read_key_file(path, "api key")?, n)?
                .trim()
                .to_owned()),
            (None, None) => Err(NotifyError::permanent(
                FailureReason::Config,
                "opsgenie has no api_key",
            )),
        }
    }
}

/// Alertmanager's `safeSplit`: split the trimmed text at `,`, dropping empty parts.
fn safe_split(s: &str) -> Vec<String> {
    s.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn field(out: &mut String, key: &str, value: &str) {
    gojson::key(out, key);
    gojson::string(out, value);
}

fn optional(out: &mut String, key: &str, value: &str) {
    if !value.is_empty() {
        out.push(',');
        field(out, key, value);
    }
}

fn list(out: &mut String, key: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push(',');
    gojson::key(out, key);
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        gojson::string(out, item);
    }
    out.push(']');
}

#[async_trait]
impl Integration for Opsgenie {
    fn name(&self) -> &str {
        "opsgenie"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        Ok(self
            .requests(n)?
            .into_iter()
            .map(|r| format!("{} {}\n{}", r.method, r.url, r.body))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let requests = self.requests(n)?;
        let key = self.api_key(n)?;
        for r in requests {
            let method = if r.method == "PUT" {
                reqwest::Method::PUT
            } else {
                reqwest::Method::POST
            };
            let req = self
                .client
                .request(method, &r.url)
                .timeout(self.config.delivery.timeout.as_duration())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::AUTHORIZATION, format!("GenieKey {key}"))
                .body(r.body);
            let answer = exchange(req).await?;
            check(&answer, &[429], answer.body.trim())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::incident_text::test_support::{answer, config_of, note};
    use super::*;

    fn og(extra: &str) -> Opsgenie {
        let c = config_of(&format!("    opsgenie_configs:\n      - {extra}\n"));
        Opsgenie::new(
            c.receivers[0].opsgenie_configs[0].clone(),
            reqwest::Client::new(),
            &TemplateLibrary::default(),
        )
        .unwrap()
    }

    #[test]
    fn create_with_defaults() {
        let o = og("{api_key: k, api_url: 'http://og.example/'}");
        let r = o.requests(&note()).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].url, "http://og.example/v2/alerts");
        let alias = key_hash("{}:{alertname=\"DiskFull\"}");
        assert_eq!(
            r[0].body,
            format!(
                "{{\"alias\":\"{alias}\",\"message\":\"[FIRING:1] DiskFull (db1 critical)\",\
                 \"description\":\"disk \\u003cfull\\u003e\\nAlerts Firing:\\nLabels:\\n - alertname = DiskFull\\n - instance = db1\\n - severity = critical\\n\
                 Annotations:\\n - summary = disk \\u003cfull\\u003e\\nSource: http://prom.example/graph\\n\\n\",\
                 \"details\":{{\"alertname\":\"DiskFull\",\"instance\":\"db1\",\"severity\":\"critical\"}},\
                 \"source\":\"http://am.example/#/alerts?receiver=team\"}}\n"
            )
        );
    }

    #[test]
    fn configured_fields_update_and_close() {
        let o = og("{api_key: k, api_url: 'http://og.example/', update_alerts: true, \
                    tags: ' a,b,,c ', priority: P1, note: '{{ .Status }}', entity: e, actions: x, \
                    details: {severity: '{{ .CommonLabels.instance }}'}, \
                    responders: [{name: 'ops,dba', type: teams}, {name: '{{ .CommonLabels.nothing }}', type: '{{ .CommonLabels.nothing }}'}, {username: u, type: user}]}");
        let r = o.requests(&note()).unwrap();
        assert_eq!(r.len(), 3);
        let v: serde_json::Value = serde_json::from_str(&r[0].body).unwrap();
        assert_eq!(v["tags"], serde_json::json!(["a", "b", "c"]));
        assert_eq!(v["note"], "firing");
        assert_eq!(v["details"]["severity"], "db1");
        assert_eq!(
            v["responders"],
            serde_json::json!([{"name": "ops", "type": "team"}, {"name": "dba", "type": "team"}, {"username": "u", "type": "user"}])
        );
        let alias = key_hash("{}:{alertname=\"DiskFull\"}");
        assert_eq!(r[1].method, "PUT");
        assert_eq!(
            r[1].url,
            format!("http://og.example/v2/alerts/{alias}/message?identifierType=alias")
        );
        assert!(r[2].url.ends_with("/description?identifierType=alias"));
        let mut resolved = note();
        resolved.alerts[0].status = AlertStatus::Resolved;
        resolved.alerts[0].ends_at = Some(resolved.created_at);
        let r = o.requests(&resolved).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].url,
            format!("http://og.example/v2/alerts/{alias}/close?identifierType=alias")
        );
        assert_eq!(
            r[0].body,
            "{\"source\":\"http://am.example/#/alerts?receiver=team\"}\n"
        );
    }

    #[test]
    fn messages_are_cut_and_answers_classified() {
        let o = og(&format!("{{api_key: k, message: {}}}", "m".repeat(200)));
        let v: serde_json::Value =
            serde_json::from_str(&o.requests(&note()).unwrap()[0].body).unwrap();
        assert_eq!(v["message"].as_str().unwrap().chars().count(), 130);
        let e = check(&answer(422, "bad"), &[429], "bad").unwrap_err();
        assert!(!e.is_retryable());
        assert_eq!(e.message, "unexpected status code 422: bad");
        assert!(check(&answer(429, ""), &[429], "")
            .unwrap_err()
            .is_retryable());
        assert!(check(&answer(502, ""), &[429], "")
            .unwrap_err()
            .is_retryable());
    }
}
