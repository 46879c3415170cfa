/* -decompress-kernel: gzip kernels, bzImage with gzip payload, refusals. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kernel/decompress.h"

static size_t gz(const void *in, size_t n, uint8_t *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t len = zs.total_out;
    deflateEnd(&zs);
    return len;
}

static const char payload[] = "this is the uncompressed kernel image, repeated repeated repeated";

Test(decompress, plain_gzip)
{
    uint8_t buf[512], *out;
    size_t n = gz(payload, sizeof payload, buf, sizeof buf), outlen;
    struct lkb_error err;
    cr_assert_eq(lkb_kernel_decompress(buf, n, &out, &outlen, &err), 0, "%s", err.msg);
    cr_assert_eq(outlen, sizeof payload);
    cr_assert_arr_eq(out, payload, sizeof payload);
    free(out);
}

/* A synthetic bzImage: 2 setup sectors + boot sector, payload at 0x80 into
 * the protected-mode part, followed by padding. */
static size_t make_bzimage(uint8_t *img, size_t cap, int gzip_payload, uint16_t version)
{
    memset(img, 0, cap);
    img[0x1f1] = 2; /* setup_sects: setup = 3 * 512 */
    img[0x1fe] = 0x55;
    img[0x1ff] = 0xaa;
    memcpy(img + 0x202, "HdrS", 4);
    img[0x206] = version & 0xff;
    img[0x207] = version >> 8;
    size_t off_rel = 0x80, off = 3 * 512 + off_rel;
    size_t plen;
    if (gzip_payload)
        plen = gz(payload, sizeof payload, img + off, cap - off - 64);
    else {
        memcpy(img + off, "\xfd" "7zXZ", 5); /* xz magic */
        plen = 5;
    }
    img[0x248] = off_rel & 0xff;
    img[0x249] = off_rel >> 8;
    img[0x24c] = plen & 0xff;
    img[0x24d] = (plen >> 8) & 0xff;
    return off + plen + 32; /* trailing bytes after the payload */
}

Test(decompress, bzimage_gzip_payload)
{
    static uint8_t img[8192];
    size_t n = make_bzimage(img, sizeof img, 1, 0x020f);
    uint8_t *out;
    size_t outlen;
    struct lkb_error err;
    cr_assert_eq(lkb_kernel_decompress(img, n, &out, &outlen, &err), 0, "%s", err.msg);
    cr_assert_eq(outlen, sizeof payload);
    cr_assert_arr_eq(out, payload, sizeof payload);
    free(out);
}

Test(decompress, bzimage_xz_payload_is_refused_with_offset)
{
    static uint8_t img[8192];
    size_t n = make_bzimage(img, sizeof img, 0, 0x020f);
    uint8_t *out = NULL;
    size_t outlen;
    struct lkb_error err;
    cr_assert_eq(lkb_kernel_decompress(img, n, &out, &outlen, &err), -1);
    cr_assert(strstr(err.msg, "unsupported bzImage payload format at offset 1664"), "%s", err.msg);
    cr_assert_null(out);
}

Test(decompress, old_boot_protocol_is_refused)
{
    static uint8_t img[8192];
    size_t n = make_bzimage(img, sizeof img, 1, 0x0207);
    uint8_t *out;
    size_t outlen;
    struct lkb_error err;
    cr_assert_eq(lkb_kernel_decompress(img, n, &out, &outlen, &err), -1);
    cr_assert(strstr(err.msg, "2.07 is too old"), "%s", err.msg);
}

Test(decompress, payload_outside_file_is_refused)
{
    static uint8_t img[8192];
    size_t n = make_bzimage(img, sizeof img, 1, 0x020f);
    img[0x24d] = 0x7f; /* huge length */
    uint8_t *out;
    size_t outlen;
    struct lkb_error err;
    cr_assert_eq(lkb_kernel_decompress(img, n, &out, &outlen, &err), -1);
    cr_assert(strstr(err.msg, "lies outside"), "%s", err.msg);
}

Test(decompress, unknown_format_and_truncated_gzip)
{
    uint8_t junk[1024] = {1, 2, 3};
    uint8_t *out;
    size_t outlen;
    struct lkb_error err;
    cr_assert_eq(lkb_kernel_decompress(junk, sizeof junk, &out, &outlen, &err), -1);
    cr_assert_str_eq(err.msg, "no compressed kernel or no supported format found");

    uint8_t buf[512];
    size_t n = gz(payload, sizeof payload, buf, sizeof buf);
    cr_assert_eq(lkb_kernel_decompress(buf, n / 2, &out, &outlen, &err), -1);
    cr_assert(strstr(err.msg, "corrupt or truncated"), "%s", err.msg);
}

/* Issue 15: a 1 MB gzip bomb as the kernel took 2 GB with
 * -decompress-kernel; it is refused at the ratio cap. */
Test(decompress, gzip_bomb_is_refused_at_the_cap, .timeout = 30)
{
    size_t raw = (size_t)256 << 20, chunk = 1 << 20;
    uint8_t *zeros = calloc(1, chunk);
    size_t cap = 2 << 20;
    uint8_t *bomb = malloc(cap);
    z_stream zs = {0};
    cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_out = bomb;
    zs.avail_out = (uInt)cap;
    for (size_t done = 0; done < raw; done += chunk) {
        zs.next_in = zeros;
        zs.avail_in = (uInt)chunk;
        cr_assert_eq(deflate(&zs, done + chunk < raw ? Z_NO_FLUSH : Z_FINISH),
                     done + chunk < raw ? Z_OK : Z_STREAM_END);
    }
    size_t blen = zs.total_out;
    deflateEnd(&zs);
    cr_assert_lt(blen, 300000, "bomb is %zu bytes", blen);
    uint8_t *out = NULL;
    size_t olen = 0;
    struct lkb_error err = {0};
    cr_assert_eq(lkb_kernel_decompress(bomb, blen, &out, &olen, &err), -1);
    cr_assert(strstr(err.msg, "refused as a decompression bomb"), "%s", err.msg);
    cr_assert_null(out);
    free(bomb);
    free(zeros);
}
