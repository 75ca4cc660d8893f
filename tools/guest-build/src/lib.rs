//! Builds WebAssembly component crates of this workspace from a build
//! script: the test guests (`tests/build.rs`) and the bundled connectors
//! (`host/build.rs`).
//!
//! Modelled on wasmtime's `crates/test-programs/artifacts/build.rs`: a
//! nested `cargo build` of the guest packages, with the outer build's
//! compiler flags removed (they are for the host target) and its own target
//! directory, `<target>/guests`, so it never waits on the lock the outer
//! cargo holds on `<target>`. It shares the outer build's jobserver, so the
//! two together still use only the cores cargo was given.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const WASM_TARGET: &str = "wasm32-wasip2";
/// The workspace profile for components: size-optimised, stripped, abort on panic.
pub const PROFILE: &str = "wasm";
/// Environment of the outer build that must not leak into the guest build:
/// compiler flags meant for the host target, and the lint driver that
/// `cargo clippy` installs (the guests get a plain build, so clippy and
/// test runs share one set of artifacts).
const OUTER_BUILD_ENV: &[&str] =
    &["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER"];

/// Makes sure the standard library for `wasm32-wasip2` is installed.
///
/// `rust-toolchain.toml` lists the target, and rustup adds it when it
/// installs the toolchain; a toolchain that was installed before the clone
/// may lack it (rustup 1.29 with `RUSTUP_AUTO_INSTALL=0` did not add it to
/// one), and so may one installed without rustup. Under rustup the
/// target is added to the active toolchain, as `rust-toolchain.toml` asks,
/// so that `cargo run --release -- demo` works on a fresh clone; without
/// rustup, or when that fails (offline), the build stops with the command
/// to run.
///
/// `lock_dir` holds the lock file that keeps the two build scripts, which
/// cargo may run at the same time, from running rustup side by side.
pub fn require_wasm_target(rustc: &OsString, lock_dir: &Path, what: &str) {
    let std_dir = wasm_std_dir(rustc);
    if std_dir.is_dir() {
        return;
    }
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        // Adding a target leaves the sysroot where it is: the directory
        // found above is the one to look for.
        match add_target_with_rustup(&toolchain, lock_dir, || std_dir.is_dir()) {
            TargetAdd::FoundOnceLocked => {}
            TargetAdd::Added => println!(
                "cargo:warning=added the {WASM_TARGET} target to the {} toolchain (rust-toolchain.toml lists it)",
                toolchain.to_string_lossy()
            ),
            TargetAdd::Failed(why) => println!("cargo:warning={why}"),
        }
    }
    if !std_dir.is_dir() {
        // A plain message reads better than a panic with a backtrace.
        eprintln!(
            "error: {what} are WebAssembly components and need the `{WASM_TARGET}` target, \
             which this toolchain lacks (no {}).\nInstall it with:\n\n    rustup target add {WASM_TARGET}\n",
            std_dir.display()
        );
        std::process::exit(1);
    }
}

/// Where the toolchain of `rustc` keeps the target's standard library.
fn wasm_std_dir(rustc: &OsString) -> PathBuf {
    let output = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {rustc:?}: {e}"));
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    sysroot.join("lib").join("rustlib").join(WASM_TARGET).join("lib")
}

/// What [`add_target_with_rustup`] did.
#[derive(Debug, PartialEq, Eq)]
enum TargetAdd {
    /// The target was there once the lock was held: the other build
    /// script added it meanwhile.
    FoundOnceLocked,
    Added,
    /// Why rustup did not add it; the caller's check then stops the build.
    Failed(String),
}

/// `rustup target add` for `toolchain`, once: under a lock, and only if
/// `installed` still says no once the lock is held (the other build script
/// may have added it meanwhile).
fn add_target_with_rustup(toolchain: &OsString, lock_dir: &Path, installed: impl Fn() -> bool) -> TargetAdd {
    let lock = std::fs::create_dir_all(lock_dir)
        .and_then(|()| std::fs::File::create(lock_dir.join(".wasm-target.lock")))
        .and_then(|file| file.lock().map(|()| file));
    if let Err(e) = &lock {
        println!("cargo:warning=cannot lock {} before adding the {WASM_TARGET} target: {e}", lock_dir.display());
    }
    if installed() {
        return TargetAdd::FoundOnceLocked;
    }
    // rustup's output goes to stderr: this script's stdout is read as
    // `cargo:` directives.
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET, "--toolchain"])
        .arg(toolchain)
        .stdout(Stdio::from(std::io::stderr()))
        .status();
    // The lock is released when `lock` is dropped, on return.
    match status {
        Ok(status) if status.success() => TargetAdd::Added,
        Ok(status) => TargetAdd::Failed(format!("rustup target add {WASM_TARGET} failed ({status})")),
        Err(e) => TargetAdd::Failed(format!("cannot run rustup to add the {WASM_TARGET} target: {e}")),
    }
}

/// Builds `packages` as components into `target_dir`.
pub fn build_guests(workspace: &Path, target_dir: &Path, packages: &[&str], what: &str) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["--target", WASM_TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(target_dir);
    for package in packages {
        cmd.args(["-p", package]);
    }
    for var in OUTER_BUILD_ENV {
        cmd.env_remove(var);
    }
    // Keep CI's warning policy for guest code too.
    if env::var("RUSTFLAGS").is_ok_and(|flags| flags.contains("-D warnings")) {
        cmd.env("RUSTFLAGS", "-D warnings");
    }
    // A build script's stdout is read as `cargo:` directives: send the
    // nested cargo's output to stderr, which cargo shows on failure.
    cmd.stdout(Stdio::from(std::io::stderr()));
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run cargo to build {what}: {e}"));
    assert!(status.success(), "building {what} failed ({status}); see the cargo output above");
}

/// Everything a build script needs: checks the target, builds `packages`,
/// asks cargo to rerun when `inputs` (relative to the workspace) change,
/// and returns the directory holding the `.wasm` files.
pub fn build(packages: &[&str], inputs: &[&str], what: &str) -> PathBuf {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("the crate lives in the workspace root").to_path_buf();
    for input in inputs.iter().chain(["sdk", "wit", "Cargo.toml", "Cargo.lock"].iter()) {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| if dir.is_absolute() { dir } else { workspace.join(dir) })
        .unwrap_or_else(|| workspace.join("target"))
        .join("guests");
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    require_wasm_target(&rustc, &target_dir, what);
    build_guests(&workspace, &target_dir, packages, what);
    target_dir.join(WASM_TARGET).join(PROFILE)
}

/// The `.wasm` file cargo writes for `package`.
pub fn component_path(out: &Path, package: &str) -> PathBuf {
    let wasm = out.join(format!("{}.wasm", package.replace('-', "_")));
    assert!(wasm.is_file(), "`{package}` built, but {} is missing", wasm.display());
    wasm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_dir(name: &str) -> PathBuf {
        env::temp_dir().join(format!("atsbridge-guest-build-{name}-{}", std::process::id()))
    }

    #[test]
    fn a_target_added_meanwhile_is_not_added_again() {
        // A toolchain rustup cannot have: had rustup run, it would fail.
        let toolchain = OsString::from("atsbridge-no-such-toolchain");
        let dir = lock_dir("meanwhile");
        assert_eq!(add_target_with_rustup(&toolchain, &dir, || true), TargetAdd::FoundOnceLocked);
        assert!(dir.join(".wasm-target.lock").is_file());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_failed_add_is_reported_for_the_caller_to_stop_on() {
        let toolchain = OsString::from("atsbridge-no-such-toolchain");
        let dir = lock_dir("failed");
        let outcome = add_target_with_rustup(&toolchain, &dir, || false);
        assert!(matches!(&outcome, TargetAdd::Failed(why) if why.contains("rustup")), "{outcome:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
