/* Architecture names: OCI/Go naming (amd64, arm64) and uname -m naming. */
#ifndef LKB_UTIL_ARCH_H
#define LKB_UTIL_ARCH_H

/* The host architecture in OCI naming. */
const char *lkb_arch_host(void);

/* uname -m form of an OCI arch ("amd64" -> "x86_64"), NULL if unknown. */
const char *lkb_arch_to_uname(const char *oci_arch);

#endif
