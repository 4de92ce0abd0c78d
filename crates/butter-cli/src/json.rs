//! A minimal JSON writer for flat records: `butter … --json` output and the
//! benchmark report. Strings are escaped per RFC 8259; numbers are written
//! as given (non-finite floats become `null`).

use std::fmt::Write;

/// Appends `s` to `out` as a JSON string literal, quotes included.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object under construction: `{"key": value, …}`.
#[derive(Debug, Default)]
pub struct Object {
    buf: String,
}

impl Object {
    /// An empty object.
    pub fn new() -> Object {
        Object::default()
    }

    fn key(&mut self, key: &str) -> &mut String {
        self.buf.push(if self.buf.is_empty() { '{' } else { ',' });
        write_str(&mut self.buf, key);
        self.buf.push(':');
        &mut self.buf
    }

    /// Adds a string member.
    pub fn str(mut self, key: &str, value: &str) -> Object {
        let buf = self.key(key);
        write_str(buf, value);
        self
    }

    /// Adds an integer member.
    pub fn int(mut self, key: &str, value: i128) -> Object {
        let buf = self.key(key);
        let _ = write!(buf, "{value}");
        self
    }

    /// Adds a number member; NaN and infinities become `null`.
    pub fn num(mut self, key: &str, value: f64) -> Object {
        let buf = self.key(key);
        if value.is_finite() {
            let _ = write!(buf, "{value}");
        } else {
            buf.push_str("null");
        }
        self
    }

    /// Adds a boolean member.
    pub fn bool(mut self, key: &str, value: bool) -> Object {
        let buf = self.key(key);
        buf.push_str(if value { "true" } else { "false" });
        self
    }

    /// Adds a path as a string member and, when it is not UTF-8 (the string
    /// then has replacement characters), its exact bytes as `KEY_bytes`.
    pub fn path(self, key: &str, path: &std::path::Path) -> Object {
        use std::os::unix::ffi::OsStrExt;
        let o = self.str(key, &path.to_string_lossy());
        if path.to_str().is_some() {
            return o;
        }
        let bytes: Vec<String> = path
            .as_os_str()
            .as_bytes()
            .iter()
            .map(u8::to_string)
            .collect();
        o.raw(&format!("{key}_bytes"), &format!("[{}]", bytes.join(",")))
    }

    /// Adds a member whose value is already JSON (an object or array).
    pub fn raw(mut self, key: &str, json: &str) -> Object {
        let buf = self.key(key);
        buf.push_str(json);
        self
    }

    /// The finished object.
    pub fn finish(mut self) -> String {
        if self.buf.is_empty() {
            self.buf.push('{');
        }
        self.buf.push('}');
        self.buf
    }
}

/// Joins already-JSON values into an array.
pub fn array<I: IntoIterator<Item = String>>(items: I) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_rfc_8259_requires() {
        let mut out = String::new();
        write_str(&mut out, "a\"b\\c\nd\re\tf\u{1}g\u{7f}é");
        assert_eq!(out, r#""a\"b\\c\nd\re\tf\u0001g"#.to_owned() + "\u{7f}é\"");
    }

    #[test]
    fn builds_objects_and_arrays() {
        assert_eq!(Object::new().finish(), "{}");
        let o = Object::new()
            .str("s", "x")
            .int("i", -3)
            .num("f", 1.5)
            .num("nan", f64::NAN)
            .bool("b", true)
            .raw("a", &array(["1".to_owned(), "{}".to_owned()]))
            .finish();
        assert_eq!(
            o,
            r#"{"s":"x","i":-3,"f":1.5,"nan":null,"b":true,"a":[1,{}]}"#
        );
        assert_eq!(array(Vec::new()), "[]");
    }
}
