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
mod tools;

use butter_tests::{Needs, Test};

fn main() -> std::process::ExitCode {
    use Needs::Isolation;
    let t = |name, run| Test {
        name,
        needs: Isolation,
        run,
    };
    #[allow(unused_mut)]
    let mut tests = vec![
        t(
            "every_operator_at_the_edges",
            compiler::every_operator_at_the_edges,
        ),
        t(
            "random_rule_sets_match_direct_evaluation",
            compiler::random_rule_sets_match_direct_evaluation,
        ),
        t(
            "binary_search_depth_grows_with_log_n",
            compiler::binary_search_depth_grows_with_log_n,
        ),
        t(
            "long_jumps_use_trampolines",
            compiler::long_jumps_use_trampolines,
        ),
        t(
            "over_4096_instructions_is_an_error_naming_the_size",
            compiler::over_4096_instructions_is_an_error_naming_the_size,
        ),
        t("x32_guard_and_minus_one", compiler::x32_guard_and_minus_one),
        t(
            "enosys_stub_for_newer_syscalls",
            compiler::enosys_stub_for_newer_syscalls,
        ),
        t("bad_rules_are_named", compiler::bad_rules_are_named),
        t(
            "most_restrictive_rule_wins",
            compiler::most_restrictive_rule_wins,
        ),
        t(
            "bytes_roundtrip_and_refusals",
            compiler::bytes_roundtrip_and_refusals,
        ),
        t(
            "simulator_runs_hand_written_programs",
            compiler::simulator_runs_hand_written_programs,
        ),
        t(
            "disassembly_names_things",
            compiler::disassembly_names_things,
        ),
        t("actions_parse_and_print", compiler::actions_parse_and_print),
        t(
            "host_table_matches_the_c_library",
            tools::host_table_matches_the_c_library,
        ),
        t(
            "tables_match_scmp_sys_resolver",
            tools::tables_match_scmp_sys_resolver,
        ),
        t("compiled_like_libseccomp", tools::compiled_like_libseccomp),
        t(
            "multiplexed_calls_are_filtered_too",
            multiplex::multiplexed_calls_are_filtered_too,
        ),
        Test {
            name: "i386_program_cannot_route_around_a_deny",
            // Its own IPC namespace: a shmget that got through would make
            // its segment there, not on the machine.
            needs: Needs::Namespaces,
            run: multiplex::i386_program_cannot_route_around_a_deny,
        },
        t(
            "nothing_is_dropped_silently",
            multiplex::nothing_is_dropped_silently,
        ),
        t(
            "every_implemented_number_has_a_name",
            multiplex::every_implemented_number_has_a_name,
        ),
        t(
            "every_action_kernel_equals_simulator",
            kernel::every_action_kernel_equals_simulator,
        ),
        t("strict_mode", kernel::strict_mode),
        t(
            "no_new_privs_or_cap_sys_admin",
            kernel::no_new_privs_or_cap_sys_admin,
        ),
        t(
            "flags_refused_first_and_unknown_actions",
            kernel::flags_refused_first_and_unknown_actions,
        ),
        t(
            "tsync_covers_every_thread",
            kernel::tsync_covers_every_thread,
        ),
        t(
            "tsync_failure_names_the_thread",
            kernel::tsync_failure_names_the_thread,
        ),
        t("x32_guard_in_the_kernel", kernel::x32_guard_in_the_kernel),
        t(
            "a_filter_for_another_arch_kills_native_calls",
            kernel::a_filter_for_another_arch_kills_native_calls,
        ),
        t(
            "listener_is_cloexec_and_not_leaked",
            kernel::listener_is_cloexec_and_not_leaked,
        ),
        t("every_other_flag_loads", kernel::every_other_flag_loads),
        t(
            "notify_continue_addfd_errno_value",
            notify::continue_addfd_errno_value,
        ),
        t(
            "notify_target_killed_mid_answer",
            notify::target_killed_mid_answer,
        ),
        t("notify_handoff_errors", notify::handoff_errors),
        t(
            "notify_beside_strace",
            notify::strace_and_trace_see_the_same_opens,
        ),
        t(
            "notify_listener_without_blocking",
            notify::listener_source_without_blocking,
        ),
    ];
    #[cfg(feature = "async")]
    tests.push(t(
        "notify_async_two_executors",
        notify::async_listener_two_executors,
    ));
    #[cfg(feature = "oci")]
    tests.push(t(
        "container_profile_runs_a_shell",
        notify::container_profile_runs_a_shell,
    ));
    butter_tests::run(&tests)
}
