//! Command-line arguments, as clap types. Parsing only: [`crate::run`] does the work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use comet_core::retention::{Count, Duration, GroupBy, TagList};

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
    /// Remove snapshots by a retention policy (--keep-*) or by id
    Forget(ForgetArgs),
    /// Manage the passwords that open the vault (key slots)
    Key(KeyArgs),
    /// Show what the snapshots hold and what the vault stores
    Stats(StatsArgs),
    /// Find files and directories by name in snapshots
    Find(FindArgs),
    /// Remove data no snapshot uses (two phases: mark now, delete after a grace period)
    Prune(PruneArgs),
    /// Check the vault for damage: structure, snapshots, and optionally every byte of data
    Check(CheckArgs),
    /// Repair a damaged vault: rebuild the index, or rewrite snapshots around lost data
    Repair(RepairArgs),
    /// Log this device in to a Comet server (as an account's device), or out; show the state
    Login(LoginArgs),
    /// Facts about this agent (device id)
    Info(InfoArgs),
    /// Run as the device's service: a live connection to the server, schedules, remote commands
    Run,
}

/// Arguments of `login`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LoginArgs {
    /// What to do [default: log in with --token and --server].
    #[command(subcommand)]
    pub command: Option<LoginCommand>,

    /// Log in with an install token an administrator made (create-install-token)
    #[arg(long, value_name = "TOKEN", requires = "server")]
    pub token: Option<String>,

    /// The server's URL.
    #[arg(
        long,
        value_name = "URL",
        requires = "token",
        help = "The server, e.g. https://backup.example.com or http://127.0.0.1:8060"
    )]
    pub server: Option<String>,

    /// Name of this device on the server [default: the host name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// What `login` does.
#[derive(Debug, Subcommand)]
pub enum LoginCommand {
    /// Log in with a user name and password: read as four lines (user name, password, server
    /// URL, device name) from standard input when it is not a terminal, else asked for; an
    /// account with two-factor sign-in also needs a code (a fifth line)
    Prompt,
    /// Show whether this device is logged in, and to what
    Status,
    /// Log this device out: its token stops working and the saved credentials are removed
    Disconnect,
    /// Change the account's password and re-wrap the vault secrets with it (also the way to
    /// keep the vaults after an administrator reset the password)
    ChangePassword {
        /// Read the new password from the first line of this file [default: `COMET_NEW_PASSWORD`,
        /// else asked twice on the terminal]
        #[arg(long, value_name = "FILE")]
        new_password_file: Option<PathBuf>,
    },
}

/// Arguments of `info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// What to show.
    #[command(subcommand)]
    pub command: InfoCommand,
}

/// What `info` shows.
#[derive(Debug, Subcommand)]
pub enum InfoCommand {
    /// This device's id (made on first use, kept in the agent's home)
    DeviceId,
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
    /// Argon2id cost of the first key slot.
    #[command(flatten)]
    pub kdf: KdfArgs,
}

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Files and directories to back up, stored as given (relative paths stay relative)
    #[arg(required_unless_present = "item", conflicts_with = "item", value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Run a protected item of the profile (its id or name) as a job reported to the server
    /// this device is logged in to; its paths, exclusions and vault come from the profile
    #[arg(long, value_name = "ITEM")]
    pub item: Option<String>,

    /// With --item: the storage vault (id or name) [default: the item's schedule's, or the
    /// only one]
    #[arg(long, value_name = "VAULT", requires = "item")]
    pub destination: Option<String>,

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
    /// Snapshot: `latest` or an id prefix (at least 4 hex characters) [default with --item:
    /// the item's latest]
    #[arg(required_unless_present = "item")]
    pub snapshot: Option<String>,

    /// Restore a protected item of the profile (its id or name), from any device of the
    /// account, as a job reported to the server
    #[arg(long, value_name = "ITEM")]
    pub item: Option<String>,

    /// With --item: the storage vault (id or name) [default: the item's schedule's, or the
    /// only one]
    #[arg(long, value_name = "VAULT", requires = "item")]
    pub destination: Option<String>,

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

/// Arguments of `key`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: KeyCommand,
}

/// What `key` does.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the key slots; the one the password opened is marked with *
    List,
    /// Add a password: a new key slot of the same vault
    Add(NewKeyArgs),
    /// Remove a key slot (never the one in use, nor the last one)
    Remove {
        /// Key id, or a prefix of at least 4 hex characters
        id: String,
    },
    /// Change the password: add a key slot for the new one, then remove the one in use
    Passwd(NewKeyArgs),
}

/// Arguments of `key add` and `key passwd`.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// Read the new password from the first line of this file [default: `COMET_NEW_PASSWORD`, else
    /// a prompt on the terminal]
    #[arg(long, value_name = "FILE")]
    pub new_password_file: Option<PathBuf>,

    /// Argon2id cost of the new key slot.
    #[command(flatten)]
    pub kdf: KdfArgs,
}

/// Argon2id cost of a new key slot (`init`, `key add`, `key passwd`).
#[derive(Debug, Args)]
pub struct KdfArgs {
    /// Argon2id preset for the key slot
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

impl KdfArgs {
    /// The preset, with the fields given explicitly replaced.
    pub fn params(&self) -> comet_core::KdfParams {
        let mut kdf = match self.kdf {
            KdfPreset::Default => comet_core::KdfParams::DEFAULT,
            KdfPreset::Floor => comet_core::KdfParams::FLOOR,
        };
        kdf.memory_kib = self.kdf_memory_kib.unwrap_or(kdf.memory_kib);
        kdf.iterations = self.kdf_iterations.unwrap_or(kdf.iterations);
        kdf.parallelism = self.kdf_parallelism.unwrap_or(kdf.parallelism);
        kdf
    }
}

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Snapshots to count: `latest` or id prefixes [default: every snapshot]
    #[arg(value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,

    /// What to count
    #[arg(long, value_enum, default_value_t = StatsMode::RestoreSize)]
    pub mode: StatsMode,
}

/// How `stats` counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum StatsMode {
    /// Files and bytes restoring the snapshots would write, summed over the snapshots
    #[default]
    RestoreSize,
    /// The distinct blobs the snapshots reference, plaintext and stored, with the
    /// deduplication and compression ratios
    RawData,
}

/// Arguments of `find`.
#[derive(Debug, Args)]
pub struct FindArgs {
    /// Glob patterns: a name (*.txt) at any depth, or with a / a path inside the snapshot
    /// (docs/*.md at any depth, /home/*/notes.txt from the root)
    #[arg(required = true, value_name = "PATTERN")]
    pub patterns: Vec<String>,

    /// Search only this snapshot (`latest` or an id prefix; repeat for several) [default: every
    /// snapshot]
    #[arg(long = "snapshot", short = 's', value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,

    /// Ignore case in patterns
    #[arg(long, short = 'i')]
    pub ignore_case: bool,

    /// Print only the matching paths, each once, without snapshots, sizes or times
    #[arg(long)]
    pub path_only: bool,
}

/// Arguments of `forget`.
#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// Snapshots to remove, instead of a policy: `latest` or id prefixes (at least 4 hex
    /// characters)
    #[arg(value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,

    /// What to keep.
    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Group snapshots by host, paths and/or tags, comma-separated, and apply the policy to each
    /// group ('' for a single group)
    #[arg(
        long,
        short = 'g',
        value_name = "GROUP",
        default_value = "host,paths",
        value_parser = parse_core::<GroupBy>
    )]
    pub group_by: GroupBy,

    /// Only snapshots of this host (repeat for several)
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,

    /// Only snapshots with these tags (comma-separated: all of them; repeated: any group)
    #[arg(long = "tag", value_name = "TAG[,TAG...]", value_parser = parse_core::<TagList>)]
    pub tags: Vec<TagList>,

    /// Only snapshots that include this path (repeat: all of them)
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,

    /// Print what would be removed, and remove nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Then prune: mark the data only the removed snapshots used (deleted by a later prune
    /// after the grace period)
    #[arg(long)]
    pub prune: bool,

    /// How prune works, with --prune.
    #[command(flatten)]
    pub prune_tuning: PruneTuning,
}

/// The retention policy of `forget`: a snapshot is kept when any option keeps it. Counts take a
/// number or `unlimited`; durations are like 1y5m7d2h (years, months, days, hours).
#[derive(Debug, Args)]
#[command(next_help_heading = "Policy")]
pub struct PolicyArgs {
    /// Keep the last N snapshots
    #[arg(long, short = 'l', value_name = "N", value_parser = parse_core::<Count>)]
    pub keep_last: Option<Count>,

    /// Keep the newest snapshot of each of the last N hours that have one
    #[arg(long, short = 'H', value_name = "N", value_parser = parse_core::<Count>)]
    pub keep_hourly: Option<Count>,

    /// Keep the newest snapshot of each of the last N days that have one
    #[arg(long, short = 'd', value_name = "N", value_parser = parse_core::<Count>)]
    pub keep_daily: Option<Count>,

    /// Keep the newest snapshot of each of the last N weeks (ISO 8601) that have one
    #[arg(long, short = 'w', value_name = "N", value_parser = parse_core::<Count>)]
    pub keep_weekly: Option<Count>,

    /// Keep the newest snapshot of each of the last N months that have one
    #[arg(long, short = 'm', value_name = "N", value_parser = parse_core::<Count>)]
    pub keep_monthly: Option<Count>,

    /// Keep the newest snapshot of each of the last N years that have one
    #[arg(long, short = 'y', value_name = "N", value_parser = parse_core::<Count>)]
    pub keep_yearly: Option<Count>,

    /// Keep every snapshot within DURATION before the latest snapshot of its group
    #[arg(long, value_name = "DURATION", value_parser = parse_core::<Duration>)]
    pub keep_within: Option<Duration>,

    /// Keep hourly snapshots within DURATION before the latest snapshot
    #[arg(long, value_name = "DURATION", value_parser = parse_core::<Duration>)]
    pub keep_within_hourly: Option<Duration>,

    /// Keep daily snapshots within DURATION before the latest snapshot
    #[arg(long, value_name = "DURATION", value_parser = parse_core::<Duration>)]
    pub keep_within_daily: Option<Duration>,

    /// Keep weekly snapshots within DURATION before the latest snapshot
    #[arg(long, value_name = "DURATION", value_parser = parse_core::<Duration>)]
    pub keep_within_weekly: Option<Duration>,

    /// Keep monthly snapshots within DURATION before the latest snapshot
    #[arg(long, value_name = "DURATION", value_parser = parse_core::<Duration>)]
    pub keep_within_monthly: Option<Duration>,

    /// Keep yearly snapshots within DURATION before the latest snapshot
    #[arg(long, value_name = "DURATION", value_parser = parse_core::<Duration>)]
    pub keep_within_yearly: Option<Duration>,

    /// Keep every snapshot newer than DURATION before now
    #[arg(long, value_name = "DURATION", value_parser = parse_core::<Duration>)]
    pub keep_newer_than: Option<Duration>,

    /// Keep snapshots that have all these tags (repeat for alternatives; '' keeps untagged ones)
    #[arg(long, value_name = "TAG[,TAG...]", value_parser = parse_core::<TagList>)]
    pub keep_tag: Vec<TagList>,
}

/// Parses a value the engine defines (count, duration, tag list, grouping), for clap.
fn parse_core<T: std::str::FromStr<Err = comet_core::Error>>(text: &str) -> Result<T, String> {
    text.parse().map_err(|e| match e {
        comet_core::Error::InvalidOption(reason) => reason,
        other => other.to_string(),
    })
}

/// Arguments of `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Plan only: print what would be marked, deleted and repacked, change nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// How prune works.
    #[command(flatten)]
    pub tuning: PruneTuning,
}

/// Options of prune (also taken by `forget --prune`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Prune options")]
pub struct PruneTuning {
    /// How long unused data stays marked before a later prune deletes it (30m, 24h, 2d; 0 for
    /// at once, still never while a backup that started before the mark runs)
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub grace: std::time::Duration,

    /// Repack packs with more than this percentage of unused bytes
    #[arg(long, value_name = "PERCENT", default_value = "5%", value_parser = parse_percent)]
    pub max_unused: f64,

    /// Repack at most this many bytes of packs in one run (512M, 10G, ...)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_repack: Option<u64>,

    /// How far the clocks of machines sharing the vault may disagree
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration, hide = true)]
    pub clock_skew: std::time::Duration,

    /// Time allowed for writing the index that carries new marks (marks are stamped this far
    /// ahead)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration, hide = true)]
    pub mark_write_limit: std::time::Duration,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Download every pack and verify every blob
    #[arg(long, conflicts_with = "read_data_subset")]
    pub read_data: bool,

    /// Download and verify a part of the packs: n/t (subset n of t; 1/t..t/t together read
    /// each pack once) or x% (a random sample)
    #[arg(long, value_name = "n/t|x%", value_parser = parse_subset)]
    pub read_data_subset: Option<comet_core::ReadData>,
}

/// Arguments of `repair`.
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// What to repair.
    #[command(subcommand)]
    pub what: RepairCommand,
}

/// What `repair` repairs.
#[derive(Debug, Subcommand)]
pub enum RepairCommand {
    /// Rebuild the index from the headers of the packs in the vault
    Index,
    /// Write new snapshots without the data that is lost (files cut before the first lost chunk,
    /// lost directories empty, both marked with the extended attribute user.comet.damaged)
    Snapshots {
        /// Print what would be repaired, write nothing
        #[arg(long, short = 'n')]
        dry_run: bool,
        /// Remove the damaged originals once the repaired snapshots are written
        #[arg(long)]
        forget: bool,
    },
}

/// Parses a duration: a number followed by `ms`, `s`, `m`, `h` or `d` (or `0`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let invalid = || format!("invalid duration {text:?}: give a number with ms, s, m, h or d (e.g. 30m, 24h, 2d)");
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = t.split_at(digits);
    let n: u64 = number.parse().map_err(|_| invalid())?;
    let millis = match unit {
        "ms" => n,
        "s" => n.checked_mul(1000).ok_or_else(invalid)?,
        "m" => n.checked_mul(60_000).ok_or_else(invalid)?,
        "h" => n.checked_mul(3_600_000).ok_or_else(invalid)?,
        "d" => n.checked_mul(86_400_000).ok_or_else(invalid)?,
        _ => return Err(invalid()),
    };
    Ok(std::time::Duration::from_millis(millis))
}

/// Parses a percentage (`5%` or `5`) into a fraction.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let number = t.strip_suffix('%').unwrap_or(t).trim();
    let p: f64 = number.parse().map_err(|_| format!("invalid percentage {text:?}"))?;
    if !(0.0..=100.0).contains(&p) {
        return Err(format!("percentage {text:?} must be between 0 and 100"));
    }
    Ok(p / 100.0)
}

fn parse_subset(text: &str) -> Result<comet_core::ReadData, String> {
    comet_core::ReadData::parse_subset(text)
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
    fn explicit_kdf_fields_override_the_preset() {
        use comet_core::KdfParams;
        let args =
            KdfArgs { kdf: KdfPreset::Floor, kdf_memory_kib: Some(65536), kdf_iterations: None, kdf_parallelism: None };
        assert_eq!(args.params(), KdfParams { memory_kib: 65536, ..KdfParams::FLOOR });
        let args =
            KdfArgs { kdf: KdfPreset::Floor, kdf_memory_kib: None, kdf_iterations: Some(5), kdf_parallelism: None };
        assert_eq!(args.params(), KdfParams { iterations: 5, ..KdfParams::FLOOR });
        let args =
            KdfArgs { kdf: KdfPreset::Default, kdf_memory_kib: None, kdf_iterations: None, kdf_parallelism: None };
        assert_eq!(args.params(), KdfParams::DEFAULT);
    }

    #[test]
    fn durations_and_percentages() {
        use std::time::Duration;
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["", "h", "1", "1w", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(parse_percent("5%"), Ok(0.05));
        assert_eq!(parse_percent("100"), Ok(1.0));
        assert!(parse_percent("101%").is_err() && parse_percent("x").is_err() && parse_percent("-1").is_err());
    }

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
