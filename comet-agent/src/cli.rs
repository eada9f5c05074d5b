//! Command-line arguments, as clap types. Parsing only: [`crate::run`] does the work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Printed after the options in `--help`.
const AFTER_HELP: &str = "\
The password comes from the environment variable COMET_PASSWORD, else the file named by
--password-file (or COMET_PASSWORD_FILE), else a prompt on the terminal, else one line read from
standard input.

Exit codes: 0 success, 1 error, 2 wrong usage, 3 finished with warnings (some files were not
backed up or restored).";

/// Deduplicating, compressing, end-to-end encrypted backups.
#[derive(Debug, Parser)]
#[command(name = "comet-agent", version, max_term_width = 100, after_help = AFTER_HELP)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Vault location: a directory or a URL.
    #[arg(
        long,
        short = 'r',
        visible_alias = "repo",
        env = "COMET_VAULT",
        global = true,
        value_name = "LOCATION",
        help = "Vault location: a directory, s3://bucket/prefix, az://container/prefix, gs://bucket/prefix or memory://"
    )]
    pub vault: Option<String>,

    /// Read the password from the first line of this file
    #[arg(long, env = "COMET_PASSWORD_FILE", global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Local cache of index files, snapshots and trees.
    #[arg(
        long,
        env = "COMET_CACHE_DIR",
        global = true,
        value_name = "DIR",
        help = "Local cache of index files, snapshots and trees [default: $XDG_CACHE_HOME/comet, or ~/.cache/comet]"
    )]
    pub cache_dir: Option<PathBuf>,

    /// Do not use a local cache
    #[arg(long, global = true)]
    pub no_cache: bool,

    /// Print results as JSON on standard output
    #[arg(long, global = true)]
    pub json: bool,

    /// Print no progress, only results, warnings and errors
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a vault (safe to run again: an existing vault is left as it is)
    Init(InitArgs),
    /// Back up files and directories into a new snapshot
    Backup(BackupArgs),
    /// List snapshots
    Snapshots(SnapshotsArgs),
    /// List the files of a snapshot
    Ls(LsArgs),
    /// Restore a snapshot, or part of it, into a directory
    Restore(RestoreArgs),
    /// Show what changed between two snapshots
    Diff(DiffArgs),
    /// Print a vault object (the config, a snapshot)
    Cat(CatArgs),
}

/// Preset Argon2id costs for the first key slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum KdfPreset {
    /// 64 MiB, 3 passes, 4 lanes (RFC 9106's second recommendation).
    #[default]
    Default,
    /// 19 MiB, 2 passes, 1 lane: the lowest accepted (tests, small devices).
    Floor,
}

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Argon2id preset for the password's key slot
    #[arg(long, env = "COMET_KDF", value_enum, default_value_t = KdfPreset::Default, hide = true)]
    pub kdf: KdfPreset,

    /// Argon2id memory in KiB (overrides the preset)
    #[arg(long, value_name = "KIB")]
    pub kdf_memory_kib: Option<u32>,

    /// Argon2id passes (overrides the preset)
    #[arg(long, value_name = "N")]
    pub kdf_iterations: Option<u32>,

    /// Argon2id lanes (overrides the preset)
    #[arg(long, value_name = "N")]
    pub kdf_parallelism: Option<u32>,
}

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Files and directories to back up, stored as given (relative paths stay relative)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Tag the snapshot (repeat, or separate with commas)
    #[arg(long = "tag", value_name = "TAG", value_delimiter = ',')]
    pub tags: Vec<String>,

    /// Exclude entries matching a glob (a name like *.tmp at any depth, or a path with /)
    #[arg(long, short = 'e', value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Like --exclude, ignoring case
    #[arg(long, value_name = "GLOB")]
    pub iexclude: Vec<String>,

    /// Exclude entries whose absolute path matches a regular expression
    #[arg(long, value_name = "REGEX")]
    pub exclude_regex: Vec<String>,

    /// Exclude files larger than SIZE (bytes, or with a unit: 512k, 10M, 1G, 2T; powers of 1024)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub exclude_larger_than: Option<u64>,

    /// Exclude directories that contain an entry with this name (e.g. .nobackup)
    #[arg(long, value_name = "NAME")]
    pub exclude_if_present: Vec<String>,

    /// Read every file, even those unchanged since the parent snapshot
    #[arg(long, short = 'f')]
    pub force: bool,

    /// Snapshot to compare with (id prefix or `latest`) [default: the latest of this host
    /// with the same paths]
    #[arg(long, value_name = "SNAPSHOT", conflicts_with = "force")]
    pub parent: Option<String>,

    /// Host name to record [default: this machine's]
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

/// Arguments of `snapshots`.
#[derive(Debug, Args)]
pub struct SnapshotsArgs {
    /// Only snapshots with these tags (comma-separated: all of them; repeated: any group)
    #[arg(long = "tag", value_name = "TAG[,TAG...]")]
    pub tags: Vec<String>,

    /// Only snapshots of this host (repeat for several)
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
}

/// Arguments of `ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Snapshot: `latest` or an id prefix (at least 4 hex characters)
    pub snapshot: String,

    /// Directory or file inside the snapshot, as `ls` prints it [default: everything]
    pub path: Option<PathBuf>,

    /// Long format: mode, owner, group, size, modification time (UTC)
    #[arg(long, short = 'l')]
    pub long: bool,

    /// With PATH, list everything under it (without PATH the listing is always recursive)
    #[arg(long, short = 'R')]
    pub recursive: bool,
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Snapshot: `latest` or an id prefix (at least 4 hex characters)
    pub snapshot: String,

    /// Directory to restore into (created if missing)
    #[arg(long, short = 't', value_name = "DIR")]
    pub target: PathBuf,

    /// Restore only this path of the snapshot, as `ls` prints it (repeat for several)
    #[arg(long, short = 'i', value_name = "PATH")]
    pub include: Vec<PathBuf>,
}

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// First snapshot: `latest` or an id prefix
    pub first: String,
    /// Second snapshot: `latest` or an id prefix
    pub second: String,
}

/// Arguments of `cat`.
#[derive(Debug, Args)]
pub struct CatArgs {
    /// The object to print.
    #[command(subcommand)]
    pub object: CatObject,
}

/// Objects `cat` prints.
#[derive(Debug, Subcommand)]
pub enum CatObject {
    /// The vault's settings (chunker, pack size, compression, id, creation time)
    Config,
    /// One snapshot, as JSON
    Snapshot {
        /// `latest` or an id prefix
        id: String,
    },
}

/// Parses a size: a number of bytes, optionally followed by a unit `k`, `M`, `G` or `T`
/// (case-insensitive, powers of 1024, an optional trailing `B` or `iB`). Fractions are allowed
/// with a unit (`1.5M`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let without_b = lower.strip_suffix("ib").or_else(|| lower.strip_suffix('b')).unwrap_or(&lower);
    let (number, shift) = match without_b.char_indices().last() {
        Some((i, 'k')) => (&without_b[..i], 10),
        Some((i, 'm')) => (&without_b[..i], 20),
        Some((i, 'g')) => (&without_b[..i], 30),
        Some((i, 't')) => (&without_b[..i], 40),
        _ => (without_b, 0),
    };
    let number = number.trim();
    let invalid = || format!("invalid size {text:?}: give bytes or a number with k, M, G or T (e.g. 512k, 10M)");
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(invalid());
    }
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(1 << shift).ok_or_else(|| format!("size {text:?} is too large"));
    }
    let value: f64 = number.parse().map_err(|_| invalid())?;
    if shift == 0 {
        return Err(format!("invalid size {text:?}: a number of bytes has no fraction"));
    }
    let bytes = (value * f64::from(1u32 << (shift - 10)) * 1024.0).round();
    if bytes >= 18_446_744_073_709_551_615.0 {
        return Err(format!("size {text:?} is too large"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("10MB"), Ok(10 << 20));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2t"), Ok(2 << 40));
        assert_eq!(parse_size("1.5M"), Ok(3 << 19));
        assert_eq!(parse_size(" 7 "), Ok(7));
        assert_eq!(parse_size("100B"), Ok(100));
        for bad in ["", "k", "M", "-1", "1x", "1.5", "ten", "1..2k", "18446744073709551615k", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
