//! The real Alertmanager 0.33 from the peer programs, for differential tests.

use super::{free_port, wait_for, Proc};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Starts the real Alertmanager on `config` (with its templates bind-mounted where the
/// Debian build looks for them, as `fetch-peers.sh` says).
pub fn start_alertmanager(dir: &Path, config: &Path) -> Option<(Proc, String)> {
    let am = super::peers::peer("prometheus-alertmanager")?;
    let templates = super::peers::dir().join("../share/prometheus");
    assert!(
        templates.exists() && super::have("unshare"),
        "{} and unshare(1) come with the peers ({})",
        templates.display(),
        am.display()
    );
    let port = free_port();
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
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=");
    let proc = Proc::spawn("alertmanager", cmd, dir);
    let base = format!("http://127.0.0.1:{port}");
    wait_for(Duration::from_secs(20), || {
        super::get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
    })
    .expect("alertmanager did not become ready");
    Some((proc, base))
}
