//! Configured notification texts through watchfire's template engine, with Alertmanager's data
//! model (`.Status`, `.Alerts.Firing`, `.GroupLabels`, `.CommonLabels`, `.CommonAnnotations`,
//! `.ExternalURL`, `.Receiver`).
//!
//! Template files named by the config's `templates:` globs are parsed once into a library, so
//! configured texts can `{{ template "name" . }}` their definitions. Each configured text is
//! compiled when the notifier starts (a syntax error stops the start with the receiver's
//! name) and executed per notification; an execution error fails that notification without
//! retry, as in Alertmanager.

use super::integration::NotifyError;
use super::notification::Notification;
use crate::config::Config;
use crate::model::Labels;
use crate::notify::FailureReason;
use crate::template::{AlertData, AlertStatus, Data, Flavor, NotificationData, Template};

/// The parsed `templates:` files.
#[derive(Clone, Debug, Default)]
pub struct TemplateLibrary {
    library: Option<Template>,
}

impl TemplateLibrary {
    /// Reads and parses every file matched by `config.templates` (relative to the config
    /// file's directory), in glob order.
    pub fn load(config: &Config) -> Result<TemplateLibrary, String> {
        let dir = config.dir();
        let mut library: Option<Template> = None;
        for pattern in &config.templates {
            let full = if std::path::Path::new(pattern).is_absolute() {
                pattern.clone()
            } else {
                dir.join(pattern).to_string_lossy().into_owned()
            };
            let paths = glob::glob(&full).map_err(|e| format!("templates {pattern:?}: {e}"))?;
            for path in paths {
                let path = path.map_err(|e| format!("templates {pattern:?}: {e}"))?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let name = path.to_string_lossy();
                let t = Template::parse_with(&name, &text, Flavor::Notification)
                    .map_err(|e| e.to_string())?;
                match &mut library {
                    Some(lib) => lib.include(&t),
                    None => library = Some(t),
                }
            }
        }
        Ok(TemplateLibrary { library })
    }

    /// Compiles one configured text; `html` escapes action output as `html/template` does.
    pub fn compile(&self, name: &str, source: &str, html: bool) -> Result<Text, String> {
        let t = match &self.library {
            Some(lib) => Template::parse_with_library(lib, name, source),
            None => Template::parse_with(name, source, Flavor::Notification),
        }
        .map_err(|e| e.to_string())?;
        Ok(Text(if html { t.with_html_escaping() } else { t }))
    }

    /// Compiles an optional configured text.
    pub fn compile_opt(
        &self,
        name: &str,
        source: Option<&str>,
        html: bool,
    ) -> Result<Option<Text>, String> {
        source.map(|s| self.compile(name, s, html)).transpose()
    }
}

/// A compiled configured text.
#[derive(Clone, Debug)]
pub struct Text(Template);

impl Text {
    /// Executes the text for `n`.
    pub fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        let data = notification_data(n);
        let value = data.to_value();
        let d = Data::new(value)
            .with_external_url(&n.external_url)
            .with_time_ms(n.created_at.timestamp_millis());
        self.0
            .execute(&d)
            .map_err(|e| NotifyError::permanent(FailureReason::Template, e.to_string()))
    }
}

/// The configured text if there is one, else the built-in default.
pub fn render_or(
    configured: Option<&Text>,
    n: &Notification,
    default: fn(&Notification) -> String,
) -> Result<String, NotifyError> {
    match configured {
        Some(t) => t.render(n),
        None => Ok(default(n)),
    }
}

/// Alertmanager's `template.Data` for a notification.
pub fn notification_data(n: &Notification) -> NotificationData {
    let alerts = n
        .alerts
        .iter()
        .map(|a| {
            let resolved = n.alert_status(a) == super::alert::AlertStatus::Resolved;
            AlertData {
                status: if resolved {
                    AlertStatus::Resolved
                } else {
                    AlertStatus::Firing
                },
                labels: a.labels.clone(),
                annotations: Labels::from_pairs(
                    a.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ),
                starts_at_ms: a.starts_at.timestamp_millis(),
                ends_at_ms: if resolved {
                    Some(a.ends_at.unwrap_or(n.created_at).timestamp_millis())
                } else {
                    None
                },
                generator_url: a.generator_url.clone(),
                fingerprint: format!("{:016x}", super::alert::alert_fingerprint(&a.labels)),
            }
        })
        .collect();
    NotificationData {
        receiver: n.receiver.clone(),
        group_labels: n.group_labels.clone(),
        alerts,
        external_url: n.external_url.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::alert::NotifyAlert;
    use crate::notify::notification::NotificationReason;
    use chrono::Utc;

    fn note() -> Notification {
        let labels = Labels::from_pairs([
            ("alertname", "DiskFull"),
            ("instance", "db1"),
            ("severity", "critical"),
        ]);
        let mut a = NotifyAlert::firing(labels.clone(), Utc::now());
        a.annotations.insert("summary".into(), "disk <full>".into());
        Notification::new(
            "team.db",
            "k",
            labels.keep(&["alertname"]),
            NotificationReason::FirstNotification,
            vec![a],
            "http://wf",
            Utc::now(),
        )
    }

    #[test]
    fn renders_with_alertmanager_data() {
        let lib = TemplateLibrary::default();
        let t = lib
            .compile(
                "title",
                r#"[{{ .Status | toUpper }}:{{ len .Alerts.Firing }}] {{ .CommonLabels.alertname }} {{ range .Alerts }}{{ .Annotations.summary }}{{ end }} {{ .Receiver }}"#,
                false,
            )
            .unwrap();
        assert_eq!(
            t.render(&note()).unwrap(),
            r"[FIRING:1] DiskFull disk <full> team\.db"
        );
        let html = lib
            .compile(
                "html",
                "<b>{{ (index .Alerts 0).Annotations.summary }}</b>",
                true,
            )
            .unwrap();
        assert_eq!(html.render(&note()).unwrap(), "<b>disk &lt;full&gt;</b>");
    }

    #[test]
    fn errors_are_reported() {
        let lib = TemplateLibrary::default();
        assert!(lib.compile("bad", "{{ .Status ", false).is_err());
        let t = lib
            .compile("exec", "{{ template \"missing\" . }}", false)
            .unwrap();
        let e = t.render(&note()).unwrap_err();
        assert!(!e.is_retryable() && e.reason == "template");
    }

    #[test]
    fn library_definitions_are_usable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("my.tmpl"),
            r#"{{ define "my.title" }}T:{{ .GroupLabels.alertname }}{{ end }}"#,
        )
        .unwrap();
        let text = "templates: ['*.tmpl']\n";
        let cfg = crate::config::parse_with_env(text, dir.path().join("c.yml"), &|_| None).unwrap();
        let lib = TemplateLibrary::load(&cfg).unwrap();
        let t = lib
            .compile("x", r#"{{ template "my.title" . }}"#, false)
            .unwrap();
        assert_eq!(t.render(&note()).unwrap(), "T:DiskFull");
        let subject = crate::notify::text::subject;
        assert_eq!(render_or(None, &note(), subject).unwrap(), subject(&note()));
    }
}
