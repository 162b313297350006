#!/bin/sh
# tests/sanitize.sh BUILD [SUITE...] — the test suite on a build made with
# AddressSanitizer and UndefinedBehaviorSanitizer: `make test-sanitize` builds
# build-san/ (clang, -fsanitize=address,undefined) and runs this on it;
# tests/sanitizers/suite_sanitize.sh runs it on a subset in every `make test`.
#
# Runs, as tests/run.sh does, every unit test and every tests/*/suite_*.sh (or
# only the suites named), with the C that the suites compile (generated code,
# drivers, anything linking BUILD's cnnrt) built by clang with the same
# sanitizers (GEN_CC, GEN_CFLAGS).  Any sanitizer report fails the run: UBSan
# and ASan stop at the first error, LeakSanitizer reports leaks at exit.
# Not run here: suite_install and suite_example_app (they rebuild with make's
# own flags), suite_fuzz_smoke (its targets are sanitized already),
# suite_valgrind (valgrind and ASan do not mix), suite_sanitize (this).
# SAN_CODEGEN_NETS: the networks suite_codegen checks (default: its own).
SAN="-g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
export GEN_CC=clang GEN_CFLAGS="$SAN"
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
RUN_TAG=sanitized
[ $# -gt 0 ] || set -- build-san
. "$(dirname "$0")/lib.sh"
if [ $# -eq 0 ]; then
    run_units
    set -- $(ls tests/*/suite_*.sh | sed 's|tests/.*/\(.*\)\.sh|\1|')
fi
for s in "$@"; do
    case $s in
        suite_install|suite_example_app|suite_fuzz_smoke|suite_valgrind|suite_sanitize) continue ;;
        test_*) run_suite "$s" "$B"/tests/*/"$s"; continue ;;
    esac
    if [ "$s" = suite_codegen ] && [ -n "${SAN_CODEGEN_NETS:-}" ]; then
        # shellcheck disable=SC2086
        run_suite "$s" sh "$(suite_path "$s")" "$B" $SAN_CODEGEN_NETS
    else
        run_suite "$s" sh "$(suite_path "$s")" "$B"
    fi
done
finish
