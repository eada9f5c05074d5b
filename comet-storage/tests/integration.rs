//! Integration tests of comet-storage: every vault against the conformance suite, the test kit,
//! location parsing, and S3 against a real `SeaweedFS` (started by the test when `weed` is on
//! the PATH).

mod integration {
    mod faulty;
    mod local;
    mod memory;
    mod open;
    mod recording;
    mod s3;
    mod seaweedfs;
}
