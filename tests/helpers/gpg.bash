# OpenPGP keys for the tests, each in a GnuPG home of its own, so no test
# touches root's ~/.gnupg. `load helpers/gpg` after helpers/common.
#
#   fpr=$(gpg_key alice)              a new ed25519 signing key; its public
#                                     key is in $GPG_KEYS/alice.pub
#   gpg_key old "" 20200101T000000    made (and expired a day later) in 2020
#   gpg_as alice --sign ...           run gpg with alice's home
#   gpg_kill_agents                   in teardown: stop every agent we started
#
# GPG_KEYS defaults to the test's own tmpdir; set it to $BATS_FILE_TMPDIR
# in setup_file to share keys between the tests of a file.

gpg_home() { echo "${GPG_KEYS:-$BATS_TEST_TMPDIR}/gnupg-$1"; }

gpg_as() {
  local name=$1
  shift
  gpg --homedir "$(gpg_home "$name")" --batch --quiet --no-tty --pinentry-mode loopback --passphrase '' "$@"
}

# gpg_key NAME [EXPIRE] [FAKED-TIME]: print the new key's fingerprint.
gpg_key() {
  local name=$1 expire=${2-never} when=${3:-} home
  home=$(gpg_home "$name")
  mkdir -p -m 0700 "$home"
  local faked=()
  [ -n "$when" ] && faked=(--faked-system-time "$when")
  [ -n "$expire" ] || expire=1d
  gpg_as "$name" "${faked[@]}" --quick-gen-key "$name <$name@ctr.test>" ed25519 sign "$expire" 2>/dev/null || return 1
  gpg_as "$name" --export > "${GPG_KEYS:-$BATS_TEST_TMPDIR}/$name.pub"
  gpg_as "$name" --list-keys --with-colons "$name@ctr.test" | awk -F: '$1 == "fpr" { print $10; exit }'
}

# Revoke NAME's key (with the certificate gpg made with it) and re-export
# the public key, now carrying the revocation.
gpg_revoke() {
  local name=$1 fpr home
  home=$(gpg_home "$name")
  fpr=$(gpg_as "$name" --list-keys --with-colons | awk -F: '$1 == "fpr" { print $10; exit }')
  sed 's/^:-----/-----/' "$home/openpgp-revocs.d/$fpr.rev" | gpg_as "$name" --import 2>/dev/null
  gpg_as "$name" --export > "${GPG_KEYS:-$BATS_TEST_TMPDIR}/$name.pub"
}

gpg_kill_agents() {
  local h
  for h in "${GPG_KEYS:-$BATS_TEST_TMPDIR}"/gnupg-* "${CTR_ROOT:-/nonexistent}/trust/gnupg"; do
    [ -d "$h" ] && gpgconf --homedir "$h" --kill all 2>/dev/null
  done
  true
}
