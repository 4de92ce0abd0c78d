//! Which paths a tree watcher leaves out, by glob.

use std::fmt;
use std::path::{Component, Path};

use fd_core::{Error, Result};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// The paths a tree watcher leaves out ([`exclude`](PathFilter::exclude):
/// a directory that matches is never watched, nor anything below it, and
/// no event under it is reported) or only reports
/// ([`include`](PathFilter::include): events whose path matches; every
/// directory is still watched, to find them).
///
/// Globs are matched against the path relative to the root the event is
/// under, with `/` between components, as `.gitignore` patterns are: one
/// without a `/` (`node_modules`, `*.o`) matches a name at any depth; one
/// with a `/` (`build/out`, `src/**/*.rs`) matches the relative path from
/// the root, `*` staying within one component and `**` crossing them; a
/// leading `/` only anchors it to the root. The root itself is never left
/// out.
#[derive(Clone, Default)]
pub struct PathFilter {
    exclude: Globs,
    include: Globs,
}

/// Globs split by what they match: a name, or a relative path.
#[derive(Clone, Default)]
struct Globs {
    patterns: Vec<String>,
    names: GlobSet,
    paths: GlobSet,
    name_list: Vec<Glob>,
    path_list: Vec<Glob>,
}

impl Globs {
    fn add(&mut self, what: &str, pattern: &str) -> Result<()> {
        let bad = |why: String| {
            Err(Error::invalid_input_in(
                "PathFilter",
                "glob",
                format!("the {what} glob {pattern:?}: {why}"),
            ))
        };
        let anchored = pattern.strip_prefix('/');
        let body = anchored.unwrap_or(pattern).trim_end_matches('/');
        if body.is_empty() {
            return bad("an empty glob matches nothing".into());
        }
        let glob = match GlobBuilder::new(body).literal_separator(true).build() {
            Ok(g) => g,
            Err(e) => return bad(e.kind().to_string()),
        };
        let by_path = anchored.is_some() || body.contains('/');
        if by_path {
            self.path_list.push(glob);
        } else {
            self.name_list.push(glob);
        }
        let build = |list: &[Glob]| {
            let mut b = GlobSetBuilder::new();
            for g in list {
                b.add(g.clone());
            }
            b.build()
        };
        match (build(&self.name_list), build(&self.path_list)) {
            (Ok(names), Ok(paths)) => {
                self.names = names;
                self.paths = paths;
            }
            (Err(e), _) | (_, Err(e)) => {
                if by_path {
                    self.path_list.pop();
                } else {
                    self.name_list.pop();
                }
                return bad(e.kind().to_string());
            }
        }
        self.patterns.push(pattern.to_owned());
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the last component (a name) or the whole relative path
    /// matches.
    fn matches(&self, relative: &Path) -> bool {
        let name_hit = relative
            .file_name()
            .is_some_and(|n| self.names.is_match(Path::new(n)));
        name_hit || self.paths.is_match(relative)
    }

    /// Whether the path or any directory above it (below the root)
    /// matches.
    fn matches_or_under(&self, relative: &Path) -> bool {
        let mut prefix = std::path::PathBuf::new();
        for c in relative.components() {
            if let Component::Normal(part) = c {
                prefix.push(part);
                if self.matches(&prefix) {
                    return true;
                }
            }
        }
        false
    }
}

impl PathFilter {
    /// Nothing left out.
    #[must_use]
    pub fn new() -> PathFilter {
        PathFilter::default()
    }

    /// Leaves out what matches `glob`, and everything below a directory
    /// that does: no watch is added there, no event reported.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`] for a glob that does not parse
    /// (an unclosed `[` or `{`) or is empty, naming it.
    pub fn exclude(&mut self, glob: &str) -> Result<&mut PathFilter> {
        self.exclude.add("exclude", glob)?;
        Ok(self)
    }

    /// Reports only events whose path matches `glob` (any of the globs
    /// given); directories are all still watched.
    ///
    /// # Errors
    /// As [`exclude`](PathFilter::exclude).
    pub fn include(&mut self, glob: &str) -> Result<&mut PathFilter> {
        self.include.add("include", glob)?;
        Ok(self)
    }

    /// Whether nothing is left out.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.exclude.is_empty() && self.include.is_empty()
    }

    /// Whether the directory or file at `relative` (to its root) and
    /// everything below it is left out: it or a directory above it matches
    /// an exclude glob. `""` (the root) never is.
    #[must_use]
    pub fn prunes(&self, relative: &Path) -> bool {
        !self.exclude.is_empty() && self.exclude.matches_or_under(relative)
    }

    /// Whether an event at `relative` is reported: not
    /// [pruned](PathFilter::prunes), and matching an include glob when
    /// there are any.
    #[must_use]
    pub fn reports(&self, relative: &Path) -> bool {
        !self.prunes(relative) && (self.include.is_empty() || self.include.matches(relative))
    }
}

impl fmt::Debug for PathFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PathFilter")
            .field("exclude", &self.exclude.patterns)
            .field("include", &self.include.patterns)
            .finish()
    }
}

impl PartialEq for PathFilter {
    fn eq(&self, other: &PathFilter) -> bool {
        self.exclude.patterns == other.exclude.patterns
            && self.include.patterns == other.include.patterns
    }
}

impl Eq for PathFilter {}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(exclude: &[&str], include: &[&str]) -> PathFilter {
        let mut f = PathFilter::new();
        for g in exclude {
            f.exclude(g).unwrap();
        }
        for g in include {
            f.include(g).unwrap();
        }
        f
    }

    #[test]
    fn names_match_at_any_depth_paths_from_the_root() {
        let f = filter(&["node_modules", "*.o", "/build", "docs/*/draft"], &[]);
        for (path, pruned) in [
            ("node_modules", true),
            ("a/b/node_modules", true),
            ("a/node_modules/x/y.js", true),
            ("node_modules_old", false),
            ("src/main.o", true),
            ("build", true),
            ("build/x", true),
            ("src/build", false),
            ("docs/en/draft", true),
            ("docs/en/draft/1.md", true),
            ("docs/en/fr/draft", false),
            ("", false),
            ("src/lib.rs", false),
        ] {
            assert_eq!(f.prunes(Path::new(path)), pruned, "{path}");
            assert_eq!(f.reports(Path::new(path)), !pruned, "{path}");
        }
    }

    #[test]
    fn include_keeps_only_what_matches_and_exclude_wins() {
        let f = filter(&["target"], &["*.rs", "Cargo.toml"]);
        assert!(f.reports(Path::new("src/lib.rs")));
        assert!(f.reports(Path::new("Cargo.toml")));
        assert!(!f.reports(Path::new("src")));
        assert!(!f.reports(Path::new("README.md")));
        assert!(!f.reports(Path::new("target/gen.rs")));
        // Include never prunes: directories are watched to find matches.
        assert!(!f.prunes(Path::new("src")));
        let f = filter(&[], &["src/**/*.rs"]);
        assert!(f.reports(Path::new("src/a/b/c.rs")));
        assert!(f.reports(Path::new("src/c.rs")));
        assert!(!f.reports(Path::new("tests/c.rs")));
    }

    #[test]
    fn bad_globs_are_named() {
        let mut f = PathFilter::new();
        let e = f.exclude("[abc").unwrap_err();
        assert_eq!(e.kind(), fd_core::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("the exclude glob \"[abc\""), "{e}");
        let e = f.include("{a,b").unwrap_err();
        assert!(e.to_string().contains("the include glob \"{a,b\""), "{e}");
        let e = f.exclude("/").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        assert!(f.is_empty(), "a refused glob is not kept: {f:?}");
        assert_eq!(filter(&["a"], &[]), filter(&["a"], &[]));
    }
}
