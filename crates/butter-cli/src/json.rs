//! JSON output: `serde_json` objects in the order they are built, and
//! paths that keep their bytes.

use std::path::Path;

pub use serde_json::{Map, Value, json};

/// Adds a path as a string and, when it is not UTF-8 (the string then has
/// replacement characters), its exact bytes as `KEY_bytes`.
pub fn put_path(o: &mut Map<String, Value>, key: &str, path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    o.insert(key.into(), path.to_string_lossy().into());
    if path.to_str().is_none() {
        o.insert(format!("{key}_bytes"), path.as_os_str().as_bytes().into());
    }
}

/// One line: the object, compact.
pub fn line(o: Map<String, Value>) -> String {
    Value::Object(o).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn paths_keep_their_bytes() {
        let mut o = Map::new();
        put_path(&mut o, "path", Path::new("/tmp/plain"));
        put_path(
            &mut o,
            "to",
            Path::new(std::ffi::OsStr::from_bytes(b"/tmp/caf\xe9")),
        );
        let want = "{\"path\":\"/tmp/plain\",\"to\":\"/tmp/caf\u{fffd}\",\
                    \"to_bytes\":[47,116,109,112,47,99,97,102,233]}";
        assert_eq!(line(o), want);
    }
}
