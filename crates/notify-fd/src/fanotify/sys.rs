//! The raw fanotify calls (rustix has none).
//!
//! # Safety
//!
//! Each function passes the kernel integers, a NUL-terminated path that
//! outlives the call, or a buffer it owns with its true length, and takes
//! ownership only of fds the kernel just returned. [`read_batch`] is the one
//! place an fd number read from an event becomes an `OwnedFd`: it makes the
//! read itself and takes the numbers of each event it read exactly once.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use fd_core::{Error, Result};

use super::record::{EventIter, Info, RawEvent};

fn owned(call: &'static str, ret: libc::c_int) -> Result<OwnedFd> {
    if ret < 0 {
        return Err(Error::last_os_error(call));
    }
    // SAFETY: a new fd the call just returned, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// `fanotify_init(flags | FAN_CLOEXEC, event_f_flags | O_CLOEXEC)`.
pub(crate) fn fanotify_init(flags: u32, event_flags: u32) -> Result<OwnedFd> {
    let cloexec = u32::try_from(libc::O_CLOEXEC).unwrap_or(0);
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::fanotify_init(flags | libc::FAN_CLOEXEC, event_flags | cloexec) };
    owned("fanotify_init", ret)
}

/// `fanotify_mark(fd, flags, mask, dirfd, path)`; `dirfd` `None` is `AT_FDCWD`.
pub(crate) fn fanotify_mark(
    fd: BorrowedFd<'_>,
    flags: u32,
    mask: u64,
    dirfd: Option<BorrowedFd<'_>>,
    path: Option<&Path>,
) -> Result<()> {
    let path = path
        .map(|p| CString::new(p.as_os_str().as_bytes()))
        .transpose()
        .map_err(|_| Error::invalid_input("fanotify_mark", "the path contains a NUL byte"))?;
    let dirfd = dirfd.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    let path_ptr = path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
    // SAFETY: `path_ptr` is null or a NUL-terminated string that lives across the call.
    let ret = unsafe { libc::fanotify_mark(fd.as_raw_fd(), flags, mask, dirfd, path_ptr) };
    if ret < 0 {
        Err(Error::last_os_error("fanotify_mark"))
    } else {
        Ok(())
    }
}

/// Takes ownership of an fd number the kernel opened for this process in
/// the `read` that [`read_batch`] just made; private to this module, so no
/// other code can take a number on trust.
fn take_fd(fd: i32) -> Option<OwnedFd> {
    // SAFETY: only called by `read_batch` on numbers from the events of the
    // read it just made, each event visited once: the kernel opened each fd
    // for us during that read and nothing else owns it.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One event of a [`read_batch`], with the fds the kernel opened for it.
pub(crate) struct Fresh<'b> {
    /// The event's bytes.
    pub(crate) raw: RawEvent<'b>,
    /// Its file's fd (fd-mode groups).
    pub(crate) file: Option<OwnedFd>,
    /// Its process's pidfd (a PIDFD info record).
    pub(crate) pidfd: Option<OwnedFd>,
}

/// One `read(2)` of a fanotify group into `buffer`: every event read, each
/// with the fds it carries taken into ownership exactly once, as the
/// iterator reaches it. This is the one place event fd numbers become
/// `OwnedFd`s; events the caller does not take are closed when the
/// iterator is dropped, so nothing leaks.
///
/// # Errors
/// As `read(2)`: `WouldBlock` when non-blocking and empty.
pub(crate) fn read_batch<'b>(group: BorrowedFd<'_>, buffer: &'b mut [u8]) -> Result<Batch<'b>> {
    let len = fd_core::retry_on_intr(|| {
        rustix::io::read(group, &mut *buffer)
            .map_err(|e| Error::from_errno("read", e.raw_os_error()))
    })?;
    let bytes: &'b [u8] = &buffer[..len];
    Ok(Batch {
        events: EventIter::new(bytes),
    })
}

/// The events of one [`read_batch`], in order; see there.
pub(crate) struct Batch<'b> {
    events: EventIter<'b>,
}

impl<'b> Iterator for Batch<'b> {
    type Item = Fresh<'b>;

    fn next(&mut self) -> Option<Fresh<'b>> {
        let raw = self.events.next()?;
        let file = take_fd(raw.fd);
        let pidfd = raw.info().find_map(|i| match i {
            Info::Pidfd(fd) => take_fd(fd),
            _ => None,
        });
        Some(Fresh { raw, file, pidfd })
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        // Every fd the read opened is ours: close those not handed out.
        for fresh in self.by_ref() {
            drop(fresh);
        }
    }
}

/// Writes a `struct fanotify_response` to the group.
pub(crate) fn respond(group: BorrowedFd<'_>, event_fd: i32, response: u32) -> Result<()> {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&event_fd.to_ne_bytes());
    bytes[4..].copy_from_slice(&response.to_ne_bytes());
    let n = rustix::io::write(group, &bytes)
        .map_err(|e| Error::from_errno("write(fanotify_response)", e.raw_os_error()))?;
    if n != bytes.len() {
        return Err(
            Error::from_errno("write(fanotify_response)", libc::EIO).with_detail("short write")
        );
    }
    Ok(())
}

/// `fstatfs(fd).f_fsid`, as fanotify's FID records carry it.
pub(crate) fn fsid(fd: impl AsFd) -> Result<[i32; 2]> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `st` is written by the call before it returns 0.
    if unsafe { libc::fstatfs(fd.as_fd().as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return Err(Error::last_os_error("fstatfs"));
    }
    // SAFETY: the call succeeded. fsid_t is two ints, as in the kernel.
    let st = unsafe { st.assume_init() };
    // SAFETY: `fsid_t` is `struct { int __val[2]; }`: 8 plain bytes.
    let raw: [i32; 2] = unsafe { std::mem::transmute(st.f_fsid) };
    Ok(raw)
}

/// `name_to_handle_at(dirfd, path, handle, mount_id, AT_HANDLE_FID)`: the
/// handle fanotify's FID records carry for `path` (`AT_HANDLE_FID`, Linux
/// 6.5, asks for exactly that encoding; older kernels give the export
/// handle, the same bytes on the filesystems that support both). Needs no
/// privilege. Returns `(handle_type, handle bytes)`.
pub(crate) fn name_to_handle_at(
    dirfd: Option<BorrowedFd<'_>>,
    path: &Path,
) -> Result<(i32, Vec<u8>)> {
    const MAX_HANDLE_SZ: u32 = 128;
    const AT_HANDLE_FID: libc::c_int = 0x200;
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid_input("name_to_handle_at", "the path contains a NUL byte"))?;
    let dirfd = dirfd.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    for flags in [AT_HANDLE_FID, 0] {
        // struct file_handle in u32 words, so that it is aligned.
        let mut words = vec![0u32; 2 + MAX_HANDLE_SZ as usize / 4];
        words[0] = MAX_HANDLE_SZ;
        let mut mount_id: libc::c_int = 0;
        // SAFETY: `words` is an aligned file_handle whose handle_bytes says
        // how much room follows the header; `cpath` is NUL-terminated; both
        // and `mount_id` outlive the call, which writes only within them.
        let ret = unsafe {
            libc::name_to_handle_at(
                dirfd,
                cpath.as_ptr(),
                words.as_mut_ptr().cast::<libc::file_handle>(),
                &raw mut mount_id,
                flags,
            )
        };
        if ret != 0 {
            let err = Error::last_os_error("name_to_handle_at");
            if flags != 0 && err.errno() == libc::EINVAL {
                continue; // no AT_HANDLE_FID before Linux 6.5
            }
            return Err(err);
        }
        let len = usize::try_from(words[0].min(MAX_HANDLE_SZ)).unwrap_or(0);
        let handle_type = words[1].cast_signed();
        let bytes: Vec<u8> = words[2..]
            .iter()
            .flat_map(|w| w.to_ne_bytes())
            .take(len)
            .collect();
        return Ok((handle_type, bytes));
    }
    Err(Error::from_errno("name_to_handle_at", libc::EINVAL))
}

/// `open_by_handle_at(mount_fd, handle, flags | O_CLOEXEC)`.
pub(crate) fn open_by_handle_at(
    mount_fd: BorrowedFd<'_>,
    handle_type: i32,
    handle: &[u8],
    flags: u32,
) -> Result<OwnedFd> {
    let len = u32::try_from(handle.len())
        .map_err(|_| Error::invalid_input("open_by_handle_at", "handle too long"))?;
    // struct file_handle { u32 handle_bytes; i32 handle_type; u8 f_handle[]; }
    // built in u32 words so that it is aligned.
    let mut words = vec![0u32; 2 + handle.len().div_ceil(4)];
    words[0] = len;
    words[1] = handle_type.cast_unsigned();
    for (i, b) in handle.iter().enumerate() {
        let w = 2 + i / 4;
        let mut bytes = words[w].to_ne_bytes();
        bytes[i % 4] = *b;
        words[w] = u32::from_ne_bytes(bytes);
    }
    // SAFETY: `words` holds a complete file_handle (header and `len` handle
    // bytes), aligned for it, and outlives the call; the kernel reads only.
    let ret = unsafe {
        libc::open_by_handle_at(
            mount_fd.as_raw_fd(),
            words.as_mut_ptr().cast::<libc::file_handle>(),
            flags.cast_signed() | libc::O_CLOEXEC,
        )
    };
    owned("open_by_handle_at", ret)
}

/// Child body for [`fd_core::probe::in_child`]:
/// `fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID)` as a raw syscall,
/// returning 0 or the errno (async-signal-safe: nothing else).
fn child_fanotify_fid() -> i32 {
    let flags = libc::FAN_CLASS_NOTIF | libc::FAN_REPORT_FID | libc::FAN_CLOEXEC;
    // SAFETY: raw syscall with integer arguments; _exit closes the fd.
    if unsafe {
        libc::syscall(
            libc::SYS_fanotify_init,
            libc::c_long::from(flags),
            libc::c_long::from(libc::O_RDONLY),
        )
    } < 0
    {
        // SAFETY: this thread's errno slot.
        return unsafe { *libc::__errno_location() };
    }
    0
}

/// Whether an unprivileged user may make a FID-reporting group: tried in a
/// forked child, as uid 65534 when `as_nobody` (this process is root).
pub(crate) fn probe_unprivileged(as_nobody: bool) -> Result<std::result::Result<(), i32>> {
    // SAFETY: the child body makes one raw syscall and reads errno: it is
    // async-signal-safe and allocates nothing.
    unsafe { fd_core::probe::in_child(as_nobody, child_fanotify_fid) }
}
