//! Printing and parsing event masks as `"create|delete|moved_to"`, shared by
//! inotify's and fanotify's masks.

use std::fmt;

use fd_core::Error;

/// Writes the names of the bits set in `bits` (in table order) joined by
/// `|`, then any bits no name covers in hex; `none` for an empty mask.
pub(crate) fn write(f: &mut fmt::Formatter<'_>, names: &[(&str, u64)], bits: u64) -> fmt::Result {
    let mut first = true;
    let mut known = 0;
    for (name, bit) in names {
        known |= bit;
        if bits & bit == *bit && *bit != 0 {
            f.write_str(if first { "" } else { "|" })?;
            f.write_str(name)?;
            first = false;
        }
    }
    let unknown = bits & !known;
    if unknown != 0 {
        write!(f, "{}{unknown:#x}", if first { "" } else { "|" })?;
    } else if first {
        f.write_str("none")?;
    }
    Ok(())
}

/// Parses `"a|b,c"` against `names`, `extra` (combinations such as `move`)
/// and an optional C prefix (`in_`, `fan_`), any case.
pub(crate) fn parse(
    s: &str,
    prefix: &str,
    names: &[(&str, u64)],
    extra: &[(&str, u64)],
    (api, call): (&'static str, &'static str),
    what: &str,
    expected: &str,
) -> Result<u64, Error> {
    let mut bits = 0;
    for part in s.split(['|', ',']).map(str::trim) {
        let lower = part.to_ascii_lowercase();
        let name = lower.strip_prefix(prefix).unwrap_or(&lower);
        bits |= extra
            .iter()
            .chain(names)
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                Error::invalid_input_in(
                    api,
                    call,
                    format!("unknown {what} {part:?}: expected {expected}"),
                )
            })?;
    }
    Ok(bits)
}
