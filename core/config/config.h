/* LinuxKit YAML configuration (spec: yaml.md; our dialect: docs/yaml.md).
 *
 * Files are parsed with libyaml into a located tree, validated against
 * LinuxKit's schema by tables (schema.c) and turned into jansson values
 * whose keys are exactly the YAML keys, so the runtime-config generator and
 * the label parser share one representation. Every JSON value remembers the
 * file:line:col it came from (lkb_config_where), so errors found after
 * loading (at build time) are still located.
 *
 * All errors of a file are collected; loading fails with every diagnostic
 * in the error message, one "file:line:col: message" per line. */
#ifndef LKB_CONFIG_CONFIG_H
#define LKB_CONFIG_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/error.h"

struct lkb_config_loc {
    /* node, or for true/false/null (jansson singletons, one pointer for
     * every such value) the member key of parent. */
    const json_t *node;
    const json_t *parent;
    const char *key; /* static (a schema key) */
    const char *file; /* interned, owned by the config */
    int line, col;
};

struct lkb_config {
    /* The merged model. Arrays are never NULL; kernel is an object (empty
     * when no file had a kernel section). Image strings are as written. */
    json_t *kernel;
    json_t *init;     /* strings */
    json_t *onboot;   /* image entry objects */
    json_t *onshutdown;
    json_t *services;
    json_t *volumes;  /* volume objects */
    json_t *files;    /* file objects */

    /* Locations of every value, for late errors. */
    struct lkb_config_loc *locs;
    size_t n_locs, cap_locs;
    char **names; /* interned file names */
    size_t n_names;

    /* Diagnostics of the last failed load (also joined into err). */
    char **diags;
    size_t n_diags;
};

struct lkb_config *lkb_config_new(void);
void lkb_config_free(struct lkb_config *cfg);

/* Parse, validate and merge one document (yaml.md §1, §11). name is used in
 * messages. On any error nothing is merged. */
int lkb_config_load_buffer(struct lkb_config *cfg, const char *name, const char *buf, size_t len,
                           struct lkb_error *err);

/* Same for a file path, or "-" for standard input. */
int lkb_config_load_file(struct lkb_config *cfg, const char *path, struct lkb_error *err);

/* "file:line:col" of a value from the config (or "?" when unknown) into buf.
 * true, false and null are shared values: locate those with
 * lkb_config_where_key. */
const char *lkb_config_where(const struct lkb_config *cfg, const json_t *node, char *buf,
                             size_t len);
/* Location of the value of key in object obj (any type). */
const char *lkb_config_where_key(const struct lkb_config *cfg, const json_t *obj,
                                 const char *key, char *buf, size_t len);

/* Canonical image reference (yaml.md §13) of an image string. */
int lkb_config_canonical_image(const char *image, char **out, struct lkb_error *err);

/* uid/gid resolution (yaml.md §12.3): integers as is; absent, "" and
 * "root" are 0; other strings are image entry names mapped to 100, 101, ...
 * in onboot, onshutdown, services order. */
int lkb_config_resolve_id(const struct lkb_config *cfg, const json_t *value, uint32_t *out,
                          struct lkb_error *err);

/* -dry-run: the merged configuration as LinuxKit prints it (its Moby struct
 * through go-yaml v3: 4-space indent, images as written), followed by an
 * empty line. */
int lkb_config_dump_yaml(const struct lkb_config *cfg, FILE *out, struct lkb_error *err);

/* files[].metadata: the merged configuration with canonical image names, as
 * LinuxKit writes it: "yaml" (go-yaml v2) or "json". *out is malloc'd. */
int lkb_config_metadata(const struct lkb_config *cfg, const char *kind, char **out, size_t *len,
                        struct lkb_error *err);



/* Parse an org.mobyproject.config image label (yaml.md §12.1) into an
 * object with image-entry keys; an empty or absent label gives NULL and 0.
 * `what` names the image in messages. */
int lkb_config_parse_label(const char *text, const char *what, json_t **out,
                           struct lkb_error *err);
/* An octal mode string ("0644", "755"); -1 if invalid. */
long lkb_config_parse_mode(const char *s);
#endif
