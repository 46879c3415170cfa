/* lkb output-format plugin ABI, version 1.1 (backward compatible with 1.0).
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
 *  - Arrays the host hands over (option_values, dtb_files) have elements
 *    of the host's size: step with LKB_ELEM, never with `[i]`.
 *
 * Lifetimes: everything reachable from `input` (strings, arrays, files) is
 * valid only during the callback it was given to. Temporary directories
 * live until the whole build ends (all formats). Outputs are staged and
 * only appear in the output directory when every format succeeded.
 */
#ifndef LKB_PLUGIN_H
#define LKB_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LKB_PLUGIN_ABI_VERSION 1u /* major: part of the entry symbol */
#define LKB_PLUGIN_ABI_MINOR 1u   /* minor: what this header describes */
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

/* Why a call failed (1.1, api->set_error_kind); decides lkb's exit code. */
enum lkb_plugin_error_kind {
    LKB_PLUGIN_ERR_FAILED = 0, /* the format failed (exit 6); what set_error means */
    LKB_PLUGIN_ERR_USAGE = 1,  /* bad option value or unsupported input (exit 2) */
    LKB_PLUGIN_ERR_IO = 2,     /* local file system (exit 5) */
};

/* Type of a declared option (1.1); the host checks values before any fetch. */
enum lkb_option_type {
    LKB_OPT_STRING = 0, /* any text */
    LKB_OPT_BOOL = 1,   /* true/false/1/0; number is 0 or 1 */
    LKB_OPT_UINT = 2,   /* decimal integer; number holds it */
    LKB_OPT_SIZE = 3,   /* bytes: 4096, 64K, 512M, 2G; number holds bytes */
};

/* An option a format accepts (1.1): `-format-opt [FORMAT.]NAME=VALUE`. */
struct lkb_option_decl {
    uint32_t struct_size;
    uint32_t type;             /* enum lkb_option_type */
    const char *name;          /* 1-32 of [a-z0-9_-] */
    const char *default_value; /* NULL: unset unless given */
    const char *help;          /* one line for `lkb formats FORMAT` */
};

/* The value of one declared option for this build (1.1). */
struct lkb_option_value {
    uint32_t struct_size;
    uint32_t type;     /* enum lkb_option_type */
    const char *name;
    const char *value; /* as given, else the default, else NULL */
    uint64_t number;   /* parsed value of BOOL, UINT and SIZE options */
    uint32_t given;    /* 1 when set with -format-opt, 0 for the default */
};

/* ABI 1.0 element layouts, frozen (they have no struct_size and cannot
 * grow). Still filled for every plugin; 1.1 plugins prefer
 * option_values and dtb_files. */
struct lkb_option {
    const char *key;
    const char *value;
};
struct lkb_input_file {
    const char *name; /* path relative to its origin, e.g. "broadcom/bcm2837-rpi-3-b.dtb" */
    const char *path; /* absolute path of a readable file on the host */
};

/* A file the build hands to the plugin (1.1 layout). */
struct lkb_file {
    uint32_t struct_size;
    const char *name; /* path relative to its origin, e.g. "broadcom/bcm2837-rpi-3-b.dtb" */
    const char *path; /* absolute path of a readable file on the host */
};

/* Element i of a host array whose elements carry struct_size. */
#define LKB_ELEM(array, i)                                                                     \
    ((__typeof__(&(array)[0]))((const char *)(array) + (size_t)(i) * (array)[0].struct_size))

/* Inputs a format asks for (1.1, struct lkb_format.inputs). */
#define LKB_INPUT_ROOTFS_TAR 0x1u /* rootfs_tar_path: the root file system as a tar */

/* Everything a format plugin receives for one build, and (with the paths
 * NULL) for its plan-time check. */
struct lkb_build_input {
    uint32_t struct_size;
    uint32_t abi_version;
    const char *format;      /* format name being built, e.g. "rpi3" */
    const char *arch;        /* OCI architecture: "amd64", "arm64", ... */
    const char *name;        /* base name of outputs (-name) */
    const char *output_dir;  /* staging directory for outputs; exists. Its top-level
                                entries move to -dir when every format succeeded */
    const char *output_base; /* output_dir + "/" + name: write "<base>.<ext>" */
    const char *kernel_path; /* kernel image as the kernel image ships it */
    const char *initrd_path; /* initrd (compressed cpio), without microcode: see ucode_path */
    const char *cmdline;     /* kernel command line from the YAML */
    uint64_t size_bytes;     /* -size, 0 when not given: plugin picks a default */
    const struct lkb_input_file *dtbs; /* device trees from kernel.tar boot/dtb/ */
    size_t n_dtbs;
    const struct lkb_option *options;
    size_t n_options;
    const char *rootfs_tar_path; /* the root file system as a tar: always for 1.0
                                    plugins, for 1.1 only with LKB_INPUT_ROOTFS_TAR */
    /* ---- ABI 1.1 ---- */
    const char *final_dir;    /* -dir, where outputs appear after the commit (messages only) */
    void *format_data;        /* struct lkb_format.data of the format being built */
    const struct lkb_option_value *option_values; /* every declared option, LKB_ELEM */
    size_t n_option_values;
    const struct lkb_file *dtb_files; /* the dtbs again, 1.1 layout, LKB_ELEM */
    size_t n_dtb_files;
    int64_t source_date_epoch; /* the build's timestamp: $SOURCE_DATE_EPOCH or lkb's fixed one */
    uint8_t seed[32];          /* deterministic per (configuration, format, arch): derive
                                  GUIDs, serials, volume IDs from it, never from the clock */
    int is_check;              /* 1 in check(): paths are NULL, nothing is fetched yet */
    const char *ucode_path;    /* kernel ucode cpio to load before the initrd, NULL if none */
};

/* The value of declared option `name` in input->option_values, or NULL
 * (ABI 1.1; header-only, so plugins still link nothing of lkb). */
static inline const struct lkb_option_value *lkb_input_option(const struct lkb_build_input *in,
                                                              const char *name)
{
    if (in->struct_size < offsetof(struct lkb_build_input, n_option_values) + sizeof(size_t))
        return NULL;
    for (size_t i = 0; i < in->n_option_values; i++) {
        const struct lkb_option_value *v = LKB_ELEM(in->option_values, i);
        const char *a = v->name, *b = name;
        while (*a && *a == *b)
            a++, b++;
        if (*a == *b)
            return v;
    }
    return NULL;
}

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

    /* ---- ABI 1.1 ---- */
    /* set_error with a kind that decides the exit code. Returns LKB_FAIL. */
    int (*set_error_kind)(lkb_host *host, enum lkb_plugin_error_kind kind, const char *fmt, ...)
        LKB_PRINTF(3, 4);
    /* Create output file `name` (no '/', e.g. "sys.img") in the staging
     * directory and return a writable descriptor; the plugin closes it
     * before returning. The file appears as -dir/name only when every format
     * of the build succeeded (renamed, atomically per file). */
    int (*output_open)(lkb_host *host, const char *name, int *fd_out);
    /* Path of output `name` in the staging directory, for tools that write
     * to a path (mke2fs, xorriso). Free with api->free. */
    int (*output_path)(lkb_host *host, const char *name, char **path_out);
    /* In check() only: fetch this image in the build's single fetch phase,
     * so a bad reference fails before anything is built. Later
     * image_read_file/image_extract_dir calls must name declared images. */
    int (*require_image)(lkb_host *host, const char *image);
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
    /* Produce the output(s) in input->output_dir (the staging directory).
     * Return LKB_OK, or LKB_FAIL after api->set_error(). */
    int (*build)(const struct lkb_host_api *api, lkb_host *host,
                 const struct lkb_build_input *input);

    /* ---- ABI 1.1 ---- */
    void *data; /* handed back as input->format_data (one function, many formats) */
    /* Plan-time check, before anything is fetched or built (NULL: none).
     * Validate option values and arch, call api->require_image for extra
     * images. input->is_check is 1 and the paths are NULL. */
    int (*check)(const struct lkb_host_api *api, lkb_host *host,
                 const struct lkb_build_input *input);
    const struct lkb_option_decl *options; /* accepted options; anything else is refused */
    size_t n_options;
    uint32_t inputs; /* LKB_INPUT_* this format reads */
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
