//! Integration tests of comet-core: each module reads as a part of the specification.

mod integration {
    pub(crate) mod common;
    mod dedup;
    mod golden;
    mod hostile;
    mod init;
    mod roundtrip;
    mod tamper;
}
