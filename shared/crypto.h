/* crypto.h -- the cryptography both programs need, on OpenSSL: strict
 * base64, SHA-1 hex digests (WeChat's user-data signature), SHA-256 (skey
 * hashing), AES-128-CBC decryption with PKCS#7 checks, constant-time
 * comparison and random tokens (the kernel's CSPRNG). All functions are
 * thread-safe; all but crypto_init() are pure. */
#ifndef SHARED_CRYPTO_H
#define SHARED_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define CRYPTO_SHA1_HEX_LEN 40
#define CRYPTO_SHA256_LEN 32

/* Largest decoded size of `len` base64 characters. */
#define BASE64_DECODED_MAX(len) (((len) / 4) * 3 + 3)
/* Encoded size of `len` bytes, without the terminating NUL. */
#define BASE64_ENCODED_LEN(len) ((((len) + 2) / 3) * 4)

/* Fetch the algorithms from OpenSSL now rather than on first use. The
 * first fetch loads OpenSSL's default provider (about 2 MiB of the
 * process's memory, and its time): a program calls this at start-up, so
 * that cost is not paid by whichever request comes first (in the relay,
 * the first WebSocket handshake). */
void crypto_init(void);

/* Decode standard base64 (RFC 4648 alphabet, '=' padding required, no
 * whitespace). Writes at most `cap` bytes to out and the length to *out_len.
 * Returns 0, or -1 for a bad character, bad padding, a length that is not a
 * multiple of four, non-zero trailing bits or too small a buffer. */
int base64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len);

/* Encode `len` bytes as padded base64 into out (BASE64_ENCODED_LEN(len)+1
 * bytes, NUL-terminated). Returns the encoded length. */
size_t base64_encode(const unsigned char *in, size_t len, char *out);

/* Lower-case hex SHA-1 of the concatenation a||b, NUL-terminated into
 * out[CRYPTO_SHA1_HEX_LEN + 1]. Returns 0, or -1 if OpenSSL fails. */
int crypto_sha1_hex2(const void *a, size_t alen, const void *b, size_t blen, char *out);

/* SHA-256 of data into out[CRYPTO_SHA256_LEN]. Returns 0 or -1. */
int crypto_sha256(const void *data, size_t len, unsigned char *out);

/* Compare two equal-length buffers in time independent of their content. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* Compare two NUL-terminated strings; the time depends only on the lengths. */
bool crypto_equal_str(const char *a, const char *b);

/* Lower-case hex of in[0..len) and a NUL into out (2*len+1 bytes). */
void hex_encode(const unsigned char *in, size_t len, char *out);

/* Fill out with 2*nbytes lower-case hex characters of the kernel CSPRNG's
 * output (getrandom(2)) and a NUL (out must hold 2*nbytes+1). nbytes is at
 * most 64. Returns 0, or -1 if nbytes is larger or the CSPRNG fails. */
int crypto_random_hex(char *out, size_t nbytes);

/* AES-128-CBC decryption with PKCS#7 padding checked in full. `in_len` must
 * be a non-zero multiple of 16; out needs in_len bytes. On success writes the
 * plaintext length to *out_len and returns 0; returns -1 for a bad length or
 * bad padding (the wrong key shows up as bad padding almost always). */
int crypto_aes128cbc_decrypt(const unsigned char key[16], const unsigned char iv[16],
                             const unsigned char *in, size_t in_len, unsigned char *out,
                             size_t *out_len);

/* AES-128-CBC encryption with PKCS#7 padding (used by tests and tools).
 * out needs in_len + 16 bytes. Returns 0 or -1. */
int crypto_aes128cbc_encrypt(const unsigned char key[16], const unsigned char iv[16],
                             const unsigned char *in, size_t in_len, unsigned char *out,
                             size_t *out_len);

#endif
