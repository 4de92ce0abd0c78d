//! Linux native AIO, safe: completion-based reads, writes, vectored IO,
//! fsync and poll whose buffers the context owns until the kernel's
//! completion for them has been reaped.
//!
//! The kernel interface (`io_setup`, `io_submit`, `io_getevents`, …) lends
//! the kernel your memory until an operation completes, which no borrow can
//! express. Here an [`Op`] owns its buffers ([`Buf`]: a `Vec<u8>`, a boxed
//! slice, or an [`AlignedBuf`] for `O_DIRECT`), [`Context::submit`] moves it
//! into the context, and only the [`Completion`] the kernel delivered gives
//! the buffers back. [`Context`] explains why that holds against drop,
//! leaks and `mem::forget`. An `Op` borrows its fd until it is submitted,
//! so a write cannot be sent to a file that took a closed fd's number.
//!
//! # How it works
//!
//! - Raw layer: [`io_setup`], [`io_destroy`], [`io_submit`], [`io_cancel`]
//!   (the `unsafe` ones say what the caller must keep alive),
//!   [`io_getevents`], [`io_pgetevents`], the kernel's [`Iocb`] and
//!   [`IoEvent`], [`Opcode`], [`RwFlags`], [`IocbFlags`], [`IoPriority`].
//! - [`Context`]: batch submission that takes what the kernel took from the
//!   front of the caller's vector and leaves the rest there; reaping from
//!   the completion ring in user space (acquire/release on its head and
//!   tail, as libaio does) with `io_getevents` when a wait is needed, into
//!   a reused buffer; cancellation whose completion arrives exactly once;
//!   an eventfd for `poll`/`epoll` loops; `O_DIRECT` alignment checked
//!   before submission, naming address, length or offset; errors that name
//!   the operation's length and offset, and `RWF_NOWAIT` where it is why;
//!   refusal in a forked child.
//! - `AsyncContext` (feature `async`): `submit(op).await` resolves to the
//!   operation's completion, and `start(ops)` + `completions()` give a
//!   `Stream` of the completions of operations started without a future;
//!   on async-io's reactor through the eventfd, under any executor. A
//!   dropped future leaves its buffer to the context.
//!
//! # Example
//!
//! ```
//! use std::io::Write;
//! use kernel_aio::{Context, Op};
//!
//! let mut file = tempfile()?;
//! file.write_all(b"hello, completion")?;
//! let mut ctx = Context::new(8)?;
//! ctx.submit(&mut vec![Op::read(&file, 7, vec![0u8; 10]).token(1)])?;
//! let done = ctx.getevents(1, 8, None)?;
//! assert_eq!((done[0].token, done[0].result()?), (1, 10));
//! assert_eq!(done[0].buffers()[0].as_slice(), b"completion");
//! # fn tempfile() -> std::io::Result<std::fs::File> {
//! #     let p = std::env::temp_dir().join(format!("kaio-doc-{}", std::process::id()));
//! #     let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p)?;
//! #     std::fs::remove_file(&p)?;
//! #     Ok(f)
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("kernel-aio wraps Linux native AIO and builds only for Linux targets");

/// This crate's README examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "async")]
mod asynchronous;
mod buffer;
mod context;
mod op;
mod probe;
mod raw;
mod sys;

#[cfg(feature = "async")]
pub use asynchronous::{AsyncContext, Completions};
pub use buffer::{AlignedBuf, Buf};
pub use context::{Completion, Context, Refused};
pub use fd_core::{self, Error, ErrorKind, Result};
pub use op::Op;
pub use probe::probe;
pub use raw::{
    ContextId, IoEvent, IoPrioClass, IoPriority, Iocb, IocbFlags, Opcode, RwFlags, io_cancel,
    io_destroy, io_getevents, io_pgetevents, io_setup, io_submit,
};
