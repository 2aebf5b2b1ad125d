//! The built-in CoreAgent domain: commands, events, state, planner and the inputs the
//! drive machine accepts.

pub mod admit;
pub mod command;
pub mod config;
pub mod context;
pub mod control;
pub mod effects;
pub mod event;
pub mod fork;
pub mod holds;
pub mod limits;
pub mod lineage;
pub(crate) mod planner;
pub mod policy;
pub mod refresh;
pub mod replay;
pub mod request;
pub mod run;
pub mod state;
pub mod tools;
pub mod transcription;
pub mod wellknown;
