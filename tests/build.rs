//! Builds the test guest components (`tests/guests/*`) for `wasm32-wasip2`,
//! once per test run, and tells the test crate where they are.
//!
//! Modelled on wasmtime's `crates/test-programs/artifacts/build.rs`: a
//! nested `cargo build` of the guest packages, with the outer build's
//! compiler flags removed (they are for the host target) and its own target
//! directory, `<target>/guests`, so it never waits on the lock the outer
//! cargo holds on `<target>`. It shares the outer build's jobserver, so the
//! two together still use only the cores cargo was given.
//!
//! For each guest it emits `ATSBRIDGE_GUEST_<NAME>` (e.g.
//! `ATSBRIDGE_GUEST_WELL_BEHAVED`) with the absolute path of the `.wasm`
//! component; `src/lib.rs` exposes them as constants.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The guest packages, as named in their `Cargo.toml`.
const GUESTS: &[&str] = &[
    "well-behaved",
    "hostile",
    "bench-connector",
    "wrong-version",
    "wrong-world",
];
const WASM_TARGET: &str = "wasm32-wasip2";
/// The workspace profile for components: size-optimised, stripped, abort on panic.
const PROFILE: &str = "wasm";
/// Environment of the outer build that must not leak into the guest build:
/// compiler flags meant for the host target, and the lint driver that
/// `cargo clippy` installs (the guests get a plain build, so clippy and
/// test runs share one set of artifacts).
const OUTER_BUILD_ENV: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "RUSTC_WORKSPACE_WRAPPER",
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("tests/ lives in the workspace root")
        .to_path_buf();
    for input in ["sdk", "wit", "tests/guests", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    require_wasm_target(&rustc);

    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                workspace.join(dir)
            }
        })
        .unwrap_or_else(|| workspace.join("target"))
        .join("guests");
    build_guests(&workspace, &target_dir);

    let out = target_dir.join(WASM_TARGET).join(PROFILE);
    for guest in GUESTS {
        let wasm = out.join(format!("{}.wasm", guest.replace('-', "_")));
        assert!(
            wasm.is_file(),
            "guest `{guest}` built, but {} is missing",
            wasm.display()
        );
        let var = format!("ATSBRIDGE_GUEST_{}", guest.replace('-', "_").to_uppercase());
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
}

/// Fails with instructions when the standard library for `wasm32-wasip2`
/// is not installed (`rust-toolchain.toml` asks rustup for it, but a
/// toolchain installed another way may lack it).
fn require_wasm_target(rustc: &OsString) {
    let output = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {rustc:?}: {e}"));
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let std_dir = sysroot
        .join("lib")
        .join("rustlib")
        .join(WASM_TARGET)
        .join("lib");
    if !std_dir.is_dir() {
        // A plain message reads better than a panic with a backtrace.
        eprintln!(
            "error: the test guests are WebAssembly components and need the `{WASM_TARGET}` target, \
             which this toolchain lacks (no {}).\nInstall it with:\n\n    rustup target add {WASM_TARGET}\n",
            std_dir.display()
        );
        std::process::exit(1);
    }
}

fn build_guests(workspace: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["--target", WASM_TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(target_dir);
    for guest in GUESTS {
        cmd.args(["-p", guest]);
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
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the test guests: {e}"));
    assert!(
        status.success(),
        "building the test guests failed ({status}); see the cargo output above"
    );
}
