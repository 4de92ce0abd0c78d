//! `Serialize` for the event and record types (feature `serde`), so they
//! can be logged. Masks are their names (`"create|isdir"`); names and paths
//! are strings, or bytes where they are not UTF-8.

use std::ffi::OsStr;

use fd_core::serde_os_str;
use serde::ser::{Serialize, SerializeStruct, SerializeStructVariant, Serializer};

use crate::inotify::{Change, EventMask, PathEvent, WatchDescriptor, WatchEvent, WatchFlags};

struct Name<'a>(&'a OsStr);

impl Serialize for Name<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_os_str(self.0, s)
    }
}

impl Serialize for EventMask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for WatchFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{self:?}"))
    }
}

impl Serialize for crate::fanotify::EventMask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The kernel's watch number.
impl Serialize for WatchDescriptor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.raw())
    }
}

/// `{wd, mask, cookie, name}`.
impl<N: AsRef<OsStr>> Serialize for WatchEvent<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("WatchEvent", 4)?;
        o.serialize_field("wd", &self.wd)?;
        o.serialize_field("mask", &self.mask)?;
        o.serialize_field("cookie", &self.cookie)?;
        o.serialize_field("name", &self.name.as_ref().map(|n| Name(n.as_ref())))?;
        o.end()
    }
}

/// Externally tagged: `{"event": {…}}`, `{"renamed": {"from", "to"}}`,
/// `{"moved_out": {…}}`, `{"moved_in": {…}}`, `"overflow"`.
impl<N: AsRef<OsStr>> Serialize for Change<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Change::Event(e) => s.serialize_newtype_variant("Change", 0, "event", e),
            Change::Renamed { from, to } => {
                let mut v = s.serialize_struct_variant("Change", 1, "renamed", 2)?;
                v.serialize_field("from", from)?;
                v.serialize_field("to", to)?;
                v.end()
            }
            Change::MovedOut(e) => s.serialize_newtype_variant("Change", 2, "moved_out", e),
            Change::MovedIn(e) => s.serialize_newtype_variant("Change", 3, "moved_in", e),
            Change::Overflow => s.serialize_unit_variant("Change", 4, "overflow"),
        }
    }
}

/// Externally tagged: `{"event": {"path", "mask", "from_scan"}}`,
/// `{"renamed": {"from", "to", "is_dir"}}`, `{"moved_out": {"path",
/// "is_dir"}}`, `{"moved_in": …}`, `"rescan_needed"`, `{"not_watched":
/// {"path", "errno", "errno_name"}}`, `{"root_appeared": {"path"}}`,
/// `{"root_gone": {"path"}}`.
impl Serialize for PathEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PathEvent::Event {
                path,
                mask,
                from_scan,
            } => {
                let mut v = s.serialize_struct_variant("PathEvent", 0, "event", 3)?;
                v.serialize_field("path", &Name(path.as_os_str()))?;
                v.serialize_field("mask", mask)?;
                v.serialize_field("from_scan", from_scan)?;
                v.end()
            }
            PathEvent::Renamed { from, to, is_dir } => {
                let mut v = s.serialize_struct_variant("PathEvent", 1, "renamed", 3)?;
                v.serialize_field("from", &Name(from.as_os_str()))?;
                v.serialize_field("to", &Name(to.as_os_str()))?;
                v.serialize_field("is_dir", is_dir)?;
                v.end()
            }
            PathEvent::MovedOut { path, is_dir } | PathEvent::MovedIn { path, is_dir } => {
                let (i, name) = if matches!(self, PathEvent::MovedOut { .. }) {
                    (2, "moved_out")
                } else {
                    (3, "moved_in")
                };
                let mut v = s.serialize_struct_variant("PathEvent", i, name, 2)?;
                v.serialize_field("path", &Name(path.as_os_str()))?;
                v.serialize_field("is_dir", is_dir)?;
                v.end()
            }
            PathEvent::RescanNeeded => s.serialize_unit_variant("PathEvent", 4, "rescan_needed"),
            PathEvent::NotWatched { path, errno } => {
                let mut v = s.serialize_struct_variant("PathEvent", 5, "not_watched", 3)?;
                v.serialize_field("path", &Name(path.as_os_str()))?;
                v.serialize_field("errno", errno)?;
                v.serialize_field("errno_name", &fd_core::errno_info(*errno).map(|i| i.name))?;
                v.end()
            }
            PathEvent::RootAppeared { path } | PathEvent::RootGone { path } => {
                let (i, name) = if matches!(self, PathEvent::RootAppeared { .. }) {
                    (6, "root_appeared")
                } else {
                    (7, "root_gone")
                };
                let mut v = s.serialize_struct_variant("PathEvent", i, name, 1)?;
                v.serialize_field("path", &Name(path.as_os_str()))?;
                v.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn path_events_as_json() {
        let e = PathEvent::Event {
            path: PathBuf::from("/up/a.txt"),
            mask: EventMask::CREATE,
            from_scan: true,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"event": {"path": "/up/a.txt", "mask": "create", "from_scan": true}})
        );
        let odd = PathBuf::from(
            <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(
                b"/up/caf\xe9".to_vec(),
            ),
        );
        let moved = PathEvent::MovedIn {
            path: odd,
            is_dir: false,
        };
        let v = serde_json::to_value(&moved).unwrap();
        assert_eq!(v["moved_in"]["path"].as_array().unwrap().len(), 8, "{v}");
        assert_eq!(
            serde_json::to_value(PathEvent::RescanNeeded).unwrap(),
            "rescan_needed"
        );
        let mask = EventMask::CREATE | EventMask::ISDIR;
        assert_eq!(serde_json::to_value(mask).unwrap(), "create|isdir");
    }
}
