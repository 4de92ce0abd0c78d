//! `Serialize` for the record types (feature `serde`), to log them.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::{ChildStatus, SigCode, SigInfo, Signal};

/// The signal's name (`"SIGUSR1"`, `"SIGRTMIN+2"`).
impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `"exited with code 3"` and the like.
impl Serialize for ChildStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The fields that mean something for every signal, plus what this one's
/// code carries: `{signal, number, code, code_name, pid, uid, errno,
/// value_int, value_ptr, child}`.
impl Serialize for SigInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sig = self.signal();
        let mut o = s.serialize_struct("SigInfo", 10)?;
        o.serialize_field("signal", &sig)?;
        o.serialize_field("number", &sig.raw())?;
        o.serialize_field("code", &self.code_raw())?;
        o.serialize_field("code_name", &self.code().name(sig))?;
        o.serialize_field("pid", &self.pid())?;
        o.serialize_field("uid", &self.uid())?;
        o.serialize_field("errno", &self.errno())?;
        let queued = self.code() == SigCode::Queue;
        o.serialize_field("value_int", &queued.then(|| self.value_int()))?;
        o.serialize_field("value_ptr", &queued.then(|| self.value_ptr()))?;
        o.serialize_field("child", &self.child_status())?;
        o.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RawSiginfo;

    #[test]
    fn as_json() {
        let mut raw = RawSiginfo::ZERO;
        raw.ssi_signo = libc::SIGCHLD.cast_unsigned();
        raw.ssi_code = 1;
        raw.ssi_status = 7;
        raw.ssi_pid = 42;
        let v = serde_json::to_value(SigInfo::from_raw(raw)).unwrap();
        assert_eq!(v["signal"], "SIGCHLD");
        assert_eq!(v["code_name"], "CLD_EXITED");
        assert_eq!(v["pid"], 42);
        assert_eq!(v["child"], "exited with code 7");
        assert!(v["value_ptr"].is_null());
    }
}
