//! Compiled components cached on disk by content hash.
//!
//! Compiling with Cranelift takes ~0.1 s for a Rust connector and 10+ s for
//! a Python or JS one; loading a cached artifact takes under a millisecond
//! (it is memory-mapped). Artifacts are keyed by the `.wasm`'s SHA-256 and a
//! hash of the engine's compatibility settings, so a wasmtime upgrade or a
//! config change simply misses the cache. Only artifacts this host wrote are
//! ever loaded: deserialising is `unsafe` because an artifact is native code.
//! Compiling happens in a child process under time and memory bounds
//! ([`crate::runtime::compiler`]), never in the host's own process.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::LoadError;

/// Compiles a component's bytes into an artifact; the second argument is a
/// scratch directory the compiler may use. The runtime provides it (a
/// bounded child process), so this cache depends on no runtime code.
pub type CompileFn = std::sync::Arc<dyn Fn(&[u8], &Path) -> Result<Vec<u8>, String> + Send + Sync>;

/// The artifact cache directory.
#[derive(Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
    compiler: CompileFn,
    /// Read artifacts into memory instead of mapping their files.
    read_into_memory: bool,
}

impl std::fmt::Debug for ArtifactCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactCache").field("dir", &self.dir).field("engine_key", &self.engine_key).finish()
    }
}

impl ArtifactCache {
    /// Opens (creating) the cache under `dir` for `engine`.
    pub fn open(dir: &Path, engine: &Engine, compiler: CompileFn) -> Result<Self, LoadError> {
        std::fs::create_dir_all(dir).map_err(|source| LoadError::Io { path: dir.to_path_buf(), source })?;
        // DefaultHasher is stable within one build of the host, which is all
        // the key needs: a different host build may recompile once.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        Ok(ArtifactCache {
            dir: dir.to_path_buf(),
            engine_key: format!("{:016x}", h.finish()),
            compiler,
            read_into_memory: false,
        })
    }

    /// Loads artifacts by reading them into anonymous memory rather than
    /// mapping their files. For profiling (`--perf-map`): `perf` looks up
    /// the names in `/tmp/perf-<pid>.map` only for code outside any file,
    /// and attributes code mapped from a `.cwasm` to that file, unnamed.
    pub fn reading_into_memory(mut self, yes: bool) -> Self {
        self.read_into_memory = yes;
        self
    }

    /// Loads the artifact at `path`.
    ///
    /// # Safety
    /// The file must be an artifact this host compiled for `engine` (see
    /// [`Component::deserialize_file`]).
    unsafe fn deserialize(&self, engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
        if !self.read_into_memory {
            return unsafe { Component::deserialize_file(engine, path) };
        }
        let bytes = std::fs::read(path).map_err(|e| wasmtime::format_err!("cannot read {}: {e}", path.display()))?;
        unsafe { Component::deserialize(engine, &bytes) }
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    /// Whether an artifact for this component is cached.
    pub fn contains(&self, sha256: &str) -> bool {
        self.path(sha256).is_file()
    }

    /// Loads the cached artifact, compiling and caching it first if needed.
    /// `wasm` is only read on a cache miss.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        id: &str,
        sha256: &str,
        wasm: impl FnOnce() -> Result<Vec<u8>, LoadError>,
    ) -> Result<Component, LoadError> {
        let path = self.path(sha256);
        if path.is_file() {
            // SAFETY: the file is in the host's own cache directory, named
            // by the hash of the component this host compiled into it.
            match unsafe { self.deserialize(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled artifact"),
            }
        }
        let bytes = wasm()?;
        let compiled = self.compile(id, &bytes)?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, &compiled).map_err(|source| LoadError::Io { path: tmp.clone(), source })?;
        std::fs::rename(&tmp, &path).map_err(|source| LoadError::Io { path: path.clone(), source })?;
        // SAFETY: as above; we just wrote it.
        unsafe { self.deserialize(engine, &path) }
            .map_err(|e| LoadError::Compile { id: id.to_string(), message: e.to_string() })
    }

    /// Compiles a component to an artifact (no caching), in the bounded
    /// compiler process.
    pub fn compile(&self, id: &str, wasm: &[u8]) -> Result<Vec<u8>, LoadError> {
        (self.compiler)(wasm, &self.dir).map_err(|message| LoadError::Compile { id: id.to_string(), message })
    }
}
