//! `Serialize` for the report types (feature `serde`), to log them.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::{CopyError, CopyReport, Method, Skipped};

/// The method's name (`"copy-file-range"`).
impl Serialize for Method {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// `{method, reason}`.
impl Serialize for Skipped {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Skipped", 2)?;
        o.serialize_field("method", &self.method)?;
        o.serialize_field("reason", &self.reason)?;
        o.end()
    }
}

/// `{bytes, method, skipped, notes}`.
impl Serialize for CopyReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("CopyReport", 4)?;
        o.serialize_field("bytes", &self.bytes)?;
        o.serialize_field("method", &self.method)?;
        o.serialize_field("skipped", &self.skipped)?;
        o.serialize_field("notes", &self.notes)?;
        o.end()
    }
}

/// `{error, copied, method}`.
impl Serialize for CopyError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("CopyError", 3)?;
        o.serialize_field("error", &self.error)?;
        o.serialize_field("copied", &self.copied)?;
        o.serialize_field("method", &self.method)?;
        o.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_json() {
        let r = CopyReport {
            bytes: 10,
            method: Method::ReadWrite,
            skipped: vec![Skipped {
                method: Method::Splice,
                reason: "file to pipe".into(),
            }],
            notes: vec![],
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"bytes": 10, "method": "read-write",
                "skipped": [{"method": "splice", "reason": "file to pipe"}], "notes": []})
        );
    }
}
