//! Installing plugins from the operator's plugin directory by name, over
//! HTTP against a running host and through the CLI: the name is never a
//! path, and nothing outside the directory is read or echoed.

use std::path::Path;

use atsbridge_tests::guests;
use serde_json::json;

use crate::api_support;

/// Marks the contents of files outside the plugin directory.
const SECRET: &str = "SECRET_MARKER_d41d8cd9";

fn manifest(id: &str) -> String {
    format!("[plugin]\nid = \"{id}\"\nversion = \"1.2.3\"\ncontract = \"0.2.0\"\ncomponent = \"{id}.wasm\"\n")
}

/// A plugin directory with a good entry and hostile ones, beside a
/// directory outside it holding a valid plugin and a secret.
fn plugin_dir(root: &Path) -> std::path::PathBuf {
    let outside = root.join("outside");
    std::fs::create_dir_all(outside.join("well-behaved")).unwrap();
    std::fs::write(outside.join("secret.txt"), format!("{SECRET}\n")).unwrap();
    std::fs::write(outside.join("well-behaved/atsbridge-plugin.toml"), manifest("well-behaved")).unwrap();
    std::fs::copy(guests::WELL_BEHAVED, outside.join("well-behaved/well-behaved.wasm")).unwrap();

    let dir = root.join("plugins");
    let good = dir.join("well-behaved");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::write(good.join("atsbridge-plugin.toml"), manifest("well-behaved")).unwrap();
    std::fs::copy(guests::WELL_BEHAVED, good.join("well-behaved.wasm")).unwrap();
    // The entry itself a symlink to a valid plugin outside.
    std::os::unix::fs::symlink(outside.join("well-behaved"), dir.join("escape")).unwrap();
    // A manifest that is the process environment, or a secret file.
    for (name, target) in [("environ", Path::new("/proc/self/environ")), ("secret", &outside.join("secret.txt"))] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::os::unix::fs::symlink(target, dir.join(name).join("atsbridge-plugin.toml")).unwrap();
    }
    // A component named outside, by a relative path and an absolute one.
    for (name, component) in [
        ("climb", "../../outside/secret.txt".to_string()),
        ("absolute", outside.join("secret.txt").display().to_string()),
    ] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        let text = format!(
            "[plugin]\nid = \"{name}\"\nversion = \"1.0.0\"\ncontract = \"0.2.0\"\ncomponent = \"{component}\"\n"
        );
        std::fs::write(dir.join(name).join("atsbridge-plugin.toml"), text).unwrap();
    }
    // A manifest that does not parse, with a secret on the bad line.
    std::fs::create_dir_all(dir.join("junk")).unwrap();
    std::fs::write(dir.join("junk/atsbridge-plugin.toml"), format!("{SECRET} = = =\n")).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_install_by_name_from_the_configured_directory_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = plugin_dir(tmp.path());
    let data = tmp.path().join("data");
    let key = api_support::secret_key();
    let host = api_support::start_with(&data, &key, &[("ATSBRIDGE_PLUGIN_DIR", &dir)]);
    let environ = std::fs::read_to_string("/proc/self/environ").unwrap_or_default();
    let leaks = |body: &str| {
        body.contains(SECRET)
            || body.contains(&key)
            || body.contains(&dir.display().to_string())
            || body.contains(&tmp.path().display().to_string())
            || (!environ.is_empty() && body.contains("PATH=/"))
    };

    // Names that are paths are refused before the file system is touched.
    for name in ["../outside/well-behaved", "/proc/self/environ", "..", ".", "", "well-behaved/..", "a/b", "%2e%2e"] {
        let (status, body) =
            host.call("POST", "/api/v1/plugins/from-directory", Some(&host.token), Some(json!({"name": name}))).await;
        assert_eq!(status, 422, "{name}: {body}");
        assert!(!leaks(&body.to_string()), "{name}: {body}");
    }
    let abs = json!({"name": dir.join("well-behaved").display().to_string()});
    let (status, body) = host.call("POST", "/api/v1/plugins/from-directory", Some(&host.token), Some(abs)).await;
    assert_eq!(status, 422, "{body}");
    // Entries that lead outside, or whose files do, are refused without
    // quoting what they lead to.
    for name in ["escape", "environ", "secret", "climb", "absolute", "junk", "absent"] {
        let (status, body) =
            host.call("POST", "/api/v1/plugins/from-directory", Some(&host.token), Some(json!({"name": name}))).await;
        assert_eq!(status, 422, "{name}: {body}");
        let text = body.to_string();
        assert!(text.contains(name) && !leaks(&text), "{name}: {body}");
    }
    let (status, body) = host.call("GET", "/api/v1/plugins/well-behaved", Some(&host.token), None).await;
    assert_eq!(status, 404, "nothing was installed by the refused requests: {body}");
    // An unknown field (a `path`) is refused, not ignored.
    let (status, _) = host
        .call(
            "POST",
            "/api/v1/plugins/from-directory",
            Some(&host.token),
            Some(json!({"name": "x", "path": "/etc/passwd"})),
        )
        .await;
    assert_eq!(status, 422);

    // The good entry installs; it is then like any other plugin.
    let (status, body) = host
        .call("POST", "/api/v1/plugins/from-directory", Some(&host.token), Some(json!({"name": "well-behaved"})))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!((body["id"].as_str(), body["version"].as_str()), (Some("well-behaved"), Some("1.2.3")));
    host.op("GET", "/api/v1/plugins/well-behaved", None).await;

    // The CLI, through the running host.
    let out = host.cli(&["plugin", "install-from-directory", "../outside/well-behaved"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("paths are not accepted") && !leaks(&err), "{err}");
    let out = host.cli(&["plugin", "install-from-directory", "well-behaved"]);
    let said = api_support::ok(out);
    assert!(said.contains("installed well-behaved 1.2.3"), "{said}");
    drop(host);

    // The CLI with no host running opens the store itself, and reads the
    // plugin directory from the configuration.
    let fresh = tmp.path().join("fresh");
    let out = std::process::Command::new(crate::support::atsbridge_bin())
        .arg("--data-dir")
        .arg(&fresh)
        .args(["plugin", "install-from-directory", "well-behaved"])
        .env("ATSBRIDGE_SECRET_KEY", &key)
        .env("ATSBRIDGE_PLUGIN_DIR", &dir)
        .env_remove("ATSBRIDGE_URL")
        .env_remove("ATSBRIDGE_OPERATOR_TOKEN")
        .output()
        .unwrap();
    assert!(api_support::ok(out).contains("installed well-behaved"));
    let out = api_support::cli(&fresh, &key, &["plugin", "install-from-directory", "escape"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no plugin directory is configured"), "{err}");
}
