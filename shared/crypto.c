/* crypto.c -- strict base64, digests and AES-128-CBC on OpenSSL; random
 * tokens from the kernel's CSPRNG.
 *
 * The algorithms are fetched from OpenSSL's default provider once per
 * process (OpenSSL 3 otherwise looks them up again on every call: in
 * login-fcgi that lookup was two thirds of each decryption). They live
 * until the process exits. */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

static pthread_once_t algorithms_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *aes_128_cbc;
static EVP_MD *sha1, *sha256;

static void fetch_algorithms(void)
{
    aes_128_cbc = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
    sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void crypto_init(void)
{
    pthread_once(&algorithms_once, fetch_algorithms);
}

/* The fetched algorithm, or OpenSSL's per-call lookup when the fetch
 * failed (the call then fails or succeeds as it always did). */
static const EVP_CIPHER *cipher_aes_128_cbc(void)
{
    pthread_once(&algorithms_once, fetch_algorithms);
    return aes_128_cbc ? aes_128_cbc : EVP_aes_128_cbc();
}

static const EVP_MD *md_sha1(void)
{
    pthread_once(&algorithms_once, fetch_algorithms);
    return sha1 ? sha1 : EVP_sha1();
}

static const EVP_MD *md_sha256(void)
{
    pthread_once(&algorithms_once, fetch_algorithms);
    return sha256 ? sha256 : EVP_sha256();
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of each byte as a base64 digit, or -1: filled once per process. */
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;
static signed char b64_values[256];

static void fill_b64_values(void)
{
    memset(b64_values, -1, sizeof(b64_values));
    for (int i = 0; i < 64; i++)
        b64_values[(unsigned char)b64_alphabet[i]] = (signed char)i;
}

/* The last group of four: padding allowed, and the bits it drops must be
 * zero (canonical encoding). Returns the bytes written, or -1. */
static int b64_decode_last(const unsigned char *in, size_t pad, unsigned char *out)
{
    int v[4];
    for (int k = 0; k < 4; k++) {
        v[k] = k >= 4 - (int)pad ? 0 : b64_values[in[k]];
        if (v[k] < 0)
            return -1;
    }
    unsigned long triple = (unsigned long)v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
    unsigned char bytes[3] = {triple >> 16, (triple >> 8) & 0xff, triple & 0xff};
    int take = 3 - (int)pad;
    if (pad && (bytes[take] != 0 || (pad == 2 && bytes[2] != 0)))
        return -1;
    memcpy(out, bytes, (size_t)take);
    return take;
}

int base64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len)
{
    if (len % 4 != 0)
        return -1;
    size_t pad = 0;
    if (len > 0 && in[len - 1] == '=')
        pad = (len > 1 && in[len - 2] == '=') ? 2 : 1;
    size_t n = len / 4 * 3 - pad;
    if (n > cap)
        return -1;
    pthread_once(&b64_once, fill_b64_values);
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i + 4 < len; i += 4, o += 3) {
        int a = b64_values[p[i]], b = b64_values[p[i + 1]];
        int c = b64_values[p[i + 2]], d = b64_values[p[i + 3]];
        if ((a | b | c | d) < 0)
            return -1;
        out[o] = (unsigned char)(a << 2 | b >> 4);
        out[o + 1] = (unsigned char)((b & 15) << 4 | c >> 2);
        out[o + 2] = (unsigned char)((c & 3) << 6 | d);
    }
    if (len > 0) {
        int last = b64_decode_last(p + len - 4, pad, out + o);
        if (last < 0)
            return -1;
        o += (size_t)last;
    }
    *out_len = o;
    return 0;
}

size_t base64_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned long triple = (unsigned long)in[i] << 16;
        if (i + 1 < len)
            triple |= (unsigned long)in[i + 1] << 8;
        if (i + 2 < len)
            triple |= in[i + 2];
        out[o++] = b64_alphabet[(triple >> 18) & 63];
        out[o++] = b64_alphabet[(triple >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(triple >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[triple & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

int crypto_sha1_hex2(const void *a, size_t alen, const void *b, size_t blen, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, md_sha1(), NULL) &&
             EVP_DigestUpdate(ctx, a, alen) && EVP_DigestUpdate(ctx, b, blen) &&
             EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    hex_encode(md, md_len, out);
    return 0;
}

int crypto_sha256(const void *data, size_t len, unsigned char *out)
{
    unsigned int md_len = 0;
    return EVP_Digest(data, len, out, &md_len, md_sha256(), NULL) ? 0 : -1;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

bool crypto_equal_str(const char *a, const char *b)
{
    size_t alen = strlen(a), blen = strlen(b);
    if (alen != blen)
        return false;
    return crypto_equal(a, b, alen);
}

void hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* getrandom(2) rather than OpenSSL's RAND_bytes(): the same kernel CSPRNG
 * that seeds OpenSSL, without its DRBG and fork check (a getpid() per
 * call): about 6,200 fewer instructions and one system call fewer per login
 * (docs/login.md, "Instructions per login"). Up to 256 bytes never return
 * short once the pool is initialised; EINTR is retried. */
int crypto_random_hex(char *out, size_t nbytes)
{
    unsigned char buf[64];
    if (nbytes > sizeof(buf))
        return -1;
    ssize_t got;
    do
        got = getrandom(buf, nbytes, 0);
    while (got < 0 && errno == EINTR);
    if (got != (ssize_t)nbytes)
        return -1;
    hex_encode(buf, nbytes, out);
    explicit_bzero(buf, sizeof(buf));
    return 0;
}

/* Run AES-128-CBC without OpenSSL's padding (we check PKCS#7 ourselves). */
static int aes128cbc_raw(int encrypt, const unsigned char *key, const unsigned char *iv,
                         const unsigned char *in, size_t in_len, unsigned char *out)
{
    int len1 = 0, len2 = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = ctx && EVP_CipherInit_ex(ctx, cipher_aes_128_cbc(), NULL, key, iv, encrypt) &&
             EVP_CIPHER_CTX_set_padding(ctx, 0) &&
             EVP_CipherUpdate(ctx, out, &len1, in, (int)in_len) &&
             EVP_CipherFinal_ex(ctx, out + len1, &len2);
    EVP_CIPHER_CTX_free(ctx);
    return ok && (size_t)(len1 + len2) == in_len ? 0 : -1;
}

int crypto_aes128cbc_decrypt(const unsigned char key[16], const unsigned char iv[16],
                             const unsigned char *in, size_t in_len, unsigned char *out,
                             size_t *out_len)
{
    if (in_len == 0 || in_len % 16 != 0 || in_len > (1u << 30))
        return -1;
    if (aes128cbc_raw(0, key, iv, in, in_len, out) < 0)
        return -1;
    unsigned char pad = out[in_len - 1];
    if (pad == 0 || pad > 16)
        return -1;
    unsigned char diff = 0;
    for (size_t i = in_len - pad; i < in_len; i++)
        diff |= out[i] ^ pad;
    if (diff)
        return -1;
    *out_len = in_len - pad;
    return 0;
}

int crypto_aes128cbc_encrypt(const unsigned char key[16], const unsigned char iv[16],
                             const unsigned char *in, size_t in_len, unsigned char *out,
                             size_t *out_len)
{
    size_t pad = 16 - in_len % 16;
    size_t total = in_len + pad;
    if (in_len > (1u << 30))
        return -1;
    memmove(out, in, in_len);
    memset(out + in_len, (int)pad, pad);
    if (aes128cbc_raw(1, key, iv, out, total, out) < 0)
        return -1;
    *out_len = total;
    return 0;
}
