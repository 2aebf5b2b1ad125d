//! Test-only crate: it holds no library code. `tests/layering` reads `cargo metadata`
//! and checks every workspace crate's dependencies against the table in
//! `tests/layering/table.rs`, which mirrors the "Layering" section of
//! ARCHITECTURE.md; `tests/env_example.rs` checks `.env_example` lists every
//! environment variable the binaries read. Cargo needs a target to build a package,
//! hence this file.
