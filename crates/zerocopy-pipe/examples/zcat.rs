//! `cat` through the kernel: each file named (or `-` for stdin) goes to
//! stdout by the fastest correct method for that pair of fds, and stderr
//! says which method moved how much.
//!
//! Run: `cargo run -p zerocopy-pipe --example zcat -- a b - c > out`. Try
//! stdout to a file (`copy_file_range`), to a pipe (`| wc -c`, `sendfile`
//! or `splice`), and `zcat x >> x`, which is refused before anything is
//! written. Without arguments it copies its own executable into a scratch
//! file and checks that every byte arrived.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::process::ExitCode;

use zerocopy_pipe::{CopyReport, copy};

fn report(name: &str, r: &CopyReport) {
    eprint!("zcat: {name}: {} bytes by {}", r.bytes, r.method);
    for skipped in &r.skipped {
        eprint!(" ({} passed over: {})", skipped.method, skipped.reason);
    }
    eprintln!();
}

fn self_check() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let me = std::env::current_exe()?;
    let scratch = std::env::temp_dir().join(format!("zcat-self-check-{}", std::process::id()));
    let result = (|| {
        let out = File::create(&scratch)?;
        let r = copy(File::open(&me)?, &out, None)?;
        report(&me.display().to_string(), &r);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        File::open(&me)?.read_to_end(&mut a)?;
        File::open(&scratch)?.read_to_end(&mut b)?;
        Ok::<bool, Box<dyn std::error::Error>>(a == b && r.bytes == a.len() as u64)
    })();
    let _ = std::fs::remove_file(&scratch);
    let same = result?;
    eprintln!(
        "zcat: copy is {}",
        if same { "identical" } else { "DIFFERENT" }
    );
    Ok(if same {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        return self_check();
    }
    let stdout = io::stdout();
    let mut status = ExitCode::SUCCESS;
    for name in &names {
        let result = if name == "-" {
            copy(io::stdin().as_fd(), stdout.as_fd(), None)
        } else {
            match File::open(name) {
                Ok(file) => copy(&file, stdout.as_fd(), None),
                Err(e) => {
                    eprintln!("zcat: {name}: {e}");
                    status = ExitCode::FAILURE;
                    continue;
                }
            }
        };
        match result {
            Ok(r) => report(name, &r),
            Err(e) => {
                // The error says what was refused or failed, and how much
                // had been written before it.
                eprintln!("zcat: {name}: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    Ok(status)
}
