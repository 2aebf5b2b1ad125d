#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The workspace's layering, checked in one place against `cargo metadata`:
//!
//! - every workspace crate has a row in `table::CRATES` and every row a crate;
//! - each crate's normal and dev-only dependencies on workspace crates are exactly
//!   its row's (ARCHITECTURE.md, "Layering");
//! - crates with a `table::BANS` entry never reach the banned families along normal
//!   edges, directly or transitively;
//! - no product crate reaches test-support along normal edges.
//!
//! The checks are functions returning the problems they find, so the tests at the
//! bottom can show each one fires on a graph built to break it.

mod graph;
mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use graph::{Edge, Graph, in_family};
use table::{BANS, Ban, CRATES, Role, Row};

const SEE: &str = "see the Layering table in ARCHITECTURE.md and \
                   crates/architecture/tests/layering/table.rs";

fn workspace() -> &'static Graph {
    static GRAPH: OnceLock<Graph> = OnceLock::new();
    GRAPH.get_or_init(Graph::load)
}

/// The table's rows.
fn rows() -> Vec<Row> {
    CRATES.to_vec()
}

/// Rows without a crate, crates without a row, duplicate rows.
fn coverage_problems(graph: &Graph, rows: &[Row]) -> Vec<String> {
    let present = graph.workspace_crates();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for row in rows {
        if !seen.insert(row.name) {
            problems.push(format!("crate `{}` has two rows in the table", row.name));
        }
        if !present.contains(row.name) {
            problems.push(format!(
                "the table has a row for `{}`, which is not a workspace crate: remove the \
                 row; {SEE}",
                row.name
            ));
        }
    }
    for name in present.difference(&seen) {
        problems.push(format!(
            "workspace crate `{name}` has no row in the layering table: add its allowed \
             workspace dependencies to ARCHITECTURE.md's Layering table and to \
             crates/architecture/tests/layering/table.rs"
        ));
    }
    problems
}

/// Edges the table does not allow, and allowed edges no manifest has.
fn edge_problems(graph: &Graph, rows: &[Row]) -> Vec<String> {
    let present = graph.workspace_crates();
    let mut problems = Vec::new();
    for row in rows.iter().filter(|row| present.contains(row.name)) {
        let allowed_normal: BTreeSet<&str> = row.deps.iter().copied().collect();
        let allowed_dev: BTreeSet<&str> = row.dev.iter().copied().collect();
        for (edge, allowed, what) in [
            (Edge::Normal, &allowed_normal, "a normal dependency"),
            (Edge::Dev, &allowed_dev, "a dev-dependency"),
        ] {
            let actual = graph.workspace_edges(row.name, edge);
            for dep in actual.difference(allowed) {
                let hint = if edge == Edge::Normal && allowed_dev.contains(dep) {
                    " (the table allows it as a dev-dependency only)"
                } else {
                    ""
                };
                problems.push(format!(
                    "`{}` -> `{dep}` as {what} is not in the layering table{hint}: \
                     {SEE}; a new edge is a boundary change, so change both and say why \
                     in the commit",
                    row.name
                ));
            }
            for dep in allowed.difference(&actual) {
                problems.push(format!(
                    "the layering table allows `{}` -> `{dep}` as {what}, but no manifest \
                     has that edge: remove it from the table and from ARCHITECTURE.md",
                    row.name
                ));
            }
        }
    }
    problems
}

/// Banned families reached from the ban's crate, and expected packages not reached.
fn ban_problems(graph: &Graph, ban: &Ban) -> Vec<String> {
    let closure = graph.closure(ban.name, ban.opaque, false);
    let mut problems: Vec<String> = ban
        .reaches
        .iter()
        .filter(|name| !closure.contains_key(**name))
        .map(|name| {
            format!(
                "`{}` no longer reaches `{name}`: the walk may be vacuous; update `reaches`",
                ban.name
            )
        })
        .collect();
    problems.extend(
        closure
            .iter()
            .filter(|(name, _)| in_family(name, ban.families))
            .map(|(name, chain)| {
                format!(
                    "`{}` must not reach `{name}` ({}): {}",
                    ban.name,
                    ban.why,
                    chain.join(" -> ")
                )
            }),
    );
    problems
}

/// Product crates that reach test-support along normal edges.
fn test_support_problems(graph: &Graph, rows: &[Row]) -> Vec<String> {
    let present = graph.workspace_crates();
    rows.iter()
        .filter(|row| row.role == Role::Product && present.contains(row.name))
        .filter_map(|row| {
            graph
                .closure(row.name, &[], false)
                .remove("test-support")
                .map(|chain| {
                    format!(
                        "product crate `{}` ships test infrastructure: {}; test-support may \
                     only be a dev-dependency of product crates",
                        row.name,
                        chain.join(" -> ")
                    )
                })
        })
        .collect()
}

fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "\n  {}\n", problems.join("\n  "));
}

#[test]
fn every_workspace_crate_has_exactly_one_row() {
    let graph = workspace();
    assert_none(coverage_problems(graph, &rows()));
}

#[test]
fn workspace_dependencies_follow_the_layering_table() {
    let graph = workspace();
    assert_none(edge_problems(graph, &rows()));
}

#[test]
fn banned_crates_are_unreachable() {
    let graph = workspace();
    let present = graph.workspace_crates();
    let mut problems = Vec::new();
    for ban in BANS {
        if present.contains(ban.name) {
            problems.extend(ban_problems(graph, ban));
        } else {
            problems.push(format!("BANS names `{}`, not a workspace crate", ban.name));
        }
    }
    assert_none(problems);
}

#[test]
fn product_crates_use_test_support_only_in_tests() {
    let graph = workspace();
    assert_none(test_support_problems(graph, &rows()));
}

/// ARCHITECTURE.md's Layering table lists the same rows as `CRATES`.
#[test]
fn architecture_md_mirrors_the_table() {
    let text = include_str!("../../../../ARCHITECTURE.md");
    let documented = documented_rows(text);
    let encoded: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)> = CRATES
        .iter()
        .map(|row| {
            (
                row.name,
                (
                    row.deps.iter().copied().collect(),
                    row.dev.iter().copied().collect(),
                ),
            )
        })
        .collect();
    assert_eq!(
        documented, encoded,
        "ARCHITECTURE.md's Layering table (left) and table.rs's CRATES (right) differ"
    );
}

/// Rows of the markdown table under "## Layering": `| `name` | deps | dev |`, with
/// crate names in backticks and `none` for an empty cell.
fn documented_rows(text: &str) -> BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)> {
    let section = text
        .split("\n## Layering\n")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Layering` section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 5, "a Layering row has three cells: {line}");
            let name = names(cells[1])
                .into_iter()
                .next()
                .expect("a crate name in backticks");
            (name, (names(cells[2]), names(cells[3])))
        })
        .collect()
}

// The checks themselves: each fires on a graph built to break it.

#[test]
fn a_missing_row_an_unknown_row_and_an_unlisted_edge_are_named() {
    let graph = Graph::from_edges(
        &["engine", "vfs", "newcomer"],
        &[
            ("vfs", "engine", Edge::Normal),
            ("engine", "vfs", Edge::Normal),
        ],
    );
    let rows = vec![
        table_row("engine", &[], &[]),
        table_row("vfs", &["engine"], &["engine"]),
        table_row("ghost", &[], &[]),
    ];
    let coverage = coverage_problems(&graph, &rows).join("\n");
    assert!(coverage.contains("`newcomer` has no row"), "{coverage}");
    assert!(coverage.contains("row for `ghost`"), "{coverage}");
    let edges = edge_problems(&graph, &rows).join("\n");
    assert!(
        edges.contains("`engine` -> `vfs` as a normal dependency is not in the layering table"),
        "{edges}"
    );
    assert!(edges.contains("ARCHITECTURE.md"), "{edges}");
    assert!(
        edges.contains("allows `vfs` -> `engine` as a dev-dependency, but no manifest"),
        "{edges}"
    );
}

#[test]
fn test_support_in_a_product_crate_is_named_with_its_chain() {
    let graph = Graph::from_edges(
        &["engine", "effects", "test-support"],
        &[
            ("effects", "engine", Edge::Normal),
            ("engine", "test-support", Edge::Normal),
            ("test-support", "engine", Edge::Normal),
        ],
    );
    let rows = vec![
        table_row("engine", &[], &[]),
        table_row("effects", &[], &[]),
    ];
    let problems = test_support_problems(&graph, &rows).join("\n");
    assert!(
        problems.contains("effects -> engine -> test-support"),
        "{problems}"
    );
    // And on the real graph the walk sees it where it is allowed: bench uses it.
    assert!(
        workspace()
            .closure("bench", &[], false)
            .contains_key("test-support")
    );
}

/// The walk sees direct and transitive normal dependencies, and does not follow
/// dev-dependencies (proptest would pull in rand).
#[test]
fn walk_sees_normal_dependencies_and_skips_dev_dependencies() {
    let closure = workspace().closure("engine", &[], false);
    assert!(closure.contains_key("serde_json"), "direct: {closure:?}");
    assert_eq!(closure["digest"], ["engine", "sha2", "digest"]);
    for dev in ["proptest", "criterion"] {
        assert!(!closure.contains_key(dev), "{dev} is a dev-dependency");
    }
}

/// The engine's ban fires on the real graph once dev-dependencies count: proptest
/// pulls in rand.
#[test]
fn following_dev_dependencies_would_trip_the_engine_ban() {
    let closure = workspace().closure("engine", &[], true);
    let engine = BANS.iter().find(|ban| ban.name == "engine").unwrap();
    assert!(
        closure
            .keys()
            .any(|name| name.starts_with("rand") && in_family(name, engine.families)),
        "{closure:?}"
    );
}

#[test]
fn families_match_families_not_lookalikes() {
    let families = ["tokio", "reqwest", "hyper", "sqlx", "temporalio", "rand"];
    for name in [
        "tokio",
        "tokio-util",
        "hyper-util",
        "sqlx-core",
        "rand_core",
        "temporalio-sdk",
        "reqwest",
    ] {
        assert!(in_family(name, &families), "{name}");
    }
    for name in ["randomize", "hyperlocal", "serde_json", "sha2"] {
        assert!(!in_family(name, &families), "{name}");
    }
}

/// The names in backticks in a table cell.
fn names(cell: &str) -> BTreeSet<&str> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| !name.is_empty())
        .collect()
}

fn table_row(
    name: &'static str,
    deps: &'static [&'static str],
    dev: &'static [&'static str],
) -> Row {
    Row {
        name,
        deps,
        dev,
        role: Role::Product,
    }
}
