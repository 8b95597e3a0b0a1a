/*
 * dec_tls_crypt.c: TLS record decryption from an NSS key log (what and why:
 * dec_tls_crypt.h).  Hand-written because no Debian 12 library decrypts
 * captured TLS records from a key log; the primitives are OpenSSL's EVP
 * (EVP_KDF "HKDF" and "TLS1-PRF", EVP_aes_*_gcm, EVP_chacha20_poly1305).
 *
 * TLS 1.3 (RFC 8446):
 *   7.1  HKDF-Expand-Label(Secret, Label, Context, Length) =
 *          HKDF-Expand(Secret, HkdfLabel, Length),
 *        HkdfLabel = uint16 length || opaque label<7..255> ("tls13 " +
 *          Label) || opaque context<0..255>
 *   7.2  application_traffic_secret_N+1 =
 *          HKDF-Expand-Label(application_traffic_secret_N, "traffic upd",
 *          "", Hash.length)
 *   7.3  key = HKDF-Expand-Label(secret, "key", "", key_length),
 *        iv  = HKDF-Expand-Label(secret, "iv", "", iv_length)
 *   5.2  TLSInnerPlaintext = content || ContentType type || zeros;
 *        additional_data = the record header (opaque_type 23, 0x0303,
 *        length)
 *   5.3  nonce = iv XOR the 64-bit sequence number, left-padded to iv_length
 *
 * TLS 1.2 (RFC 5246 6.3 and 5; AES-GCM RFC 5288; ChaCha20 RFC 7905):
 *   key_block = PRF(master_secret, "key expansion", server_random +
 *     client_random) = client_write_key server_write_key client_write_IV
 *     server_write_IV (no MAC keys for AEAD suites)
 *   AES-GCM: nonce = salt (4-byte write IV) || explicit nonce (the
 *     record's first 8 bytes); ChaCha20: nonce = 12-byte IV XOR padded seq
 *   additional_data = seq_num(8) || type || version || plaintext length
 *
 * Every record field is read through a cursor (packet/cursor.h).
 */
#include "packet/dec_tls_crypt.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "packet/cursor.h"
#include "packet/dec_tls.h"

#define TAG_LEN 16
#define MAX_SECRET 48
#define MAX_KEY 32
#define NONCE_LEN 12
#define PT_MAX (DEC_TLS_MAX_LEN) /* plaintext kept per record */

/* ---- key log ------------------------------------------------------------ */

enum kl_label {
	KL_MASTER,      /* CLIENT_RANDOM (TLS 1.2 master secret) */
	KL_C_HS,        /* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
	KL_S_HS,        /* SERVER_HANDSHAKE_TRAFFIC_SECRET */
	KL_C_AP,        /* CLIENT_TRAFFIC_SECRET_0 */
	KL_S_AP,        /* SERVER_TRAFFIC_SECRET_0 */
};

static const struct {
	const char *name;
	enum kl_label label;
} kl_names[] = {
	{ "CLIENT_RANDOM", KL_MASTER },
	{ "CLIENT_HANDSHAKE_TRAFFIC_SECRET", KL_C_HS },
	{ "SERVER_HANDSHAKE_TRAFFIC_SECRET", KL_S_HS },
	{ "CLIENT_TRAFFIC_SECRET_0", KL_C_AP },
	{ "SERVER_TRAFFIC_SECRET_0", KL_S_AP },
};

struct kl_entry {
	uint8_t cr[32];
	uint8_t label;
	uint8_t len;
	uint8_t secret[MAX_SECRET];
};

struct dec_tls_keylog {
	struct kl_entry *v;
	size_t n, cap;
	struct dec_tls_keylog_stats st;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 2*n hex digits into out; false otherwise. */
static bool unhex(const char *s, size_t slen, uint8_t *out, size_t n)
{
	if (slen != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static int kl_cmp(const void *a, const void *b)
{
	const struct kl_entry *x = a, *y = b;
	int c = memcmp(x->cr, y->cr, 32);
	if (c)
		return c;
	return (int)x->label - (int)y->label;
}

/* Splits the next space/tab-separated word off [*p, end). */
static bool word(const char **p, const char *end, const char **w, size_t *n)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	if (*p == end)
		return false;
	*w = *p;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	*n = (size_t)(*p - *w);
	return true;
}

/* One line (no newline).  0, or PE_NOMEM. */
static int kl_line(struct dec_tls_keylog *kl, const char *p, const char *end)
{
	const char *w[4];
	size_t n[4];
	int k = 0;
	while (k < 4 && word(&p, end, &w[k], &n[k]))
		k++;
	if (k == 0 || w[0][0] == '#')
		return 0;
	int label = -1;
	for (size_t i = 0; i < sizeof(kl_names) / sizeof(kl_names[0]); i++)
		if (strlen(kl_names[i].name) == n[0] &&
		    memcmp(kl_names[i].name, w[0], n[0]) == 0)
			label = (int)kl_names[i].label;
	if (label < 0) {
		kl->st.ignored++;
		return 0;
	}
	struct kl_entry e;
	memset(&e, 0, sizeof(e));
	e.label = (uint8_t)label;
	size_t slen = k == 3 ? n[2] / 2 : 0;
	bool good = k == 3 && unhex(w[1], n[1], e.cr, 32) &&
		    (label == KL_MASTER ? slen == 48 : (slen == 32 ||
							  slen == 48)) &&
		    unhex(w[2], n[2], e.secret, slen);
	if (!good) {
		kl->st.bad++;
		OPENSSL_cleanse(&e, sizeof(e));
		return 0;
	}
	e.len = (uint8_t)slen;
	if (kl->n == DEC_TLS_KEYLOG_MAX) {
		kl->st.dropped++;
		OPENSSL_cleanse(&e, sizeof(e));
		return 0;
	}
	if (kl->n == kl->cap) {
		size_t nc = kl->cap ? kl->cap * 2 : 64;
		if (nc > DEC_TLS_KEYLOG_MAX)
			nc = DEC_TLS_KEYLOG_MAX;
		/* wipes the old block: it holds secrets */
		struct kl_entry *v = OPENSSL_clear_realloc(
			kl->v, kl->cap * sizeof(*v), nc * sizeof(*v));
		if (!v) {
			OPENSSL_cleanse(&e, sizeof(e));
			return PE_NOMEM;
		}
		kl->v = v;
		kl->cap = nc;
	}
	kl->v[kl->n++] = e;
	OPENSSL_cleanse(&e, sizeof(e));
	return 0;
}

int dec_tls_keylog_add(struct dec_tls_keylog *kl, const char *text,
		       size_t len, struct errbuf *err)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *te = le;
		if (te > p && te[-1] == '\r')
			te--;
		if (kl_line(kl, p, te) < 0)
			return errbuf_set(err, PE_NOMEM,
					  "key log: out of memory after %zu "
					  "entries", kl->n);
		p = nl ? nl + 1 : end;
	}
	if (kl->n > 1)
		qsort(kl->v, kl->n, sizeof(kl->v[0]), kl_cmp);
	kl->st.entries = kl->n;
	return 0;
}

struct dec_tls_keylog *dec_tls_keylog_parse(const char *text, size_t len,
					    struct errbuf *err)
{
	struct dec_tls_keylog *kl = calloc(1, sizeof(*kl));
	if (!kl) {
		errbuf_set(err, PE_NOMEM, "key log: out of memory");
		return NULL;
	}
	if (dec_tls_keylog_add(kl, text, len, err) < 0) {
		dec_tls_keylog_free(kl);
		return NULL;
	}
	return kl;
}

void dec_tls_keylog_stats(const struct dec_tls_keylog *kl,
			  struct dec_tls_keylog_stats *st)
{
	*st = kl->st;
}

void dec_tls_keylog_free(struct dec_tls_keylog *kl)
{
	if (!kl)
		return;
	OPENSSL_clear_free(kl->v, kl->cap * sizeof(kl->v[0]));
	free(kl);
}

static const struct kl_entry *kl_find(const struct dec_tls_keylog *kl,
				      const uint8_t cr[32], enum kl_label l)
{
	struct kl_entry key;
	memcpy(key.cr, cr, 32);
	key.label = (uint8_t)l;
	return kl->n ? bsearch(&key, kl->v, kl->n, sizeof(kl->v[0]), kl_cmp)
		     : NULL;
}

/* ---- suites ------------------------------------------------------------- */

enum aead { AEAD_AES128GCM, AEAD_AES256GCM, AEAD_CHACHA };

static const struct suite {
	uint16_t id;
	bool tls13;
	enum aead aead;
	bool sha384;
} suites[] = {
	{ 0x1301, true, AEAD_AES128GCM, false },
	{ 0x1302, true, AEAD_AES256GCM, true },
	{ 0x1303, true, AEAD_CHACHA, false },
	{ 0x009c, false, AEAD_AES128GCM, false },
	{ 0x009d, false, AEAD_AES256GCM, true },
	{ 0x009e, false, AEAD_AES128GCM, false },
	{ 0x009f, false, AEAD_AES256GCM, true },
	{ 0xc02b, false, AEAD_AES128GCM, false },
	{ 0xc02c, false, AEAD_AES256GCM, true },
	{ 0xc02f, false, AEAD_AES128GCM, false },
	{ 0xc030, false, AEAD_AES256GCM, true },
	{ 0xcca8, false, AEAD_CHACHA, false },
	{ 0xcca9, false, AEAD_CHACHA, false },
	{ 0xccaa, false, AEAD_CHACHA, false },
};

static const EVP_CIPHER *aead_cipher(enum aead a)
{
	switch (a) {
	case AEAD_AES128GCM:
		return EVP_aes_128_gcm();
	case AEAD_AES256GCM:
		return EVP_aes_256_gcm();
	default:
		return EVP_chacha20_poly1305();
	}
}

/* ---- one direction ------------------------------------------------------ */

enum stage { ST_HANDSHAKE, ST_APP };

struct dec_tls_decrypt {
	const struct suite *suite;
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx;
	size_t key_len, hash_len;
	uint8_t key[MAX_KEY];
	uint8_t iv[NONCE_LEN];      /* TLS 1.2 GCM: the 4-byte salt first */
	uint64_t seq;
	bool failed;
	/* TLS 1.3 */
	enum stage stage;
	uint8_t secret[MAX_SECRET]; /* the current application secret */
	uint8_t hs_hdr[4];          /* handshake message header being read */
	uint8_t hs_hdr_have;
	uint32_t hs_rem;            /* body bytes of the current message left */
	size_t last_len;
	uint8_t pt[PT_MAX];
};

/* HKDF-Expand-Label(secret, label, "", out_len), RFC 8446 7.1. */
static int expand_label_md(bool sha384, const uint8_t *secret,
			   const char *label, uint8_t *out, size_t out_len)
{
	uint8_t info[2 + 1 + 6 + 32 + 1];
	size_t ll = strlen(label);
	size_t n = 0;
	if (ll > 32 || out_len > 255 * 48)
		return PE_INVAL;
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0; /* empty context */
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(
			OSSL_KDF_PARAM_DIGEST,
			(char *)(sha384 ? "SHA384" : "SHA256"), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						  (void *)secret,
						  sha384 ? 48 : 32),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
		OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_construct_end(),
	};
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int ok = kctx && EVP_KDF_derive(kctx, out, out_len, params) > 0;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok ? 0 : PE_NOMEM;
}

static int expand_label(const struct dec_tls_decrypt *d, const uint8_t *secret,
			const char *label, uint8_t *out, size_t out_len)
{
	return expand_label_md(d->suite->sha384, secret, label, out, out_len);
}

int dec_tls_expand_label(uint16_t cipher, const uint8_t *secret,
			 const char *label, uint8_t *out, size_t out_len)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == cipher && suites[i].tls13)
			return expand_label_md(suites[i].sha384, secret, label,
					       out, out_len);
	return PE_INVAL;
}

/* key and iv of a TLS 1.3 traffic secret; sequence back to 0. */
static int traffic_keys(struct dec_tls_decrypt *d, const uint8_t *secret)
{
	d->seq = 0;
	if (expand_label(d, secret, "key", d->key, d->key_len) < 0 ||
	    expand_label(d, secret, "iv", d->iv, NONCE_LEN) < 0)
		return PE_NOMEM;
	return 0;
}

/* TLS 1.2 PRF(master, "key expansion", server_random + client_random). */
static int key_block(const struct dec_tls_decrypt *d, const uint8_t *master,
		     const uint8_t cr[32], const uint8_t sr[32], uint8_t *out,
		     size_t out_len)
{
	uint8_t seed[13 + 64];
	memcpy(seed, "key expansion", 13);
	memcpy(seed + 13, sr, 32);
	memcpy(seed + 45, cr, 32);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(
			OSSL_KDF_PARAM_DIGEST,
			(char *)(d->suite->sha384 ? "SHA384" : "SHA256"), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
						  (void *)master, 48),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed,
						  sizeof(seed)),
		OSSL_PARAM_construct_end(),
	};
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_PRF, NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int ok = kctx && EVP_KDF_derive(kctx, out, out_len, params) > 0;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok ? 0 : PE_NOMEM;
}

static struct dec_tls_decrypt *fail_new(struct dec_tls_decrypt *d,
					enum dec_tls_why *why,
					enum dec_tls_why w, struct errbuf *err,
					int code, const char *msg,
					unsigned cipher)
{
	dec_tls_decrypt_free(d);
	if (why)
		*why = w;
	errbuf_set(err, code, "tls decrypt: %s (cipher 0x%04x)", msg, cipher);
	return NULL;
}

struct dec_tls_decrypt *dec_tls_decrypt_new(const struct dec_tls_keylog *kl,
					    const uint8_t client_random[32],
					    const uint8_t server_random[32],
					    uint16_t version, uint16_t cipher,
					    bool from_server,
					    enum dec_tls_why *why,
					    struct errbuf *err)
{
	const struct suite *su = NULL;
	if (why)
		*why = DEC_TLS_WHY_OK;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == cipher &&
		    suites[i].tls13 == (version == 0x0304))
			su = &suites[i];
	if ((version != 0x0304 && version != 0x0303) || !su)
		return fail_new(NULL, why, DEC_TLS_WHY_UNSUPPORTED, err,
				PE_INVAL, "unsupported version or suite",
				cipher);
	if (!kl || !client_random || (!su->tls13 && !server_random))
		return fail_new(NULL, why, DEC_TLS_WHY_NO_KEYS, err,
				PE_NOTFOUND, "no key log or hello random",
				cipher);
	struct dec_tls_decrypt *d = OPENSSL_zalloc(sizeof(*d));
	if (!d)
		return fail_new(NULL, why, DEC_TLS_WHY_ERROR, err, PE_NOMEM,
				"out of memory", cipher);
	d->suite = su;
	d->cipher = aead_cipher(su->aead);
	d->key_len = su->aead == AEAD_AES128GCM ? 16 : 32;
	d->hash_len = su->sha384 ? 48 : 32;
	d->ctx = EVP_CIPHER_CTX_new();
	if (!d->cipher || !d->ctx)
		return fail_new(d, why, DEC_TLS_WHY_ERROR, err, PE_NOMEM,
				"OpenSSL cipher context", cipher);
	if (su->tls13) {
		const struct kl_entry *hs = kl_find(
			kl, client_random, from_server ? KL_S_HS : KL_C_HS);
		const struct kl_entry *ap = kl_find(
			kl, client_random, from_server ? KL_S_AP : KL_C_AP);
		if (!hs || !ap)
			return fail_new(d, why, DEC_TLS_WHY_NO_KEYS, err,
					PE_NOTFOUND,
					from_server
						? "no SERVER_HANDSHAKE_TRAFFIC_"
						  "SECRET/SERVER_TRAFFIC_SECRET_0"
						: "no CLIENT_HANDSHAKE_TRAFFIC_"
						  "SECRET/CLIENT_TRAFFIC_SECRET_0",
					cipher);
		if (hs->len != d->hash_len || ap->len != d->hash_len)
			return fail_new(d, why, DEC_TLS_WHY_NO_KEYS, err,
					PE_INVAL,
					"secret length does not fit the suite",
					cipher);
		memcpy(d->secret, ap->secret, d->hash_len);
		if (traffic_keys(d, hs->secret) < 0)
			return fail_new(d, why, DEC_TLS_WHY_ERROR, err,
					PE_NOMEM, "HKDF failed", cipher);
		return d;
	}
	const struct kl_entry *ms = kl_find(kl, client_random, KL_MASTER);
	if (!ms)
		return fail_new(d, why, DEC_TLS_WHY_NO_KEYS, err, PE_NOTFOUND,
				"no CLIENT_RANDOM line", cipher);
	size_t iv_len = su->aead == AEAD_CHACHA ? NONCE_LEN : 4;
	uint8_t kb[2 * MAX_KEY + 2 * NONCE_LEN];
	size_t kb_len = 2 * d->key_len + 2 * iv_len;
	if (key_block(d, ms->secret, client_random, server_random, kb,
		      kb_len) < 0) {
		OPENSSL_cleanse(kb, sizeof(kb));
		return fail_new(d, why, DEC_TLS_WHY_ERROR, err, PE_NOMEM,
				"TLS1-PRF failed", cipher);
	}
	size_t k = from_server ? d->key_len : 0;
	memcpy(d->key, kb + k, d->key_len);
	size_t v = 2 * d->key_len + (from_server ? iv_len : 0);
	memcpy(d->iv, kb + v, iv_len);
	OPENSSL_cleanse(kb, sizeof(kb));
	d->stage = ST_APP;
	return d;
}

/*
 * AEAD open: 1 authenticated (plaintext in out), 0 not, PE_NOMEM when
 * OpenSSL fails for another reason.
 */
static int aead_open(struct dec_tls_decrypt *d, const uint8_t *nonce,
		     const uint8_t *aad, size_t aad_len, const uint8_t *ct,
		     size_t ct_len, const uint8_t *tag, uint8_t *out)
{
	EVP_CIPHER_CTX *c = d->ctx;
	int n = 0, n2 = 0;
	if (EVP_DecryptInit_ex(c, d->cipher, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, NONCE_LEN, NULL) !=
		    1 ||
	    EVP_DecryptInit_ex(c, NULL, NULL, d->key, nonce) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
		return PE_NOMEM;
	if (ct_len > 0 && EVP_DecryptUpdate(c, out, &n, ct, (int)ct_len) != 1)
		return PE_NOMEM;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
				(void *)tag) != 1)
		return PE_NOMEM;
	return EVP_DecryptFinal_ex(c, out + n, &n2) > 0 ? 1 : 0;
}

static void seq_nonce(const struct dec_tls_decrypt *d, uint8_t nonce[12])
{
	memcpy(nonce, d->iv, NONCE_LEN);
	for (int i = 0; i < 8; i++)
		nonce[NONCE_LEN - 1 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

/*
 * TLS 1.3 handshake plaintext: follow message headers (they may span
 * records) and say whether a Finished (20) or a KeyUpdate (24) began here.
 */
static void hs_walk(struct dec_tls_decrypt *d, const uint8_t *p, size_t n,
		    bool *finished, bool *key_update)
{
	struct cur c = cur_make(p, n);
	while (cur_left(&c) > 0) {
		if (d->hs_rem > 0) {
			size_t k = cur_left(&c) < d->hs_rem ? cur_left(&c)
							     : d->hs_rem;
			cur_skip(&c, k);
			d->hs_rem -= (uint32_t)k;
			continue;
		}
		d->hs_hdr[d->hs_hdr_have++] = cur_u8(&c);
		if (d->hs_hdr_have < 4)
			continue;
		d->hs_hdr_have = 0;
		struct cur h = cur_make(d->hs_hdr, 4);
		uint8_t t = cur_u8(&h);
		uint32_t hi = cur_u8(&h);
		d->hs_rem = hi << 16 | cur_be16(&h);
		if (t == 20)
			*finished = true;
		else if (t == 24)
			*key_update = true;
	}
}

static int open13(struct dec_tls_decrypt *d, struct cur *rec, uint8_t type,
		  const uint8_t *hdr, size_t body_len, uint8_t *inner)
{
	if (type != DEC_TLS_APPDATA)
		return PE_INVAL;
	if (body_len < TAG_LEN + 1 || body_len - TAG_LEN > PT_MAX)
		return 0;
	size_t ct_len = body_len - TAG_LEN;
	const uint8_t *ct = cur_bytes(rec, ct_len);
	const uint8_t *tag = cur_bytes(rec, TAG_LEN);
	if (!ct || !tag)
		return PE_INVAL;
	uint8_t nonce[NONCE_LEN];
	seq_nonce(d, nonce);
	int rc = aead_open(d, nonce, hdr, DEC_TLS_HDR, ct, ct_len, tag, d->pt);
	if (rc <= 0)
		return rc;
	d->seq++;
	size_t n = ct_len;
	while (n > 0 && d->pt[n - 1] == 0)
		n--;
	if (n == 0)
		return 0; /* no content type: RFC 8446 5.4 says abort */
	*inner = d->pt[n - 1];
	d->last_len = n - 1;
	if (*inner == DEC_TLS_HANDSHAKE) {
		bool fin = false, ku = false;
		hs_walk(d, d->pt, d->last_len, &fin, &ku);
		/* a key change ends its record (RFC 8446 5.1) */
		if (d->stage == ST_HANDSHAKE && fin) {
			d->stage = ST_APP;
			d->hs_rem = 0;
			d->hs_hdr_have = 0;
			if (traffic_keys(d, d->secret) < 0)
				return PE_NOMEM;
		} else if (d->stage == ST_APP && ku) {
			uint8_t next[MAX_SECRET];
			if (expand_label(d, d->secret, "traffic upd", next,
					 d->hash_len) < 0)
				return PE_NOMEM;
			memcpy(d->secret, next, d->hash_len);
			OPENSSL_cleanse(next, sizeof(next));
			if (traffic_keys(d, d->secret) < 0)
				return PE_NOMEM;
		}
	}
	return 1;
}

static int open12(struct dec_tls_decrypt *d, struct cur *rec, uint8_t type,
		  uint16_t version, size_t body_len, uint8_t *inner)
{
	if (type == DEC_TLS_CCS)
		return PE_INVAL;
	bool gcm = d->suite->aead != AEAD_CHACHA;
	size_t over = TAG_LEN + (gcm ? 8 : 0);
	if (body_len < over || body_len - over > PT_MAX)
		return 0;
	size_t ct_len = body_len - over;
	uint8_t nonce[NONCE_LEN];
	if (gcm) {
		const uint8_t *expl = cur_bytes(rec, 8);
		if (!expl)
			return PE_INVAL;
		memcpy(nonce, d->iv, 4);
		memcpy(nonce + 4, expl, 8);
	} else {
		seq_nonce(d, nonce);
	}
	const uint8_t *ct = cur_bytes(rec, ct_len);
	const uint8_t *tag = cur_bytes(rec, TAG_LEN);
	if (!ct || !tag)
		return PE_INVAL;
	uint8_t aad[13];
	for (int i = 0; i < 8; i++)
		aad[i] = (uint8_t)(d->seq >> (56 - 8 * i));
	aad[8] = type;
	aad[9] = (uint8_t)(version >> 8);
	aad[10] = (uint8_t)version;
	aad[11] = (uint8_t)(ct_len >> 8);
	aad[12] = (uint8_t)ct_len;
	int rc = aead_open(d, nonce, aad, sizeof(aad), ct, ct_len, tag, d->pt);
	if (rc <= 0)
		return rc;
	d->seq++;
	*inner = type;
	d->last_len = ct_len;
	return 1;
}

int dec_tls_decrypt_record(struct dec_tls_decrypt *d, const uint8_t *rec,
			   size_t len, uint8_t *inner, uint8_t *pt,
			   size_t *pt_len)
{
	if (!d || !rec || !inner || !pt_len || (*pt_len > 0 && !pt))
		return PE_INVAL;
	struct cur c = cur_make(rec, len);
	const uint8_t *hdr = c.p;
	uint8_t type = cur_u8(&c);
	uint16_t version = cur_be16(&c);
	uint16_t body_len = cur_be16(&c);
	if (c.st != DEC_OK || cur_left(&c) != body_len)
		return PE_INVAL;
	if (d->failed) {
		*pt_len = 0;
		return 0;
	}
	d->last_len = 0;
	int rc = d->suite->tls13
			 ? open13(d, &c, type, hdr, body_len, inner)
			 : open12(d, &c, type, version, body_len, inner);
	if (rc == PE_INVAL) {
		*pt_len = 0;
		return rc;
	}
	if (rc <= 0) {
		d->failed = true;
		d->last_len = 0;
		*pt_len = 0;
		return rc;
	}
	size_t n = d->last_len < *pt_len ? d->last_len : *pt_len;
	if (n)
		memcpy(pt, d->pt, n);
	*pt_len = n;
	return 1;
}

size_t dec_tls_decrypt_last_len(const struct dec_tls_decrypt *d)
{
	return d->last_len;
}

bool dec_tls_decrypt_in_app(const struct dec_tls_decrypt *d)
{
	return d->stage == ST_APP;
}

void dec_tls_decrypt_free(struct dec_tls_decrypt *d)
{
	if (!d)
		return;
	EVP_CIPHER_CTX_free(d->ctx);
	OPENSSL_clear_free(d, sizeof(*d));
}
