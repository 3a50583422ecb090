/*
 * x509util.c - structural X.509 building blocks shared by hierarchy.c and
 * issue.c.  Extensions are built from OpenSSL structures rather than from
 * X509V3 config strings: a config string would let a comma inside a device
 * id or URL add names of its own.
 */
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "ca/x509util.h"

const char *
ca_x509_digest_name(EVP_PKEY *key)
{
	int id = EVP_PKEY_get_base_id(key);

	if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448)
		return NULL;
	if (id == EVP_PKEY_EC && EVP_PKEY_get_bits(key) > 256)
		return "SHA384";
	return "SHA256";
}

int
ca_x509_sign(X509 *x, EVP_PKEY *key)
{
	EVP_MD_CTX *mctx;
	int rc = -1;

	if ((mctx = EVP_MD_CTX_new()) == NULL) {
		log_openssl("EVP_MD_CTX_new");
		return -1;
	}
	/* A NULL digest name selects pure EdDSA for Ed25519 keys. */
	if (EVP_DigestSignInit_ex(mctx, NULL, ca_x509_digest_name(key), NULL,
	    NULL, key, NULL) != 1) {
		log_openssl("EVP_DigestSignInit_ex");
		goto out;
	}
	if (X509_sign_ctx(x, mctx) <= 0) {
		log_openssl("X509_sign_ctx");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

int
ca_x509_set_validity(X509 *x, time_t nb, time_t na)
{
	if (ASN1_TIME_set(X509_getm_notBefore(x), nb) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), na) == NULL) {
		log_openssl("ASN1_TIME_set");
		return -1;
	}
	return 0;
}

int
ca_x509_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		log_openssl("ASN1_TIME_to_tm");
		return -1;
	}
	*out = timegm(&tm);
	return 0;
}

int
ca_x509_name_add(X509_NAME *n, int nid, const char *value)
{
	/* MBSTRING_UTF8 lets OpenSSL pick the type the attribute requires
	 * (PrintableString for countryName, UTF8String otherwise) and
	 * enforce its size bounds. */
	/* Not logged here: a device value that does not fit (too long,
	 * illegal for PrintableString) is the caller's to report. */
	if (X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8,
	    (const unsigned char *)value, -1, -1, 0) != 1)
		return -1;
	return 0;
}

int
ca_x509_gens_add(GENERAL_NAMES *g, int type, const char *value)
{
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;
	ASN1_OCTET_STRING *ip = NULL;

	if ((gn = GENERAL_NAME_new()) == NULL)
		goto fail;
	if (type == GEN_IPADD) {
		if ((ip = a2i_IPADDRESS(value)) == NULL)
			goto fail;
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
	} else if (type == GEN_DNS || type == GEN_URI) {
		if ((ia5 = ASN1_IA5STRING_new()) == NULL ||
		    ASN1_STRING_set(ia5, value, -1) != 1)
			goto fail;
		GENERAL_NAME_set0_value(gn, type, ia5);
	} else
		goto fail;
	/* gn now owns ip/ia5 */
	ip = NULL;
	ia5 = NULL;
	if (sk_GENERAL_NAME_push(g, gn) <= 0)
		goto fail;
	return 0;
fail:
	log_openssl("general name %d \"%s\"", type, value);
	ASN1_OCTET_STRING_free(ip);
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	return -1;
}

int
ca_x509_add_bc(X509 *x, int is_ca, int pathlen)
{
	BASIC_CONSTRAINTS *bc;
	int rc = -1;

	if ((bc = BASIC_CONSTRAINTS_new()) == NULL)
		goto out;
	bc->ca = is_ca ? 0xff : 0;
	if (pathlen >= 0) {
		if ((bc->pathlen = ASN1_INTEGER_new()) == NULL ||
		    ASN1_INTEGER_set(bc->pathlen, pathlen) != 1)
			goto out;
	}
	if (X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1,
	    X509V3_ADD_REPLACE) != 1)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		log_openssl("basicConstraints");
	BASIC_CONSTRAINTS_free(bc);
	return rc;
}

X509_EXTENSION *
ca_x509_ku_ext(unsigned bits)
{
	ASN1_BIT_STRING *bs;
	X509_EXTENSION *e = NULL;

	if ((bs = ASN1_BIT_STRING_new()) == NULL)
		goto out;
	for (int i = 0; i < 9; i++)
		if ((bits & (1u << i)) != 0 &&
		    ASN1_BIT_STRING_set_bit(bs, i, 1) != 1)
			goto out;
	e = X509V3_EXT_i2d(NID_key_usage, 1, bs);
out:
	if (e == NULL)
		log_openssl("keyUsage");
	ASN1_BIT_STRING_free(bs);
	return e;
}

X509_EXTENSION *
ca_x509_eku_ext(const int *nids, size_t n)
{
	EXTENDED_KEY_USAGE *eku;
	X509_EXTENSION *e = NULL;

	if ((eku = sk_ASN1_OBJECT_new_null()) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		ASN1_OBJECT *o = OBJ_nid2obj(nids[i]);

		/* OBJ_nid2obj gives a static object; the stack's free
		 * function leaves static objects alone. */
		if (o == NULL || sk_ASN1_OBJECT_push(eku, o) <= 0)
			goto out;
	}
	e = X509V3_EXT_i2d(NID_ext_key_usage, 0, eku);
out:
	if (e == NULL)
		log_openssl("extKeyUsage");
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return e;
}

/* SHA-1 over the subjectPublicKey BIT STRING of pubkey. */
static ASN1_OCTET_STRING *
key_id(X509_PUBKEY *pubkey)
{
	const unsigned char *pk;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	int pklen;
	ASN1_OCTET_STRING *id = NULL;

	if (pubkey == NULL ||
	    X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, pubkey) != 1 ||
	    EVP_Digest(pk, (size_t)pklen, md, &mdlen, EVP_sha1(), NULL) != 1)
		goto fail;
	if ((id = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(id, md, (int)mdlen) != 1)
		goto fail;
	return id;
fail:
	log_openssl("key identifier");
	ASN1_OCTET_STRING_free(id);
	return NULL;
}

int
ca_x509_add_ski(X509 *x)
{
	ASN1_OCTET_STRING *id;
	int rc = -1;

	if ((id = key_id(X509_get_X509_PUBKEY(x))) == NULL)
		return -1;
	if (X509_add1_ext_i2d(x, NID_subject_key_identifier, id, 0,
	    X509V3_ADD_REPLACE) != 1)
		log_openssl("subjectKeyIdentifier");
	else
		rc = 0;
	ASN1_OCTET_STRING_free(id);
	return rc;
}

X509_EXTENSION *
ca_x509_aki_ext(X509 *issuer)
{
	const ASN1_OCTET_STRING *ski;
	AUTHORITY_KEYID *akid;
	X509_EXTENSION *e = NULL;

	if ((akid = AUTHORITY_KEYID_new()) == NULL)
		goto out;
	if ((ski = X509_get0_subject_key_id(issuer)) != NULL)
		akid->keyid = ASN1_OCTET_STRING_dup(ski);
	else
		akid->keyid = key_id(X509_get_X509_PUBKEY(issuer));
	if (akid->keyid == NULL)
		goto out;
	e = X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid);
out:
	if (e == NULL)
		log_openssl("authorityKeyIdentifier");
	AUTHORITY_KEYID_free(akid);
	return e;
}

/* One AccessDescription (RFC 5280 4.2.2.1) pushed onto aia. */
static int
aia_push(AUTHORITY_INFO_ACCESS *aia, int method, const char *url)
{
	ACCESS_DESCRIPTION *ad;
	GENERAL_NAMES *g;

	if ((ad = ACCESS_DESCRIPTION_new()) == NULL)
		return -1;
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(method);
	/* Borrow the GENERAL_NAMES helper and move its one name over. */
	if ((g = GENERAL_NAMES_new()) == NULL ||
	    ca_x509_gens_add(g, GEN_URI, url) != 0) {
		GENERAL_NAMES_free(g);
		ACCESS_DESCRIPTION_free(ad);
		return -1;
	}
	GENERAL_NAME_free(ad->location);
	ad->location = sk_GENERAL_NAME_pop(g);
	GENERAL_NAMES_free(g);
	if (sk_ACCESS_DESCRIPTION_push(aia, ad) <= 0) {
		ACCESS_DESCRIPTION_free(ad);
		return -1;
	}
	return 0;
}

X509_EXTENSION *
ca_x509_aia_ext(const char *ocsp, const char *ca_issuers)
{
	AUTHORITY_INFO_ACCESS *aia;
	X509_EXTENSION *e = NULL;

	if ((aia = AUTHORITY_INFO_ACCESS_new()) == NULL)
		goto out;
	if (ocsp != NULL && aia_push(aia, NID_ad_OCSP, ocsp) != 0)
		goto out;
	if (ca_issuers != NULL &&
	    aia_push(aia, NID_ad_ca_issuers, ca_issuers) != 0)
		goto out;
	e = X509V3_EXT_i2d(NID_info_access, 0, aia);
out:
	if (e == NULL)
		log_openssl("authorityInfoAccess");
	AUTHORITY_INFO_ACCESS_free(aia);
	return e;
}

X509_EXTENSION *
ca_x509_dp_ext(int nid, const char *url)
{
	CRL_DIST_POINTS *dps;
	DIST_POINT *dp = NULL;
	X509_EXTENSION *e = NULL;

	if ((dps = CRL_DIST_POINTS_new()) == NULL ||
	    (dp = DIST_POINT_new()) == NULL ||
	    (dp->distpoint = DIST_POINT_NAME_new()) == NULL)
		goto out;
	dp->distpoint->type = 0;	/* fullName */
	if ((dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL ||
	    ca_x509_gens_add(dp->distpoint->name.fullname, GEN_URI, url) != 0)
		goto out;
	if (sk_DIST_POINT_push(dps, dp) <= 0)
		goto out;
	dp = NULL;	/* owned by dps */
	e = X509V3_EXT_i2d(nid, 0, dps);
out:
	if (e == NULL)
		log_openssl("%s", OBJ_nid2sn(nid));
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(dps);
	return e;
}

int
ca_x509_add_ext(X509 *x, X509_EXTENSION *e)
{
	if (e == NULL || X509_add_ext(x, e, -1) != 1) {
		log_openssl("X509_add_ext");
		return -1;
	}
	return 0;
}

int
ca_x509_add_ext_free(X509 *x, X509_EXTENSION *e)
{
	int rc = ca_x509_add_ext(x, e);

	X509_EXTENSION_free(e);
	return rc;
}

int
ca_x509_write_pem(BIO *bio, X509 *x)
{
	if (PEM_write_bio_X509(bio, x) != 1) {
		log_openssl("PEM_write_bio_X509");
		return -1;
	}
	return 0;
}

/* ---- RFC 2253 names --------------------------------------------------- */

int
ca_x509_name_rfc2253(const X509_NAME *n, char *out, size_t outlen)
{
	char buf[1024];
	size_t o = 0;
	int count = X509_NAME_entry_count(n), prev_set = -1;

	if (outlen == 0)
		return -1;
	/* RFC 2253 2.1: the last RDN first. */
	for (int i = count - 1; i >= 0; i--) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
		const unsigned char *d = ASN1_STRING_get0_data(v);
		const char *sn;
		int len = ASN1_STRING_length(v), t = ASN1_STRING_type(v);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));

		/* Multi-valued RDNs, unnamed attributes and string types
		 * that print other than as their bytes: the caller's
		 * general path. */
		if (X509_NAME_ENTRY_set(e) == prev_set || nid == NID_undef ||
		    (sn = OBJ_nid2sn(nid)) == NULL || (t != V_ASN1_UTF8STRING &&
		    t != V_ASN1_PRINTABLESTRING && t != V_ASN1_IA5STRING))
			return -1;
		prev_set = X509_NAME_ENTRY_set(e);
		if (o + strlen(sn) + 2 >= sizeof(buf))
			return -1;
		if (i != count - 1)
			buf[o++] = ',';
		memcpy(buf + o, sn, strlen(sn));
		o += strlen(sn);
		buf[o++] = '=';
		for (int j = 0; j < len; j++) {
			unsigned char c = d[j];

			/* Printable ASCII only; else the general path. */
			if (c < 0x20 || c > 0x7e || o + 3 >= sizeof(buf))
				return -1;
			/* 2.4: the specials, '#' first and space at
			 * either end get a backslash; as OpenSSL does, a
			 * one-character value counts as last only (so a
			 * lone '#' stays bare). */
			if (strchr(",+\"\\<>;", c) != NULL ||
			    (j == 0 && j != len - 1 && (c == '#' ||
			    c == ' ')) || (j == len - 1 && c == ' '))
				buf[o++] = '\\';
			buf[o++] = (char)c;
		}
	}
	buf[o] = '\0';
	snprintf(out, outlen, "%s", buf);
	return 0;
}

/* ---- writing DER by hand ---------------------------------------------- */

void
ca_dbuf_put(struct ca_dbuf *b, const void *d, size_t n)
{
	unsigned char *np;
	size_t ncap;

	if (b->failed || n == 0)
		return;
	if (n > b->cap - b->len) {
		/* Most of what is built here is one certificate: 2 KiB
		 * first means no regrowth for the usual one. */
		ncap = b->cap != 0 ? b->cap : 2048;
		while (ncap - b->len < n) {
			if (ncap > ((size_t)1 << 28)) {	/* certificates are KiB */
				b->failed = 1;
				return;
			}
			ncap *= 2;
		}
		if ((np = OPENSSL_realloc(b->p, ncap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

void
ca_dbuf_hdr(struct ca_dbuf *b, unsigned char tag, size_t len)
{
	unsigned char h[6];
	size_t n = 0;

	h[n++] = tag;
	if (len < 0x80) {
		h[n++] = (unsigned char)len;
	} else if (len <= 0xff) {
		h[n++] = 0x81;
		h[n++] = (unsigned char)len;
	} else if (len <= 0xffff) {
		h[n++] = 0x82;
		h[n++] = (unsigned char)(len >> 8);
		h[n++] = (unsigned char)len;
	} else if (len <= 0xffffff) {
		h[n++] = 0x83;
		h[n++] = (unsigned char)(len >> 16);
		h[n++] = (unsigned char)(len >> 8);
		h[n++] = (unsigned char)len;
	} else {
		b->failed = 1;	/* nothing we write comes near 16 MiB */
		return;
	}
	ca_dbuf_put(b, h, n);
}

void
ca_dbuf_tlv(struct ca_dbuf *b, unsigned char tag, const void *v, size_t n)
{
	ca_dbuf_hdr(b, tag, n);
	ca_dbuf_put(b, v, n);
}

void
ca_dbuf_clear(struct ca_dbuf *b)
{
	if (b == NULL)
		return;
	OPENSSL_free(b->p);
	memset(b, 0, sizeof(*b));
}
