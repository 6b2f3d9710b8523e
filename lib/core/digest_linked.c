/* For tools linked with libcrypto (see ctr_crypto_linked in the
 * Makefile): digest.c hashes with the library already in the program
 * instead of loading libcrypto.so.3. Nothing else refers to this file,
 * so other tools never pull it, or libcrypto, out of libctr.a. */
#include "digest_int.h"

void ctr_crypto_linked(struct crypto *c);

void ctr_crypto_linked(struct crypto *c) {
  c->init = SHA256_Init;
  c->update = SHA256_Update;
  c->final = SHA256_Final;
}
