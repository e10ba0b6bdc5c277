//! The real Alertmanager 0.33 from the peers (`fetch-peers.sh`), started on a random port of
//! 127.0.0.1 with its default templates bind-mounted where the Debian build looks for them
//! (a private mount namespace, as the script's header says; tests run as root).

use super::{free_port, get_text, have, peers, wait_for, Proc};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Alertmanager on `config`, with `extra` flags (e.g. `--web.external-url=…`), ready to
/// answer; `None` (a skip outside CI) when the peer is absent.
pub fn start(dir: &Path, config: &Path, extra: &[&str]) -> Option<(Proc, String)> {
    let am = peers::peer("prometheus-alertmanager")?;
    let templates = peers::dir().join("../share/prometheus");
    assert!(
        templates.exists() && have("unshare"),
        "{} and unshare(1) come with the peers ({})",
        templates.display(),
        am.display()
    );
    let port = free_port();
    let data = dir.join(format!("am-data-{port}"));
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(
            "mkdir -p /usr/share/prometheus && mount --bind \"$1\" /usr/share/prometheus && \
             shift && exec \"$@\"",
        )
        .arg("sh")
        .arg(&templates)
        .arg(&am)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra);
    // A cluster member names its own listen address; a lone Alertmanager gossips with none.
    if !extra
        .iter()
        .any(|f| f.starts_with("--cluster.listen-address"))
    {
        cmd.arg("--cluster.listen-address=");
    }
    let proc = Proc::spawn("alertmanager", cmd, dir);
    let base = format!("http://127.0.0.1:{port}");
    wait_for(Duration::from_secs(20), || {
        get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
    })
    .expect("alertmanager did not become ready");
    Some((proc, base))
}
