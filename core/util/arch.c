#include "util/arch.h"

#include <string.h>
#include <sys/utsname.h>

static const struct {
    const char *oci, *uname;
} table[] = {
    {"amd64", "x86_64"},
    {"arm64", "aarch64"},
    {"riscv64", "riscv64"},
    {"s390x", "s390x"},
    {"ppc64le", "ppc64le"},
};

const char *lkb_arch_host(void)
{
    struct utsname u;
    if (uname(&u) == 0)
        for (size_t i = 0; i < sizeof table / sizeof *table; i++)
            if (strcmp(u.machine, table[i].uname) == 0)
                return table[i].oci;
    return "amd64";
}

const char *lkb_arch_to_uname(const char *oci_arch)
{
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcmp(oci_arch, table[i].oci) == 0 || strcmp(oci_arch, table[i].uname) == 0)
            return table[i].uname;
    return NULL;
}
