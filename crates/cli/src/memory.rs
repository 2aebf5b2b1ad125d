//! `lightspeed memory ...`: the universe's memory blocks, their attachment to
//! sessions and archival memory, through `memory/*` and `session/memory/*`.

use std::fmt::Write as _;

use api::types::memory::*;
use clap::{Args, Subcommand};

use crate::client::Client;
use crate::error::{CliError, Outcome};
use crate::sessions::show;

#[derive(Debug, Clone, Args)]
pub struct MemoryArgs {
    /// Print JSON
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: MemoryCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum MemoryCommand {
    /// Memory blocks of the universe
    #[command(subcommand)]
    Blocks(BlocksCommand),
    /// Attach a block to a session: pinned in its context, with the memory tools
    Attach { session_id: String, label: String },
    /// Detach a block from a session
    Detach { session_id: String, label: String },
    /// The blocks a session has
    Attached { session_id: String },
    /// File a passage in archival memory
    Insert {
        text: String,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Search archival memory by words
    Search {
        query: String,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum BlocksCommand {
    /// Create a block
    Create {
        label: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "")]
        value: String,
        /// Most bytes the value may hold (default 5000, at most 100000)
        #[arg(long)]
        limit: Option<u64>,
        /// The agent's tools may not edit it
        #[arg(long)]
        read_only: bool,
    },
    /// List the blocks (without values)
    List,
    /// Print a block's value
    Read { label: String },
    /// Change a block at the revision read (`read` shows it)
    Update {
        label: String,
        #[arg(long)]
        revision: u64,
        #[arg(long)]
        value: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long)]
        read_only: Option<bool>,
    },
    /// Delete a block (--force detaches it from its sessions first)
    Delete {
        label: String,
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(client: &Client, args: MemoryArgs) -> Result<Outcome, CliError> {
    let json = args.json;
    match args.command {
        MemoryCommand::Blocks(command) => blocks(client, json, command).await,
        MemoryCommand::Attach { session_id, label } => {
            let params = SessionMemoryAttachParams { session_id, label };
            let attached: SessionMemoryAttachResult =
                client.call("session/memory/attach", &params).await?;
            show(json, &attached, || {
                format!(
                    "attached {} (tools: {})\n",
                    attached.block.label,
                    attached.tools.join(", ")
                )
            })
        }
        MemoryCommand::Detach { session_id, label } => {
            let params = SessionMemoryDetachParams {
                session_id,
                label: label.clone(),
            };
            let detached: SessionMemoryDetachResult =
                client.call("session/memory/detach", &params).await?;
            show(json, &detached, || match detached.detached {
                true => format!("detached {label}\n"),
                false => format!("{label} was not attached\n"),
            })
        }
        MemoryCommand::Attached { session_id } => {
            let listed: SessionMemoryListResult = client
                .call(
                    "session/memory/list",
                    &SessionMemoryListParams { session_id },
                )
                .await?;
            show(json, &listed, || block_table(&listed.blocks))
        }
        MemoryCommand::Insert { text, tags } => {
            let params = MemoryArchivalInsertParams { text, tags };
            let passage: MemoryPassageView = client.call("memory/archival/insert", &params).await?;
            show(json, &passage, || format!("filed {}\n", passage.id))
        }
        MemoryCommand::Search { query, limit, tags } => {
            let params = MemoryArchivalSearchParams { query, tags, limit };
            let found: MemoryArchivalSearchResult =
                client.call("memory/archival/search", &params).await?;
            show(json, &found, || {
                let mut out = String::new();
                for passage in &found.passages {
                    let _ = writeln!(
                        out,
                        "{}  [{}]\n{}\n",
                        passage.id,
                        passage.tags.join(","),
                        passage.text
                    );
                }
                out
            })
        }
    }
}

async fn blocks(client: &Client, json: bool, command: BlocksCommand) -> Result<Outcome, CliError> {
    match command {
        BlocksCommand::Create {
            label,
            description,
            value,
            limit,
            read_only,
        } => {
            let params = MemoryBlockCreateParams {
                label,
                description,
                value,
                limit_bytes: limit,
                read_only,
            };
            let block: MemoryBlockView = client.call("memory/blocks/create", &params).await?;
            show(json, &block, || {
                format!("{} at revision {}\n", block.label, block.revision)
            })
        }
        BlocksCommand::List => {
            let listed: MemoryBlockListResult = client
                .call("memory/blocks/list", &MemoryBlockListParams {})
                .await?;
            show(json, &listed, || block_table(&listed.blocks))
        }
        BlocksCommand::Read { label } => {
            let block: MemoryBlockView = client
                .call("memory/blocks/read", &MemoryBlockRef { label })
                .await?;
            show(json, &block, || {
                format!(
                    "{} (revision {}, {}/{} bytes{})\n{}\n",
                    block.label,
                    block.revision,
                    block.bytes,
                    block.limit_bytes,
                    if block.read_only { ", read-only" } else { "" },
                    block.value
                )
            })
        }
        BlocksCommand::Update {
            label,
            revision,
            value,
            description,
            limit,
            read_only,
        } => {
            let params = MemoryBlockUpdateParams {
                label,
                expected_revision: revision,
                description,
                value,
                limit_bytes: limit,
                read_only,
            };
            let block: MemoryBlockView = client.call("memory/blocks/update", &params).await?;
            show(json, &block, || {
                format!("{} at revision {}\n", block.label, block.revision)
            })
        }
        BlocksCommand::Delete { label, force } => {
            let params = MemoryBlockDeleteParams {
                label: label.clone(),
                force,
            };
            let deleted: MemoryBlockDeleteResult =
                client.call("memory/blocks/delete", &params).await?;
            show(json, &deleted, || match deleted.deleted {
                true => format!("deleted {label} (detached from {})\n", deleted.detached),
                false => format!("no block {label}\n"),
            })
        }
    }
}

fn block_table(blocks: &[MemoryBlockSummary]) -> String {
    let mut out = String::new();
    for block in blocks {
        let _ = writeln!(
            out,
            "{:<24} r{:<4} {:>6}/{:<6} {}{}",
            block.label,
            block.revision,
            block.bytes,
            block.limit_bytes,
            if block.read_only { "[read-only] " } else { "" },
            block.description
        );
    }
    out
}
