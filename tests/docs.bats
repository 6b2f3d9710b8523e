#!/usr/bin/env bats
# Docs with code: every tool has a man page, and every option its --help
# lists is in that page and in its bash and zsh completions.

load helpers/common

tools() {
  local t
  for t in "$CTR_BUILD"/bin/ctr-*; do
    [[ -x $t && $t != *.o ]] && basename "$t"
  done
}

# the options of a tool: --long words that begin an option line of --help
options() {
  "$CTR_BUILD/bin/$1" --help 2>/dev/null |
    grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

@test "every tool has a man page in man/man1, with NAME and SYNOPSIS" {
  for t in $(tools); do
    page="$TESTS_DIR/../man/man1/$t.1"
    [ -f "$page" ] || fail "$t has no man page"
    grep -q '^\.SH NAME' "$page" && grep -q '^\.SH SYNOPSIS' "$page" || fail "$page: no NAME or SYNOPSIS"
    man -l "$page" >/dev/null 2>&1 || fail "$page does not render"
  done
}

@test "every option in --help is documented in the tool's man page" {
  for t in $(tools); do
    for o in $(options "$t"); do
      # man pages write - as \-
      grep -qF -- "${o//-/\\-}" "$TESTS_DIR/../man/man1/$t.1" ||
        grep -qF -- "$o" "$TESTS_DIR/../man/man1/$t.1" || fail "$t(1) does not mention $o"
    done
  done
}

@test "bash and zsh completions exist for every tool and offer every option" {
  for t in $(tools); do
    b="$TESTS_DIR/../completions/bash/$t"
    z="$TESTS_DIR/../completions/zsh/_$t"
    [ -f "$b" ] && [ -f "$z" ] || fail "$t: missing a completion file"
    bash -n "$b" || fail "$b: not valid bash"
    for o in $(options "$t"); do
      grep -qF -- "$o" "$b" || fail "$b lacks $o"
      grep -qF -- "$o" "$z" || fail "$z lacks $o"
    done
  done
}

@test "bash completion really completes: ctr-monitor's options, ctr-init's command" {
  run bash -c '
    source "$1/completions/bash/ctr-monitor"
    COMP_WORDS=(ctr-monitor --ro); COMP_CWORD=1; _ctr_monitor; echo "${COMPREPLY[*]}"
    source "$1/completions/bash/ctr-init"
    COMP_WORDS=(ctr-init --he); COMP_CWORD=1; _ctr_init; echo "${COMPREPLY[*]}"' sh "$TESTS_DIR/.."
  assert_success
  assert_line --index 0 "--root"
  assert_line --index 1 "--help"
}
