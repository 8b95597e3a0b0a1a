/*
 * dec_tls_crypt.h: decrypting captured TLS records with an NSS key log
 * (SSLKEYLOGFILE, or the TLS key log of a pcapng Decryption Secrets Block,
 * whose contents are the same text), so `probe analyze` can say exactly
 * which encrypted server records are TLS 1.3 NewSessionTickets, which are
 * HTTP/2 control frames and which carry the response (DESIGN.md section 5,
 * "Known pitfalls"; FIELD-NOTES.md, TLS records).
 *
 * Hand-written over OpenSSL's EVP (HKDF, TLS1-PRF, AEAD ciphers) because
 * no Debian 12 library decrypts TLS records from a key log: OpenSSL,
 * GnuTLS and NSS only decrypt inside their own handshakes, and the one
 * that does this (Wireshark's epan) is not a library meant for linking.
 *
 * Supported (anything else: dec_tls_decrypt_new() returns NULL with
 * DEC_TLS_WHY_UNSUPPORTED):
 *   TLS 1.3 (RFC 8446): TLS_AES_128_GCM_SHA256 0x1301,
 *     TLS_AES_256_GCM_SHA384 0x1302, TLS_CHACHA20_POLY1305_SHA256 0x1303;
 *     handshake traffic keys, then the first application traffic keys
 *     after the direction's Finished, then KeyUpdate (traffic upd).
 *     Not: 0-RTT early data (its records fail to authenticate).
 *   TLS 1.2 (RFC 5246, 5288, 5289, 7905): the AES-GCM suites 0x009c
 *     0x009d 0x009e 0x009f 0xc02b 0xc02c 0xc02f 0xc030 and ChaCha20-Poly1305
 *     0xcca8 0xcca9 0xccaa.  Not: CBC or stream suites, renegotiation.
 *
 * What the caller passes to dec_tls_decrypt_record(): every encrypted
 * record of one direction, whole (header + body, dec_tls_stream_keep_
 * records()), in stream order, none missed:
 *   TLS 1.3: the records of outer type 23 (application_data) after the
 *     ServerHello; never the ChangeCipherSpec (type 20, never encrypted),
 *     nor the plaintext hellos and alerts before it.
 *   TLS 1.2: the records after this direction's ChangeCipherSpec (the
 *     first is the encrypted Finished); not the ChangeCipherSpec itself.
 * A missed or damaged record makes every later record fail to
 * authenticate (the sequence number is implicit): the decryptor then
 * answers 0 for the rest of the direction, and the caller stops trusting
 * it.  Secrets are wiped (OPENSSL_cleanse) when freed.
 */
#ifndef PROBE_PACKET_DEC_TLS_CRYPT_H
#define PROBE_PACKET_DEC_TLS_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define DEC_TLS_KEYLOG_MAX 100000 /* key log lines kept (entries) */

/* A parsed NSS key log: client_random -> secrets. */
struct dec_tls_keylog;

struct dec_tls_keylog_stats {
	size_t entries;  /* secrets kept */
	size_t ignored;  /* lines with other labels (EXPORTER_SECRET, ...) */
	size_t bad;      /* malformed lines (not fatal) */
	size_t dropped;  /* good lines past DEC_TLS_KEYLOG_MAX */
};

/*
 * Parse key log text (len bytes, need not be NUL-terminated).  Lines:
 *   CLIENT_RANDOM <client_random hex 64> <master_secret hex 96>
 *   CLIENT_HANDSHAKE_TRAFFIC_SECRET / SERVER_HANDSHAKE_TRAFFIC_SECRET /
 *   CLIENT_TRAFFIC_SECRET_0 / SERVER_TRAFFIC_SECRET_0
 *     <client_random hex 64> <secret hex 64 or 96>
 * '#' comments, blank lines and other labels are skipped; bad lines are
 * counted, not fatal.  NULL (with err) only when out of memory.
 */
struct dec_tls_keylog *dec_tls_keylog_parse(const char *text, size_t len,
					    struct errbuf *err);

/* Add more key log text (another Decryption Secrets Block). */
int dec_tls_keylog_add(struct dec_tls_keylog *kl, const char *text,
		       size_t len, struct errbuf *err) PE_WARN_UNUSED;

void dec_tls_keylog_stats(const struct dec_tls_keylog *kl,
			  struct dec_tls_keylog_stats *st);

/* Frees kl (NULL is fine) and wipes its secrets. */
void dec_tls_keylog_free(struct dec_tls_keylog *kl);

/* Why dec_tls_decrypt_new() gave NULL. */
enum dec_tls_why {
	DEC_TLS_WHY_OK = 0,
	DEC_TLS_WHY_NO_KEYS,     /* the log lacks this connection's secrets */
	DEC_TLS_WHY_UNSUPPORTED, /* version or cipher suite (see above) */
	DEC_TLS_WHY_ERROR,       /* out of memory, OpenSSL failed */
};

/* One direction of one connection. */
struct dec_tls_decrypt;

/*
 * version: the selected one (struct dec_tls_server_hello.version), 0x0304
 * or 0x0303; cipher: the ServerHello's; from_server: which direction.
 * NULL when the log lacks the secrets or the suite is unsupported: *why
 * (when non-NULL) and err say which.  TLS 1.3 needs both of the
 * direction's secrets (*_HANDSHAKE_TRAFFIC_SECRET and *_TRAFFIC_SECRET_0,
 * of the suite's hash length); TLS 1.2 needs CLIENT_RANDOM and
 * server_random (TLS 1.3 ignores server_random, which may be NULL).
 */
struct dec_tls_decrypt *dec_tls_decrypt_new(const struct dec_tls_keylog *kl,
					    const uint8_t client_random[32],
					    const uint8_t server_random[32],
					    uint16_t version, uint16_t cipher,
					    bool from_server,
					    enum dec_tls_why *why,
					    struct errbuf *err);

/*
 * The next encrypted record of this direction, whole (header + body), in
 * stream order.  Returns 1 and sets *inner (TLS 1.3: the inner content
 * type; TLS 1.2: the outer type) and copies up to *pt_len plaintext bytes
 * into pt (pt may be NULL when *pt_len is 0; *pt_len is set to the number
 * copied); 0 when it does not authenticate (wrong keys, a record was
 * missed: from then on every record gives 0); PE_INVAL when rec is not
 * one whole record or is a ChangeCipherSpec (nothing consumed), PE_NOMEM
 * when OpenSSL fails.
 */
int dec_tls_decrypt_record(struct dec_tls_decrypt *d, const uint8_t *rec,
			   size_t len, uint8_t *inner, uint8_t *pt,
			   size_t *pt_len) PE_WARN_UNUSED;

/* Plaintext length of the last record decrypted (before the copy cap). */
size_t dec_tls_decrypt_last_len(const struct dec_tls_decrypt *d);

/* TLS 1.3: true once this direction uses application traffic keys. */
bool dec_tls_decrypt_in_app(const struct dec_tls_decrypt *d);

/*
 * HKDF-Expand-Label(secret, label, "", out_len) of RFC 8446 7.1 with the
 * hash of TLS 1.3 suite cipher (secret: that hash's length).  Used for
 * the traffic keys; public for the tests.  0, PE_INVAL (not a TLS 1.3
 * suite, label over 32 bytes), PE_NOMEM (OpenSSL failed).
 */
int dec_tls_expand_label(uint16_t cipher, const uint8_t *secret,
			 const char *label, uint8_t *out,
			 size_t out_len) PE_WARN_UNUSED;

/* Frees d (NULL is fine) and wipes its keys. */
void dec_tls_decrypt_free(struct dec_tls_decrypt *d);

#endif
