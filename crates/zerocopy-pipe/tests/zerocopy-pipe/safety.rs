//! `copy` never destroys data: the same file or pipe on both ends,
//! directories, and the details of empty and sparse files.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;

use fd_core::ErrorKind;
use zerocopy_pipe::{CopyOptions, Method, Pipe, check_pair, copy, copy_at, copy_with};

use crate::{data, file_with, shm_dir};

/// Automatic, then each method forced.
const EVERY_METHOD: [Option<Method>; 5] = [
    None,
    Some(Method::CopyFileRange),
    Some(Method::Sendfile),
    Some(Method::Splice),
    Some(Method::ReadWrite),
];

/// Asserts the copy was refused as "the same file" and the file kept its bytes.
fn refused_same(err: zerocopy_pipe::CopyError, path: &std::path::Path, bytes: &[u8]) {
    assert_eq!(err.error.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(!err.error.is_from_kernel(), "{err}");
    assert!(err.error.to_string().contains("the same file"), "{err}");
    assert_eq!(err.copied, 0);
    assert_eq!(std::fs::read(path).unwrap(), bytes, "the file was changed");
}

#[test]
fn the_same_file_on_both_ends_is_refused_untouched() {
    let dir = shm_dir("zc-same");
    let bytes = data(300_000, 11);
    let path = dir.join("f");
    std::fs::write(&path, &bytes).unwrap();
    // One fd, read and write.
    let rw = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    refused_same(copy(&rw, &rw, None).unwrap_err(), &path, &bytes);
    // Two opens of the same path, every forced method too.
    let src = File::open(&path).unwrap();
    let dst = OpenOptions::new().write(true).open(&path).unwrap();
    for method in EVERY_METHOD {
        let opts = CopyOptions {
            method,
            ..CopyOptions::default()
        };
        refused_same(copy_with(&src, &dst, &opts).unwrap_err(), &path, &bytes);
    }
    // Through a hard link and a symbolic link.
    std::fs::hard_link(&path, dir.join("hard")).unwrap();
    std::os::unix::fs::symlink(&path, dir.join("soft")).unwrap();
    for link in ["hard", "soft"] {
        let dst = OpenOptions::new().write(true).open(dir.join(link)).unwrap();
        refused_same(copy(&src, &dst, None).unwrap_err(), &path, &bytes);
    }
    // `cat a >> a`: an O_APPEND output onto the input would feed on itself.
    let append = OpenOptions::new().append(true).open(&path).unwrap();
    refused_same(copy(&src, &append, None).unwrap_err(), &path, &bytes);
    // An fd duplicated, as a shell's `3<&1` gives it.
    let dup = rw.try_clone().unwrap();
    refused_same(copy(&rw, &dup, None).unwrap_err(), &path, &bytes);
    assert!(check_pair(&src, &dup).is_err());
    // A different file with the same bytes is fine.
    let other = File::create(dir.join("other")).unwrap();
    assert_eq!(copy(&src, &other, None).unwrap().bytes, bytes.len() as u64);
}

#[test]
fn copy_at_within_one_file_only_between_separate_ranges() {
    let dir = shm_dir("zc-same-at");
    let bytes = data(8192, 12);
    let path = dir.join("f");
    std::fs::write(&path, &bytes).unwrap();
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let with_limit = |limit| CopyOptions {
        limit,
        ..CopyOptions::default()
    };
    // Overlapping ranges, or no limit (the end is unknown): refused.
    refused_same(
        copy_at(&f, 0, &f, 100, &with_limit(Some(4096))).unwrap_err(),
        &path,
        &bytes,
    );
    refused_same(
        copy_at(&f, 4096, &f, 0, &with_limit(None)).unwrap_err(),
        &path,
        &bytes,
    );
    // Separate ranges: the first half copied over the second.
    let report = copy_at(&f, 0, &f, 4096, &with_limit(Some(4096))).unwrap();
    assert_eq!(report.bytes, 4096);
    let got = std::fs::read(&path).unwrap();
    assert_eq!(
        (&got[..4096], &got[4096..]),
        (&bytes[..4096], &bytes[..4096])
    );
}

#[test]
fn directories_are_refused_before_anything_is_written() {
    let dir = shm_dir("zc-dir");
    let bytes = data(5000, 13);
    let file = file_with(dir.path(), "f", &bytes);
    let out_path = dir.join("out");
    std::fs::write(&out_path, b"keep me").unwrap();
    let out = OpenOptions::new().write(true).open(&out_path).unwrap();
    let d = File::open(dir.path()).unwrap();
    let err = copy(&d, &out, None).unwrap_err();
    assert_eq!(
        (err.error.kind(), err.error.errno()),
        (ErrorKind::InvalidInput, libc::EISDIR)
    );
    assert!(
        err.error.to_string().contains("the input is a directory"),
        "{err}"
    );
    assert_eq!(std::fs::read(&out_path).unwrap(), b"keep me");
    let err = copy(&file, &d, None).unwrap_err();
    assert!(
        err.error.to_string().contains("the output is a directory"),
        "{err}"
    );
}

#[test]
fn the_same_pipe_on_both_ends_is_refused() {
    let pipe = Pipe::new().unwrap();
    rustix::io::write(pipe.write_end(), b"abc").unwrap();
    let err = copy(pipe.read_end(), pipe.write_end(), None).unwrap_err();
    assert_eq!(err.error.kind(), ErrorKind::InvalidInput);
    assert!(err.error.to_string().contains("the same pipe"), "{err}");
    assert_eq!(
        pipe.available().unwrap(),
        3,
        "the pipe's bytes were touched"
    );
    // Two different pipes are fine.
    let other = Pipe::new().unwrap();
    let (r, w) = pipe.into_ends();
    drop(w);
    assert_eq!(copy(&r, other.write_end(), None).unwrap().bytes, 3);
}

/// An empty file is a complete copy by every method, forced or not.
#[test]
fn empty_files_copy_by_every_method() {
    let dir = shm_dir("zc-empty");
    let src = file_with(dir.path(), "empty", b"");
    for method in EVERY_METHOD {
        let dst = File::create(dir.join("dst")).unwrap();
        let opts = CopyOptions {
            method,
            ..CopyOptions::default()
        };
        let report = copy_with(&src, &dst, &opts).unwrap_or_else(|e| panic!("{method:?}: {e}"));
        assert_eq!(report.bytes, 0, "{method:?}");
        assert!(
            report.skipped.is_empty(),
            "{method:?}: {:?}",
            report.skipped
        );
    }
    // A fully read file likewise: at its end, nothing more to copy.
    let mut full = file_with(dir.path(), "full", b"12345");
    full.seek(SeekFrom::End(0)).unwrap();
    let dst = File::create(dir.join("dst")).unwrap();
    let opts = CopyOptions {
        method: Some(Method::CopyFileRange),
        ..CopyOptions::default()
    };
    assert_eq!(copy_with(&full, &dst, &opts).unwrap().bytes, 0);
}

/// A forced method is not also reported as passed over.
#[test]
fn a_forced_method_is_not_reported_as_passed_over() {
    let dir = shm_dir("zc-forced");
    let src = file_with(dir.path(), "src", &data(10_000, 14));
    let pipe = Pipe::new().unwrap();
    let opts = CopyOptions {
        method: Some(Method::Splice),
        ..CopyOptions::default()
    };
    let report = copy_with(&src, pipe.write_end(), &opts).unwrap();
    assert_eq!(report.method, Method::Splice);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    // Automatic: the reason for not splicing is still said.
    let src = file_with(dir.path(), "src2", &data(10, 15));
    let pipe = Pipe::new().unwrap();
    let report = copy(&src, pipe.write_end(), None).unwrap();
    assert_eq!(report.method, Method::ReadWrite);
    assert_eq!(report.skipped.len(), 1);
}

/// 50 MiB with two 4 KiB extents and a hole at the end.
fn sparse_source(dir: &std::path::Path) -> (File, Vec<(u64, Vec<u8>)>, u64) {
    let path = dir.join("sparse");
    let mut f = File::create(&path).unwrap();
    let extents = vec![(1 << 20, data(4096, 16)), (30 << 20, data(4096, 17))];
    for (off, bytes) in &extents {
        f.seek(SeekFrom::Start(*off)).unwrap();
        f.write_all(bytes).unwrap();
    }
    let size = 50 << 20;
    f.set_len(size).unwrap();
    (File::open(&path).unwrap(), extents, size)
}

#[test]
fn holes_stay_holes_with_every_method() {
    let dir = shm_dir("zc-sparse");
    let (mut src, extents, size) = sparse_source(dir.path());
    let src_blocks = src.metadata().unwrap().blocks();
    assert!(
        src_blocks <= 64,
        "tmpfs made the source dense: {src_blocks} blocks"
    );
    for method in EVERY_METHOD {
        src.seek(SeekFrom::Start(0)).unwrap();
        let dst_path = dir.join("dst");
        let dst = File::create(&dst_path).unwrap();
        let opts = CopyOptions {
            method,
            ..CopyOptions::default()
        };
        let report = copy_with(&src, &dst, &opts).unwrap_or_else(|e| panic!("{method:?}: {e}"));
        assert_eq!(report.bytes, size, "{method:?}");
        let meta = dst.metadata().unwrap();
        assert_eq!(meta.len(), size, "{method:?}: the trailing hole was lost");
        assert!(
            meta.blocks() <= src_blocks,
            "{method:?}: {} blocks against the source's {src_blocks}",
            meta.blocks()
        );
        let got = std::fs::read(&dst_path).unwrap();
        let mut want = vec![0u8; usize::try_from(size).unwrap()];
        for (off, bytes) in &extents {
            let off = usize::try_from(*off).unwrap();
            want[off..off + bytes.len()].copy_from_slice(bytes);
        }
        assert!(got == want, "{method:?}: the bytes differ");
        // Positions end where read/write would leave them.
        assert_eq!((&src).stream_position().unwrap(), size);
        assert_eq!((&dst).stream_position().unwrap(), size);
    }
    // With a limit that ends inside a hole: exactly that many bytes.
    src.seek(SeekFrom::Start(0)).unwrap();
    let dst = File::create(dir.join("dst")).unwrap();
    assert_eq!(copy(&src, &dst, Some(2 << 20)).unwrap().bytes, 2 << 20);
    assert_eq!(dst.metadata().unwrap().len(), 2 << 20);
}

/// Over existing data, a hole must be written as zeros: skipping it would
/// leave the old bytes.
#[test]
fn holes_over_existing_data_are_written_as_zeros() {
    let dir = shm_dir("zc-sparse-over");
    let (src, extents, size) = sparse_source(dir.path());
    let dst_path = dir.join("dst");
    std::fs::write(&dst_path, vec![0xffu8; 2 << 20]).unwrap();
    let dst = OpenOptions::new().write(true).open(&dst_path).unwrap();
    assert_eq!(copy(&src, &dst, None).unwrap().bytes, size);
    let got = std::fs::read(&dst_path).unwrap();
    assert!(
        got[..1 << 20].iter().all(|b| *b == 0),
        "old bytes left in a hole"
    );
    assert_eq!(&got[1 << 20..(1 << 20) + 4096], &extents[0].1[..]);
}

#[test]
fn pipes_given_are_grown_never_shrunk() {
    let dir = shm_dir("zc-grow");
    let bytes = data(200_000, 18);
    let src = file_with(dir.path(), "src", &bytes);
    let pipe = Pipe::new().unwrap();
    assert_eq!(pipe.capacity().unwrap(), 65536);
    let (r, w) = pipe.into_ends();
    let opts = CopyOptions {
        grow_pipes: Some(1 << 20),
        ..CopyOptions::default()
    };
    let report = copy_with(&src, &w, &opts).unwrap();
    assert_eq!(report.bytes, bytes.len() as u64);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_eq!(rustix::pipe::fcntl_getpipe_size(&w).unwrap(), 1 << 20);
    drop(w);
    // The input pipe, smaller request: left at its 1 MiB.
    let out = File::create(dir.join("out")).unwrap();
    let opts = CopyOptions {
        grow_pipes: Some(4096),
        ..CopyOptions::default()
    };
    copy_with(&r, &out, &opts).unwrap();
    assert_eq!(rustix::pipe::fcntl_getpipe_size(&r).unwrap(), 1 << 20);
    assert_eq!(std::fs::read(dir.join("out")).unwrap(), bytes);
}

/// Growing past what the limits allow is not fatal: the copy goes on and
/// the report says why the pipe stayed small. (`pipe-max-size` binds only
/// without CAP_SYS_RESOURCE; as root the request is simply granted, so the
/// limit is reached with a size no pipe can have.)
#[test]
fn a_pipe_that_cannot_grow_is_noted() {
    let dir = shm_dir("zc-grow-limit");
    let src = file_with(dir.path(), "src", &data(1000, 19));
    let pipe = Pipe::new().unwrap();
    let opts = CopyOptions {
        grow_pipes: Some(usize::MAX / 2),
        ..CopyOptions::default()
    };
    let report = copy_with(&src, pipe.write_end(), &opts).unwrap();
    assert_eq!(report.bytes, 1000);
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(
        report.notes[0].starts_with("the output pipe was not grown"),
        "{:?}",
        report.notes
    );
    assert_eq!(pipe.capacity().unwrap(), 65536);
}
