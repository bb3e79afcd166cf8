//! The operator files under docs/ops/ stay true: the systemd unit passes
//! `systemd-analyze verify`, and the Grafana dashboard queries only metrics
//! the server exports.

mod common;

use std::path::Path;

fn ops(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/ops")
        .join(file)
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let analyze = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output();
    if analyze.is_err() {
        common::skip_or_fail("systemd-analyze (Debian package systemd)");
        return;
    }
    let unit = std::fs::read_to_string(ops("chatroom.service")).unwrap();
    for needed in [
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ReadWritePaths=/var/lib/chatroom",
        "DynamicUser=yes",
        "KillSignal=SIGTERM",
    ] {
        assert!(unit.contains(needed), "the unit sets {needed}");
    }
    // Verified as installed, with the binary where the unit expects it.
    let dir = tempfile::tempdir().unwrap();
    let installed = unit.replace("/usr/local/bin/chatroom", env!("CARGO_BIN_EXE_chatroom"));
    let path = dir.path().join("chatroom.service");
    std::fs::write(&path, installed).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    assert!(
        !said.contains("chatroom.service:"),
        "no complaint about the unit: {said}"
    );
}

#[test]
fn the_grafana_dashboard_queries_only_exported_metrics() {
    let text = std::fs::read_to_string(ops("grafana-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md"))
            .unwrap();
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8);
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("a query");
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("chatroom_"))
                .collect();
            assert!(!names.is_empty(), "{expr}");
            for name in names {
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(name);
                assert!(
                    docs.contains(&format!("`{base}`")),
                    "{base} (in the dashboard) is a documented metric"
                );
            }
        }
    }
}
