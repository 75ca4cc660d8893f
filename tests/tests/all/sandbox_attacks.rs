//! Attacks on the host's resource limits, installs and output, each as a
//! plugin author or a manifest writer would mount it.

use std::path::Path;
use std::time::{Duration, Instant};

use atsbridge::plugin::install::{PluginSource, install_from, install_from_with};
use atsbridge::plugin::replace::ReplaceError;
use atsbridge::plugin::{InstallError, InstallOptions};
use atsbridge::runtime::compiler::{CompileLimits, CompilerOptions};
use atsbridge::runtime::{CallError, ConnectionContext, Runtime, RuntimeOptions};
use atsbridge_tests::guests;

use crate::support;

fn write_plugin(dir: &Path, manifest_extra: &str, component: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let manifest = format!(
        "[plugin]\nid = \"evil\"\nversion = \"1.2.3\"\ncontract = \"0.2.0\"\ncomponent = \"{component}\"\n{manifest_extra}"
    );
    std::fs::write(dir.join("atsbridge-plugin.toml"), manifest).unwrap();
}

#[test]
fn a_manifest_names_files_inside_its_own_directory_only() {
    let root = tempfile::tempdir().unwrap();
    let cases: [(&str, &str); 3] =
        [("dev-zero", "/dev/zero"), ("parent", "../outside.wasm"), ("symlink", "passwd.wasm")];
    std::fs::write(root.path().join("outside.wasm"), b"\0asm").unwrap();
    for (name, component) in cases {
        let dir = root.path().join(name);
        write_plugin(&dir, "", component);
        if name == "symlink" {
            std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd.wasm")).unwrap();
        }
        let before = support::rss_bytes();
        let err = PluginSource::locate(&dir, None).expect_err(name).to_string();
        assert!(err.contains("inside the plugin's directory"), "{name}: {err}");
        assert!(support::rss_bytes().saturating_sub(before) < 64 << 20, "{name}: read a large file");
    }
    // A manifest that is a device is not read either.
    let err = PluginSource::locate(Path::new("/dev/zero"), None).unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
    // A symlink inside the directory is fine.
    let dir = root.path().join("inside");
    write_plugin(&dir, "", "link.wasm");
    std::fs::copy(guests::WELL_BEHAVED, dir.join("real.wasm")).unwrap();
    std::os::unix::fs::symlink("real.wasm", dir.join("link.wasm")).unwrap();
    assert!(PluginSource::locate(&dir, None).is_ok());
}

/// `wasm` with `extra` more core modules appended, each defining one linear
/// memory of `pages` 64 KiB pages and instantiated once.
fn with_extra_memories(wasm: &[u8], extra: u32, pages: u64) -> Vec<u8> {
    use wasm_encoder::{InstanceSection, MemorySection, MemoryType, Module, ModuleArg, ModuleSection};
    // Core modules defined at the top level; new ones take the next indices.
    let mut depth = 0;
    let mut modules = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.unwrap() {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::ModuleSection { .. } if depth == 1 => modules += 1,
            _ => {}
        }
    }
    let mut memory = MemorySection::new();
    memory.memory(MemoryType { minimum: pages, maximum: None, memory64: false, shared: false, page_size_log2: None });
    let mut module = Module::new();
    module.section(&memory);
    let mut component = wasm_encoder::Component::new();
    component.section(&ModuleSection(&module));
    let mut instances = InstanceSection::new();
    for _ in 0..extra {
        instances.instantiate(modules, Vec::<(&str, ModuleArg)>::new());
    }
    component.section(&instances);
    // Drop the new component's 8-byte header; keep its sections.
    let sections = component.finish();
    let mut out = wasm.to_vec();
    out.extend_from_slice(&sections[8..]);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_cap_is_for_the_whole_instance() {
    let (dir, rt) = support::runtime();
    // 15 extra memories of 62.5 MiB each: every one is under the 64 MiB
    // cap, together they are 15 times over it.
    let wasm = with_extra_memories(&std::fs::read(guests::WELL_BEHAVED).unwrap(), 15, 1000);
    let path = dir.path().join("many-memories.wasm");
    std::fs::write(&path, wasm).unwrap();
    let plugin_dir = support::plugin_dir(dir.path(), "many-memories", "1.2.3", path.to_str().unwrap(), "");
    let err = install_from(&rt, PluginSource::locate(&plugin_dir, None).unwrap()).await.unwrap_err();
    assert!(
        matches!(&err, InstallError::Info(CallError::MemoryLimit { limit_bytes, .. }) if *limit_bytes == 64 << 20),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn strings_aliasing_one_buffer_cannot_multiply_host_memory() {
    let (dir, rt) = support::runtime();
    support::install(&rt, dir.path(), "hostile", "0.1.0", guests::HOSTILE, "").await;
    let p = rt.plugin("hostile").await.unwrap();
    let conn = ConnectionContext::new("c").text("mode", "alias");
    let before = support::rss_bytes();
    let r = p.list_jobs(&conn, None, None).await;
    let growth = support::rss_bytes().saturating_sub(before);
    // Five 24 MiB descriptions would cost the host 120 MiB; the copy limit
    // is the 64 MiB memory cap.
    match &r {
        Err(CallError::Trap { message, .. }) => assert!(message.contains("too much data"), "{message}"),
        other => panic!("expected a trap at the copy limit, got {:?}", other.as_ref().map(|p| p.jobs.len())),
    }
    println!("host RSS growth during the aliased-strings call: {} MiB", growth >> 20);
    assert!(growth < 100 << 20, "host RSS grew by {} MiB", growth >> 20);
    assert_eq!(p.info().await.unwrap().name, "Hostile");
}

/// A server that answers every request after `delay`, so calls through it
/// hold their instance that long.
async fn slow_server(delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_many_memory_plugin_cannot_starve_the_pool() {
    let (dir, rt) = support::runtime();
    let greedy_wasm = with_extra_memories(&std::fs::read(guests::WELL_BEHAVED).unwrap(), 15, 1);
    let path = dir.path().join("greedy.wasm");
    std::fs::write(&path, greedy_wasm).unwrap();
    support::install(&rt, dir.path(), "greedy", "1.2.3", path.to_str().unwrap(), "").await;
    support::install(&rt, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
    let greedy = rt.plugin("greedy").await.unwrap();
    let good = rt.plugin("well-behaved").await.unwrap();
    let base = slow_server(Duration::from_millis(300)).await;

    // 40 concurrent calls of 16 memories each would need 640 memory slots;
    // the default pool has 192.
    let mut busy = Vec::new();
    for i in 0..40 {
        let (greedy, conn) = (greedy.clone(), support::connection(&base));
        let conn = ConnectionContext { id: format!("greedy-{i}"), ..conn };
        busy.push(tokio::spawn(async move { greedy.check(&conn).await }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    for _ in 0..20 {
        good.info().await.expect("another plugin's call fails while the greedy one is busy");
    }
    println!("20 calls of another plugin while the greedy one is busy: {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(2), "other plugins waited {:?}", started.elapsed());
    for call in busy {
        let r = call.await.unwrap();
        assert!(!matches!(r, Err(CallError::Instantiate { .. } | CallError::Timeout { .. })), "{r:?}");
    }
}

/// A component holding one core function with 5,000 locals and a long body
/// mixing them: costly for the register allocator.
fn slow_to_compile() -> Vec<u8> {
    use wasm_encoder::{
        BlockType, CodeSection, Function, FunctionSection, Instruction, Module, ModuleSection, TypeSection, ValType,
    };
    const LOCALS: u32 = 5_000;
    const STEPS: u32 = 20_000;
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I64]);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut body = Function::new([(LOCALS, ValType::I64)]);
    let mut x: u32 = 12345;
    for _ in 0..STEPS {
        // A small LCG picks the operands, so values stay live across the body.
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let (a, b, c) = (x % LOCALS, (x >> 8) % LOCALS, (x >> 16) % LOCALS);
        // A branch per step: every merge point may need a phi for every
        // local still live, which is what makes such code expensive.
        body.instruction(&Instruction::LocalGet(a));
        body.instruction(&Instruction::I64Eqz);
        body.instruction(&Instruction::If(BlockType::Empty));
        body.instruction(&Instruction::LocalGet(b));
        body.instruction(&Instruction::I64Const(1));
        body.instruction(&Instruction::I64Add);
        body.instruction(&Instruction::LocalSet(c));
        body.instruction(&Instruction::End);
    }
    for i in 0..LOCALS {
        body.instruction(&Instruction::LocalGet(i));
        if i > 0 {
            body.instruction(&Instruction::I64Xor);
        }
    }
    body.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&body);
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    let mut component = wasm_encoder::Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
}

#[tokio::test(flavor = "multi_thread")]
async fn compilation_is_bounded_and_never_falls_back_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let slow = CompilerOptions {
        exe: None,
        limits: CompileLimits { wall: Duration::from_millis(1), ..CompileLimits::default() },
    };
    let rt = Runtime::open(dir.path(), RuntimeOptions { compiler: slow, ..Default::default() }).unwrap();
    let plugin_dir = support::plugin_dir(dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "");
    let err = install_from(&rt, PluginSource::locate(&plugin_dir, None).unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("did not finish within"), "{err}");
    assert!(rt.registry().current("well-behaved").is_err());

    // A function with thousands of locals takes Cranelift seconds of CPU:
    // the child is stopped at its CPU limit.
    let one_cpu_second =
        CompilerOptions { exe: None, limits: CompileLimits { cpu_secs: 1, ..CompileLimits::default() } };
    let rt = Runtime::open(dir.path(), RuntimeOptions { compiler: one_cpu_second, ..Default::default() }).unwrap();
    let slow = dir.path().join("slow-compile");
    write_plugin(&slow, "", "plugin.wasm");
    std::fs::write(slow.join("plugin.wasm"), slow_to_compile()).unwrap();
    let started = Instant::now();
    let err = install_from(&rt, PluginSource::locate(&slow, None).unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("CPU time limit of 1 s"), "{err} after {:?}", started.elapsed());

    let missing = CompilerOptions { exe: Some("/nonexistent/atsbridge".into()), limits: CompileLimits::default() };
    let rt = Runtime::open(dir.path(), RuntimeOptions { compiler: missing, ..Default::default() }).unwrap();
    let err = install_from(&rt, PluginSource::locate(&plugin_dir, None).unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("cannot run the compiler"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn info_at_install_is_bounded_in_time_and_size() {
    let (dir, rt) = support::runtime();
    let plugin_dir = support::plugin_dir(dir.path(), "slow-info", "0.1.0", guests::SLOW_INFO, "");
    let started = Instant::now();
    let err = install_from(&rt, PluginSource::locate(&plugin_dir, None).unwrap()).await.unwrap_err();
    assert!(matches!(err, InstallError::Info(CallError::Timeout { limit, .. }) if limit == Duration::from_secs(5)));
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());

    let plugin_dir = support::plugin_dir(dir.path(), "bloated-info", "0.1.0", guests::BLOATED_INFO, "");
    let err = install_from(&rt, PluginSource::locate(&plugin_dir, None).unwrap()).await.unwrap_err().to_string();
    assert!(err.contains("at most"), "{err}");
    assert!(err.len() < 500, "{err}");
    assert!(rt.registry().current("bloated-info").is_err());
}

async fn try_install(
    rt: &Runtime,
    root: &Path,
    wasm: &str,
    version: &str,
    hosts: &str,
    options: InstallOptions,
) -> Result<String, InstallError> {
    let extra = format!("[network]\nallowed-hosts = [{hosts}]\n");
    let dir = support::plugin_dir(root, "taken", version, wasm, &extra);
    let source = PluginSource::locate(&dir, None).unwrap();
    install_from_with(rt, source, &options).await.map(|p| p.record.sha256)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_installed_id_belongs_to_its_plugin() {
    let (dir, rt) = support::runtime();
    let root = dir.path();
    let none = InstallOptions::default();
    let first =
        try_install(&rt, root, guests::WELL_BEHAVED, "1.2.3", r#""https://api.example.com""#, none).await.unwrap();
    let running = rt.plugin("taken").await.unwrap();

    // A new host is refused, listed, and accepted with --approve.
    let wider = r#""https://api.example.com", "https://collector.evil.io""#;
    let err = try_install(&rt, root, guests::WELL_BEHAVED, "1.2.3", wider, none).await.unwrap_err();
    assert!(
        matches!(&err, InstallError::Replace(ReplaceError::Widens { hosts, .. }) if hosts == &["https://collector.evil.io"]),
        "{err}"
    );
    assert!(err.to_string().contains("--approve"), "{err}");
    assert_eq!(rt.registry().current("taken").unwrap().record.sha256, first);

    // A downgrade needs --force.
    let err = try_install(&rt, root, guests::HOSTILE, "0.1.0", r#""https://api.example.com""#, none).await.unwrap_err();
    assert!(matches!(err, InstallError::Replace(ReplaceError::Downgrade { .. })), "{err}");
    let forced = InstallOptions { force: true, approve: false };
    let hostile =
        try_install(&rt, root, guests::HOSTILE, "0.1.0", r#""https://api.example.com""#, forced).await.unwrap();

    // Other bytes under the same version need --force too.
    let err = try_install(&rt, root, guests::BENCH_CONNECTOR, "0.1.0", r#""https://api.example.com""#, none)
        .await
        .unwrap_err();
    assert!(matches!(err, InstallError::Replace(ReplaceError::SameVersionOtherBytes { .. })), "{err}");
    assert_eq!(rt.registry().current("taken").unwrap().record.sha256, hostile);
    // The same bytes again are fine.
    try_install(&rt, root, guests::HOSTILE, "0.1.0", r#""https://api.example.com""#, none).await.unwrap();

    let approved = InstallOptions { approve: true, force: false };
    try_install(&rt, root, guests::WELL_BEHAVED, "1.2.3", wider, approved).await.unwrap();
    // A plugin loaded before keeps running its version.
    assert_eq!(running.info().await.unwrap().name, "Well Behaved");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_error_is_cut_before_it_leaves_the_runtime() {
    let (dir, rt) = support::runtime();
    support::install(&rt, dir.path(), "hostile", "0.1.0", guests::HOSTILE, "[limits]\nmemory-mib = 128\n").await;
    let p = rt.plugin("hostile").await.unwrap();
    let r = p.check(&ConnectionContext::new("c").text("mode", "huge-error")).await;
    let Err(e @ CallError::Connector { .. }) = r else { panic!("expected the connector's error, got {r:?}") };
    let text = e.to_string();
    assert!(text.len() < 8 * 1024, "{} bytes", text.len());
    assert!(text.contains("more bytes not shown"), "{}", &text[text.len() - 100..]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_panic_is_reported_as_a_trap_with_the_guest_text_marked() {
    let (dir, rt) = support::runtime();
    support::install(&rt, dir.path(), "hostile", "0.1.0", guests::HOSTILE, "").await;
    let p = rt.plugin("hostile").await.unwrap();
    let r = p.check(&ConnectionContext::new("c").text("mode", "forge-panic")).await;
    let Err(e @ CallError::Trap { .. }) = r else { panic!("expected a trap, got {r:?}") };
    let text = e.to_string();
    assert!(!text.contains("check panicked"), "{text}");
    assert!(text.contains("[the plugin's stderr, unverified: thread '<unnamed>' panicked at"), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

/// Runs in a process of its own: a subscriber scoped to this thread would
/// miss the plugin's line whenever another test's thread registered the
/// same callsite at that moment (tracing caches a callsite's interest, and
/// a registration racing the scoped subscriber's can leave it stale).
#[test]
fn a_plugin_log_line_cannot_forge_a_host_line() {
    let logged = support::run_in_own_process("sandbox_attacks::forged_log_line_in_own_process");
    let line = logged.lines().find(|l| l.contains("fine")).unwrap_or_else(|| panic!("no plugin line in {logged}"));
    assert!(line.contains("plugin=hostile") || line.contains("plugin=\"hostile\""), "{line}");
    assert!(line.contains("\\u{a}2026-01-01"), "{line}");
    assert!(!logged.contains('\x1b'), "{logged}");
    assert!(!logged.lines().any(|l| l.starts_with("2026-01-01T03:00:00")), "{logged}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "run in its own process by a_plugin_log_line_cannot_forge_a_host_line"]
async fn forged_log_line_in_own_process() {
    tracing_subscriber::fmt().with_writer(std::io::stdout).with_ansi(false).with_max_level(tracing::Level::INFO).init();
    let (dir, rt) = support::runtime();
    support::install(&rt, dir.path(), "hostile", "0.1.0", guests::HOSTILE, "").await;
    let p = rt.plugin("hostile").await.unwrap();
    p.check(&ConnectionContext::new("c").text("mode", "forge-log")).await.unwrap();
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
}

#[test]
fn operator_limits_are_range_checked() {
    let bin = support::atsbridge_bin();
    for args in [["--max-call-secs", "18446744073709551615"], ["--max-plugin-memory-mib", "0"]] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(&bin)
            .args(args)
            .args(["--data-dir", dir.path().to_str().unwrap(), "plugin", "list"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(stderr.contains(args[0]) && !stderr.contains("panicked"), "{stderr}");
    }
}
