//! A [`Notification`]'s call as text, as `butter seccomp trace` prints it:
//! path arguments read from the caller, socket addresses with their
//! family, `AT_FDCWD`, small numbers in decimal and the rest in hex.
//!
//! What is read from the caller's memory is a record, not a decision:
//! another thread of the caller can change it before the kernel reads it.

use crate::{Listener, Notification};

/// A decoded call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Call {
    /// The syscall's name on the caller's architecture (`syscall_N` when
    /// this crate has no name for it).
    pub name: String,
    /// Each argument shown (as many as the call has, up to six).
    pub args: Vec<String>,
    /// The paths and socket addresses among them, as text.
    pub paths: Vec<String>,
}

/// Which arguments of syscall `name` are paths (`openat`: `[1]`;
/// `renameat2`: `[1, 3]`).
pub fn path_args(name: &str) -> &'static [usize] {
    match name {
        "open" | "execve" | "unlink" | "mkdir" | "stat" | "lstat" | "access" | "chdir"
        | "readlink" | "truncate" | "chmod" | "chown" | "lchown" | "rmdir" | "creat" | "statfs"
        | "mknod" | "chroot" | "acct" | "swapon" | "swapoff" | "umount2" | "uselib" | "utime"
        | "utimes" | "setxattr" | "lsetxattr" | "getxattr" | "lgetxattr" | "listxattr"
        | "llistxattr" | "removexattr" | "lremovexattr" => &[0],
        "openat" | "openat2" | "execveat" | "unlinkat" | "mkdirat" | "newfstatat" | "faccessat"
        | "faccessat2" | "readlinkat" | "statx" | "fchmodat" | "fchmodat2" | "fchownat"
        | "mknodat" | "utimensat" | "futimesat" | "name_to_handle_at" | "open_tree" => &[1],
        "rename" | "symlink" | "link" | "pivot_root" => &[0, 1],
        "renameat" | "renameat2" | "linkat" => &[1, 3],
        "symlinkat" => &[0, 2],
        "mount" => &[0, 1, 2],
        _ => &[],
    }
}

/// A socket address as text: `unix:/path`, `unix:@abstract`,
/// `1.2.3.4:80`, `[::1]:443`, or `family N` for the rest (by the literal
/// address family numbers, the same on every Linux architecture).
pub fn sockaddr(bytes: &[u8]) -> Option<String> {
    let family = u16::from_ne_bytes([*bytes.first()?, *bytes.get(1)?]);
    match i32::from(family) {
        1 => {
            let path = &bytes[2..];
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            if path.first() == Some(&0) {
                let name = &path[1..];
                Some(format!("unix:@{}", String::from_utf8_lossy(name)))
            } else {
                Some(format!("unix:{}", String::from_utf8_lossy(&path[..end])))
            }
        }
        2 if bytes.len() >= 8 => Some(format!(
            "{}.{}.{}.{}:{}",
            bytes[4],
            bytes[5],
            bytes[6],
            bytes[7],
            u16::from_be_bytes([bytes[2], bytes[3]])
        )),
        10 if bytes.len() >= 24 => {
            let ip: [u8; 16] = bytes[8..24].try_into().ok()?;
            Some(format!(
                "[{}]:{}",
                std::net::Ipv6Addr::from(ip),
                u16::from_be_bytes([bytes[2], bytes[3]])
            ))
        }
        f => Some(format!("family {f}")),
    }
}

/// The socket address at `addr` (`len` bytes, at most 128 read) in the
/// caller's memory.
fn read_sockaddr(listener: &Listener, n: &Notification, addr: u64, len: u64) -> Option<String> {
    let mut buf = [0u8; 128];
    let len = usize::try_from(len).ok()?.min(buf.len());
    let got = listener.read_memory(n, addr, &mut buf[..len]).ok()?;
    sockaddr(&buf[..got])
}

/// The call `n` is waiting in, decoded: paths read from the caller (at
/// most 4096 bytes each), `connect`'s address, `AT_FDCWD` for a `*at`
/// call's first argument.
pub fn describe(listener: &Listener, n: &Notification) -> Call {
    let name = n
        .syscall_name()
        .map_or_else(|| format!("syscall_{}", n.data.nr), str::to_string);
    let paths_at = path_args(&name);
    let mut args = Vec::new();
    let mut paths = Vec::new();
    let is_connect = matches!(name.as_str(), "connect" | "bind" | "sendto");
    let addr_at = if name == "sendto" { 4 } else { 1 };
    let count = if is_connect {
        if name == "sendto" { 6 } else { 3 }
    } else {
        6.min(paths_at.iter().max().map_or(3, |m| m + 2))
    };
    for (i, &raw) in n.data.args.iter().enumerate().take(count) {
        if paths_at.contains(&i) {
            match listener.read_cstr(n, raw, 4096) {
                Ok(p) => {
                    let p = p.to_string_lossy().into_owned();
                    args.push(format!("{p:?}"));
                    paths.push(p);
                }
                Err(_) => args.push(format!("{raw:#x}")),
            }
        } else if is_connect && i == addr_at && raw != 0 {
            match read_sockaddr(listener, n, raw, n.data.args[addr_at + 1]) {
                Some(a) => {
                    args.push(a.clone());
                    paths.push(a);
                }
                None => args.push(format!("{raw:#x}")),
            }
        } else if i == 0
            && name.ends_with("at")
            && ((raw & 0xffff_ffff) as u32).cast_signed() == -100
        {
            args.push("AT_FDCWD".to_string());
        } else {
            args.push(if raw < 4096 {
                raw.to_string()
            } else {
                format!("{raw:#x}")
            });
        }
    }
    Call { name, args, paths }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_by_family() {
        let mut unix = vec![1u8, 0];
        unix.extend_from_slice(b"/run/x.sock\0");
        assert_eq!(sockaddr(&unix).unwrap(), "unix:/run/x.sock");
        let mut abstract_ = vec![1u8, 0, 0];
        abstract_.extend_from_slice(b"name");
        assert_eq!(sockaddr(&abstract_).unwrap(), "unix:@name");
        let inet = [2u8, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(sockaddr(&inet).unwrap(), "127.0.0.1:8080");
        let mut inet6 = vec![10u8, 0, 0x01, 0xbb, 0, 0, 0, 0];
        inet6.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
        inet6.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(sockaddr(&inet6).unwrap(), "[::1]:443");
        assert_eq!(sockaddr(&[16u8, 0, 0, 0]).unwrap(), "family 16");
        assert_eq!(sockaddr(&[2u8]), None);
        // Too short for its family: said as the family.
        assert_eq!(sockaddr(&[2u8, 0, 1]).unwrap(), "family 2");
    }

    #[test]
    fn path_arguments() {
        assert_eq!(path_args("openat"), &[1]);
        assert_eq!(path_args("renameat2"), &[1, 3]);
        assert_eq!(path_args("symlinkat"), &[0, 2]);
        assert_eq!(path_args("read"), &[] as &[usize]);
    }
}
