/*
 * test_dec_tls_crypt.c: TLS record decryption (dec_tls_crypt.c) and the
 * whole-record mode of the record stream (dec_tls.c), on real secrets and
 * wire bytes: RFC 8448 section 3, "Simple 1-RTT Handshake"
 * (TLS_AES_128_GCM_SHA256).  The vectors are copied verbatim from the
 * RFC as hex text (parsed by unhex() below):
 *   the ClientHello and ServerHello (their randoms key the key log),
 *   the server's encrypted flight (EncryptedExtensions, Certificate,
 *   CertificateVerify, Finished; 679 bytes) and its plaintext,
 *   the server's NewSessionTicket, application data (50 bytes 00..31)
 *   and close_notify records; the client's Finished, application data
 *   and close_notify records; the four traffic secrets and the traffic
 *   keys and IVs derived from them.
 * Also: tampering, a key log with junk, missing secrets, unsupported
 * suites.  No published trace gives a TLS 1.2 AEAD record with its master
 * secret, so the TLS 1.2 vectors were captured once on loopback (OpenSSL
 * 3.0 `openssl s_server -www -tls1_2` with a throwaway self-signed RSA
 * key, curl with SSLKEYLOGFILE; records split out of `tshark -e
 * tcp.payload`); tshark decrypts the same capture to the same plaintext.
 * More suites against tshark: tests/integration/0650-tls-decrypt-vs-
 * tshark.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet/dec_tls.h"
#include "packet/dec_tls_crypt.h"

/* ---- RFC 8448 section 3 ------------------------------------------------- */
static const char ch_msg[] =
	"01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff"
	"a2 1a 8d 99 12 ec 18 a2 ef 62 83 02 4d ec e7 00 00 06 13 01 13 03 13"
	"02 01 00 00 91 00 00 00 0b 00 09 00 00 06 73 65 72 76 65 72 ff 01 00"
	"01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01"
	"03 01 04 00 23 00 00 00 33 00 26 00 24 00 1d 00 20 99 38 1d e5 60 e4"
	"bd 43 d2 3d 8e 43 5a 7d ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52"
	"9a af 2c 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03 02"
	"03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02 06 02 02 02"
	"00 2d 00 02 01 01 00 1c 00 02 40 01";
static const char client_random[] =
	"cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff a2 1a 8d 99 12 ec"
	"18 a2 ef 62 83 02 4d ec e7";
static const char sh_rec[] =
	"16 03 03 00 5a 02 00 00 56 03 03 a6 af 06 a4 12 18 60 dc 5e 6e 60 24"
	"9c d3 4c 95 93 0c 8a c5 cb 14 34 da c1 55 77 2e d3 e2 69 28 00 13 01"
	"00 00 2e 00 33 00 24 00 1d 00 20 c9 82 88 76 11 20 95 fe 66 76 2b db"
	"f7 c6 72 e1 56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f 00 2b 00"
	"02 03 04";
static const char server_random[] =
	"a6 af 06 a4 12 18 60 dc 5e 6e 60 24 9c d3 4c 95 93 0c 8a c5 cb 14 34"
	"da c1 55 77 2e d3 e2 69 28";
static const char flight_rec[] =
	"17 03 03 02 a2 d1 ff 33 4a 56 f5 bf f6 59 4a 07 cc 87 b5 80 23 3f 50 0f"
	"45 e4 89 e7 f3 3a f3 5e df 78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca"
	"07 61 2e f9 f9 45 cb 96 0b 40 68 90 51 23 ea 78 b1 11 b4 29 ba 91 91 cd"
	"05 d2 a3 89 28 0f 52 61 34 aa dc 7f c7 8c 4b 72 9d f8 28 b5 ec f7 b1 3b"
	"d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79 02 07 16 cf b9 b1 18 3e"
	"f3 ab 20 e3 7d 57 a6 b9 d7 47 76 09 ae e6 e1 22 a4 cf 51 42 73 25 25 0c"
	"7d 0e 50 92 89 44 4c 9b 3a 64 8f 1d 71 03 5d 2e d6 5b 0e 3c dd 0c ba e8"
	"bf 2d 0b 22 78 12 cb b3 60 98 72 55 cc 74 41 10 c4 53 ba a4 fc d6 10 92"
	"8d 80 98 10 e4 b7 ed 1a 8f d9 91 f0 6a a6 24 82 04 79 7e 36 a6 a7 3b 70"
	"a2 55 9c 09 ea d6 86 94 5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8"
	"94 41 ac 66 27 2f d8 fb 33 0e f8 19 05 79 b3 68 45 96 c9 60 bd 59 6e ea"
	"52 0a 56 a8 d6 50 f5 63 aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e a5 e2 2f"
	"44 15 cf 95 38 d5 1a 20 0c 27 03 42 72 96 8a 26 4e d6 54 0c 84 83 8d 89"
	"f7 2c 24 46 1a ad 6d 26 f5 9e ca ba 9a cb bb 31 7b 66 d9 02 f4 f2 92 a3"
	"6a c1 b6 39 c6 37 ce 34 31 17 b6 59 62 22 45 31 7b 49 ee da 0c 62 58 f1"
	"00 d7 d9 61 ff b1 38 64 7e 92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e"
	"1b 7a 6c 71 78 af 36 87 90 18 e3 f2 52 10 7f 24 3d 24 3d c7 33 9d 56 84"
	"c8 b0 37 8b f3 02 44 da 8c 87 c8 43 f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c"
	"f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4 61 e6 6f 99 88 2b d8 9f"
	"c5 08 00 be cc a6 2d 6c 74 11 6d bd 29 72 fd a1 fa 80 f8 5d f8 81 ed be"
	"5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69 18 a3 96 fa 48 a1 81 d6 b6"
	"fa 4f 9d 62 d5 13 af bb 99 2f 2b 99 2f 67 f8 af e6 7f 76 91 3f a3 88 cb"
	"56 30 c8 ca 01 e0 c6 5d 11 c6 6a 1e 2a c4 c8 59 77 b7 c7 a6 99 9b bf 10"
	"dc 35 ae 69 f5 51 56 14 63 6c 0b 9b 68 c1 9e d2 e3 1c 0b 3b 66 76 30 38"
	"eb ba 42 f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97 8c 31 7f c9 fa 66 a7 3f"
	"60 f0 50 4d e9 3b 5b 84 5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd d5 02 78"
	"40 16 e4 b3 be 7e f0 4d da 49 f4 b4 40 a3 0c b5 d2 af 93 98 28 fd 4a e3"
	"79 4e 44 f9 4d f5 a6 31 ed e4 2c 17 19 bf da bf 02 53 fe 51 75 be 89 8e"
	"75 0e dc 53 37 0d 2b";
/* its plaintext: EncryptedExtensions, Certificate, CertificateVerify,
 * Finished (657 bytes) */
static const char flight_pt[] =
	"08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01"
	"01 02 01 03 01 04 00 1c 00 02 40 01 00 00 00 00"
	"0b 00 01 b9 00 00 01 b5 00 01 b0 30 82 01 ac 30 82 01 15 a0 03 02 01 02"
	"02 01 02 30 0d 06 09 2a 86 48 86 f7 0d 01 01 0b 05 00 30 0e 31 0c 30 0a"
	"06 03 55 04 03 13 03 72 73 61 30 1e 17 0d 31 36 30 37 33 30 30 31 32 33"
	"35 39 5a 17 0d 32 36 30 37 33 30 30 31 32 33 35 39 5a 30 0e 31 0c 30 0a"
	"06 03 55 04 03 13 03 72 73 61 30 81 9f 30 0d 06 09 2a 86 48 86 f7 0d 01"
	"01 01 05 00 03 81 8d 00 30 81 89 02 81 81 00 b4 bb 49 8f 82 79 30 3d 98"
	"08 36 39 9b 36 c6 98 8c 0c 68 de 55 e1 bd b8 26 d3 90 1a 24 61 ea fd 2d"
	"e4 9a 91 d0 15 ab bc 9a 95 13 7a ce 6c 1a f1 9e aa 6a f9 8c 7c ed 43 12"
	"09 98 e1 87 a8 0e e0 cc b0 52 4b 1b 01 8c 3e 0b 63 26 4d 44 9a 6d 38 e2"
	"2a 5f da 43 08 46 74 80 30 53 0e f0 46 1c 8c a9 d9 ef bf ae 8e a6 d1 d0"
	"3e 2b d1 93 ef f0 ab 9a 80 02 c4 74 28 a6 d3 5a 8d 88 d7 9f 7f 1e 3f 02"
	"03 01 00 01 a3 1a 30 18 30 09 06 03 55 1d 13 04 02 30 00 30 0b 06 03 55"
	"1d 0f 04 04 03 02 05 a0 30 0d 06 09 2a 86 48 86 f7 0d 01 01 0b 05 00 03"
	"81 81 00 85 aa d2 a0 e5 b9 27 6b 90 8c 65 f7 3a 72 67 17 06 18 a5 4c 5f"
	"8a 7b 33 7d 2d f7 a5 94 36 54 17 f2 ea e8 f8 a5 8c 8f 81 72 f9 31 9c f3"
	"6b 7f d6 c5 5b 80 f2 1a 03 01 51 56 72 60 96 fd 33 5e 5e 67 f2 db f1 02"
	"70 2e 60 8c ca e6 be c1 fc 63 a4 2a 99 be 5c 3e b7 10 7c 3c 54 e9 b9 eb"
	"2b d5 20 3b 1c 3b 84 e0 a8 b2 f7 59 40 9b a3 ea c9 d9 1d 40 2d cc 0c c8"
	"f8 96 12 29 ac 91 87 b4 2b 4d e1 00 00"
	"0f 00 00 84 08 04 00 80 5a 74 7c 5d 88 fa 9b d2 e5 5a b0 85 a6 10 15 b7"
	"21 1f 82 4c d4 84 14 5a b3 ff 52 f1 fd a8 47 7b 0b 7a bc 90 db 78 e2 d3"
	"3a 5c 14 1a 07 86 53 fa 6b ef 78 0c 5e a2 48 ee aa a7 85 c4 f3 94 ca b6"
	"d3 0b be 8d 48 59 ee 51 1f 60 29 57 b1 54 11 ac 02 76 71 45 9e 46 44 5c"
	"9e a5 8c 18 1e 81 8e 95 b8 c3 fb 0b f3 27 84 09 d3 be 15 2a 3d a5 04 3e"
	"06 3d da 65 cd f5 ae a2 0d 53 df ac d4 2f 74 f3"
	"14 00 00 20 9b 9b 14 1d 90 63 37 fb d2 cb dc e7 1d f4 de da 4a b4 2c 30"
	"95 72 cb 7f ff ee 54 54 b7 8f 07 18";
static const char nst_rec[] =
	"17 03 03 00 de 3a 6b 8f 90 41 4a 97 d6 95 9c 34 87 68 0d e5 13 4a 2b 24"
	"0e 6c ff ac 11 6e 95 d4 1d 6a f8 f6 b5 80 dc f3 d1 1d 63 c7 58 db 28 9a"
	"01 59 40 25 2f 55 71 3e 06 1d c1 3e 07 88 91 a3 8e fb cf 57 53 ad 8e f1"
	"70 ad 3c 73 53 d1 6d 9d a7 73 b9 ca 7f 2b 9f a1 b6 c0 d4 a3 d0 3f 75 e0"
	"9c 30 ba 1e 62 97 2a c4 6f 75 f7 b9 81 be 63 43 9b 29 99 ce 13 06 46 15"
	"13 98 91 d5 e4 c5 b4 06 f1 6e 3f c1 81 a7 7c a4 75 84 00 25 db 2f 0a 77"
	"f8 1b 5a b0 5b 94 c0 13 46 75 5f 69 23 2c 86 51 9d 86 cb ee ac 87 aa c3"
	"47 d1 43 f9 60 5d 64 f6 50 db 4d 02 3e 70 e9 52 ca 49 fe 51 37 12 1c 74"
	"bc 26 97 68 7e 24 87 46 d6 df 35 30 05 f3 bc e1 86 96 12 9c 81 53 55 6b"
	"3b 6c 67 79 b3 7b f1 59 85 68 4f";
static const char s_app_rec[] =
	"17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc"
	"32 25 d0 5f 82 aa 1b 36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8"
	"fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d";
static const char s_alert_rec[] =
	"17 03 03 00 13 b5 8f d6 71 66 eb f5 99 d2 47 20 cf be 7e fa 7a 88 64 a9";
static const char c_fin_rec[] =
	"17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44 a7 1e 21 9c 56 cc 77 b0"
	"51 7f e9 b9 3c 7a 4b fc 44 d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c"
	"ae ac ab 68 67 d7 26 c4 05 46";
static const char c_app_rec[] =
	"17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea"
	"42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b"
	"62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4";
static const char c_alert_rec[] =
	"17 03 03 00 13 c9 87 27 60 65 56 66 b7 4d 7f f1 15 3e fd 6d b6 d0 b0 e3";
#define S_HS "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
#define C_HS "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"
#define S_AP "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"
#define C_AP "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"
#define CR "cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7"

/* ---- TLS 1.2: openssl s_server -www -tls1_2 / curl, captured once ------- */
/* ECDHE-RSA-AES128-GCM-SHA256 (0xc02f), then ECDHE-RSA-CHACHA20-POLY1305
 * (0xcca8): the hello randoms, the key log's master secret, the client's
 * Finished, request and close_notify and the server's Finished records. */
static const char t12_gcm_cr[] =
	"2e9ec2125aeb4e1762af49a8eadf3bb928b926d0d474454886a55fd9f9732605";
static const char t12_gcm_sr[] =
	"bf79484046e266c918de87177d93706bdaffd475194bbd62aeb9bde43a351683";
static const char t12_gcm_ms[] =
	"a6e96e744c92ae69cc153af1bcb53f37669b2069a0b3fff05a7ebf84228e1f0b"
	"ebc0c50d132a003eb6fa20de8657f1f7";
static const char t12_gcm_c_fin[] =
	"1603030028f26a17324fd0e7b08ab3aee4528194cfe1c6ad96120122aa3caf1d"
	"d6938d040138fc6060380ff312";
static const char t12_gcm_c_req[] =
	"1703030067f26a17324fd0e7b112dfbaedeca041feb0a60a505b1caef15c429a"
	"1132c8bfd791c46d26820e29f516399af0c9fc00aa3a442bccb6e6d4cd2fe362"
	"ec5799c3f12a454ede2cab3a77670a0e22fc2ddd67e081f4bd1b4f10821f8804"
	"9e61ef9f65bf6c8f36fdc590";
static const char t12_gcm_c_alert[] =
	"150303001af26a17324fd0e7b297f8bb42d47a0140a18f46b6b477ac8069b4";
static const char t12_gcm_s_fin[] =
	"160303002860c5f479e752adbaa189dd753eb563dd669d10e1496bfc5221ac44"
	"5b07bac287877e2cc2c4567555";
static const char t12_chacha_cr[] =
	"77d37158605b16ade9068998bb43149b66034e70b2f03fa10093876d9464ff04";
static const char t12_chacha_sr[] =
	"aae05709dac1385cb8805577ede870d7e213de4d3d22df7ad137400904e64068";
static const char t12_chacha_ms[] =
	"3955ed1da49b8043c5ff5e70964d37637944ee8502201a901e4b19900de4cda2"
	"f276f0d26b7b2d0f3c307e8c156d50bf";
static const char t12_chacha_c_fin[] =
	"160303002026a28a825bfff5f8abc5d86aa136f9bb73623784382cf7cf79b50e"
	"110c485191";
static const char t12_chacha_c_req[] =
	"170303005f34e1eeff0397cdc7592ad0b856c3ffbaf75a955a9aef7d47b1df52"
	"51e9f2e21dfd3c6e29d46b0d09f21d398d10b694f97e193504a91a65139eb6e6"
	"a69bb631a2d1bd258f86970b6f42dcb733b643b17e064f8a9fc47c23d7a01c18"
	"45e0bbd8";
static const char t12_chacha_c_alert[] =
	"1503030012017a064ba69383770778416a534a4756f610";
static const char t12_chacha_s_fin[] =
	"1603030020445563dbbf57097ee59874e100f6471b4fa30b7dea43451fcd245e"
	"4bae4281a7";

/* Whitespace-separated hex into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (; *s; s++) {
		int v;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			assert_true(n < cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	return n;
}

static const char keylog_text[] =
	"# RFC 8448 section 3, and junk around it\n"
	"\n"
	"SERVER_HANDSHAKE_TRAFFIC_SECRET " CR " " S_HS "\n"
	"CLIENT_HANDSHAKE_TRAFFIC_SECRET " CR " " C_HS "\r\n"
	"EXPORTER_SECRET " CR " " S_AP "\n"
	"CLIENT_RANDOM zz " S_AP "\n"
	"CLIENT_RANDOM " CR "\n"
	"SERVER_TRAFFIC_SECRET_0 " CR " " S_AP "00\n"
	"garbage\n"
	"  SERVER_TRAFFIC_SECRET_0\t" CR " " S_AP "  \n"
	"CLIENT_TRAFFIC_SECRET_0 " CR " " C_AP;

static struct dec_tls_keylog *keylog(void)
{
	struct errbuf err = { "" };
	struct dec_tls_keylog *kl =
		dec_tls_keylog_parse(keylog_text, strlen(keylog_text), &err);
	assert_non_null(kl);
	return kl;
}

static void test_expand_label(void **state)
{
	(void)state;
	uint8_t secret[32], key[16], iv[12], want[16];
	unhex(S_HS, secret, sizeof(secret));
	assert_int_equal(dec_tls_expand_label(0x1301, secret, "key", key, 16),
			 0);
	assert_int_equal(dec_tls_expand_label(0x1301, secret, "iv", iv, 12), 0);
	unhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc", want, 16);
	assert_memory_equal(key, want, 16);
	unhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30", want, 12);
	assert_memory_equal(iv, want, 12);
	unhex(S_AP, secret, sizeof(secret));
	assert_int_equal(dec_tls_expand_label(0x1301, secret, "key", key, 16),
			 0);
	assert_int_equal(dec_tls_expand_label(0x1301, secret, "iv", iv, 12), 0);
	unhex("9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56", want, 16);
	assert_memory_equal(key, want, 16);
	unhex("cf 78 2b 88 dd 83 54 9a ad f1 e9 84", want, 12);
	assert_memory_equal(iv, want, 12);
	unhex(C_HS, secret, sizeof(secret));
	assert_int_equal(dec_tls_expand_label(0x1301, secret, "key", key, 16),
			 0);
	unhex("db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01", want, 16);
	assert_memory_equal(key, want, 16);
	assert_int_equal(dec_tls_expand_label(0xc02f, secret, "key", key, 16),
			 PE_INVAL);
}

static void test_keylog_junk(void **state)
{
	(void)state;
	struct dec_tls_keylog *kl = keylog();
	struct dec_tls_keylog_stats st;
	dec_tls_keylog_stats(kl, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.ignored, 2); /* EXPORTER_SECRET, garbage */
	assert_int_equal(st.bad, 3);     /* zz, no secret, odd length */
	assert_int_equal(st.dropped, 0);
	/* more text: a second Decryption Secrets Block */
	struct errbuf err = { "" };
	const char more[] = "CLIENT_RANDOM " CR " " S_AP
			    "0123456789abcdef0123456789abcdef\n";
	assert_int_equal(dec_tls_keylog_add(kl, more, strlen(more), &err), 0);
	dec_tls_keylog_stats(kl, &st);
	assert_int_equal(st.entries, 5);
	dec_tls_keylog_free(kl);
	dec_tls_keylog_free(NULL);
	/* empty text: an empty log */
	kl = dec_tls_keylog_parse("", 0, &err);
	assert_non_null(kl);
	dec_tls_keylog_stats(kl, &st);
	assert_int_equal(st.entries, 0);
	dec_tls_keylog_free(kl);
}

static void test_missing_and_unsupported(void **state)
{
	(void)state;
	struct dec_tls_keylog *kl = keylog();
	uint8_t cr[32], sr[32];
	unhex(client_random, cr, 32);
	unhex(server_random, sr, 32);
	struct errbuf err = { "" };
	enum dec_tls_why why = DEC_TLS_WHY_OK;
	/* another connection */
	uint8_t other[32];
	memcpy(other, cr, 32);
	other[31] ^= 1;
	assert_null(dec_tls_decrypt_new(kl, other, sr, 0x0304, 0x1301, true,
					&why, &err));
	assert_int_equal(why, DEC_TLS_WHY_NO_KEYS);
	assert_non_null(strstr(err.msg, "SERVER_HANDSHAKE"));
	/* TLS 1.2 needs CLIENT_RANDOM, which this log lacks */
	assert_null(dec_tls_decrypt_new(kl, cr, sr, 0x0303, 0xc02f, false,
					&why, &err));
	assert_int_equal(why, DEC_TLS_WHY_NO_KEYS);
	/* the SHA-384 suite does not fit 32-byte secrets */
	assert_null(dec_tls_decrypt_new(kl, cr, sr, 0x0304, 0x1302, true,
					&why, &err));
	assert_int_equal(why, DEC_TLS_WHY_NO_KEYS);
	/* CCM, CBC, a TLS 1.2 suite offered as 1.3, TLS 1.1 */
	const uint16_t bad[][2] = { { 0x0304, 0x1304 }, { 0x0303, 0xc013 },
				    { 0x0304, 0xc02f }, { 0x0303, 0x1301 },
				    { 0x0302, 0xc02f } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = DEC_TLS_WHY_OK;
		assert_null(dec_tls_decrypt_new(kl, cr, sr, bad[i][0],
						bad[i][1], true, &why, &err));
		assert_int_equal(why, DEC_TLS_WHY_UNSUPPORTED);
	}
	assert_null(dec_tls_decrypt_new(NULL, cr, sr, 0x0304, 0x1301, true,
					NULL, NULL));
	dec_tls_keylog_free(kl);
}

/* Decrypt one record; returns the plaintext length. */
static size_t open_rec(struct dec_tls_decrypt *d, const char *hex,
		       uint8_t want_inner, uint8_t *pt, size_t cap)
{
	uint8_t rec[1024];
	size_t n = unhex(hex, rec, sizeof(rec));
	uint8_t inner = 0;
	size_t pt_len = cap;
	assert_int_equal(dec_tls_decrypt_record(d, rec, n, &inner, pt,
						&pt_len), 1);
	assert_int_equal(inner, want_inner);
	assert_int_equal(dec_tls_decrypt_last_len(d), pt_len);
	return pt_len;
}

static void test_server_direction(void **state)
{
	(void)state;
	struct dec_tls_keylog *kl = keylog();
	uint8_t cr[32], sr[32], pt[1024], want[1024];
	unhex(client_random, cr, 32);
	unhex(server_random, sr, 32);
	struct errbuf err = { "" };
	enum dec_tls_why why = DEC_TLS_WHY_ERROR;
	struct dec_tls_decrypt *d = dec_tls_decrypt_new(
		kl, cr, sr, 0x0304, 0x1301, true, &why, &err);
	assert_non_null(d);
	assert_int_equal(why, DEC_TLS_WHY_OK);
	assert_false(dec_tls_decrypt_in_app(d));
	/* the flight, byte for byte; its Finished switches keys */
	size_t n = open_rec(d, flight_rec, DEC_TLS_HANDSHAKE, pt, sizeof(pt));
	assert_int_equal(n, 657);
	assert_int_equal(unhex(flight_pt, want, sizeof(want)), 657);
	assert_memory_equal(pt, want, 657);
	assert_true(dec_tls_decrypt_in_app(d));
	/* the ticket precedes the response */
	n = open_rec(d, nst_rec, DEC_TLS_HANDSHAKE, pt, sizeof(pt));
	assert_int_equal(n, 205);
	assert_int_equal(pt[0], 4); /* NewSessionTicket */
	/* a short copy: the first 8 bytes of the 50 */
	uint8_t rec[256], inner = 0;
	size_t rn = unhex(s_app_rec, rec, sizeof(rec));
	size_t pt_len = 8;
	assert_int_equal(dec_tls_decrypt_record(d, rec, rn, &inner, pt,
						&pt_len), 1);
	assert_int_equal(inner, DEC_TLS_APPDATA);
	assert_int_equal(pt_len, 8);
	assert_int_equal(dec_tls_decrypt_last_len(d), 50);
	for (int i = 0; i < 8; i++)
		assert_int_equal(pt[i], i);
	n = open_rec(d, s_alert_rec, DEC_TLS_ALERT, pt, sizeof(pt));
	assert_int_equal(n, 2);
	assert_int_equal(pt[0], 1); /* warning */
	assert_int_equal(pt[1], 0); /* close_notify */
	/* not one whole record: nothing consumed */
	pt_len = sizeof(pt);
	assert_int_equal(dec_tls_decrypt_record(d, rec, rn - 1, &inner, pt,
						&pt_len), PE_INVAL);
	const uint8_t ccs[] = { 20, 3, 3, 0, 1, 1 };
	assert_int_equal(dec_tls_decrypt_record(d, ccs, sizeof(ccs), &inner,
						pt, &pt_len), PE_INVAL);
	dec_tls_decrypt_free(d);
	dec_tls_keylog_free(kl);
}

static void test_client_direction(void **state)
{
	(void)state;
	struct dec_tls_keylog *kl = keylog();
	uint8_t cr[32], pt[1024];
	unhex(client_random, cr, 32);
	/* TLS 1.3 needs no server random */
	struct dec_tls_decrypt *d = dec_tls_decrypt_new(
		kl, cr, NULL, 0x0304, 0x1301, false, NULL, NULL);
	assert_non_null(d);
	size_t n = open_rec(d, c_fin_rec, DEC_TLS_HANDSHAKE, pt, sizeof(pt));
	assert_int_equal(n, 36);
	assert_int_equal(pt[0], 20); /* Finished */
	n = open_rec(d, c_app_rec, DEC_TLS_APPDATA, pt, sizeof(pt));
	assert_int_equal(n, 50);
	for (int i = 0; i < 50; i++)
		assert_int_equal(pt[i], i);
	n = open_rec(d, c_alert_rec, DEC_TLS_ALERT, pt, sizeof(pt));
	assert_int_equal(n, 2);
	dec_tls_decrypt_free(d);
	dec_tls_keylog_free(kl);
}

static void test_tampered(void **state)
{
	(void)state;
	struct dec_tls_keylog *kl = keylog();
	uint8_t cr[32], rec[1024], pt[1024], inner = 0;
	unhex(client_random, cr, 32);
	/* one flipped bit of ciphertext */
	struct dec_tls_decrypt *d = dec_tls_decrypt_new(
		kl, cr, NULL, 0x0304, 0x1301, true, NULL, NULL);
	assert_non_null(d);
	size_t n = unhex(flight_rec, rec, sizeof(rec));
	rec[100] ^= 0x01;
	size_t pt_len = sizeof(pt);
	assert_int_equal(dec_tls_decrypt_record(d, rec, n, &inner, pt,
						&pt_len), 0);
	assert_int_equal(pt_len, 0);
	/* then the direction is not trusted, even for a good record */
	rec[100] ^= 0x01;
	pt_len = sizeof(pt);
	assert_int_equal(dec_tls_decrypt_record(d, rec, n, &inner, pt,
						&pt_len), 0);
	dec_tls_decrypt_free(d);
	/* a tampered header (it is the additional data) */
	d = dec_tls_decrypt_new(kl, cr, NULL, 0x0304, 0x1301, true, NULL,
				NULL);
	rec[2] = 0x01;
	pt_len = sizeof(pt);
	assert_int_equal(dec_tls_decrypt_record(d, rec, n, &inner, pt,
						&pt_len), 0);
	dec_tls_decrypt_free(d);
	/* a missed record: the ticket first, at sequence 0 */
	d = dec_tls_decrypt_new(kl, cr, NULL, 0x0304, 0x1301, true, NULL,
				NULL);
	n = unhex(nst_rec, rec, sizeof(rec));
	pt_len = sizeof(pt);
	assert_int_equal(dec_tls_decrypt_record(d, rec, n, &inner, pt,
						&pt_len), 0);
	dec_tls_decrypt_free(d);
	/* the client's keys on the server's records */
	d = dec_tls_decrypt_new(kl, cr, NULL, 0x0304, 0x1301, false, NULL,
				NULL);
	n = unhex(flight_rec, rec, sizeof(rec));
	pt_len = sizeof(pt);
	assert_int_equal(dec_tls_decrypt_record(d, rec, n, &inner, pt,
						&pt_len), 0);
	dec_tls_decrypt_free(d);
	dec_tls_keylog_free(kl);
}

static void t12_case(uint16_t cipher, const char *cr_hex, const char *sr_hex,
		     const char *ms_hex, const char *c_fin, const char *c_req,
		     const char *c_alert, const char *s_fin)
{
	char text[256];
	snprintf(text, sizeof(text), "CLIENT_RANDOM %s %s\n", cr_hex, ms_hex);
	struct errbuf err = { "" };
	struct dec_tls_keylog *kl =
		dec_tls_keylog_parse(text, strlen(text), &err);
	assert_non_null(kl);
	uint8_t cr[32], sr[32], pt[1024];
	unhex(cr_hex, cr, 32);
	unhex(sr_hex, sr, 32);
	enum dec_tls_why why = DEC_TLS_WHY_ERROR;
	struct dec_tls_decrypt *d = dec_tls_decrypt_new(
		kl, cr, sr, 0x0303, cipher, false, &why, &err);
	assert_non_null(d);
	assert_int_equal(why, DEC_TLS_WHY_OK);
	size_t n = open_rec(d, c_fin, DEC_TLS_HANDSHAKE, pt, sizeof(pt));
	assert_int_equal(n, 16);
	assert_int_equal(pt[0], 20); /* Finished, 12 bytes of verify_data */
	assert_int_equal(pt[3], 12);
	n = open_rec(d, c_req, DEC_TLS_APPDATA, pt, sizeof(pt));
	assert_true(n > 16);
	assert_memory_equal(pt, "GET / HTTP/1.1\r\n", 16);
	n = open_rec(d, c_alert, DEC_TLS_ALERT, pt, sizeof(pt));
	assert_int_equal(n, 2);
	assert_int_equal(pt[1], 0); /* close_notify */
	dec_tls_decrypt_free(d);
	/* the server direction; the client's keys do not open it */
	d = dec_tls_decrypt_new(kl, cr, sr, 0x0303, cipher, true, NULL, NULL);
	n = open_rec(d, s_fin, DEC_TLS_HANDSHAKE, pt, sizeof(pt));
	assert_int_equal(n, 16);
	assert_int_equal(pt[0], 20);
	dec_tls_decrypt_free(d);
	d = dec_tls_decrypt_new(kl, cr, sr, 0x0303, cipher, false, NULL, NULL);
	uint8_t rec[256], inner = 0;
	size_t rn = unhex(s_fin, rec, sizeof(rec));
	size_t pt_len = sizeof(pt);
	assert_int_equal(dec_tls_decrypt_record(d, rec, rn, &inner, pt,
						&pt_len), 0);
	dec_tls_decrypt_free(d);
	/* swapped randoms: another key block */
	d = dec_tls_decrypt_new(kl, cr, cr, 0x0303, cipher, false, NULL, NULL);
	rn = unhex(c_fin, rec, sizeof(rec));
	pt_len = sizeof(pt);
	assert_int_equal(dec_tls_decrypt_record(d, rec, rn, &inner, pt,
						&pt_len), 0);
	dec_tls_decrypt_free(d);
	dec_tls_keylog_free(kl);
}

static void test_tls12(void **state)
{
	(void)state;
	t12_case(0xc02f, t12_gcm_cr, t12_gcm_sr, t12_gcm_ms, t12_gcm_c_fin,
		 t12_gcm_c_req, t12_gcm_c_alert, t12_gcm_s_fin);
	t12_case(0xcca8, t12_chacha_cr, t12_chacha_sr, t12_chacha_ms,
		 t12_chacha_c_fin, t12_chacha_c_req, t12_chacha_c_alert,
		 t12_chacha_s_fin);
}

/* ---- the record stream, whole records, into the decryptor ---------------- */

struct sink {
	struct dec_tls_decrypt *d;
	struct dec_tls_keylog *kl;
	uint8_t cr[32];
	int n, n_whole;
	uint8_t inner[16];
	uint8_t first_hs[16];
	size_t len[16];
	uint8_t sr[32];
	bool have_sh;
};

static void on_rec(const struct dec_tls_record *r, void *ctx)
{
	struct sink *s = ctx;
	assert_true(s->n < 16);
	int i = s->n++;
	s->len[i] = r->whole_len;
	if (!r->whole)
		return;
	s->n_whole++;
	assert_int_equal(r->whole_len, DEC_TLS_HDR + r->length);
	assert_int_equal(r->whole[0], r->type);
	if (r->has_sh) {
		memcpy(s->sr, r->sh.random, 32);
		s->have_sh = true;
		s->d = dec_tls_decrypt_new(s->kl, s->cr, r->sh.random,
					   r->sh.version, r->sh.cipher, true,
					   NULL, NULL);
		assert_non_null(s->d);
		s->inner[i] = r->type;
		return;
	}
	assert_true(r->encrypted);
	uint8_t pt[8];
	size_t pt_len = sizeof(pt);
	assert_int_equal(dec_tls_decrypt_record(s->d, r->whole, r->whole_len,
						&s->inner[i], pt, &pt_len),
			 1);
	s->first_hs[i] = pt[0];
}

static void test_stream_whole(void **state)
{
	(void)state;
	static uint8_t wire[4096], buf[DEC_TLS_HDR + DEC_TLS_MAX_LEN];
	const char *recs[] = { sh_rec, flight_rec, nst_rec, s_app_rec,
			       s_alert_rec };
	size_t n = 0;
	for (size_t i = 0; i < 5; i++)
		n += unhex(recs[i], wire + n, sizeof(wire) - n);
	/* the ClientHello gives the client random */
	uint8_t ch[512] = { 22, 3, 1, 0, 0xc4 };
	size_t chn = 5 + unhex(ch_msg, ch + 5, sizeof(ch) - 5);
	struct dec_tls_stream *cs = malloc(sizeof(*cs));
	assert_non_null(cs);
	dec_tls_stream_init(cs);
	struct sink s;
	memset(&s, 0, sizeof(s));
	dec_tls_stream_feed(cs, ch, chn, 1, 0, NULL, NULL);
	assert_int_equal(cs->records, 1);
	/* the last record stays in the stream until the next header */
	assert_true(cs->rec.has_ch);
	unhex(client_random, s.cr, 32);
	assert_memory_equal(cs->rec.ch.random, s.cr, 32);
	assert_null(cs->rec.whole); /* no buffer given */
	free(cs);

	/* server bytes in odd pieces; every record whole and decrypted */
	s.kl = keylog();
	struct dec_tls_stream *ss = malloc(sizeof(*ss));
	assert_non_null(ss);
	dec_tls_stream_init(ss);
	dec_tls_stream_keep_records(ss, buf, sizeof(buf));
	for (size_t off = 0, k = 1; off < n; k = k * 7 % 97 + 1) {
		size_t m = n - off < k ? n - off : k;
		dec_tls_stream_feed(ss, wire + off, m, off, 0, on_rec, &s);
		off += m;
	}
	assert_int_equal(s.n, 5);
	assert_int_equal(s.n_whole, 5);
	assert_true(s.have_sh);
	uint8_t sr[32];
	unhex(server_random, sr, 32);
	assert_memory_equal(s.sr, sr, 32);
	assert_int_equal(s.inner[1], DEC_TLS_HANDSHAKE);
	assert_int_equal(s.first_hs[1], 8); /* EncryptedExtensions */
	assert_int_equal(s.inner[2], DEC_TLS_HANDSHAKE);
	assert_int_equal(s.first_hs[2], 4); /* NewSessionTicket */
	assert_int_equal(s.inner[3], DEC_TLS_APPDATA);
	assert_int_equal(s.inner[4], DEC_TLS_ALERT);
	assert_int_equal(s.len[1], 679);
	dec_tls_decrypt_free(s.d);

	/* a buffer too small for the flight: that record is not whole */
	dec_tls_stream_init(ss);
	dec_tls_stream_keep_records(ss, buf, 300);
	uint8_t one[1024];
	size_t on = unhex(flight_rec, one, sizeof(one));
	struct sink s2;
	memset(&s2, 0, sizeof(s2));
	s2.kl = s.kl;
	dec_tls_stream_feed(ss, one, on, 1, 0, on_rec, &s2);
	assert_int_equal(s2.n, 1);
	assert_int_equal(s2.n_whole, 0);
	/* a gap inside a record: it is dropped, the next one is whole */
	dec_tls_stream_init(ss);
	dec_tls_stream_keep_records(ss, buf, sizeof(buf));
	memset(&s2, 0, sizeof(s2));
	dec_tls_stream_feed(ss, one, 100, 1, 0, on_rec, &s2);
	dec_tls_stream_gap(ss);
	uint8_t alert[64];
	size_t an = unhex(s_alert_rec, alert, sizeof(alert));
	/* no decryptor here: count only */
	s2.kl = NULL;
	dec_tls_stream_feed(ss, alert, an, 2, 0, NULL, NULL);
	assert_int_equal(ss->records, 1);
	assert_int_equal(ss->truncated, 1);
	free(ss);
	dec_tls_keylog_free(s.kl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_label),
		cmocka_unit_test(test_keylog_junk),
		cmocka_unit_test(test_missing_and_unsupported),
		cmocka_unit_test(test_server_direction),
		cmocka_unit_test(test_client_direction),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_tls12),
		cmocka_unit_test(test_stream_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
