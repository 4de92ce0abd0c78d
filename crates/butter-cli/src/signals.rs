//! `butter signals`: print each signal as it arrives, with who sent it.

use std::time::SystemTime;

use butter::signalfd::{SigCode, SigInfo};

use crate::{json, time};

/// One line of text: time, signal, sender, code, and what the code carries.
///
/// `2026-11-22T04:30:01.123Z SIGUSR1 from pid 4242 uid 0 (SI_QUEUE) value 7`,
/// with `ptr 0x…` added when the value sent was a pointer-sized one
/// (`sival_ptr`) wider than the int.
pub fn text_line(info: &SigInfo, at: SystemTime) -> String {
    let sig = info.signal();
    let code = info
        .code()
        .name(sig)
        .map_or_else(|| format!("code {}", info.code_raw()), str::to_owned);
    let mut line = format!(
        "{} {sig} from pid {} uid {} ({code})",
        time::rfc3339(at),
        info.pid(),
        info.uid()
    );
    if info.code() == SigCode::Queue {
        line.push_str(&format!(" value {}", info.value_int()));
        // A pointer-sized value (sival_ptr) does not fit the int: show it all.
        if info.value_ptr() > u64::from(info.value_int().cast_unsigned()) {
            line.push_str(&format!(" ptr {:#x}", info.value_ptr()));
        }
    }
    if let Some(child) = info.child_status() {
        line.push_str(&format!(": child {child}"));
    }
    line
}

/// One JSON object per signal.
pub fn json_line(info: &SigInfo, at: SystemTime) -> String {
    let sig = info.signal();
    let mut o = json::Object::new()
        .str("time", &time::rfc3339(at))
        .str("signal", &sig.to_string())
        .int("number", i128::from(sig.raw()))
        .int("pid", i128::from(info.pid()))
        .int("uid", i128::from(info.uid()))
        .int("code", i128::from(info.code_raw()));
    if let Some(name) = info.code().name(sig) {
        o = o.str("code_name", name);
    }
    if info.code() == SigCode::Queue {
        o = o
            .int("value", i128::from(info.value_int()))
            .int("ptr", i128::from(info.value_ptr()));
    }
    if let Some(child) = info.child_status() {
        o = o.str("child", &child.to_string());
    }
    o.finish()
}
