//! `Serialize` for the shared types (feature `serde`), so errors and probe
//! rows can be logged as JSON or any other serde format.

use std::ffi::OsStr;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::error::{Error, ErrorKind};
use crate::probe::{KernelVersion, Probe, Status};

/// Serializes a path or file name as a string when it is UTF-8, else as its
/// bytes, so a name the kernel handed over is never lost or an error. For
/// `#[serde(serialize_with = "fd_core::serde_os_str")]` and the crates'
/// own impls.
///
/// # Errors
/// The serializer's.
pub fn serde_os_str<S: Serializer>(name: &OsStr, s: S) -> Result<S::Ok, S::Error> {
    use std::os::unix::ffi::OsStrExt;
    match name.to_str() {
        Some(text) => s.serialize_str(text),
        None => s.serialize_bytes(name.as_bytes()),
    }
}

/// The variant's name (`"ResourceLimit"`), what a program matches on.
impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{self:?}"))
    }
}

/// `{call, context, errno, errno_name, kind, detail, message}`.
impl Serialize for Error {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Error", 7)?;
        o.serialize_field("call", self.call())?;
        o.serialize_field("context", &self.context())?;
        o.serialize_field("errno", &self.errno())?;
        o.serialize_field("errno_name", &self.errno_name())?;
        o.serialize_field("kind", &self.kind())?;
        o.serialize_field("detail", &self.detail())?;
        o.serialize_field("message", &self.to_string())?;
        o.end()
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `{crate, feature, since, status, detail}`, as `butter doctor --json`.
impl Serialize for Probe {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Probe", 5)?;
        o.serialize_field("crate", self.group)?;
        o.serialize_field("feature", self.feature)?;
        o.serialize_field("since", self.since)?;
        o.serialize_field("status", &self.status)?;
        o.serialize_field("detail", &self.detail)?;
        o.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_probes_as_json() {
        let e = Error::from_errno("eventfd2", libc::EMFILE).with_detail("no fds left");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["call"], "eventfd2");
        assert_eq!(v["errno_name"], "EMFILE");
        assert_eq!(v["kind"], "ResourceLimit");
        assert_eq!(v["detail"], "no fds left");
        let p = Probe::new("event-fd", "eventfd2", "2.6.27").with_status(Status::Available, "");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            (v["crate"].as_str(), v["status"].as_str()),
            (Some("event-fd"), Some("yes"))
        );
        let name: std::ffi::OsString =
            std::os::unix::ffi::OsStringExt::from_vec(b"caf\xe9".to_vec());
        let v = serde_json::to_value(SerdeOsStr(&name)).unwrap();
        assert_eq!(v, serde_json::json!([99, 97, 102, 233]));
        assert_eq!(
            serde_json::to_value(SerdeOsStr(OsStr::new("plain"))).unwrap(),
            "plain"
        );
    }

    struct SerdeOsStr<'a>(&'a OsStr);

    impl Serialize for SerdeOsStr<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            serde_os_str(self.0, s)
        }
    }
}
