/* Extra CA certificates for registry TLS (LinuxKit's -cert-file): each file
 * is checked when it is given (readable, at least one PEM certificate) and
 * all of them travel with the system bundle as one in-memory PEM blob
 * (CURLOPT_CAINFO_BLOB), so they are added to the trusted roots instead of
 * replacing them, whatever libcurl's TLS backend does with CAINFO. */
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "oci/mirror.h"
#include "util/fs.h"

static struct oci_strlist files;

/* Number of certificates in a PEM text. */
static int count_certs(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    int n = 0;
    X509 *x;
    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        X509_free(x);
        n++;
    }
    BIO_free(b);
    ERR_clear_error(); /* the read that ends the loop leaves "no start line" */
    return n;
}

int lkb_oci_cert_file_add(const char *path, struct lkb_error *err)
{
    char *pem;
    size_t len;
    if (lkb_fs_read_file(path, &pem, &len, err) < 0) {
        if (err)
            err->kind = LKB_ERR_USAGE;
        return lkb_error_prefix(err, "-cert-file: ");
    }
    int n = len <= INT32_MAX ? count_certs(pem, len) : 0;
    free(pem);
    if (n == 0)
        return lkb_error_set(err, LKB_ERR_USAGE, "-cert-file %s: no PEM certificate in it", path);
    return oci_strlist_add(&files, path, err);
}

void lkb_oci_cert_files_reset(void) { oci_strlist_clear(&files); }

/* Append the file at PATH to *buf (a newline in between). */
static int append_file(char **buf, size_t *len, const char *path, bool must,
                       struct lkb_error *err)
{
    char *data;
    size_t n;
    struct lkb_error why;
    if (lkb_fs_read_file(path, &data, &n, &why) < 0) {
        if (!must)
            return 0;
        *err = why;
        return lkb_error_prefix(err, "CA certificates: ");
    }
    char *b = realloc(*buf, *len + n + 2);
    if (!b) {
        free(data);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    memcpy(b + *len, data, n);
    *len += n;
    b[(*len)++] = '\n';
    b[*len] = '\0';
    *buf = b;
    free(data);
    return 0;
}

/* libcurl's own default bundle, else OpenSSL's. */
static const char *system_bundle(void)
{
    static char path[4096];
    if (path[0])
        return path;
    const char *p = NULL;
#if LIBCURL_VERSION_NUM >= 0x075400 /* CURLINFO_CAINFO: 7.84 */
    CURL *e = curl_easy_init();
    char *v = NULL;
    if (e && curl_easy_getinfo(e, CURLINFO_CAINFO, &v) == CURLE_OK && v && strlen(v) < sizeof path)
        strcpy(path, v);
    if (e)
        curl_easy_cleanup(e);
#endif
    if (!path[0] && (p = X509_get_default_cert_file()) && strlen(p) < sizeof path)
        strcpy(path, p);
    return path;
}

int oci_ca_bundle(const char *extra, char **pem, size_t *len, struct lkb_error *err)
{
    *pem = NULL;
    *len = 0;
    if (!files.n && !extra)
        return 0;
    int rc = 0;
    for (size_t i = 0; i < files.n && rc == 0; i++)
        rc = append_file(pem, len, files.v[i], true, err);
    if (rc == 0 && extra)
        rc = append_file(pem, len, extra, true, err);
    if (rc == 0 && system_bundle()[0])
        rc = append_file(pem, len, system_bundle(), false, err);
    if (rc < 0) {
        free(*pem);
        *pem = NULL;
        *len = 0;
    }
    return rc;
}
