/* Helpers for the toolkit tests: scratch directories, files, and running
 * the real checking tools. */
#ifndef LKB_DISK_TESTLIB_H
#define LKB_DISK_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

/* A fresh directory under $TMPDIR, removed by tl_cleanup(). */
const char *tl_tmpdir(void);
void tl_cleanup(void);

/* tmpdir + "/" + name, in a static ring of buffers (valid for a while). */
const char *tl_path(const char *name);

void tl_write(const char *path, const void *data, size_t len);
/* Whole file, malloc'd and NUL-terminated; *len may be NULL. */
char *tl_read(const char *path, size_t *len);
/* A new file of `bytes` (sparse, zeros); returns an O_RDWR fd. */
int tl_image(const char *path, uint64_t bytes);
int tl_same_file(const char *a, const char *b);

/* Run a shell command; its stdout+stderr are returned (malloc'd) and its
 * exit status in *status. */
char *tl_sh(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
