//! Runs a command without network access: `socket()` for IPv4 and IPv6
//! fails with EACCES, Unix sockets still work.
//!
//! ```text
//! cargo run -p seccomp-lite --example no_network -- curl https://example.org
//! ```
//!
//! Without arguments it checks itself: it runs itself under the filter
//! and asks the child to open each kind of socket.

use std::process::{Command, ExitCode};

use seccomp_lite::{Action, Arg, Filter, Rule, SeccompCommandExt};

fn filter() -> seccomp_lite::Result<seccomp_lite::Program> {
    // The domain is an int: compare 32 bits, whatever the C library puts
    // in the upper half.
    let inet = [libc::AF_INET, libc::AF_INET6];
    let eacces = Action::Errno(13); // EACCES
    let mut f = Filter::new(Action::Allow);
    for domain in inet {
        f.push(Rule::new("socket", eacces).when(Arg::i32(0).equal(domain)));
        f.push(Rule::new("socketpair", eacces).when(Arg::i32(0).equal(domain)));
    }
    f.compile()
}

fn try_socket(domain: i32) -> std::io::Result<()> {
    let d = rustix::net::AddressFamily::from_raw(u16::try_from(domain).expect("a family"));
    rustix::net::socket(d, rustix::net::SocketType::STREAM, None)
        .map(drop)
        .map_err(Into::into)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--probe") {
        // The child: report what works.
        for (name, domain) in [
            ("inet", libc::AF_INET),
            ("inet6", libc::AF_INET6),
            ("unix", libc::AF_UNIX),
        ] {
            match try_socket(domain) {
                Ok(()) => println!("{name} ok"),
                Err(e) => println!("{name} {}", e.raw_os_error().unwrap_or(0)),
            }
        }
        return ExitCode::SUCCESS;
    }
    let program = match filter() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("no_network: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !args.is_empty() {
        let status = Command::new(&args[0])
            .args(&args[1..])
            .seccomp(&program)
            .status();
        return match status {
            Ok(s) if s.success() => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("no_network: {}: {e}", args[0]);
                ExitCode::FAILURE
            }
        };
    }
    // Self-check.
    let me = std::env::current_exe().expect("this program");
    let out = Command::new(me)
        .arg("--probe")
        .seccomp(&program)
        .output()
        .expect("run the probe");
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("inet {0}\ninet6 {0}\nunix ok\n", libc::EACCES);
    if text == want {
        println!(
            "no_network: IPv4 and IPv6 sockets refused with EACCES, Unix sockets allowed ({} instructions)",
            program.len()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("no_network: expected\n{want}got\n{text}");
        ExitCode::FAILURE
    }
}
