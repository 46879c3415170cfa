/* The build's SPDX SBOM (build-and-outputs.md §9.2): the SPDX documents of
 * the images' buildkit attestations, merged into one SPDX 2.3 document
 * that goes into the root file system. docs/build.md "SBOM". */
#ifndef LKB_SBOM_SBOM_H
#define LKB_SBOM_SBOM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oci/oci.h"
#include "util/error.h"

/* ---- merging and writing (spdx.c) ---- */

struct lkb_sbom;

struct lkb_sbom *lkb_sbom_new(void);
void lkb_sbom_free(struct lkb_sbom *s);

/* Append the elements of SPDX document DOC (not stolen): packages, files,
 * licences, relationships, annotations and external document references,
 * in order, file names and package file names path-joined with PREFIX as
 * Go's filepath.Join does. documentDescribes and packages' hasFiles become
 * relationships, as LinuxKit's SPDX reader makes them. A malformed
 * document is an error prefixed with WHAT. */
int lkb_sbom_add_document(struct lkb_sbom *s, json_t *doc, const char *prefix, const char *what,
                          struct lkb_error *err);

/* The merged document, compact JSON and a newline (*out malloc'd). With
 * NOW < 0: created 2017-04-18T16:30:00Z and a namespace UUID derived from
 * the document's content, so the same inputs give the same bytes;
 * otherwise created = NOW (Unix seconds, UTC) and a random namespace UUID,
 * as LinuxKit does for every build. */
int lkb_sbom_render(const struct lkb_sbom *s, int64_t now, char **out, size_t *len,
                    struct lkb_error *err);

/* Go's filepath.Join(prefix, name) (malloc'd): the non-empty parts joined
 * with '/' and cleaned lexically; "" when both are empty. */
char *lkb_sbom_path_join(const char *prefix, const char *name);

/* ---- attestations (attest.c) ---- */

/* Add the SPDX document of one in-toto statement (BYTES, LEN) read from
 * DIGEST of image REF. */
int lkb_sbom_add_statement(struct lkb_sbom *s, const char *bytes, size_t len, const char *ref,
                           const char *digest, const char *prefix, struct lkb_error *err);

/* Add every SBOM attestation of IMAGE (lkb_oci_image_sboms) with PREFIX. */
int lkb_sbom_add_image(struct lkb_sbom *s, struct lkb_cache *cache,
                       const struct lkb_image *image, const char *prefix,
                       struct lkb_error *err);

/* ---- the build step (section.c) ---- */

struct lkb_build_state;

/* Unless -no-sbom: collect from the images LinuxKit collects from (kernel,
 * init, filesystem volumes, the first extraction of each container image;
 * not sections copied from -input-tar) and add the -sbom-output entry to
 * the root tree: 0644, root, default mtime, no LinuxKit PAX records. */
int lkb_sbom_section(struct lkb_build_state *b, struct lkb_error *err);

#endif
