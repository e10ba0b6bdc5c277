//! Building the configured integrations, and the two CLI helpers that use them without a
//! running notifier: [`render`] (`watchfire render`: what each integration would send for some
//! alerts) and [`test_receivers`] (`watchfire test receivers`: one test notification per
//! integration, one attempt each).

use super::alert::NotifyAlert;
use super::integration::{Integration, NotifyError};
use super::integrations::{
    discord::Discord, email::Email, log::Log, msteams::MsTeams, msteamsv2::MsTeamsV2, slack::Slack,
    telegram::Telegram, webhook::Webhook,
};
use super::notification::{Notification, NotificationReason};
use super::notifier::BuildError;
use super::route::{Route, DEFAULT_RECEIVER};
use super::templates::TemplateLibrary;
use crate::config::{Config, DeliveryConfig};
use crate::model::Labels;
use crate::notify::FailureReason;
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One integration built from the config.
pub struct BuiltIntegration {
    /// Its receiver.
    pub receiver: String,
    /// The integration.
    pub integration: Arc<dyn Integration>,
    /// Notify about resolved alerts too.
    pub send_resolved: bool,
    /// Retry settings.
    pub delivery: DeliveryConfig,
    /// The receiver's fallback.
    pub fallback: Option<String>,
}

/// Every integration of the config, in receiver and config order; a log receiver named
/// [`DEFAULT_RECEIVER`] when the config has no route. Call inside a Tokio runtime.
pub fn build_integrations(
    config: &Config,
    client: &reqwest::Client,
) -> Result<Vec<BuiltIntegration>, BuildError> {
    let lib = TemplateLibrary::load(config).map_err(BuildError::Templates)?;
    let mut out = Vec::new();
    if config.route.is_none() {
        out.push(BuiltIntegration {
            receiver: DEFAULT_RECEIVER.to_owned(),
            integration: Arc::new(Log),
            send_resolved: true,
            delivery: DeliveryConfig::default(),
            fallback: None,
        });
    }
    for r in &config.receivers {
        let failed = |message| BuildError::Integration {
            receiver: r.name.clone(),
            message,
        };
        let mut add =
            |integration: Arc<dyn Integration>, send_resolved, delivery: &DeliveryConfig| {
                out.push(BuiltIntegration {
                    receiver: r.name.clone(),
                    integration,
                    send_resolved,
                    delivery: delivery.clone(),
                    fallback: r.fallback_receiver.clone(),
                })
            };
        for w in &r.webhook_configs {
            add(
                Arc::new(Webhook::new(w.clone(), client.clone())),
                w.send_resolved,
                &w.delivery,
            );
        }
        for s in &r.slack_configs {
            let slack = Slack::new(s.clone(), client.clone(), &lib).map_err(failed)?;
            add(Arc::new(slack), s.send_resolved, &s.delivery);
        }
        for e in &r.email_configs {
            let email = Email::new(e.clone(), &lib).map_err(failed)?;
            add(Arc::new(email), e.send_resolved, &e.delivery);
        }
        for c in &r.msteams_configs {
            let teams = MsTeams::new(c.clone(), client.clone(), &lib).map_err(failed)?;
            add(Arc::new(teams), c.send_resolved, &c.delivery);
        }
        for c in &r.msteamsv2_configs {
            let teams = MsTeamsV2::new(c.clone(), client.clone(), &lib).map_err(failed)?;
            add(Arc::new(teams), c.send_resolved, &c.delivery);
        }
        for c in &r.telegram_configs {
            let bot = Telegram::new(c.clone(), client.clone(), &lib).map_err(failed)?;
            add(Arc::new(bot), c.send_resolved, &c.delivery);
        }
        for c in &r.discord_configs {
            let discord = Discord::new(c.clone(), client.clone(), &lib).map_err(failed)?;
            add(Arc::new(discord), c.send_resolved, &c.delivery);
        }
        for p in &r.pagerduty_configs {
            let pd =
                super::integrations::pagerduty::Pagerduty::new(p.clone(), client.clone(), &lib)
                    .map_err(failed)?;
            add(Arc::new(pd), p.send_resolved, &p.delivery);
        }
        for o in &r.opsgenie_configs {
            let og = super::integrations::opsgenie::Opsgenie::new(o.clone(), client.clone(), &lib)
                .map_err(failed)?;
            add(Arc::new(og), o.send_resolved, &o.delivery);
        }
        for p in &r.pushover_configs {
            let po = super::integrations::pushover::Pushover::new(p.clone(), client.clone(), &lib)
                .map_err(failed)?;
            add(Arc::new(po), p.send_resolved, &p.delivery);
        }
        for w in &r.webex_configs {
            let webex = super::integrations::webex::Webex::new(w.clone(), client.clone(), &lib)
                .map_err(failed)?;
            add(Arc::new(webex), w.send_resolved, &w.delivery);
        }
        for l in &r.log_configs {
            add(Arc::new(Log), l.send_resolved, &DeliveryConfig::default());
        }
    }
    Ok(out)
}

/// What one integration would send.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// Receiver name.
    pub receiver: String,
    /// Integration kind.
    pub integration: String,
    /// The body (or the error rendering it).
    pub output: Result<String, NotifyError>,
}

/// Routes `alerts` as the dispatcher would, groups them, and renders each group's first
/// notification for every integration of its receiver.
pub fn render(
    config: &Config,
    alerts: &[NotifyAlert],
    external_url: &str,
) -> Result<Vec<Rendered>, BuildError> {
    let built = build_integrations(config, &super::integrations::http_client())?;
    let root = Route::from_config(config.route.as_ref());
    let mut groups: BTreeMap<(usize, Labels), (String, String, Vec<NotifyAlert>)> = BTreeMap::new();
    for alert in alerts {
        for route in root.match_labels(&alert.labels) {
            let group_labels = route.group_labels(&alert.labels);
            let key = format!(
                "{}:{}",
                route.key,
                crate::model::matcher_text::label_set_string(&group_labels)
            );
            groups
                .entry((route.index, group_labels))
                .or_insert_with(|| (route.receiver.clone(), key, Vec::new()))
                .2
                .push(alert.clone());
        }
    }
    let mut out = Vec::new();
    for ((_, group_labels), (receiver, key, alerts)) in groups {
        let n = Notification::new(
            receiver.clone(),
            key,
            group_labels,
            NotificationReason::FirstNotification,
            alerts,
            external_url,
            Utc::now(),
        );
        for b in built.iter().filter(|b| b.receiver == receiver) {
            out.push(Rendered {
                receiver: receiver.clone(),
                integration: b.integration.name().to_owned(),
                output: b.integration.render(&n),
            });
        }
    }
    Ok(out)
}

/// The outcome of a test notification through one integration.
#[derive(Clone, Debug)]
pub struct TestOutcome {
    /// Receiver name.
    pub receiver: String,
    /// Integration kind.
    pub integration: String,
    /// Delivered, or why not.
    pub result: Result<(), NotifyError>,
}

/// Sends one test notification (alert `TestAlert`, severity `warning`) through every
/// integration, one attempt each within its timeout.
pub async fn test_receivers(
    config: &Config,
    external_url: &str,
) -> Result<Vec<TestOutcome>, BuildError> {
    let built = build_integrations(config, &super::integrations::http_client())?;
    let mut alert = NotifyAlert::firing(
        Labels::from_pairs([
            ("alertname", "TestAlert"),
            ("severity", "warning"),
            ("instance", "watchfire"),
        ]),
        Utc::now(),
    );
    alert
        .annotations
        .insert("summary".into(), "Test notification from watchfire".into());
    let mut out = Vec::new();
    for b in built {
        let n = Notification::new(
            b.receiver.clone(),
            "{}:{alertname=\"TestAlert\"}",
            Labels::from_pairs([("alertname", "TestAlert")]),
            NotificationReason::Unknown,
            vec![alert.clone()],
            external_url,
            Utc::now(),
        );
        let timeout = b.delivery.timeout.as_duration();
        let result = tokio::time::timeout(timeout, b.integration.notify(&n))
            .await
            .unwrap_or_else(|_| {
                Err(NotifyError::retryable(
                    FailureReason::Timeout,
                    format!("no answer within {timeout:?}"),
                ))
            });
        out.push(TestOutcome {
            receiver: b.receiver,
            integration: b.integration.name().to_owned(),
            result,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CONFIG: &str = r#"
route:
  receiver: hooks
  group_by: [alertname]
  routes:
    - {matchers: [team=db], receiver: db}
receivers:
  - name: hooks
    webhook_configs: [{url: 'http://127.0.0.1:1/hook'}]
    log_configs: [{}]
  - name: db
    slack_configs: [{api_url: 'http://127.0.0.1:1/slack', title: '{{ .CommonLabels.team }} alert'}]
"#;

    fn alert(pairs: &[(&str, &str)]) -> NotifyAlert {
        NotifyAlert::firing(Labels::from_pairs(pairs.iter().copied()), Utc::now())
    }

    #[tokio::test]
    async fn renders_each_integration_of_each_group() {
        let cfg = crate::config::parse_with_env(CONFIG, Path::new("t.yml"), &|_| None).unwrap();
        let alerts = [
            alert(&[("alertname", "A"), ("team", "db")]),
            alert(&[("alertname", "B")]),
            alert(&[("alertname", "B"), ("x", "2")]),
        ];
        let out = render(&cfg, &alerts, "http://wf").unwrap();
        let kinds: Vec<(&str, &str)> = out
            .iter()
            .map(|r| (r.receiver.as_str(), r.integration.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [("hooks", "webhook"), ("hooks", "log"), ("db", "slack")]
        );
        let hook: serde_json::Value =
            serde_json::from_str(out[0].output.as_ref().unwrap()).unwrap();
        assert_eq!(hook["alerts"].as_array().unwrap().len(), 2);
        assert!(out[1].output.as_ref().unwrap().starts_with("[FIRING:2] B "));
        assert!(out[2]
            .output
            .as_ref()
            .unwrap()
            .contains(r#""title":"db alert""#));
    }

    #[tokio::test]
    async fn test_receivers_reports_each_outcome() {
        let cfg = crate::config::parse_with_env(CONFIG, Path::new("t.yml"), &|_| None).unwrap();
        let out = test_receivers(&cfg, "").await.unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].result.as_ref().unwrap_err().reason, "connect");
        assert!(out[1].result.is_ok(), "the log integration always works");
    }

    #[tokio::test]
    async fn chat_integrations_render_and_test() {
        let text = "route: {receiver: chat}\nreceivers:\n  - name: chat\n    \
                    msteams_configs: [{webhook_url: 'http://127.0.0.1:1/t'}]\n    \
                    msteamsv2_configs: [{webhook_url: 'http://127.0.0.1:1/t2'}]\n    \
                    telegram_configs: [{api_url: 'http://127.0.0.1:1', bot_token: t, chat_id: 9}]\n    \
                    discord_configs: [{webhook_url: 'http://127.0.0.1:1/d'}]\n";
        let cfg = crate::config::parse_with_env(text, Path::new("t.yml"), &|_| None).unwrap();
        let out = render(&cfg, &[alert(&[("alertname", "A")])], "http://wf").unwrap();
        let kinds: Vec<&str> = out.iter().map(|r| r.integration.as_str()).collect();
        assert_eq!(kinds, ["msteams", "msteamsv2", "telegram", "discord"]);
        for r in &out {
            let body: serde_json::Value = serde_json::from_str(r.output.as_ref().unwrap()).unwrap();
            assert!(body.to_string().contains("alertname = A"), "{body}");
        }
        let tried = test_receivers(&cfg, "").await.unwrap();
        assert_eq!(tried.len(), 4);
        for t in tried {
            assert_eq!(t.result.unwrap_err().reason, "connect");
        }
    }
}
