//! Runs the benchmark binary end to end in its smallest configuration, so
//! that the harness, every scenario's correctness checks and the report
//! writers cannot rot. Callgrind is skipped (valgrind may be absent); the
//! `ir-op` command it would run is exercised directly instead.

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rwlocker-bench");

/// A fresh, empty folder for one test's output; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rwlocker-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn smoke_run_writes_a_complete_report() {
    let out = TempDir::new("smoke");
    let run = Command::new(BIN).args(["--smoke", "--no-callgrind", "--out"]).arg(&out.0).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "smoke run failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}", run.status);

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.0.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["tool"], "rwlocker-bench");
    assert_eq!(json["config"]["mode"], "smoke");
    for key in ["cpu_model", "kernel", "rustc"] {
        let v = json["machine"][key].as_str().unwrap_or_default();
        assert!(!v.is_empty(), "machine.{key} missing");
    }
    assert!(json["machine"]["nproc"].as_u64().unwrap() >= 1);

    let scenarios = json["scenarios"].as_array().unwrap();
    let ids: Vec<&str> = scenarios.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["B1", "B2", "B3", "B4", "B5", "B7", "B8", "B12", "B14"]);
    for s in scenarios {
        let id = s["id"].as_str().unwrap();
        let rows = s["rows"].as_array().unwrap();
        if id == "B1" {
            assert!(rows.is_empty(), "B1 must be skipped with --no-callgrind");
            assert!(s["notes"].to_string().contains("skipped"));
            continue;
        }
        assert!(!rows.is_empty(), "{id} has no results");
        let contenders: Vec<&str> = rows.iter().map(|r| r["contender"]["id"].as_str().unwrap()).collect();
        for must in ["rwlocker-pf", "std-rwlock", "pl-rwlock"] {
            assert!(contenders.contains(&must), "{id} lacks {must}: {contenders:?}");
        }
        for row in rows {
            let metrics = row["metrics"].as_object().unwrap();
            assert!(!metrics.is_empty(), "{id}: a row without metrics");
            for (k, stat) in metrics {
                let (min, med, max) = (stat["min"].as_f64(), stat["median"].as_f64(), stat["max"].as_f64());
                // NaN/inf serialise as null; every metric here must be a number.
                let (min, med, max) = (min.unwrap(), med.unwrap(), max.unwrap());
                assert!(min <= med && med <= max, "{id}.{k}: min {min} median {med} max {max}");
            }
        }
        // Ratios to the std baseline exist wherever std took part.
        let rwlocker_row = rows.iter().find(|r| r["contender"]["id"] == "rwlocker-pf").unwrap();
        assert!(rwlocker_row["ratios"]["std"].as_f64().is_some(), "{id}: no ratio to std");
    }

    // The IO-bound scenario reports speedup and efficiency against its bound.
    let b5 = scenarios.iter().find(|s| s["id"] == "B5").unwrap();
    let pf = b5["rows"].as_array().unwrap().iter().find(|r| r["contender"]["id"] == "rwlocker-pf").unwrap();
    let bound = pf["derived"]["bound"].as_f64().unwrap();
    assert!((bound - 22.0 / 3.0).abs() < 1e-9, "read-heavy 20R/2W bound is 22/3, got {bound}");
    assert!(pf["derived"]["efficiency"].as_f64().unwrap() > 0.0);

    // B14 sizes are exact.
    let b14 = scenarios.iter().find(|s| s["id"] == "B14").unwrap();
    let std_row = b14["rows"].as_array().unwrap().iter().find(|r| r["contender"]["id"] == "std-rwlock").unwrap();
    assert_eq!(
        std_row["metrics"]["lock_unit"]["median"].as_f64().unwrap(),
        std::mem::size_of::<std::sync::RwLock<()>>() as f64
    );

    let svg = std::fs::read_to_string(out.0.join("report.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "not an SVG document");
    assert!(svg.contains("rwlocker PhaseFair"), "the chart has no rwlocker bars");

    assert!(stdout.contains("== B5 "), "no B5 table on stdout:\n{stdout}");
    assert!(stdout.contains("efficiency"));
}

#[test]
fn ir_op_runs_every_applicable_operation() {
    let ids = [
        "rwlocker-rp",
        "rwlocker-wp",
        "rwlocker-pf",
        "rwlocker-mutex",
        "std-rwlock",
        "std-mutex",
        "pl-rwlock",
        "pl-mutex",
    ];
    let ops = ["read", "write", "try-read-fail", "try-write-fail", "downgrade"];
    for id in ids {
        let mutex = id.ends_with("mutex");
        for op in ops {
            let status = Command::new(BIN).args(["ir-op", id, op, "100"]).output().unwrap().status;
            let applies = !mutex || matches!(op, "write" | "try-write-fail");
            assert_eq!(status.success(), applies, "ir-op {id} {op}: {status}");
        }
    }
    let unknown = Command::new(BIN).args(["ir-op", "no-such-lock", "read", "1"]).output().unwrap();
    assert!(!unknown.status.success());
}

#[test]
fn only_filters_and_rejects_unknown_scenarios() {
    let out = TempDir::new("only");
    let run = Command::new(BIN).args(["--smoke", "--only", "b14", "B6", "--out"]).arg(&out.0).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}");
    assert!(stdout.contains("B6 is not available yet"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.0.join("report.json")).unwrap()).unwrap();
    let ids: Vec<&str> = json["scenarios"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["B14"]);

    let bad = Command::new(BIN).args(["--smoke", "--only", "B99", "--out"]).arg(&out.0).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scenario"));
}
