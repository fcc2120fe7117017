//! Runs every example in `examples/` and checks that it finishes on its own
//! with its `OK: ...` line (each example asserts its own claims and prints
//! that line last).
//!
//! The examples are built by `cargo test` already; when only this file is
//! selected (`cargo test --test examples`) they may be missing or stale, so
//! the first test brings them up to date with one `cargo build --examples`
//! in the same profile and features (a no-op when they are fresh). The
//! binaries are then run from `target/<profile>/examples/`, found next to
//! this test's own executable.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// A stall guard only (the examples take a few seconds at most): an example
/// still running after this long is killed and the test fails with its output.
const STALL_LIMIT: Duration = Duration::from_secs(120);

/// `target/<profile>`: this test runs as `target/<profile>/deps/examples-<hash>`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent().and_then(Path::parent).expect("test binary lives in target/<profile>/deps").to_path_buf()
}

/// Builds the examples once, with this test's profile and features.
fn ensure_built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = profile_dir();
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_owned(),
            Some(name) => name.to_owned(),
        };
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "--examples", "--profile", &profile, "--no-default-features"])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        if cfg!(feature = "lock_api") {
            cmd.args(["--features", "lock_api"]);
        }
        let out = cmd.output().expect("run cargo build --examples");
        assert!(out.status.success(), "cargo build --examples failed:\n{}", String::from_utf8_lossy(&out.stderr));
        dir.join("examples")
    })
}

/// Runs example `name` and checks that it exits successfully with a last
/// line starting with `OK:` and containing `expect`.
fn run_example(name: &str, expect: &str) {
    let path = ensure_built().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "example binary missing: {}", path.display());

    let mut child = Command::new(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", path.display()));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            pipe.read_to_string(&mut s).expect("example output is UTF-8");
            s
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for example") {
            break status;
        }
        if started.elapsed() > STALL_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "example {name} did not finish within {STALL_LIMIT:?}\nstdout:\n{}\nstderr:\n{}",
                stdout.join().unwrap(),
                stderr.join().unwrap()
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status.success(), "example {name} failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    assert!(
        last.starts_with("OK:") && last.contains(expect),
        "example {name}: last line {last:?} should start with \"OK:\" and contain {expect:?}\nstdout:\n{stdout}"
    );
}

#[test]
fn cache() {
    run_example("cache", "cache served");
}

#[test]
fn ledger() {
    run_example("ledger", "no writer in between");
}

#[test]
fn token_refresh() {
    run_example("token_refresh", "2 refreshes");
}

#[test]
fn telemetry() {
    run_example("telemetry", "no starvation");
}

#[test]
fn config_cache() {
    run_example("config_cache", "all saw the new config");
}

#[test]
fn job_queue() {
    run_example("job_queue", "0 futile");
}

#[test]
fn drop_in() {
    run_example("drop_in", "drop-ins");
}
