//! End-to-end tests of the `comet-agent` binary: each module drives the real executable
//! against a vault in a temporary directory and reads as a part of the CLI's specification.

mod cli {
    mod backup;
    mod browse;
    pub(crate) mod common;
    mod daemon;
    mod find;
    mod forget;
    mod init;
    mod keys;
    mod kill;
    mod maintenance;
    mod managed;
    mod restore;
    mod server;
    mod stats;
    mod web;
    mod webdriver;
}
