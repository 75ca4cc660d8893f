//! The store's key through the CLI: a key file must be private, a wrong
//! or missing key is refused at startup, and `key rotate` re-seals every
//! secret so syncs go on with the new key while the old one is refused.
//! Also: the configuration file refuses unknown keys by name.

use std::os::unix::fs::PermissionsExt as _;

use crate::ops_support::Setup;
use crate::support;

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_key_keeps_syncs_working_and_the_old_key_is_refused() {
    let ats = support::fake_ats().await;
    let setup = Setup::new(&ats.base());
    assert!(setup.ok(&["connection", "sync", "acme-main"]).contains("5"), "first sync");

    // A key file others can read is refused, naming the fix.
    chmod(&setup.key_file, 0o644);
    let err = setup.fails(&["connection", "list"]);
    assert!(err.contains("chmod 600") && err.contains("secret.key"), "{err}");
    chmod(&setup.key_file, 0o600);

    let new_key = setup.dir.path().join("new.key");
    let out = setup.ok(&["key", "rotate", "--new-key-file", new_key.to_str().unwrap()]);
    assert!(out.contains("re-sealed 1 secret"), "{out}");
    assert_eq!(std::fs::metadata(&new_key).unwrap().permissions().mode() & 0o777, 0o600);

    // The old key no longer opens the store: refused before anything runs.
    let err = setup.fails(&["connection", "list"]);
    assert!(err.contains("not the key this store was sealed with"), "{err}");

    // The new key decrypts the API key: the ATS accepts the sync.
    let hits_before = ats.page_requests();
    let out = setup.cli(&["connection", "sync", "acme-main"]).env("ATSBRIDGE_KEY_FILE", &new_key).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(ats.page_requests() > hits_before);
    let out = setup
        .cli(&["--json", "positions", "list", "--connection", "acme-main"])
        .env("ATSBRIDGE_KEY_FILE", &new_key)
        .output()
        .unwrap();
    let positions: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(positions.as_array().map(Vec::len), Some(5), "{positions}");

    // `serve` without any key refuses a store that holds secrets.
    let out = setup.cli(&["serve", "--listen", "127.0.0.1:0"]).env_remove("ATSBRIDGE_KEY_FILE").output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no key is configured"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_configuration_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("atsbridge.toml"), "runs-kept = 5\nlisten-adress = \"127.0.0.1:1\"\n").unwrap();
    let out = std::process::Command::new(support::atsbridge_bin())
        .args(["--data-dir", data.to_str().unwrap(), "account", "list"])
        .env_remove("ATSBRIDGE_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen-adress") && err.contains("atsbridge.toml"), "{err}");
}
