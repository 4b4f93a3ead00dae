//! `groupdeck bench` end to end: the built binary runs each mode at toy size
//! against its own embedded server and prints JSON with sane numbers. No
//! timing is asserted; the machine may be slow.

use serde_json::Value;
use std::process::Command;

fn bench(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_groupdeck"))
        .arg("bench")
        .args(args)
        .env("GROUPDECK_DATA_DIR", dir.path().join("data"))
        .env("GROUPDECK_CONFIG_DIR", dir.path().join("config"))
        .env_remove("GROUPDECK_SERVER")
        .env_remove("GROUPDECK_KEY_FILE")
        .env_remove("GROUPDECK_APP_ID")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench {args:?} failed: {stderr}\n{stdout}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

fn check_rows(report: &Value, names: &[&str]) {
    let ops = report["operations"].as_array().expect("operations");
    for name in names {
        let row = ops
            .iter()
            .find(|r| r["name"] == *name)
            .unwrap_or_else(|| panic!("no row {name}: {report}"));
        assert!(num(&row["count"], "count") > 0.0, "{name}: {row}");
        assert_eq!(num(&row["errors"], "errors"), 0.0, "{name}: {row}");
        let p50 = num(&row["p50_ms"], "p50");
        let p99 = num(&row["p99_ms"], "p99");
        let p999 = num(&row["p999_ms"], "p999");
        assert!(p50 > 0.0 && p50 <= p99 && p99 <= p999, "{name}: {row}");
        assert!(num(&row["ops_per_s"], "ops/s") > 0.0, "{name}: {row}");
    }
    let overall = &report["overall"];
    assert!(num(&overall["count"], "count") > 0.0, "{overall}");
    assert!(num(&report["machine"]["cores"], "cores") >= 1.0);
    assert_eq!(report["machine"]["synchronous"], "FULL");
}

#[test]
fn ops_reports_every_operation_and_the_raw_sqlite_ratio() {
    let r = bench(&["ops", "--clients", "2", "--seconds", "1", "--json"]);
    assert_eq!(r["mode"], "ops");
    assert_eq!(r["clients"], 2);
    check_rows(
        &r,
        &[
            "create",
            "set join option",
            "disband",
            "join (Any)",
            "quit",
            "request (Auth)",
            "approve",
            "invite",
            "kick",
        ],
    );
    let raw = num(&r["raw_sqlite"]["rows_per_s"], "raw rows/s");
    assert!(raw > 0.0 && raw.is_finite(), "{r}");
    let ratio = num(&r["ratio_to_raw_inserts"], "ratio");
    assert!(ratio > 0.0 && ratio.is_finite(), "{r}");
}

#[test]
fn ops_baseline_reports_the_bare_http_ceiling() {
    let r = bench(&[
        "ops",
        "--clients",
        "2",
        "--seconds",
        "1",
        "--baseline",
        "--json",
    ]);
    let bare = &r["bare_http"];
    assert!(num(&bare["count"], "bare count") > 0.0, "{r}");
    assert_eq!(num(&bare["errors"], "bare errors"), 0.0, "{r}");
    for key in ["ratio_to_bare_http", "bare_http_ratio_to_raw_inserts"] {
        let v = num(&r[key], key);
        assert!(v > 0.0 && v.is_finite(), "{key}: {r}");
    }
    // Without the flag there is no bare run.
    let plain = bench(&["ops", "--clients", "1", "--seconds", "1", "--json"]);
    assert!(plain["bare_http"].is_null(), "{plain}");
}

#[test]
fn reads_reports_each_read() {
    let r = bench(&["reads", "--clients", "3", "--seconds", "1", "--json"]);
    assert_eq!(r["mode"], "reads");
    check_rows(&r, &["group info", "members page", "joined groups"]);
}

#[test]
fn big_compares_a_large_community_with_a_small_group() {
    let r = bench(&["big", "--members", "300", "--seconds", "1", "--json"]);
    let big = &r["big"];
    assert_eq!(big["big_members"], 300);
    assert_eq!(big["small_members"], 100);
    let rows = big["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{r}");
    for row in rows {
        for side in ["small", "big"] {
            assert!(num(&row[side]["samples"], "samples") > 0.0, "{row}");
            assert!(num(&row[side]["p50_ms"], "p50") > 0.0, "{row}");
        }
        for ratio in ["ratio_p50", "ratio_p99"] {
            let v = num(&row[ratio], ratio);
            assert!(v > 0.0 && v.is_finite(), "{row}");
        }
    }
    assert!(r["first_error"].is_null(), "{r}");
}

#[test]
fn the_help_lists_the_modes() {
    let out = Command::new(env!("CARGO_BIN_EXE_groupdeck"))
        .args(["bench", "--help"])
        .output()
        .expect("the binary runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for mode in ["ops", "reads", "big"] {
        assert!(text.contains(mode), "{text}");
    }
}
