//! The `faxrelay` command line, run as a user runs it.

use std::process::Command;

fn faxrelay(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_faxrelay"));
    command
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("running faxrelay")
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("faxrelay-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

#[test]
fn bad_settings_stop_start_up_with_a_message_per_variable() {
    let dir = temp_dir("config");
    let output = faxrelay(
        &dir,
        &["serve"],
        &[
            ("FAXRELAY_LISTEN", "everywhere"),
            ("FAXRELAY_SIGNUP", "sometimes"),
            ("DATABASE_URL", "mysql://db/x"),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    for variable in ["FAXRELAY_LISTEN", "FAXRELAY_SIGNUP", "DATABASE_URL"] {
        assert!(
            message.contains(variable),
            "{variable} is named in: {message}"
        );
    }
}

#[test]
fn unknown_settings_in_the_file_are_refused() {
    let dir = temp_dir("file");
    std::fs::write(
        dir.join("faxrelay.toml"),
        "listen = \"127.0.0.1:0\"\nlisten_port = 80\n",
    )
    .expect("writing");
    let output = faxrelay(&dir, &["--config", "faxrelay.toml", "migrate"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("listen_port"));

    let output = faxrelay(&dir, &["--config", "missing.toml", "migrate"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not exist"));
}

#[test]
fn migrate_runs_twice_on_the_embedded_default() {
    let dir = temp_dir("migrate");
    for _ in 0..2 {
        let output = faxrelay(&dir, &["migrate"], &[]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(
        dir.join("faxrelay.db").exists(),
        "the SQLite file is in the working directory"
    );
}

#[test]
fn openapi_prints_the_committed_spec() {
    let output = faxrelay(&std::env::temp_dir(), &["openapi"], &[]);
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../../../openapi/openapi.json"))
            .expect("the committed spec");
    assert!(
        printed == committed,
        "openapi/openapi.json is stale: run `cargo run -q -- openapi > openapi/openapi.json`"
    );
}
