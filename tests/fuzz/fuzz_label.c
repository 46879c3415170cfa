/* libFuzzer target: an image config comes from the registry. Its JSON and
 * its org.mobyproject.config label (YAML) must never crash, leak or hang
 * lkb: the label is parsed from the config when the input is JSON, and the
 * raw input is parsed as a label as well. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void label(const char *text)
{
    json_t *out = NULL;
    struct lkb_error err;
    if (lkb_config_parse_label(text, "fuzz/img:1", &out, &err) < 0) {
        if (err.kind == LKB_ERR_CONFIG &&
            strncmp(err.msg, "label org.mobyproject.config of fuzz/img:1", 42) != 0)
            abort(); /* every label error says which image */
    }
    json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    label(text);
    json_t *cfg = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    const char *l = json_string_value(json_object_get(
        json_object_get(json_object_get(cfg, "config"), "Labels"), "org.mobyproject.config"));
    if (l)
        label(l);
    json_decref(cfg);
    free(text);
    return 0;
}
