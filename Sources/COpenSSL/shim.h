// OpenSSL libcrypto: hashing, HMAC, AES-GCM, the CSPRNG and constant-time comparison.
#ifndef DONUTWORK_COPENSSL_SHIM_H
#define DONUTWORK_COPENSSL_SHIM_H

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/err.h>

#endif
