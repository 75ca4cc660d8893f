//! Compiling untrusted components in a child process under time and memory
//! bounds.
//!
//! Cranelift's time and memory grow with the shape of the code it is given:
//! one function with thousands of locals took minutes and gigabytes. The
//! host therefore never compiles a plugin in its own process. It runs its
//! own binary as `atsbridge __compile <in.wasm> <out.cwasm> ...` with
//! `RLIMIT_AS` and `RLIMIT_CPU` set before `exec`, a wall-clock timeout after
//! which the child is killed, and reads back the serialised artifact, which
//! the artifact cache then loads like any other.
//!
//! The binary is found once, when the runtime opens: the configured path;
//! else the running executable when it is `atsbridge`; else an `atsbridge`
//! beside the running executable or one directory up (test and benchmark
//! binaries live in `target/<profile>/deps`). When none is found compiling
//! fails with a message saying so: there is no in-process fallback.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::engine::{self, EngineOptions};

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "__compile";
/// Name of the host binary.
const BINARY: &str = "atsbridge";

/// Address space of the compiler process. The runtime's own mappings take
/// about 200 MiB; Cranelift needs well under 1 GiB for a 40 MiB Python
/// component. A component that needs more is not a connector.
pub const DEFAULT_COMPILE_ADDRESS_SPACE_BYTES: u64 = 3 << 30;
/// CPU seconds of the compiler process. A Rust connector compiles in well
/// under a second, a componentize-py one in 10-20 s.
pub const DEFAULT_COMPILE_CPU_SECS: u64 = 90;
/// Wall-clock bound, a little above the CPU bound, for a child that sleeps
/// or is starved on a busy machine.
pub const DEFAULT_COMPILE_WALL: Duration = Duration::from_secs(180);
/// Bytes of the child's stderr kept for the error message.
const STDERR_KEPT_BYTES: u64 = 4 * 1024;
/// Largest artifact read back (RLIMIT_FSIZE in the child too): artifacts
/// are a few times the size of the component.
pub const MAX_ARTIFACT_BYTES: u64 = 1 << 30;
/// How often the parent checks whether the child is done.
const POLL: Duration = Duration::from_millis(10);

/// Bounds of one compilation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileLimits {
    pub address_space_bytes: u64,
    pub cpu_secs: u64,
    pub wall: Duration,
}

impl Default for CompileLimits {
    fn default() -> Self {
        CompileLimits {
            address_space_bytes: DEFAULT_COMPILE_ADDRESS_SPACE_BYTES,
            cpu_secs: DEFAULT_COMPILE_CPU_SECS,
            wall: DEFAULT_COMPILE_WALL,
        }
    }
}

/// How components are compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompilerOptions {
    /// The `atsbridge` binary to run; found automatically when `None`.
    pub exe: Option<PathBuf>,
    pub limits: CompileLimits,
}

/// Why a component was not compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    #[error("no `{BINARY}` binary found to compile plugins in (looked beside {0}); set the compiler path explicitly")]
    NoCompiler(String),
    #[error("cannot run the compiler {exe}: {source}")]
    Spawn { exe: PathBuf, source: std::io::Error },
    #[error("compilation did not finish within {0:?} and was stopped")]
    WallTime(Duration),
    #[error("compilation exceeded its CPU time limit of {0} s and was stopped")]
    CpuTime(u64),
    #[error("compilation failed (the compiler stopped: {status}; a memory limit of {limit} bytes applies): {stderr}")]
    Crashed { status: String, limit: u64, stderr: String },
    #[error("{0}")]
    Invalid(String),
    #[error("compiler I/O on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A located compiler, ready to run.
#[derive(Debug, Clone)]
pub struct Compiler {
    exe: Result<PathBuf, String>,
    limits: CompileLimits,
    engine: EngineOptions,
}

impl Compiler {
    pub fn new(options: &CompilerOptions, engine: EngineOptions) -> Self {
        let exe = match &options.exe {
            Some(exe) => Ok(exe.clone()),
            None => locate(),
        };
        Compiler { exe, limits: options.limits, engine }
    }

    /// Compiles `wasm` into a serialised artifact. `scratch` is a directory
    /// the host owns, for the child's input and output files.
    pub fn compile(&self, wasm: &[u8], scratch: &Path) -> Result<Vec<u8>, CompileError> {
        let exe = self.exe.as_ref().map_err(|looked| CompileError::NoCompiler(looked.clone()))?;
        let tag = format!("{}-{:x}", std::process::id(), unique());
        let input = scratch.join(format!(".compile-{tag}.wasm"));
        let output = scratch.join(format!(".compile-{tag}.cwasm"));
        let errors = scratch.join(format!(".compile-{tag}.stderr"));
        let cleanup = Cleanup(vec![input.clone(), output.clone(), errors.clone()]);
        std::fs::write(&input, wasm).map_err(|source| CompileError::Io { path: input.clone(), source })?;
        let stderr =
            std::fs::File::create(&errors).map_err(|source| CompileError::Io { path: errors.clone(), source })?;
        let mut command = Command::new(exe);
        command
            .arg(SUBCOMMAND)
            .arg(&input)
            .arg(&output)
            .args(self.engine_args())
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        limit_child(&mut command, self.limits);
        let mut child = command.spawn().map_err(|source| CompileError::Spawn { exe: exe.clone(), source })?;
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= self.limits.wall => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CompileError::WallTime(self.limits.wall));
                }
                Ok(None) => std::thread::sleep(POLL),
                Err(source) => return Err(CompileError::Spawn { exe: exe.clone(), source }),
            }
        };
        if !status.success() {
            return Err(self.failure(status, &errors));
        }
        let artifact = crate::plugin::files::read_bounded(&output, MAX_ARTIFACT_BYTES)
            .map_err(|e| CompileError::Invalid(e.to_string()))?;
        drop(cleanup);
        Ok(artifact)
    }

    fn failure(&self, status: std::process::ExitStatus, errors: &Path) -> CompileError {
        use std::os::unix::process::ExitStatusExt as _;
        let mut text = String::new();
        if let Ok(file) = std::fs::File::open(errors) {
            let _ = file.take(STDERR_KEPT_BYTES).read_to_string(&mut text);
        }
        let text = text.trim();
        if status.signal() == Some(libc::SIGXCPU) || status.signal() == Some(libc::SIGKILL) {
            return CompileError::CpuTime(self.limits.cpu_secs);
        }
        if status.code() == Some(INVALID_EXIT) {
            return CompileError::Invalid(crate::display::escape(text));
        }
        CompileError::Crashed {
            status: status.to_string(),
            limit: self.limits.address_space_bytes,
            stderr: crate::display::escape(text),
        }
    }

    fn engine_args(&self) -> Vec<String> {
        let e = &self.engine;
        let mut args = vec![
            format!("--max-memory-bytes={}", e.max_memory_bytes),
            format!("--keep-resident-bytes={}", e.keep_resident_bytes),
        ];
        if let Some(n) = e.pooling_instances {
            args.push(format!("--pooling-instances={n}"));
        }
        args
    }
}

/// Exit code of the child when the component is not valid WebAssembly (as
/// opposed to the child running out of a limit).
pub const INVALID_EXIT: i32 = 3;

/// The child side: compiles `input` into `output` with the engine settings
/// the parent passed. Returns the process exit code.
pub fn run_child(input: &Path, output: &Path, engine: EngineOptions) -> i32 {
    let wasm = match crate::plugin::files::read_bounded(input, crate::plugin::files::MAX_COMPONENT_BYTES) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let engine = match engine::build_for_compiling(&engine) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot configure the compiler: {e:#}");
            return 1;
        }
    };
    match engine.precompile_component(&wasm) {
        Ok(artifact) => match std::fs::write(output, artifact) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("cannot write {}: {e}", output.display());
                1
            }
        },
        Err(e) => {
            eprintln!("{e:#}");
            INVALID_EXIT
        }
    }
}

/// Sets the child's resource limits between `fork` and `exec`.
fn limit_child(command: &mut Command, limits: CompileLimits) {
    use std::os::unix::process::CommandExt as _;
    let set = |resource, value: u64| {
        let limit = libc::rlimit { rlim_cur: value as libc::rlim_t, rlim_max: value as libc::rlim_t };
        // SAFETY: setrlimit is async-signal-safe and only reads `limit`.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure only calls setrlimit (async-signal-safe) and
    // allocates nothing.
    unsafe {
        command.pre_exec(move || {
            set(libc::RLIMIT_AS, limits.address_space_bytes)?;
            // The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL.
            let limit = libc::rlimit {
                rlim_cur: limits.cpu_secs as libc::rlim_t,
                rlim_max: limits.cpu_secs.saturating_add(1) as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_CPU, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            set(libc::RLIMIT_FSIZE, MAX_ARTIFACT_BYTES)?;
            set(libc::RLIMIT_CORE, 0)?;
            Ok(())
        });
    }
}

/// The `atsbridge` binary: this process's executable when it is one, else
/// one beside it or one directory up.
fn locate() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("the running executable ({e})"))?;
    if exe.file_name().is_some_and(|n| n == BINARY) {
        return Ok(exe);
    }
    let dir = exe.parent().unwrap_or(Path::new("."));
    let candidates = [dir.join(BINARY), dir.parent().unwrap_or(dir).join(BINARY)];
    candidates.iter().find(|c| c.is_file()).cloned().ok_or_else(|| exe.display().to_string())
}

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// Removes the scratch files however compilation ends.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}
