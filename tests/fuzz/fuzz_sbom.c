/* libFuzzer target: an SBOM attestation comes from the registry. Its
 * in-toto statement must never crash, leak or hang lkb: it is added to an
 * SBOM with an extraction prefix taken from the input, which is rendered
 * (both namespace kinds); a refused statement names the image and digest
 * and leaves the document as it was. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sbom/sbom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REF "fuzz/img:1"
#define DIGEST "sha256:0000000000000000000000000000000000000000000000000000000000000000"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A statement as is (the seeds: the .intoto.json files of tests/data/sbom) under a
     * container prefix; otherwise the first line (up to 64 bytes) is the
     * prefix and the rest the statement. */
    char prefix[65] = "containers/onboot/000-x/rootfs";
    const char *stmt = (const char *)data;
    if (size && data[0] != '{') {
        size_t cut = 0;
        while (cut < size && cut < 64 && data[cut] != '\n')
            cut++;
        memcpy(prefix, data, cut);
        prefix[cut] = '\0';
        stmt += cut < size ? cut + 1 : cut;
    }
    size_t len = size - (size_t)(stmt - (const char *)data);

    struct lkb_sbom *s = lkb_sbom_new();
    if (!s)
        return 0;
    struct lkb_error err;
    char *before = NULL, *after = NULL;
    size_t n;
    if (lkb_sbom_render(s, -1, &before, &n, &err) < 0)
        abort();
    if (lkb_sbom_add_statement(s, stmt, len, REF, DIGEST, prefix, &err) < 0) {
        if (err.kind != LKB_ERR_INTERNAL && (!strstr(err.msg, REF) || !strstr(err.msg, DIGEST)))
            abort(); /* every error names the image and the attestation */
        if (lkb_sbom_render(s, -1, &after, &n, &err) < 0 || strcmp(before, after) != 0)
            abort(); /* a refused statement adds nothing */
    } else {
        if (lkb_sbom_render(s, -1, &after, &n, &err) < 0)
            abort();
        free(after);
        after = NULL;
        if (lkb_sbom_render(s, 0, &after, &n, &err) < 0)
            abort();
    }
    free(before);
    free(after);
    lkb_sbom_free(s);
    char *j = lkb_sbom_path_join(prefix, prefix);
    free(j);
    return 0;
}
