//! A real DNS server for the dns_sd tests, and a way to make a program use it.
//!
//! [`Dnsmasq`] runs Debian's `dnsmasq` (`/usr/sbin/dnsmasq`, installed by `.ci/run`) on port 53
//! of an unused 127.0.0.x address, authoritative for `example.test` (`local=/example.test/`: a
//! name it has no record for is NXDOMAIN) with the records given as dnsmasq config lines
//! (`srv-host=`, `host-record=`, `mx-host=`). [`in_namespace`] starts a program in a private
//! mount namespace where `/etc/resolv.conf` is the test's own file, as root (`unshare -m`), so
//! the program under test resolves through that server and nothing else on the machine sees it.
//!
//! Outside CI a missing dnsmasq or `unshare` skips the test with a message; under CI it fails.

use super::Proc;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// Whether dnsmasq and a working `unshare -m` are here; otherwise says why (a failure under CI).
pub fn available() -> bool {
    let ns_ok = Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let problem = if !Path::new(DNSMASQ).is_file() {
        format!("{DNSMASQ} is absent")
    } else if !ns_ok {
        "`unshare -m` does not work here (needs root)".to_owned()
    } else {
        return true;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{problem} in CI: .ci/run should install dnsmasq and run as root"
    );
    eprintln!("skipped: {problem}");
    false
}

/// A 127.0.0.x address whose port 53 is free (UDP and TCP), derived from the process id so
/// parallel test binaries pick different ones.
fn free_address() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    for _ in 0..250 {
        let n = std::process::id().wrapping_add(NEXT.fetch_add(7, Ordering::Relaxed) * 13);
        let x = 2 + (n % 250) as u8;
        if x == 53 {
            continue;
        }
        let ip = Ipv4Addr::new(127, 0, 0, x);
        if UdpSocket::bind((ip, 53)).is_ok() && TcpListener::bind((ip, 53)).is_ok() {
            return ip;
        }
    }
    panic!("no 127.0.0.x address with a free port 53");
}

/// A running dnsmasq; stopped when dropped.
pub struct Dnsmasq {
    /// The address it listens on (port 53).
    pub ip: Ipv4Addr,
    dir: PathBuf,
    proc: Option<Proc>,
    starts: u32,
}

impl Dnsmasq {
    /// Starts dnsmasq serving `records` (dnsmasq config lines), its files and log in `dir`.
    pub fn start(dir: &Path, records: &str) -> Dnsmasq {
        let mut d = Dnsmasq {
            ip: free_address(),
            dir: dir.to_owned(),
            proc: None,
            starts: 0,
        };
        d.restart(records);
        d
    }

    /// Restarts it (same address) with `records`.
    pub fn restart(&mut self, records: &str) {
        self.stop();
        self.starts += 1;
        let conf = self.dir.join(format!("dnsmasq-{}.conf", self.starts));
        let text = format!(
            "port=53\nlisten-address={}\nbind-interfaces\nno-resolv\nno-hosts\nuser=root\n\
             local=/example.test/\n{records}\n",
            self.ip
        );
        std::fs::write(&conf, text).expect("dnsmasq config");
        let mut cmd = Command::new(DNSMASQ);
        cmd.arg("--no-daemon")
            .arg(format!("--conf-file={}", conf.display()));
        let name = format!("dnsmasq-{}", self.starts);
        self.proc = Some(Proc::spawn(&name, cmd, &self.dir));
        let addr = format!("{}:53", self.ip);
        assert!(
            super::wait_listening(&addr, Duration::from_secs(10)),
            "dnsmasq did not start on {addr}: see {}/{name}.log",
            self.dir.display()
        );
    }

    /// Stops it (lookups through it then fail).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.terminate(Duration::from_secs(5));
        }
    }

    /// Writes `dir/resolv.conf` naming this server, with `search example.test`.
    pub fn resolv_conf(&self) -> PathBuf {
        let path = self.dir.join("resolv.conf");
        let text = format!(
            "nameserver {}\nsearch example.test\noptions ndots:1\n",
            self.ip
        );
        std::fs::write(&path, text).expect("resolv.conf");
        path
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `program args…` run in a private mount namespace whose `/etc/resolv.conf` is `resolv`.
pub fn in_namespace(resolv: &Path, program: &Path) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-m",
        "sh",
        "-c",
        "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"",
    ])
    .arg(resolv)
    .arg(program);
    cmd
}
