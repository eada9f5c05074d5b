//! Integration tests of comet-core: each module reads as a part of the specification.

mod integration {
    mod check;
    pub(crate) mod common;
    mod dedup;
    mod golden;
    mod hostile;
    mod init;
    mod keys;
    mod prune;
    mod repair;
    mod retention;
    mod roundtrip;
    mod tamper;
}
