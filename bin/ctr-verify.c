/* ctr-verify: keys, signatures, trust policy and provenance. Each verb
 * lives in lib/verify/cmd_<verb>.c and parses its own options; this file
 * reads the options before the verb and dispatches. ctr-image (pull,
 * push, import, ...) and ctr-run (at start) run it; so can anyone. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/log.h"
#include "verify/cmd.h"

static const char usage[] =
    "Usage: ctr-verify [OPTIONS] COMMAND [ARGS...]\n"
    "\n"
    "Keys, signatures, trust policy and provenance of the images in\n"
    "$CTR_ROOT. The files under $CTR_ROOT/trust are containers/image's\n"
    "formats (ctr-layout(5)): keys, signatures and policies move between ctr,\n"
    "skopeo and podman.\n"
    "\n"
    "Commands:\n"
    "  key import FILE|-        add OpenPGP keys to ctr's keyring; print their\n"
    "                           fingerprints\n"
    "  key ls [--secret]        list the keyring's keys\n"
    "  key export [-a] [-o FILE] FPR...\n"
    "                           write public keys\n"
    "  key rm [--secret] FPR... remove keys\n"
    "  key gen [--uid UID] [--expire DAYS]\n"
    "                           make this host's signing key; print its fingerprint\n"
    "  sign [-k FPR] [--identity REF] NAME\n"
    "                           sign an image (simple signing) into the sigstore;\n"
    "                           print the signature's path\n"
    "  verify [--digest DIGEST] [--signatures DIR] NAME|REF\n"
    "                           judge an image by the policy: say which\n"
    "                           requirement passed or failed; exit 1 if rejected\n"
    "  policy show              print policy.json (and provenance.json)\n"
    "  policy set [--scope SCOPE] REQUIREMENT...\n"
    "                           set the requirements of a scope\n"
    "  policy rm --scope SCOPE [--origin]\n"
    "                           drop a scope (or only its origin requirement)\n"
    "  policy import FILE|-     replace policy.json by a checked copy of FILE\n"
    "  attest EVENT SUBJECT [KEY=VALUE...]\n"
    "                           record a lifecycle event of an image (what\n"
    "                           ctr-image does on import, pull, tag, push, export)\n"
    "  provenance NAME|DIGEST   the chain of events of an image and who signed each\n"
    "\n"
    "Options of key:\n"
    "      --secret             ls: only keys this host can sign with;\n"
    "                           rm: remove the secret part too\n"
    "  -a, --armor              export: ASCII armor\n"
    "  -o, --output FILE        export: write to FILE instead of stdout\n"
    "      --uid UID            gen: the user id (default: ctr on HOSTNAME)\n"
    "      --expire DAYS        gen: expire after DAYS days (default: never)\n"
    "\n"
    "Options of sign and attest:\n"
    "  -k, --key FPR            the secret key to sign with (default: the host's)\n"
    "      --identity REF       sign: the docker reference the signature names\n"
    "                           (default: the image's name, fully qualified)\n"
    "\n"
    "Options of verify:\n"
    "      --digest DIGEST      judge REF as this manifest digest, which need not\n"
    "                           be in the store (ctr-image pull and ctr-run use it)\n"
    "      --signatures DIR     check the signature-N files in DIR, not the\n"
    "                           sigstore's\n"
    "\n"
    "Options of policy set and policy rm (requirements of a scope):\n"
    "      --scope SCOPE        HOST[:PORT][/PATH][:TAG|@DIGEST] or *.DOMAIN\n"
    "                           (default: the policy's default)\n"
    "      --accept             insecureAcceptAnything\n"
    "      --reject             reject\n"
    "      --signed-by KEY      signedBy: a key file, or the fingerprint of a key\n"
    "                           in ctr's keyring; repeat to accept any of several\n"
    "      --match MODE         signedIdentity: exact, repo-digest-or-exact (the\n"
    "                           default) or repository\n"
    "      --exact-reference REF\n"
    "                           signedIdentity exactReference\n"
    "      --exact-repository REPO\n"
    "                           signedIdentity exactRepository\n"
    "      --remap PREFIX=SIGNED\n"
    "                           signedIdentity remapIdentity\n"
    "      --require-origin ORIGIN\n"
    "                           provenance.json: pull:REGISTRY[/PATH] or\n"
    "                           import:sha256:HEX; repeat to accept any of several\n"
    "      --origin-signed-by KEY\n"
    "                           the origin's statement must be signed by KEY\n"
    "      --origin             rm: drop only the scope's origin requirement\n"
    "\n"
    "Output:\n"
    "  -q, --quiet              key ls: fingerprints only; verify, sign: no report\n"
    "      --format FORMAT      table or json: key ls, verify, policy show,\n"
    "                           provenance\n"
    "\n"
    "Options (before or after the command):\n"
    "      --root DIR           store root (default $CTR_ROOT or /var/lib/ctr)\n"
    "      --rundir DIR         volatile state (default $CTR_RUNDIR or /run/ctr)\n"
    "      --debug              debug output on stderr\n"
    "  -h, --help               this help\n"
    "      --version            version and features\n"
    "\n"
    "Exit status: 0 ok (verify: accepted), 1 failed (verify: rejected), 2 bad\n"
    "usage. See ctr-verify(1).\n";

static const char features[] = "+GPGME +SIMPLE-SIGNING +POLICY +LOOKASIDE +IN-TOTO +DSSE";

static const struct {
  const char *name;
  int (*run)(struct ctr_cli *, int, char **, ctr_err *);
} verbs[] = {
    {"key", verify_cmd_key},
    {"sign", verify_cmd_sign},
    {"verify", verify_cmd_verify},
    {"policy", verify_cmd_policy},
    {"attest", verify_cmd_attest},
    {"provenance", verify_cmd_provenance},
};

int main(int argc, char **argv) {
  static const struct option opts[] = {CTR_CLI_LONGOPTS, {0, 0, 0, 0}};
  struct ctr_cli cli;
  ctr_err err = NULL;
  const char *verb;
  int opt, ret = -1;

  memset(&cli, 0, sizeof(cli));
  cli.prog = "ctr-verify";
  cli.usage = usage;
  cli.features = features;
  ctr_log_init(cli.prog, false);
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    if (opt == 'h')
      cli.help = true;
    else if (!ctr_cli_common(&cli, opt, optarg)) {
      ctr_cli_bad_option(&cli, argc, argv, &err);
      return ctr_err_report(cli.prog, &err);
    }
  }
  if (ctr_cli_done(&cli))
    return 0;
  if (optind >= argc) {
    fputs(usage, stderr);
    return 2;
  }
  verb = argv[optind];
  for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
    if (strcmp(verb, verbs[i].name) == 0) {
      int vargc = argc - optind;
      char **vargv = argv + optind;
      optind = 0;
      ret = verbs[i].run(&cli, vargc, vargv, &err);
      if (ret < 0 && err == NULL)
        ret = ctr_fail(&err, 0, "%s failed", verb);
      break;
    }
  }
  if (ret < 0 && err == NULL)
    ctr_usage(&err, "unknown command '%s' (see --help)", verb);
  if (err != NULL)
    return ctr_err_report(cli.prog, &err);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    ctr_fail(&err, errno, "write output");
    return ctr_err_report(cli.prog, &err);
  }
  return ret;
}
