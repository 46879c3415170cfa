/* Parallel gzip: one valid member, same bytes whatever the thread count. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "initrd/pgzip.h"
#include "util/fs.h"

static unsigned char *compress_with(const unsigned char *data, size_t len, int threads,
                                    size_t *out_len)
{
    char path[] = "/tmp/lkb-pgzip-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    struct lkb_error err;
    struct lkb_pgzip *z = lkb_pgzip_new(fd, threads, 6);
    cr_assert_not_null(z);
    /* Odd write sizes cross block boundaries. */
    for (size_t off = 0; off < len;) {
        size_t n = len - off < 77777 ? len - off : 77777;
        cr_assert_eq(lkb_pgzip_write(z, data + off, n, &err), 0, "%s", err.msg);
        off += n;
    }
    cr_assert_eq(lkb_pgzip_finish(z, &err), 0, "%s", err.msg);
    close(fd);
    char *out;
    cr_assert_eq(lkb_fs_read_file(path, &out, out_len, &err), 0);
    unlink(path);
    return (unsigned char *)out;
}

static void check_roundtrip(const unsigned char *gz, size_t gzlen, const unsigned char *data,
                            size_t len)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(inflateInit2(&s, 16 + MAX_WBITS), Z_OK);
    unsigned char *out = malloc(len + 1);
    s.next_in = (Bytef *)gz;
    s.avail_in = (uInt)gzlen;
    s.next_out = out;
    s.avail_out = (uInt)(len + 1);
    cr_assert_eq(inflate(&s, Z_FINISH), Z_STREAM_END, "one gzip member, valid CRC and size");
    cr_assert_eq(s.total_out, len);
    cr_assert_eq(s.avail_in, 0, "nothing after the member");
    cr_assert(memcmp(out, data, len) == 0);
    inflateEnd(&s);
    free(out);
}

Test(pgzip, multi_block_roundtrip_and_thread_independent)
{
    size_t len = (3u << 20) + 12345;
    unsigned char *data = malloc(len);
    srand(42);
    for (size_t i = 0; i < len; i++)
        data[i] = (i / 4096) % 3 ? (unsigned char)("lkb initrd "[i % 11]) : (unsigned char)rand();
    size_t l1, l4;
    unsigned char *a = compress_with(data, len, 1, &l1);
    unsigned char *b = compress_with(data, len, 4, &l4);
    cr_assert_eq(l1, l4);
    cr_assert(memcmp(a, b, l1) == 0, "bytes must not depend on the thread count");
    cr_assert_lt(l1, len / 2, "the dictionary carry-over keeps it compressing");
    check_roundtrip(a, l1, data, len);
    free(a);
    free(b);
    free(data);
}

Test(pgzip, empty_input)
{
    size_t l;
    unsigned char *a = compress_with((const unsigned char *)"", 0, 2, &l);
    check_roundtrip(a, l, (const unsigned char *)"", 0);
    free(a);
}

Test(pgzip, exact_block_multiple)
{
    size_t len = 2u << 20;
    unsigned char *data = calloc(1, len);
    size_t l;
    unsigned char *a = compress_with(data, len, 2, &l);
    check_roundtrip(a, l, data, len);
    free(a);
    free(data);
}
