#include "dtbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* u-boot (board/raspberrypi/rpi/rpi.c) names the device tree after the
 * board revision; where the kernel ships it under another name, the first
 * of these that exists stands in. Downstream (Raspberry Pi) kernels use
 * bcm2710- names, and their firmware boots a 3A+ with the 3B+ tree. */
static const struct {
    const char *uboot;
    const char *from[3];
} aliases[] = {
    {"bcm2837-rpi-3-b.dtb", {"bcm2710-rpi-3-b.dtb"}},
    {"bcm2837-rpi-3-b-plus.dtb", {"bcm2710-rpi-3-b-plus.dtb"}},
    {"bcm2837-rpi-3-a-plus.dtb", {"bcm2710-rpi-3-b-plus.dtb"}},
    {"bcm2837-rpi-cm3.dtb", {"bcm2837-rpi-cm3-io3.dtb", "bcm2710-rpi-cm3.dtb"}},
    {"bcm2837-rpi-zero-2.dtb",
     {"bcm2837-rpi-zero-2-w.dtb", "bcm2710-rpi-zero-2-w.dtb", "bcm2710-rpi-zero-2.dtb"}},
};

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int is_board_dtb(const char *name)
{
    size_t len = strlen(name);
    return (strncmp(name, "bcm2837-", 8) == 0 || strncmp(name, "bcm2710-", 8) == 0) &&
           len > 12 && strcmp(name + len - 4, ".dtb") == 0;
}

/* Index of the first board device tree called name, or n. */
static size_t find(const struct lkb_input_file *dtbs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (is_board_dtb(base(dtbs[i].name)) && strcmp(base(dtbs[i].name), name) == 0)
            return i;
    return n;
}

static int add(struct rpi3_dtb_copy **out, size_t *n_out, size_t src, const char *dir,
               const char *name)
{
    struct rpi3_dtb_copy *c = realloc(*out, (*n_out + 1) * sizeof *c);
    if (!c)
        return -1;
    *out = c;
    size_t len = strlen(dir) + strlen(name) + 1;
    char *s = malloc(len);
    if (!s)
        return -1;
    snprintf(s, len, "%s%s", dir, name);
    c[(*n_out)++] = (struct rpi3_dtb_copy){src, s};
    return 0;
}

int rpi3_dtb_plan(const struct lkb_input_file *dtbs, size_t n, struct rpi3_dtb_copy **out,
                  size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    /* The same file twice in kernel.tar (another vendor directory) is
     * shipped once: find() returns the first. */
    for (int pass = 0; pass < 2; pass++) {
        const char *dir = pass ? "dtb/broadcom/" : "";
        for (size_t i = 0; i < n; i++) {
            const char *b = base(dtbs[i].name);
            if (is_board_dtb(b) && find(dtbs, n, b) == i && add(out, n_out, i, dir, b) < 0)
                goto oom;
        }
    }
    for (size_t a = 0; *n_out && a < sizeof aliases / sizeof *aliases; a++) {
        if (find(dtbs, n, aliases[a].uboot) < n)
            continue;
        for (size_t k = 0; k < 3 && aliases[a].from[k]; k++) {
            size_t i = find(dtbs, n, aliases[a].from[k]);
            if (i < n) {
                if (add(out, n_out, i, "dtb/broadcom/", aliases[a].uboot) < 0)
                    goto oom;
                break;
            }
        }
    }
    return 0;
oom:
    rpi3_dtb_plan_free(*out, *n_out);
    *out = NULL;
    *n_out = 0;
    return -1;
}

void rpi3_dtb_plan_free(struct rpi3_dtb_copy *copies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(copies[i].name);
    free(copies);
}
