//! Buffers an operation owns while the kernel uses them.

use std::fmt;

use fd_core::{Error, Result};

/// A zeroed heap buffer aligned for `O_DIRECT`: its address and length are
/// multiples of `align` (a power of two). It is a slice of a vector
/// over-allocated by `align` bytes, so it needs no unsafe allocator code,
/// and it never grows, so its address never moves.
pub struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
    align: usize,
}

impl AlignedBuf {
    /// `len` zero bytes at an address that is a multiple of `align`.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`]: `align` not a power of two,
    /// `len` 0 or not a multiple of `align`.
    pub fn new(len: usize, align: usize) -> Result<AlignedBuf> {
        const CALL: &str = "AlignedBuf::new";
        if !align.is_power_of_two() {
            return Err(Error::invalid_input_in(
                CALL,
                "io_submit",
                format!("alignment {align} is not a power of two"),
            ));
        }
        if len == 0 || !len.is_multiple_of(align) {
            return Err(Error::invalid_input_in(
                CALL,
                "io_submit",
                format!("length {len} is not a positive multiple of the alignment {align}"),
            ));
        }
        let storage = vec![0u8; len + align];
        let start = storage.as_ptr().align_offset(align);
        Ok(AlignedBuf {
            storage,
            start,
            len,
            align,
        })
    }

    /// The alignment it was made with.
    pub fn align(&self) -> usize {
        self.align
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("align", &self.align)
            .finish()
    }
}

/// An owned buffer: a `Vec<u8>` (its length, not its capacity, is used), a
/// boxed slice, or an [`AlignedBuf`]. Its heap address does not move while
/// the kernel holds it.
#[derive(Debug)]
pub enum Buf {
    /// A vector.
    Vec(Vec<u8>),
    /// A boxed slice.
    Boxed(Box<[u8]>),
    /// An aligned buffer, for `O_DIRECT`.
    Aligned(AlignedBuf),
}

impl Buf {
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_slice().as_mut_ptr()
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Buf::Vec(v) => v,
            Buf::Boxed(b) => b,
            Buf::Aligned(a) => a,
        }
    }

    /// The bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            Buf::Vec(v) => v,
            Buf::Boxed(b) => b,
            Buf::Aligned(a) => a,
        }
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The vector, if it was one.
    pub fn into_vec(self) -> Option<Vec<u8>> {
        match self {
            Buf::Vec(v) => Some(v),
            _ => None,
        }
    }

    /// The aligned buffer, if it was one.
    pub fn into_aligned(self) -> Option<AlignedBuf> {
        match self {
            Buf::Aligned(a) => Some(a),
            _ => None,
        }
    }
}

impl std::ops::Deref for Buf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl From<Vec<u8>> for Buf {
    fn from(v: Vec<u8>) -> Buf {
        Buf::Vec(v)
    }
}

impl From<Box<[u8]>> for Buf {
    fn from(b: Box<[u8]>) -> Buf {
        Buf::Boxed(b)
    }
}

impl From<AlignedBuf> for Buf {
    fn from(a: AlignedBuf) -> Buf {
        Buf::Aligned(a)
    }
}
