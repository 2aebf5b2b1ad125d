//! Test-only crate: it holds no library code. Its one test, `tests/layering`, reads
//! `cargo metadata` and checks every workspace crate's dependencies against the
//! table in `tests/layering/table.rs`, which mirrors the "Layering" section of
//! ARCHITECTURE.md. Cargo needs a target to build a package, hence this file.
