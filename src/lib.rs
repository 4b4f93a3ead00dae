//! groupdeck: a self-hosted chat-group service (the group model of Tencent
//! Cloud Chat) and the terminal console that moderates it.

pub mod bench;
pub mod client;
pub mod config;
pub mod demo;
pub mod model;
pub mod server;
pub mod service;
pub mod store;
pub mod tui;
pub mod usersig;
