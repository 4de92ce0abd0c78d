//! Read a whole file with 16 reads in flight at once, and compare with a
//! plain read. The completions arrive in any order; each carries its
//! buffer and its token (the block number), so nothing is copied twice.
//!
//! Run: `cargo run -p kernel-aio --example readall -- FILE`. Without
//! arguments it reads its own executable and checks the bytes.

use std::fs::File;
use std::process::ExitCode;

use kernel_aio::{Context, Op};

const BLOCK: usize = 64 * 1024;
const DEPTH: u32 = 16;

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(std::env::current_exe, |p| Ok(p.into()))?;
    let file = File::open(&path)?;
    let len = file.metadata()?.len();
    let blocks = len.div_ceil(BLOCK as u64);
    let mut out = vec![0u8; usize::try_from(len)?];
    let mut ctx = Context::new(DEPTH)?;
    let (mut next, mut done_blocks) = (0u64, 0u64);
    let mut done = Vec::new();
    while done_blocks < blocks {
        // Keep the queue full.
        let mut batch = Vec::new();
        while next < blocks && ctx.in_flight() + batch.len() < DEPTH as usize {
            batch.push(Op::read(&file, next * BLOCK as u64, vec![0u8; BLOCK]).token(next));
            next += 1;
        }
        ctx.submit(&mut batch)?;
        // What the kernel did not take stays in `batch`: read it later.
        next -= batch.len() as u64;
        done.clear();
        ctx.reap(1, DEPTH as usize, None, &mut done)?;
        for c in &done {
            let n = usize::try_from(c.result()?)?;
            let at = usize::try_from(c.token)? * BLOCK;
            out[at..at + n].copy_from_slice(&c.buffers()[0].as_slice()[..n]);
            done_blocks += 1;
        }
    }
    let same = out == std::fs::read(&path)?;
    eprintln!(
        "readall: {len} bytes of {} in {blocks} reads, {DEPTH} in flight: {}",
        path.display(),
        if same {
            "identical to a plain read"
        } else {
            "DIFFERENT"
        }
    );
    Ok(if same {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
