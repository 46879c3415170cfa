/* lkb output-format plugin ABI, version 1.
 *
 * A format plugin is a shared object that exports exactly one entry symbol,
 * LKB_PLUGIN_ENTRY_V1 ("lkb_plugin_entry_v1"). lkb dlopen()s it, calls the
 * entry with the host's function table, and gets back a description of the
 * plugin and the formats it provides. The plugin links nothing of lkb: every
 * service it needs (logging, errors, progress, temporary files, reading files
 * of fetched images, disk helpers) comes through struct lkb_host_api.
 *
 * Compatibility rules (see docs/plugin-abi.md):
 *  - Every struct begins with `struct_size` (and the top-level ones with
 *    `abi_version`). Fields are only ever appended. A reader copies
 *    min(struct_size, sizeof) bytes and treats missing fields as zero/NULL.
 *  - A plugin built for another major ABI exports another entry symbol and
 *    is refused with a message naming the file; it is never called.
 *  - struct lkb_host_api is append-only: a plugin must check
 *    `api->struct_size` covers a member (LKB_API_HAS) before using members
 *    added after ABI 1.0.
 */
#ifndef LKB_PLUGIN_H
#define LKB_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LKB_PLUGIN_ABI_VERSION 1u
#define LKB_PLUGIN_ENTRY_V1 "lkb_plugin_entry_v1"

#if defined(__GNUC__)
#define LKB_PLUGIN_EXPORT __attribute__((visibility("default")))
#define LKB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LKB_PLUGIN_EXPORT
#define LKB_PRINTF(a, b)
#endif

/* Opaque per-build host context handed to every callback. */
typedef struct lkb_host lkb_host;

enum lkb_plugin_log_level {
    LKB_PLUGIN_LOG_ERROR = 0,
    LKB_PLUGIN_LOG_WARN = 1,
    LKB_PLUGIN_LOG_INFO = 2,
    LKB_PLUGIN_LOG_DEBUG = 3,
};

/* Return statuses of plugin callbacks and host functions. */
#define LKB_OK 0
#define LKB_FAIL (-1)

/* A key=value option for the format, from `-format-opt KEY=VALUE` on the
 * command line or the YAML `x-lkb-format-options` mapping. */
struct lkb_option {
    const char *key;
    const char *value;
};

/* A file the build hands to the plugin (a device tree, firmware, ...). */
struct lkb_input_file {
    const char *name; /* path relative to its origin, e.g. "broadcom/bcm2837-rpi-3-b.dtb" */
    const char *path; /* absolute path of a readable file on the host */
};

/* Everything a format plugin receives for one build (ABI 1). */
struct lkb_build_input {
    uint32_t struct_size;
    uint32_t abi_version;
    const char *format;      /* format name being built, e.g. "rpi3" */
    const char *arch;        /* OCI architecture: "amd64", "arm64", ... */
    const char *name;        /* base name of outputs (-name) */
    const char *output_dir;  /* directory for outputs (-dir); exists */
    const char *output_base; /* output_dir + "/" + name: write "<base>.<ext>" */
    const char *kernel_path; /* kernel image as the kernel image ships it */
    const char *initrd_path; /* initrd (compressed cpio), ucode prepended if any */
    const char *cmdline;     /* kernel command line from the YAML */
    uint64_t size_bytes;     /* -size, 0 when not given: plugin picks a default */
    const struct lkb_input_file *dtbs; /* device trees from kernel.tar boot/dtb/ */
    size_t n_dtbs;
    const struct lkb_option *options;
    size_t n_options;
    const char *rootfs_tar_path; /* the root file system as a tar, for disk formats */
};

/* Functions the host provides. Append-only; check LKB_API_HAS before using a
 * member newer than the ABI version you were built against. Strings returned
 * through out-parameters are owned by the caller and freed with api->free. */
struct lkb_host_api {
    uint32_t struct_size;
    uint32_t abi_version;

    /* Log a line at a level; the host adds the plugin's name. */
    void (*log)(lkb_host *host, enum lkb_plugin_log_level level, const char *fmt, ...)
        LKB_PRINTF(3, 4);
    /* Record the error that makes the current call fail. Returns LKB_FAIL. */
    int (*set_error)(lkb_host *host, const char *fmt, ...) LKB_PRINTF(2, 3);
    /* Report progress of a long step; total 0 means unknown. */
    void (*progress)(lkb_host *host, const char *what, uint64_t done, uint64_t total);
    /* Create an empty temporary directory that the host removes after the
     * build. *path_out is freed by the caller with api->free. */
    int (*make_temp_dir)(lkb_host *host, char **path_out);
    /* Read a whole regular file from a fetched image's flattened root file
     * system (all layers applied, whiteouts honoured). `image` is an image
     * reference as in the YAML; `path` has no leading slash. */
    int (*image_read_file)(lkb_host *host, const char *image, const char *path, void **data_out,
                           size_t *size_out);
    /* Unpack a directory of a fetched image (recursively) into dest_dir. */
    int (*image_extract_dir)(lkb_host *host, const char *image, const char *path,
                             const char *dest_dir);
    /* Look up a format option; NULL when absent. */
    const char *(*option)(lkb_host *host, const char *key);
    /* Write `size` bytes to `path` atomically (temp file + fsync + rename). */
    int (*write_file_atomic)(lkb_host *host, const char *path, const void *data, size_t size);
    /* Free memory returned by the host. */
    void (*free)(void *ptr);
};

#define LKB_API_HAS(api, member)                                                               \
    ((api)->struct_size >= offsetof(struct lkb_host_api, member) + sizeof((api)->member) &&     \
     (api)->member != NULL)

/* One output format provided by a plugin. */
struct lkb_format {
    uint32_t struct_size;
    const char *name;        /* unique across all loaded plugins, e.g. "rpi3" */
    const char *description; /* one line for `lkb formats` */
    const char *const *arches; /* NULL-terminated supported arches, NULL = any */
    /* Produce the output(s). Return LKB_OK, or LKB_FAIL after
     * api->set_error(). Must leave no partial output behind on failure. */
    int (*build)(const struct lkb_host_api *api, lkb_host *host,
                 const struct lkb_build_input *input);
};

/* What the entry point returns: static data owned by the plugin. */
struct lkb_plugin {
    uint32_t struct_size;
    uint32_t abi_version; /* must be LKB_PLUGIN_ABI_VERSION */
    const char *name;     /* short plugin name */
    const char *version;  /* plugin's own version string */
    const struct lkb_format *formats;
    size_t n_formats;
};

/* The single exported entry. Return NULL to decline loading (after logging
 * why through api->log). */
typedef const struct lkb_plugin *(*lkb_plugin_entry_v1_fn)(const struct lkb_host_api *api);

/* Convenience for plugin authors: declares the entry with the right name,
 * linkage and visibility. */
#define LKB_PLUGIN_DEFINE_ENTRY(fn_body_name)                                                  \
    LKB_PLUGIN_EXPORT const struct lkb_plugin *lkb_plugin_entry_v1(                            \
        const struct lkb_host_api *api);                                                       \
    LKB_PLUGIN_EXPORT const struct lkb_plugin *lkb_plugin_entry_v1(                            \
        const struct lkb_host_api *api)                                                        \
    {                                                                                          \
        return fn_body_name(api);                                                              \
    }

#ifdef __cplusplus
}
#endif

#endif
