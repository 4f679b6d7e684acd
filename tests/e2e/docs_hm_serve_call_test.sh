#!/usr/bin/env bash
# Docs and completions keep up with the binaries: every long flag that
# "hm-serve --help" and "hm-call --help" print must have an entry (a .TP tag)
# in the tool's man page and appear in its bash, zsh and fish completions.
# The bash completions must parse and register with `complete`; zsh and fish
# must parse theirs where installed, and groff must render the pages without
# warnings where installed.
#
# Env (set by ctest): HM_BIN = <build>/tools, HM_TESTS = <repo>/tests.
# Runs the binaries only for --help: no network, well under a second.
set -euo pipefail
source "$HM_TESTS/e2e/docs_lib.sh"

for tool in hm-serve hm-call; do
    docs_check_flags "$tool"
    docs_check_syntax "$tool"
done

docs_finish
