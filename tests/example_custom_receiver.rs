//! `examples/custom_receiver.rs` embeds the engine through `Engine::builder` with its own
//! integration; `cargo test` builds the examples, and this test runs it: the rule fires, the
//! first attempt fails as a flaky pager would, the retry pages, and the engine stops cleanly.

use std::process::Command;
use std::time::Duration;

#[test]
fn the_embedding_example_pages_through_the_engine() {
    let exe = std::env::current_exe().unwrap();
    let debug_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let example = debug_dir.join("examples").join("custom_receiver");
    assert!(example.exists(), "{} not built", example.display());
    let mut child = Command::new(&example)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the example did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PAGE [firing] DiskFull"), "{stdout}");
    assert!(stdout.contains("attempts: 2"), "{stdout}");
}
