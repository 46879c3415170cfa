/* Small file-system helpers shared by every module: atomic writes, temp
 * directories, recursive removal. */
#ifndef LKB_UTIL_FS_H
#define LKB_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* mkdir -p. Existing directories are fine. */
int lkb_fs_mkdir_p(const char *path, mode_t mode, struct lkb_error *err);

/* Create a fresh directory under $TMPDIR (or /tmp) named PREFIX.XXXXXX.
 * *out is malloc'd. */
int lkb_fs_make_temp_dir(const char *prefix, char **out, struct lkb_error *err);
/* The same in parent (NULL: $TMPDIR), e.g. next to outputs so they can be
 * hard-linked rather than copied. */
int lkb_fs_make_temp_dir_in(const char *parent, const char *prefix, char **out,
                            struct lkb_error *err);

/* rm -rf without following symlinks. A missing path is not an error. */
int lkb_fs_remove_tree(const char *path, struct lkb_error *err);

/* Write data to path via a temporary file in the same directory, fsync
 * (not inside a registered temporary directory: lkb_temp_inside),
 * then rename: readers see the old file or the whole new one, never a
 * partial one. */
int lkb_fs_write_atomic(const char *path, const void *data, size_t size, mode_t mode,
                        struct lkb_error *err);

/* Write a then b (either may be empty) to path through a ".tmp-XXXXXX"
 * file in path's directory and a rename, mode 0644, without fsync: for
 * cache entries checked on use, where a crash costs a rebuild of the
 * entry, never wrong data (cache sweeps treat dot files as temporaries). */
int lkb_fs_write_unsynced(const char *path, const void *a, size_t a_len, const void *b,
                          size_t b_len, struct lkb_error *err);

/* write(2) all of data, retrying on EINTR and short writes. `what` names
 * the destination in the error. */
int lkb_fs_write_all(int fd, const void *data, size_t size, const char *what,
                     struct lkb_error *err);

/* The entry names of dir but "." and "..", only those keep() accepts when
 * keep is not NULL, sorted bytewise so callers walk them reproducibly.
 * *names and each name are malloc'd: free with lkb_fs_names_free. On
 * failure errno is opendir's (ENOENT for a missing dir). */
int lkb_fs_list_dir(const char *dir, int (*keep)(const char *name), char ***names, size_t *n,
                    struct lkb_error *err);
void lkb_fs_names_free(char **names, size_t n);

/* "a/b", malloc'd; NULL when out of memory. */
char *lkb_fs_join(const char *a, const char *b);

/* Read a whole regular file (anything else, a FIFO or a device, is refused
 * with an error naming it); *data is malloc'd and NUL-terminated (not
 * counted). */
int lkb_fs_read_file(const char *path, char **data, size_t *size, struct lkb_error *err);

/* Read fd to its end (hint: the expected size); like lkb_fs_read_file. */
int lkb_fs_read_fd(int fd, size_t hint, const char *what, char **data, size_t *size,
                   struct lkb_error *err);

/* Feed the regular file src to sink in 1 MiB pieces (never the whole file
 * in memory). A sink fills err and returns -1 to stop. */
typedef int (*lkb_fs_chunk_sink)(void *ctx, const char *buf, size_t n, struct lkb_error *err);
int lkb_fs_each_chunk(const char *src, lkb_fs_chunk_sink sink, void *ctx, struct lkb_error *err);

/* Copy len bytes of in, from offset off, to out at its position with
 * copy_file_range: the kernel copies (or shares extents) without the data
 * passing through this process. 0 when done; 1 when the kernel refuses
 * before a byte was written (another file system on an old kernel, a
 * pipe, an O_APPEND file): the caller copies by hand; -1 with errno set
 * after a part was copied, or on another error. */
int lkb_fs_copy_range(int in, off_t off, int out, size_t len);

/* Append the regular file src to fd (lkb_fs_copy_range, else streaming
 * through lkb_fs_each_chunk). dst names fd in errors. */
int lkb_fs_copy_into(int fd, const char *src, const char *dst, struct lkb_error *err);

/* Whether the regular files a and b hold the same bytes, answered only
 * when that is cheap: b (the file already there) wholly in the page
 * cache; false otherwise, or on any error. */
bool lkb_fs_same_cached(const char *a, const char *b);

/* A scratch file for data too large to keep in memory: created in $TMPDIR
 * (or /tmp) and already unlinked, so nothing is left behind whatever
 * happens to the process. Returns the fd. */
int lkb_fs_scratch_file(struct lkb_error *err);

/* An output file being written: data goes to "<path>.tmp-XXXXXX" in the
 * same directory; commit renames it into place, abort removes it, so a
 * failed build leaves nothing behind. */
struct lkb_atomic_file {
    int fd;
    char *final_path;
    char *tmp_path;
};

int lkb_atomic_file_open(struct lkb_atomic_file *f, const char *path, mode_t mode,
                         struct lkb_error *err);
int lkb_atomic_file_commit(struct lkb_atomic_file *f, struct lkb_error *err);
void lkb_atomic_file_abort(struct lkb_atomic_file *f);

#endif
