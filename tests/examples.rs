//! Runs every example in `examples/` and checks that it finishes on its own
//! with its `OK: ...` line (each example asserts its own claims and prints
//! that line last).
//!
//! The examples are built by `cargo test` already, into
//! `target/<profile>/examples/`, found next to this test's own executable.
//! When only this file is selected (`cargo test --test examples`) they are
//! not, and may be missing or older than their sources; then the first test
//! runs one `cargo build --examples` in the same profile and features.
//! (Always running that build would be simpler, but under `--workspace` the
//! outer build unifies features across members, so a nested build of this
//! package alone would compile a second variant of every dependency.)

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// Every example in `examples/`.
const EXAMPLES: [&str; 7] = ["cache", "ledger", "token_refresh", "telemetry", "config_cache", "job_queue", "drop_in"];

/// A stall guard only (the examples take a few seconds at most): an example
/// still running after this long is killed and the test fails with its output.
const STALL_LIMIT: Duration = Duration::from_secs(120);

/// `target/<profile>`: this test runs as `target/<profile>/deps/examples-<hash>`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent().and_then(Path::parent).expect("test binary lives in target/<profile>/deps").to_path_buf()
}

fn example_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The newest modification time of the files under `path`.
fn newest(path: &Path) -> SystemTime {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut t = meta.modified().expect("mtime");
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).expect("read_dir") {
            t = t.max(newest(&entry.expect("dir entry").path()));
        }
    }
    t
}

/// Whether every example binary exists and is newer than its sources (a
/// cheap check that saves the nested build; when it errs towards "stale",
/// e.g. for a file under `src/` outside the module tree, the build it
/// triggers is a no-op).
fn examples_fresh(dir: &Path) -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = newest(&root.join("src")).max(newest(&root.join("Cargo.toml")));
    EXAMPLES.iter().all(|name| {
        let sources = lib.max(newest(&root.join("examples").join(format!("{name}.rs"))));
        std::fs::metadata(example_path(dir, name)).and_then(|m| m.modified()).is_ok_and(|built| built >= sources)
    })
}

/// Makes sure the example binaries are up to date; returns `target/<profile>`.
fn ensure_built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = profile_dir();
        if examples_fresh(&dir) {
            return dir;
        }
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
        dir
    })
}

/// Runs example `name` and checks that it exits successfully with a last
/// line starting with `OK:` and containing `expect`.
fn run_example(name: &str, expect: &str) {
    assert!(EXAMPLES.contains(&name), "add {name} to EXAMPLES");
    let path = example_path(ensure_built(), name);
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

#[test]
fn every_example_is_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples/")
        .filter_map(|e| {
            let name = e.expect("dir entry").file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    found.sort();
    let mut listed: Vec<String> = EXAMPLES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "every example in examples/ has a test here");
}
