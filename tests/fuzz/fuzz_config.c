/* libFuzzer target: the YAML loader must never crash, leak or hang on any
 * input, and must either load or fail with a located message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lkb_config *cfg = lkb_config_new();
    struct lkb_error err;
    if (lkb_config_load_buffer(cfg, "fuzz.yml", (const char *)data, size, &err) < 0) {
        if (err.kind == LKB_ERR_CONFIG && strncmp(err.msg, "fuzz.yml:", 9) != 0)
            abort(); /* every configuration error is located */
    } else {
        /* A loaded config can always be dumped and reloaded. */
        char *out = NULL;
        size_t len = 0;
        if (lkb_config_metadata(cfg, "yaml", &out, &len, &err) == 0)
            free(out);
    }
    lkb_config_free(cfg);
    return 0;
}
