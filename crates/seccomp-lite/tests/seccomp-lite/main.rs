//! seccomp-lite: the compiler and simulator against a direct evaluation of
//! the rules and against libseccomp; filters loaded for real, only ever in
//! forked children (each test runs in one, and the kernel tests fork again
//! to watch a child die); user notifications with a real supervisor.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod compiler;
mod kernel;
mod multiplex;
mod notify;
mod regression;
mod tools;

fn main() -> std::process::ExitCode {
    #[allow(unused_mut)]
    let mut tests = vec![
        butter_tests::test!(Isolation, compiler::every_operator_at_the_edges),
        butter_tests::test!(
            Isolation,
            compiler::random_rule_sets_match_direct_evaluation
        ),
        butter_tests::test!(Isolation, compiler::binary_search_depth_grows_with_log_n),
        butter_tests::test!(Isolation, compiler::long_jumps_use_trampolines),
        butter_tests::test!(
            Isolation,
            compiler::over_4096_instructions_is_an_error_naming_the_size
        ),
        butter_tests::test!(Isolation, compiler::x32_guard_and_minus_one),
        butter_tests::test!(Isolation, compiler::enosys_stub_for_newer_syscalls),
        butter_tests::test!(Isolation, compiler::bad_rules_are_named),
        butter_tests::test!(Isolation, compiler::most_restrictive_rule_wins),
        butter_tests::test!(Isolation, compiler::bytes_roundtrip_and_refusals),
        butter_tests::test!(Isolation, compiler::simulator_runs_hand_written_programs),
        butter_tests::test!(Isolation, compiler::disassembly_names_things),
        butter_tests::test!(Isolation, compiler::big_endian_and_32_bit_layouts),
        butter_tests::test!(Isolation, compiler::identical_checks_are_shared),
        butter_tests::test!(Isolation, regression::libseccomp_regression_vectors),
        butter_tests::test!(Isolation, compiler::actions_parse_and_print),
        butter_tests::test!(Isolation, tools::host_table_matches_the_c_library),
        butter_tests::test!(Isolation, tools::tables_match_scmp_sys_resolver),
        butter_tests::test!(Isolation, tools::compiled_like_libseccomp),
        butter_tests::test!(Isolation, multiplex::multiplexed_calls_are_filtered_too),
        butter_tests::test!(Isolation, multiplex::every_multiplexing_architecture),
        // Its own IPC namespace: a shmget that got through would make its
        // segment there, not on the machine.
        butter_tests::test!(
            Namespaces,
            multiplex::i386_program_cannot_route_around_a_deny
        ),
        butter_tests::test!(Isolation, multiplex::nothing_is_dropped_silently),
        butter_tests::test!(Isolation, multiplex::every_implemented_number_has_a_name),
        butter_tests::test!(Isolation, kernel::every_action_kernel_equals_simulator),
        butter_tests::test!(Isolation, kernel::strict_mode),
        butter_tests::test!(Isolation, kernel::no_new_privs_or_cap_sys_admin),
        butter_tests::test!(Isolation, kernel::flags_refused_first_and_unknown_actions),
        butter_tests::test!(Isolation, kernel::tsync_covers_every_thread),
        butter_tests::test!(Isolation, kernel::tsync_failure_names_the_thread),
        butter_tests::test!(Isolation, kernel::x32_guard_in_the_kernel),
        butter_tests::test!(
            Isolation,
            kernel::a_filter_for_another_arch_kills_native_calls
        ),
        butter_tests::test!(Isolation, kernel::listener_is_cloexec_and_not_leaked),
        butter_tests::test!(Isolation, kernel::every_other_flag_loads),
        butter_tests::test!(Isolation, notify::continue_addfd_errno_value),
        butter_tests::test!(Isolation, notify::target_killed_mid_answer),
        butter_tests::test!(Isolation, notify::handoff_errors),
        butter_tests::test!(Isolation, notify::strace_and_trace_see_the_same_opens),
        butter_tests::test!(Isolation, notify::listener_source_without_blocking),
    ];
    #[cfg(feature = "async")]
    tests.push(butter_tests::test!(
        Isolation,
        notify::async_listener_two_executors
    ));
    #[cfg(feature = "oci")]
    tests.push(butter_tests::test!(
        Isolation,
        tools::oci_profile_like_libseccomp
    ));
    #[cfg(feature = "oci")]
    tests.push(butter_tests::test!(
        Isolation,
        notify::container_profile_runs_a_shell
    ));
    butter_tests::run(&tests)
}
