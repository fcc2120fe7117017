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
    assert_eq!(
        ids,
        ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11", "B12", "B13", "B14", "B15", "B16"]
    );
    const BLOCKING: &[&str] = &["rwlocker-pf", "std-rwlock", "pl-rwlock", "pl013-rwlock"];
    const ASYNC: &[&str] = &["rwlocker-async-pf", "tokio-rwlock", "al-rwlock"];
    const ASYNC_MUTEXES: &[&str] = &["rwlocker-async-mutex", "tokio-mutex", "al-mutex"];
    const CONDVARS: &[&str] = &["rwlocker-pf-cv", "std-condvar", "pl-condvar", "pl013-condvar"];
    const ASYNC_CONDVARS: &[&str] = &["rwlocker-async-pf-cv", "tokio-rwlock-notify", "tokio-mutex-notify"];
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
        // Who must take part, and which rwlocker row must carry a ratio to
        // which baseline.
        let (must, ratio_of): (Vec<&str>, &[(&str, &str)]) = match id {
            "B2" => ([BLOCKING, ASYNC].concat(), &[("rwlocker-pf", "std"), ("rwlocker-async-pf", "tokio")]),
            // Smoke mode runs every mutex too, so that no contender goes untested.
            "B6" | "B13" => (
                [ASYNC, ASYNC_MUTEXES].concat(),
                &[
                    ("rwlocker-async-pf", "tokio"),
                    ("rwlocker-async-pf", "async-lock"),
                    ("rwlocker-async-mutex", "tokio"),
                ],
            ),
            "B10" => (
                CONDVARS.to_vec(),
                &[("rwlocker-pf-cv", "std"), ("rwlocker-pf-cv", "parking_lot"), ("rwlocker-pf-cv", "parking_lot 0.13")],
            ),
            "B11" => (
                [CONDVARS, ASYNC_CONDVARS, &["rwlocker-mutex-cv", "rwlocker-async-mutex-cv"]].concat(),
                &[("rwlocker-pf-cv", "std"), ("rwlocker-async-pf-cv", "tokio Mutex")],
            ),
            "B14" => ([BLOCKING, ASYNC].concat(), &[("rwlocker-pf", "std"), ("rwlocker-async-pf", "tokio")]),
            "B15" => (
                [ASYNC, ASYNC_MUTEXES].concat(),
                &[
                    ("rwlocker-async-pf", "tokio"),
                    ("rwlocker-async-pf", "async-lock"),
                    ("rwlocker-async-strict-pf", "tokio"),
                    ("rwlocker-async-mutex", "async-lock"),
                    ("rwlocker-async-strict-mutex", "tokio"),
                ],
            ),
            _ => (BLOCKING.to_vec(), &[("rwlocker-pf", "std"), ("rwlocker-pf", "parking_lot 0.13")]),
        };
        for m in &must {
            assert!(contenders.contains(m), "{id} lacks {m}: {contenders:?}");
        }
        // The contention-sensitive scenarios run rwlocker's locks in both
        // modes; the others in the default mode only.
        let strict: Vec<&str> = rows
            .iter()
            .filter(|r| r["contender"]["strict"].as_bool().unwrap())
            .map(|r| r["contender"]["id"].as_str().unwrap())
            .collect();
        match id {
            "B4" | "B12" => {
                for m in ["rwlocker-strict-pf", "rwlocker-strict-wp", "rwlocker-strict-rp", "rwlocker-strict-mutex"] {
                    assert!(strict.contains(&m), "{id} lacks {m}: {contenders:?}");
                }
            }
            "B7" | "B8" | "B9" => assert!(strict.contains(&"rwlocker-strict-pf"), "{id} lacks Strict<PhaseFair>"),
            "B15" => {
                for m in ["rwlocker-async-strict-pf", "rwlocker-async-strict-mutex"] {
                    assert!(strict.contains(&m), "{id} lacks {m}: {contenders:?}");
                }
            }
            _ => assert!(strict.is_empty(), "{id} runs Strict<P> contenders: {strict:?}"),
        }
        // The reader-biased locks run where the bias is measured, beside
        // the plain ones; nowhere else.
        let biased: Vec<&str> = rows
            .iter()
            .filter(|r| r["contender"]["biased"].as_bool().unwrap())
            .map(|r| r["contender"]["id"].as_str().unwrap())
            .collect();
        match id {
            "B3" | "B4" | "B14" => {
                for m in ["rwlocker-biased-pf", "rwlocker-biased-wp", "rwlocker-biased-rp"] {
                    assert!(biased.contains(&m), "{id} lacks {m}: {contenders:?}");
                }
            }
            "B7" | "B16" => {
                for m in ["rwlocker-biased-pf", "rwlocker-biased-wp"] {
                    assert!(biased.contains(&m), "{id} lacks {m}: {contenders:?}");
                }
                assert!(!biased.contains(&"rwlocker-biased-rp"), "{id} runs ReadBiased<ReaderPref>");
            }
            _ => assert!(biased.is_empty(), "{id} runs ReadBiased<P> contenders: {biased:?}"),
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
        // Ratios to the baselines exist wherever the baseline took part.
        for (who, baseline) in ratio_of {
            let row = rows.iter().find(|r| r["contender"]["id"] == *who).unwrap();
            assert!(row["ratios"][baseline].as_f64().is_some(), "{id}: {who} has no ratio to {baseline}");
        }
    }
    let scenario = |id: &str| scenarios.iter().find(|s| s["id"] == id).unwrap()["rows"].as_array().unwrap().clone();
    let row = |rows: &[serde_json::Value], case_prefix: &str, who: &str| {
        rows.iter()
            .find(|r| r["contender"]["id"] == who && r["case"].as_str().unwrap().starts_with(case_prefix))
            .unwrap_or_else(|| panic!("no row {who} in a case {case_prefix}…"))
            .clone()
    };

    // The IO-bound scenario reports speedup and efficiency against its bound.
    let pf = row(&scenario("B5"), "read-heavy", "rwlocker-pf");
    let bound = pf["derived"]["bound"].as_f64().unwrap();
    assert!((bound - 22.0 / 3.0).abs() < 1e-9, "read-heavy 20R/2W bound is 22/3, got {bound}");
    assert!(pf["derived"]["efficiency"].as_f64().unwrap() > 0.0);

    // B6 does the same for tasks, on both runtimes in smoke mode.
    let b6 = scenario("B6");
    for case in ["read-heavy 20R/2W multi_thread(2)", "read-heavy 20R/2W current_thread"] {
        let pf = row(&b6, case, "rwlocker-async-pf");
        assert!((pf["derived"]["bound"].as_f64().unwrap() - 22.0 / 3.0).abs() < 1e-9);
        assert!(pf["derived"]["efficiency"].as_f64().unwrap() > 0.0, "{case}: no efficiency");
        let mutex = row(&b6, case, "tokio-mutex");
        assert_eq!(mutex["derived"]["speedup"].as_f64().unwrap(), 1.0, "the tokio Mutex is B6's baseline");
    }

    // B9: phases are counted and the threads' shares are a spread and a
    // Jain index (its cases are "<n> threads", n a multiple of the CPUs).
    let b9 = scenario("B9");
    let first = b9[0]["case"].as_str().unwrap().to_string();
    let n: f64 = first.strip_suffix(" threads").and_then(|n| n.parse().ok()).expect("a B9 case is '<n> threads'");
    for who in [BLOCKING, &["rwlocker-strict-pf"]].concat() {
        let m = &row(&b9, &first, who)["metrics"];
        assert!(m["ops_per_phase"]["median"].as_f64().unwrap() >= 1.0, "B9 {who}: a phase holds an operation");
        let j = m["jain"]["median"].as_f64().unwrap();
        assert!((1.0 / n..=1.0).contains(&j), "B9 {who}: Jain's index of {n} threads is {j}");
        assert!(m["spread"]["median"].as_f64().unwrap() >= 1.0, "B9 {who}: the busiest thread did the fewest ops");
    }

    // B4: a fixed-time part gives the threads' share spread, for both modes
    // and every baseline, with throughput ratios to parking_lot 0.13.
    let b4 = scenarios.iter().find(|s| s["id"] == "B4").unwrap();
    let part = &b4["parts"][0];
    assert_eq!(part["primary"], "m_ops_per_s");
    let timed = part["rows"].as_array().unwrap();
    for who in ["rwlocker-pf", "rwlocker-strict-pf", "rwlocker-mutex", "rwlocker-strict-mutex", "std-mutex"] {
        let r = timed.iter().find(|r| r["contender"]["id"] == who).unwrap_or_else(|| panic!("B4 part lacks {who}"));
        let spread = r["metrics"]["spread"]["median"].as_f64().unwrap();
        assert!(spread >= 1.0, "B4 {who}: share spread {spread}");
        assert!(r["metrics"]["m_ops_per_s"]["median"].as_f64().unwrap() > 0.0);
        assert!(r["ratios"]["parking_lot 0.13"].as_f64().is_some(), "B4 part: {who} has no ratio to parking_lot 0.13");
    }
    for table in ["== B4 ", "-- B4 fixed time"] {
        assert!(stdout.contains(table), "no {table} table on stdout");
    }

    // B10: read- and write-guard cases; the last waiter is back no earlier
    // than the first.
    let b10 = scenario("B10");
    for case in ["(a) 8 read-guard", "(b) 8 write-guard"] {
        for who in ["rwlocker-pf-cv", "std-condvar", "pl-condvar"] {
            let r = row(&b10, case, who);
            let m = &r["metrics"];
            let (first, last) =
                (m["first_p50_us"]["median"].as_f64().unwrap(), m["last_p50_us"]["median"].as_f64().unwrap());
            assert!(0.0 <= first && first <= last, "{case} {who}: first-wake {first} µs, last-wake {last} µs");
            assert!(m["futile_per_notify"]["median"].as_f64().unwrap() >= 0.0);
        }
    }

    // B11: the speedup over the exclusive condition, beside Python's figure.
    let b11 = scenario("B11");
    let wp = row(&b11, "threads", "rwlocker-wp-cv");
    assert!(wp["derived"]["speedup"].as_f64().unwrap() > 0.0);
    assert_eq!(wp["derived"]["python"].as_f64().unwrap(), 45.55);
    assert_eq!(row(&b11, "threads", "std-condvar")["derived"]["speedup"].as_f64().unwrap(), 1.0);
    assert_eq!(row(&b11, "tasks", "tokio-mutex-notify")["derived"]["speedup"].as_f64().unwrap(), 1.0);
    assert!(row(&b11, "tasks", "rwlocker-async-pf-cv")["metrics"]["reads"]["median"].as_f64().unwrap() >= 20.0);

    // B13: every lock completed acquisitions (the leak checks ran inside).
    let b13 = scenario("B13");
    for who in [ASYNC, ASYNC_MUTEXES].concat() {
        let ops = row(&b13, "64 tasks", who)["metrics"]["k_ops_per_s"]["median"].as_f64().unwrap();
        assert!(ops > 0.0, "B13 {who}: no completed acquisition");
    }

    // B15: 4 and 64 tasks, both modes; every task acquired at least once.
    let b15 = scenario("B15");
    for case in ["4 tasks", "64 tasks"] {
        for who in [ASYNC, ASYNC_MUTEXES, &["rwlocker-async-strict-pf"]].concat() {
            let m = &row(&b15, case, who)["metrics"];
            assert!(m["m_ops_per_s"]["median"].as_f64().unwrap() > 0.0, "B15 {case} {who}: no acquisition");
            assert!(m["spread"]["median"].as_f64().unwrap() >= 1.0, "B15 {case} {who}: spread below 1");
        }
    }

    // B4 runs the reader-biased locks in the read-mostly cases only.
    let b4 = scenario("B4");
    for r in b4.iter().filter(|r| r["contender"]["biased"].as_bool().unwrap()) {
        let case = r["case"].as_str().unwrap();
        assert!(!case.ends_with("read=0%"), "B4 runs {} in {case}", r["contender"]["id"]);
    }

    // B16: every write is counted; only the reader-biased locks can find
    // the bias on, and their rows carry the revocation's cost.
    let b16 = scenario("B16");
    for r in &b16 {
        let who = r["contender"]["id"].as_str().unwrap();
        let m = &r["metrics"];
        assert!(m["writes"]["median"].as_f64().unwrap() >= 1.0, "B16 {who}: no write");
        let revoked = m["revoked"]["median"].as_f64().unwrap();
        if r["contender"]["biased"].as_bool().unwrap() {
            assert!(r["derived"]["revoke_us"].as_f64().is_some(), "B16 {who}: no revocation cost");
            // Alone, the writer reads until the bias is back on before each
            // write: some writes at least must have found it on.
            if r["case"].as_str().unwrap().starts_with("idle") {
                assert!(revoked >= 1.0, "B16 {who}: no write found the bias on");
            }
        } else {
            assert_eq!(revoked, 0.0, "B16 {who}: an unbiased lock revoked");
        }
    }
    assert!(b16.iter().any(|r| r["case"].as_str().unwrap().ends_with("+ 1 writer")), "B16 has no loaded case");

    // B14 sizes are exact.
    let b14 = scenario("B14");
    let size = |case: &str, who: &str, key: &str| {
        row(&b14, case, who)["metrics"][key]["median"].as_f64().unwrap_or_else(|| panic!("B14 {who}.{key}")) as usize
    };
    assert_eq!(size("blocking", "std-rwlock", "lock_unit"), std::mem::size_of::<std::sync::RwLock<()>>());
    assert_eq!(size("async locks", "tokio-rwlock", "lock_unit"), std::mem::size_of::<tokio::sync::RwLock<()>>());
    assert_eq!(size("async locks", "rwlocker-async-pf", "lock_unit"), std::mem::size_of::<rwlocker::AsyncRwLock<()>>());
    assert_eq!(
        size("async locks", "rwlocker-async-pf", "read_future"),
        std::mem::size_of::<rwlocker::AsyncRwLockReadFuture<'static, ()>>()
    );
    assert_eq!(size("condvars", "rwlocker-pf-cv", "condvar"), std::mem::size_of::<rwlocker::RwCondvar>());
    assert_eq!(size("async condvars", "tokio-rwlock-notify", "condvar"), std::mem::size_of::<tokio::sync::Notify>());

    let svg = std::fs::read_to_string(out.0.join("report.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "not an SVG document");
    assert!(svg.contains("rwlocker PhaseFair"), "the chart has no rwlocker bars");

    assert!(stdout.contains("== B5 "), "no B5 table on stdout:\n{stdout}");
    assert!(stdout.contains("efficiency"));
    for table in ["== B6 ", "== B10 ", "== B11 ", "== B13 "] {
        assert!(stdout.contains(table), "no {table} table on stdout");
    }
    assert!(svg.contains("tokio RwLock"), "the chart has no tokio bars");
}

#[test]
fn ir_op_runs_every_applicable_operation() {
    let ids = [
        "rwlocker-rp",
        "rwlocker-wp",
        "rwlocker-pf",
        "rwlocker-mutex",
        "rwlocker-strict-pf",
        "rwlocker-strict-mutex",
        "std-rwlock",
        "std-mutex",
        "pl-rwlock",
        "pl-mutex",
        "pl013-rwlock",
        "pl013-mutex",
        // Their read op counts with the bias on, and fails if it is not.
        "rwlocker-biased-rp",
        "rwlocker-biased-wp",
        "rwlocker-biased-pf",
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
    let run = Command::new(BIN).args(["--smoke", "--only", "b14", "B9", "--out"]).arg(&out.0).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.0.join("report.json")).unwrap()).unwrap();
    let ids: Vec<&str> = json["scenarios"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["B9", "B14"]);

    let bad = Command::new(BIN).args(["--smoke", "--only", "B99", "--out"]).arg(&out.0).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scenario"));
}
