//! Formatting for people (sizes, modes, times, tables) and for scripts (JSON).

use std::io::Write;

use comet_core::snapshot::format_time;
use comet_core::tree::NodeKind;
use serde::Serialize;

use crate::error::{Error, Result};

/// Where a command writes its results, and how.
pub(crate) struct Printer<'a> {
    out: &'a mut dyn Write,
    /// Results as JSON instead of text.
    pub(crate) json: bool,
}

impl<'a> Printer<'a> {
    pub(crate) fn new(out: &'a mut dyn Write, json: bool) -> Self {
        Self { out, json }
    }

    /// Writes one line of text.
    pub(crate) fn line(&mut self, text: impl std::fmt::Display) -> Result<()> {
        writeln!(self.out, "{text}").map_err(Error::Output)
    }

    /// Writes `value` as one JSON document followed by a newline.
    pub(crate) fn json(&mut self, value: &impl Serialize) -> Result<()> {
        serde_json::to_writer_pretty(&mut *self.out, value)?;
        writeln!(self.out).map_err(Error::Output)
    }

    /// Writes a table: a header, a rule, the rows, columns padded to their widest cell.
    pub(crate) fn table(&mut self, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
        self.line(pad_row(&header, &widths))?;
        self.line("-".repeat(widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1)))?;
        for row in rows {
            self.line(pad_row(row, &widths))?;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(Error::Output)
    }
}

fn pad_row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        line.push_str(cell);
        if i + 1 < cells.len() {
            line.push_str(&" ".repeat(width.saturating_sub(cell.chars().count())));
        }
    }
    line
}

/// Prints warnings on standard error, one per line.
pub(crate) fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// `1023 B`, `1.5 KiB`, `12.0 MiB`: powers of 1024.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `ls -l`'s mode column: the kind, then `rwx` for owner, group and others, with setuid,
/// setgid and sticky bits as `s`/`S` and `t`/`T`.
pub(crate) fn mode_string(kind: NodeKind, mode: u32) -> String {
    let kind_char = match kind {
        NodeKind::File => '-',
        NodeKind::Dir => 'd',
        NodeKind::Symlink => 'l',
        NodeKind::Fifo => 'p',
        NodeKind::CharDevice => 'c',
        NodeKind::BlockDevice => 'b',
        NodeKind::Socket => 's',
    };
    let mut s = String::with_capacity(10);
    s.push(kind_char);
    let special = [(0o4000, 's', 'S'), (0o2000, 's', 'S'), (0o1000, 't', 'T')];
    for (i, (bit, set_exec, set_no_exec)) in special.into_iter().enumerate() {
        let shift = 6 - 3 * i;
        let bits = (mode >> shift) & 0o7;
        s.push(if bits & 0o4 != 0 { 'r' } else { '-' });
        s.push(if bits & 0o2 != 0 { 'w' } else { '-' });
        let exec = bits & 0o1 != 0;
        s.push(match (mode & bit != 0, exec) {
            (true, true) => set_exec,
            (true, false) => set_no_exec,
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

/// The lower-case name of a node kind, as JSON output gives it.
pub(crate) fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::File => "file",
        NodeKind::Dir => "dir",
        NodeKind::Symlink => "symlink",
        NodeKind::Fifo => "fifo",
        NodeKind::CharDevice => "chardev",
        NodeKind::BlockDevice => "blockdev",
        NodeKind::Socket => "socket",
    }
}

/// ns since the epoch as RFC 3339 in UTC, with nanoseconds: `2026-11-22T10:00:00.000000001Z`.
pub(crate) fn rfc3339(ns: i64) -> String {
    let date_time = format_time(ns).replacen(' ', "T", 1);
    format!("{date_time}.{:09}Z", ns.rem_euclid(1_000_000_000))
}

/// A duration between two ns timestamps: `0.42s`, `3m05s`, `2h03m05s`.
pub(crate) fn human_duration(start_ns: i64, end_ns: i64) -> String {
    let ns = end_ns.saturating_sub(start_ns).max(0);
    let secs = ns / 1_000_000_000;
    if secs < 60 {
        return format!("{:.2}s", ns as f64 / 1e9);
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 { format!("{h}h{m:02}m{s:02}s") } else { format!("{m}m{s:02}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(10 << 20), "10.0 MiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn modes() {
        assert_eq!(mode_string(NodeKind::Dir, 0o40_755), "drwxr-xr-x");
        assert_eq!(mode_string(NodeKind::File, 0o100_644), "-rw-r--r--");
        assert_eq!(mode_string(NodeKind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(NodeKind::File, 0o2640), "-rw-r-S---");
        assert_eq!(mode_string(NodeKind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(NodeKind::Dir, 0o1776), "drwxrwxrwT");
        assert_eq!(mode_string(NodeKind::Symlink, 0o777), "lrwxrwxrwx");
        assert_eq!(mode_string(NodeKind::Fifo, 0), "p---------");
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1_795_305_600_000_000_007), "2026-11-22T00:00:00.000000007Z");
        assert_eq!(human_duration(0, 420_000_000), "0.42s");
        assert_eq!(human_duration(0, 185_000_000_000), "3m05s");
        assert_eq!(human_duration(0, 7_385_000_000_000), "2h03m05s");
        assert_eq!(human_duration(5, 0), "0.00s");
    }

    #[test]
    fn tables_align() {
        let mut buf = Vec::new();
        let mut printer = Printer::new(&mut buf, false);
        printer.table(&["ID", "Host"], &[vec!["abcd".into(), "h".into()], vec!["a".into(), "longer".into()]]).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "ID    Host\n------------\nabcd  h\na     longer\n");
    }
}
