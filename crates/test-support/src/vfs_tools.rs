//! The file tools of one session as a tool adapter; moved to the production
//! `effects` crate, re-exported here for the paths test code uses.

pub use effects::vfs_tools::VfsToolAdapter;
