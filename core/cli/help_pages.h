/* The manual pages as plain text, generated at build time from the scdoc
 * pages in docs/man (docs/man/CMakeLists.txt): `lkb help build` prints
 * the same text as `man lkb-build`. */
#ifndef LKB_CLI_HELP_PAGES_H
#define LKB_CLI_HELP_PAGES_H

struct lkb_help_page {
    const char *name; /* "lkb", "lkb-build", ... */
    const char *text;
};

/* Ends with {NULL, NULL}; empty when scdoc or groff was missing. */
extern const struct lkb_help_page lkb_help_pages[];

#endif
