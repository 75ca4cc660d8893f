//! The `atsbridge` command. Everything is in the library
//! ([`atsbridge::cli::entry`]), so this crate compiles in seconds.

fn main() -> std::process::ExitCode {
    atsbridge::cli::entry::main()
}
