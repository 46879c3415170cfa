/* Target platforms ("linux/arm64/v8") and their selection from an index. */
#include <stdio.h>
#include <string.h>

#include "oci/internal.h"

int oci_platform_parse(const char *text, struct oci_platform *out, struct lkb_error *err)
{
    memset(out, 0, sizeof *out);
    char buf[96];
    if (!text || strlen(text) >= sizeof buf)
        return lkb_error_set(err, LKB_ERR_USAGE, "invalid platform '%s'", text ? text : "");
    memcpy(buf, text, strlen(text) + 1);
    char *parts[3];
    size_t n = 0;
    for (char *tok = buf;;) {
        char *sl = strchr(tok, '/');
        if (sl)
            *sl = '\0';
        if (!*tok || strlen(tok) >= sizeof out->arch || n == 3)
            return lkb_error_set(err, LKB_ERR_USAGE, "invalid platform '%s'", text);
        parts[n++] = tok;
        if (!sl)
            break;
        tok = sl + 1;
    }
    /* "linux/arm64" or "arm64/v8": an OS is recognised by name. */
    size_t k = 0;
    if (n == 3 || (n == 2 && (strcmp(parts[0], "linux") == 0 || strcmp(parts[0], "windows") == 0)))
        snprintf(out->os, sizeof out->os, "%s", parts[k++]);
    else
        snprintf(out->os, sizeof out->os, "linux");
    snprintf(out->arch, sizeof out->arch, "%s", parts[k++]);
    if (k < n)
        snprintf(out->variant, sizeof out->variant, "%s", parts[k]);
    return 0;
}

void oci_platform_format(const struct oci_platform *p, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}

/* Variant an entry has when it names none (arm64 images are v8). */
static const char *entry_variant(json_t *platform)
{
    const char *v = oci_json_str(platform, "variant");
    if (v && *v)
        return v;
    const char *arch = oci_json_str(platform, "architecture");
    return arch && strcmp(arch, "arm64") == 0 ? "v8" : "";
}

bool oci_platform_match(const struct oci_platform *want, json_t *platform)
{
    if (!json_is_object(platform))
        return false; /* LinuxKit crashes here (spec §15.3); we just skip */
    const char *os = oci_json_str(platform, "os");
    const char *arch = oci_json_str(platform, "architecture");
    if (!os || !arch || strcmp(os, want->os) != 0 || strcmp(arch, want->arch) != 0)
        return false;
    return !want->variant[0] || strcmp(want->variant, entry_variant(platform)) == 0;
}

json_t *oci_index_select(json_t *index, const struct oci_platform *want)
{
    json_t *m = json_object_get(index, "manifests"), *d, *any = NULL;
    size_t i;
    json_array_foreach(m, i, d)
    {
        const char *mt = oci_json_str(d, "mediaType");
        if (mt && !oci_mt_is_manifest(mt))
            continue;
        json_t *p = json_object_get(d, "platform");
        if (!oci_platform_match(want, p))
            continue;
        /* Without a requested variant, arm64 prefers the default v8. */
        if (want->variant[0] || strcmp(want->arch, "arm64") != 0 ||
            strcmp(entry_variant(p), "v8") == 0)
            return d;
        if (!any)
            any = d;
    }
    return any;
}
