//! Builds the plain C baselines the benchmarks compare against.

fn main() {
    println!("cargo:rerun-if-changed=c/baseline.c");
    cc::Build::new()
        .file("c/baseline.c")
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Werror")
        .compile("butter_baseline");
    println!("cargo:rustc-link-lib=pthread");
}
