//! Exclusion rules for backups.
//!
//! - `exclude` / `iexclude` globs (`*`, `?`, `[...]`, `**`; `iexclude` ignores case). A pattern
//!   without `/` matches an entry's *name* at any depth (`*.tmp`, `node_modules`). A pattern
//!   with `/` matches the entry's absolute path: from the root when it starts with `/`
//!   (`/home/*/.cache`), at any depth otherwise (`build/*.o` = `**/build/*.o`). `*` never
//!   crosses `/`; `**` does.
//! - `exclude_regex`: regular expressions searched in the absolute path (`(?i)` for case).
//! - `exclude_larger_than`: files bigger than this many bytes.
//! - `exclude_if_present`: a directory holding an entry of this name is skipped whole.
//!
//! Names and patterns are compared in Unicode NFC, so `é` typed precomposed matches a file
//! whose name was stored decomposed (NFD, as macOS writes it) and the other way round. Names
//! that are not UTF-8 are matched through a lossy decoding.

use std::borrow::Cow;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::RegexSet;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

/// Exclusion rules as the user gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct FilterOptions {
    /// Glob patterns, case-sensitive.
    pub exclude: Vec<String>,
    /// Glob patterns, case-insensitive.
    pub iexclude: Vec<String>,
    /// Regular expressions over the absolute path.
    pub exclude_regex: Vec<String>,
    /// Skip files larger than this many bytes.
    pub exclude_larger_than: Option<u64>,
    /// Skip directories that contain an entry with one of these names.
    pub exclude_if_present: Vec<String>,
}

/// Compiled exclusion rules.
#[derive(Debug, Default)]
pub struct Filter {
    names: GlobSet,
    paths: GlobSet,
    /// Case-insensitive rules, matched against lower-cased names (globset folds ASCII only).
    inames: GlobSet,
    ipaths: GlobSet,
    regexes: Option<RegexSet>,
    larger_than: Option<u64>,
    if_present: Vec<Vec<u8>>,
}

pub(crate) fn nfc(s: &str) -> String {
    s.nfc().collect()
}

pub(crate) fn nfc_bytes(b: &[u8]) -> Cow<'_, str> {
    let s = String::from_utf8_lossy(b);
    if unicode_normalization::is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        s
    } else {
        Cow::Owned(nfc(&s))
    }
}

impl Filter {
    /// Compiles `options`; a bad pattern is an [`Error::InvalidOption`] naming it.
    pub fn new(options: &FilterOptions) -> Result<Self> {
        let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        let (mut inames, mut ipaths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        let patterns = options.exclude.iter().map(|p| (p, false)).chain(options.iexclude.iter().map(|p| (p, true)));
        for (pattern, case_insensitive) in patterns {
            let mut pattern = nfc(pattern.trim_end_matches('/'));
            if case_insensitive {
                pattern = pattern.to_lowercase();
            }
            if pattern.is_empty() {
                return Err(Error::InvalidOption("empty exclude pattern".into()));
            }
            let (target, glob_text) = match (pattern.contains('/'), case_insensitive) {
                (false, false) => (&mut names, pattern.clone()),
                (false, true) => (&mut inames, pattern.clone()),
                (true, ci) => {
                    let glob = if pattern.starts_with('/') { pattern.clone() } else { format!("**/{pattern}") };
                    (if ci { &mut ipaths } else { &mut paths }, glob)
                }
            };
            let glob = GlobBuilder::new(&glob_text)
                .literal_separator(true)
                .case_insensitive(case_insensitive)
                .backslash_escape(true)
                .build()
                .map_err(|e| Error::InvalidOption(format!("exclude pattern {pattern:?}: {e}")))?;
            target.add(glob);
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| Error::InvalidOption(e.to_string()));
        let regexes = if options.exclude_regex.is_empty() {
            None
        } else {
            let normalized: Vec<String> = options.exclude_regex.iter().map(|r| nfc(r)).collect();
            Some(RegexSet::new(&normalized).map_err(|e| Error::InvalidOption(format!("exclude regex: {e}")))?)
        };
        Ok(Self {
            names: build(names)?,
            paths: build(paths)?,
            inames: build(inames)?,
            ipaths: build(ipaths)?,
            regexes,
            larger_than: options.exclude_larger_than,
            if_present: options.exclude_if_present.iter().map(|n| n.as_bytes().to_vec()).collect(),
        })
    }

    /// Whether the entry `name` at absolute path `path` is excluded. `file_size` is `Some` for
    /// regular files.
    pub fn excludes(&self, path: &Path, name: &[u8], file_size: Option<u64>) -> bool {
        if let (Some(limit), Some(size)) = (self.larger_than, file_size)
            && size > limit
        {
            return true;
        }
        if !self.names.is_empty() || !self.inames.is_empty() {
            let name = nfc_bytes(name);
            if self.names.is_match(name.as_ref())
                || (!self.inames.is_empty() && self.inames.is_match(name.to_lowercase()))
            {
                return true;
            }
        }
        if self.paths.is_empty() && self.ipaths.is_empty() && self.regexes.is_none() {
            return false;
        }
        let path = nfc_bytes(path.as_os_str().as_bytes());
        self.paths.is_match(path.as_ref())
            || (!self.ipaths.is_empty() && self.ipaths.is_match(path.to_lowercase()))
            || self.regexes.as_ref().is_some_and(|r| r.is_match(&path))
    }

    /// Whether a directory with these entry names is to be skipped.
    pub fn excludes_dir_with<'a>(&self, mut names: impl Iterator<Item = &'a [u8]>) -> bool {
        !self.if_present.is_empty() && names.any(|n| self.if_present.iter().any(|p| p == n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(exclude: &[&str], iexclude: &[&str], regex: &[&str]) -> Filter {
        Filter::new(&FilterOptions {
            exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
            iexclude: iexclude.iter().map(|s| (*s).to_owned()).collect(),
            exclude_regex: regex.iter().map(|s| (*s).to_owned()).collect(),
            ..FilterOptions::default()
        })
        .unwrap()
    }

    fn ex(f: &Filter, path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap();
        f.excludes(Path::new(path), name.as_bytes(), None)
    }

    #[test]
    fn globs() {
        let f = filter(&["*.tmp", "node_modules", "build/*.o", "/home/*/.cache", "src/**/gen"], &[], &[]);
        assert!(ex(&f, "/x/a.tmp"));
        assert!(ex(&f, "/x/y/node_modules"));
        assert!(!ex(&f, "/x/node_modules_old"));
        assert!(ex(&f, "/p/build/x.o"));
        assert!(!ex(&f, "/p/build/sub/x.o"), "* must not cross /");
        assert!(ex(&f, "/home/ann/.cache"));
        assert!(!ex(&f, "/srv/home/ann/.cache"), "leading / anchors");
        assert!(ex(&f, "/w/src/a/b/gen"));
    }

    #[test]
    fn case_insensitive_and_regex() {
        let f = filter(&[], &["*.JPG"], &[r"/secret-\d+$"]);
        assert!(ex(&f, "/a/photo.jpg"));
        assert!(ex(&f, "/a/photo.Jpg"));
        assert!(ex(&f, "/a/secret-42"));
        assert!(!ex(&f, "/a/secret-42x"));
        assert!(!filter(&["*.JPG"], &[], &[]).excludes(Path::new("/a/b.jpg"), b"b.jpg", None));
    }

    #[test]
    fn unicode_normalisation_does_not_change_what_matches() {
        let nfc_name = "caf\u{e9}";
        let nfd_name = "cafe\u{301}";
        for pattern in [nfc_name, nfd_name] {
            for glob in [format!("{pattern}*"), format!("/data/{pattern}/*")] {
                let f = filter(&[&glob], &[], &[]);
                for name in [nfc_name, nfd_name] {
                    let file =
                        if glob.starts_with('/') { format!("/data/{name}/x") } else { format!("/data/{name}.txt") };
                    assert!(ex(&f, &file), "pattern {glob:?} missed {file:?}");
                }
            }
            let f = filter(&[], &[&format!("{}*", pattern.to_uppercase())], &[&format!("/{pattern}$")]);
            for name in [nfc_name, nfd_name] {
                assert!(ex(&f, &format!("/d/{name}.txt")));
                assert!(ex(&f, &format!("/d/{name}")));
            }
        }
    }

    #[test]
    fn size_and_marker_rules() {
        let f = Filter::new(&FilterOptions {
            exclude_larger_than: Some(10),
            exclude_if_present: vec![".nobackup".into()],
            ..FilterOptions::default()
        })
        .unwrap();
        assert!(f.excludes(Path::new("/a"), b"a", Some(11)));
        assert!(!f.excludes(Path::new("/a"), b"a", Some(10)));
        assert!(!f.excludes(Path::new("/a"), b"a", None));
        assert!(f.excludes_dir_with([&b"x"[..], b".nobackup"].into_iter()));
        assert!(!f.excludes_dir_with([&b"x"[..]].into_iter()));
        assert!(Filter::new(&FilterOptions { exclude: vec!["[".into()], ..FilterOptions::default() }).is_err());
    }
}
