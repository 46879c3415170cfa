#include "isoimage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int iso_fail(struct isoimg *b, int ret, const char *what)
{
    return b->api->set_error(b->host, "%s: %s", what, iso_error_to_msg(ret));
}

void isoimg_stamp(IsoNode *node, mode_t mode, uid_t uid, gid_t gid, int64_t mtime)
{
    iso_node_set_permissions(node, mode);
    iso_node_set_uid(node, uid);
    iso_node_set_gid(node, gid);
    iso_node_set_mtime(node, (time_t)mtime);
    iso_node_set_atime(node, (time_t)mtime);
    iso_node_set_ctime(node, (time_t)mtime);
}

int isoimg_new(struct isoimg *b, const struct lkb_host_api *api, lkb_host *host,
               const char *volid, int64_t mtime)
{
    memset(b, 0, sizeof *b);
    b->api = api;
    b->host = host;
    b->mtime = mtime;
    int ret = iso_init();
    if (ret < 0)
        return api->set_error(host, "initialising libisofs: %s", iso_error_to_msg(ret));
    /* libisofs' own messages would go to lkb's stderr unprefixed: keep
     * only the fatal ones, the error returned says what failed. */
    iso_set_msgs_severities("NEVER", "FATAL", "lkb iso");
    if ((ret = iso_image_new(volid, &b->image)) < 0) {
        iso_finish();
        return api->set_error(host, "creating the ISO image: %s", iso_error_to_msg(ret));
    }
    /* Nothing of the host's file attributes or ACLs leaks in. */
    iso_image_set_ignore_aclea(b->image, 1 | 2 | 4);
    iso_tree_set_follow_symlinks(b->image, 0);
    iso_image_set_application_id(b->image, "lkb");
    iso_image_set_data_preparer_id(b->image, "lkb");
    isoimg_stamp((IsoNode *)iso_image_get_root(b->image), 0755, 0, 0, mtime);
    return LKB_OK;
}

void isoimg_free(struct isoimg *b)
{
    if (b->image) {
        iso_image_unref(b->image);
        iso_finish();
    }
    free(b->mbr);
    memset(b, 0, sizeof *b);
}

int isoimg_dir(struct isoimg *b, const char *path, IsoDir **out)
{
    IsoDir *dir = iso_image_get_root(b->image);
    const char *p = path;
    while (*p) {
        const char *sl = strchr(p, '/');
        size_t len = sl ? (size_t)(sl - p) : strlen(p);
        char *name = strndup(p, len);
        if (!name)
            return b->api->set_error(b->host, "out of memory");
        IsoNode *node = NULL;
        if (len && iso_dir_get_node(dir, name, &node) == 1) {
            if (iso_node_get_type(node) != LIBISO_DIR) {
                free(name);
                return b->api->set_error(b->host, "%s: a component is not a directory", path);
            }
            dir = (IsoDir *)node;
        } else if (len) {
            IsoDir *nd;
            int ret = iso_tree_add_new_dir(dir, name, &nd);
            if (ret < 0) {
                free(name);
                return iso_fail(b, ret, path);
            }
            isoimg_stamp((IsoNode *)nd, 0755, 0, 0, b->mtime);
            dir = nd;
        }
        free(name);
        p += len;
        while (*p == '/')
            p++;
    }
    *out = dir;
    return LKB_OK;
}

/* The parent directory of iso_path and its last component. */
static int split(struct isoimg *b, const char *iso_path, IsoDir **parent, const char **name)
{
    const char *sl = strrchr(iso_path, '/');
    *name = sl ? sl + 1 : iso_path;
    if (!sl)
        return isoimg_dir(b, "", parent);
    char *dir = strndup(iso_path, (size_t)(sl - iso_path));
    if (!dir)
        return b->api->set_error(b->host, "out of memory");
    int rc = isoimg_dir(b, dir, parent);
    free(dir);
    return rc;
}

int isoimg_add_path(struct isoimg *b, const char *iso_path, const char *host_path, mode_t mode,
                    IsoNode **out)
{
    IsoDir *parent;
    const char *name;
    IsoNode *node;
    if (split(b, iso_path, &parent, &name) != LKB_OK)
        return LKB_FAIL;
    int ret = iso_tree_add_new_node(b->image, parent, name, host_path, &node);
    if (ret < 0)
        return b->api->set_error(b->host, "adding %s to the ISO as %s: %s", host_path, iso_path,
                                 iso_error_to_msg(ret));
    isoimg_stamp(node, mode, 0, 0, b->mtime);
    if (out)
        *out = node;
    return LKB_OK;
}

int isoimg_add_data(struct isoimg *b, const char *iso_path, const void *data, size_t size,
                    mode_t mode)
{
    IsoDir *parent;
    const char *name;
    if (split(b, iso_path, &parent, &name) != LKB_OK)
        return LKB_FAIL;
    /* The stream takes the buffer over and frees it. */
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return b->api->set_error(b->host, "out of memory");
    memcpy(copy, data, size);
    IsoStream *stream;
    IsoFile *file;
    int ret = iso_memory_stream_new(copy, size, &stream);
    if (ret < 0) {
        free(copy);
        return iso_fail(b, ret, iso_path);
    }
    /* The file takes the stream's reference over. */
    ret = iso_tree_add_new_file(parent, name, stream, &file);
    if (ret < 0) {
        iso_stream_unref(stream);
        return iso_fail(b, ret, iso_path);
    }
    isoimg_stamp((IsoNode *)file, mode, 0, 0, b->mtime);
    return LKB_OK;
}

int isoimg_boot_isolinux(struct isoimg *b, const char *isolinux_path, const char *catalog_path,
                         const void *mbr, size_t mbr_size)
{
    int ret = iso_image_set_boot_image(b->image, isolinux_path, ELTORITO_NO_EMUL, catalog_path,
                                       &b->bios);
    if (ret < 0)
        return iso_fail(b, ret, "El Torito BIOS entry");
    el_torito_set_load_size(b->bios, 4);
    /* bit0: boot info table (isolinux needs it); bit1: isohybrid. */
    el_torito_set_isolinux_options(b->bios, mbr ? 1 | 2 : 1, 0);
    IsoNode *cat;
    if (iso_tree_path_to_node(b->image, catalog_path, &cat) == 1)
        isoimg_stamp(cat, 0444, 0, 0, b->mtime);
    if (mbr) {
        if (mbr_size > 32768)
            return b->api->set_error(b->host, "isohybrid MBR of %zu bytes: at most 32768",
                                     mbr_size);
        if (!(b->mbr = calloc(1, 32768)))
            return b->api->set_error(b->host, "out of memory");
        memcpy(b->mbr, mbr, mbr_size);
    }
    return LKB_OK;
}

int isoimg_boot_efi(struct isoimg *b, const char *esp_path, const char *catalog_path, int gpt)
{
    ElToritoBootImage *efi;
    int ret = b->bios ? iso_image_add_boot_image(b->image, esp_path, ELTORITO_NO_EMUL, 0, &efi)
                      : iso_image_set_boot_image(b->image, esp_path, ELTORITO_NO_EMUL,
                                                 catalog_path, &efi);
    if (ret < 0)
        return iso_fail(b, ret, "El Torito UEFI entry");
    el_torito_set_boot_platform_id(efi, 0xef);
    /* The firmware reads the whole FAT image (the entry says how much, up
     * to 65535 sectors). */
    el_torito_set_full_load(efi, 1);
    /* bit2-7 = 1: a GPT "basic data" entry for the image (xorriso's
     * -isohybrid-gpt-basdat). */
    if (gpt)
        el_torito_set_isolinux_options(efi, 1 << 2, 0);
    IsoNode *cat;
    if (!b->bios && iso_tree_path_to_node(b->image, catalog_path, &cat) == 1)
        isoimg_stamp(cat, 0444, 0, 0, b->mtime);
    return LKB_OK;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Volume times as "YYYYMMDDhhmmsscc" in UTC: libisofs then writes no
 * local-time zone offset, and derives the GPT disk GUID from it. */
static void vol_uuid(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 17, "%Y%m%d%H%M%S00", &tm);
}

int isoimg_write(struct isoimg *b, int fd, const char *what)
{
    IsoWriteOpts *o;
    int ret = iso_write_opts_new(&o, 0);
    if (ret < 0)
        return iso_fail(b, ret, what);
    char uuid[17];
    vol_uuid(b->mtime, uuid);
    /* level 3: files over 4 GiB; Rock Ridge for names, modes, owners,
     * links and devices; Joliet for Windows; names as long as genisoimage
     * -l -joliet-long allows. */
    iso_write_opts_set_iso_level(o, 3);
    iso_write_opts_set_rockridge(o, 1);
    iso_write_opts_set_joliet(o, 1);
    iso_write_opts_set_joliet_longer_paths(o, 1);
    iso_write_opts_set_max_37_char_filenames(o, 1);
    iso_write_opts_set_allow_deep_paths(o, 1);
    /* libisofs numbers inodes (RRIP 1.12 PX serial numbers) in an order
     * that changes from run to run: RRIP 1.10 PX entries carry none. */
    iso_write_opts_set_hardlinks(o, 0);
    iso_write_opts_set_rrip_version_1_10(o, 1);
    iso_write_opts_set_always_gmt(o, 1);
    iso_write_opts_set_dir_rec_mtime(o, 1 | 2 | 4);
    iso_write_opts_set_pvd_times(o, (time_t)b->mtime, (time_t)b->mtime, 0, (time_t)b->mtime, uuid);
    iso_write_opts_set_gpt_guid(o, NULL, 2);
    if (b->mbr)
        iso_write_opts_set_system_area(o, (char *)b->mbr, 2, 0);
    struct burn_source *bs;
    ret = iso_image_create_burn_source(b->image, o, &bs);
    iso_write_opts_free(o);
    if (ret < 0)
        return iso_fail(b, ret, what);
    /* read_xt returns 0, not a short count, for a last piece smaller than
     * asked: read whole 2048-byte blocks (an image is made of them) and
     * write them out 64 KiB at a time. */
    enum { BLOCK = 2048, CHUNK = 32 * BLOCK };
    unsigned char *buf = malloc(CHUNK);
    int rc = buf ? LKB_OK : b->api->set_error(b->host, "out of memory");
    size_t fill = 0;
    int n = 0;
    while (rc == LKB_OK && (n = bs->read_xt(bs, buf + fill, BLOCK)) == BLOCK) {
        fill += BLOCK;
        if (fill == CHUNK) {
            if (write_all(fd, buf, fill) < 0)
                rc = b->api->set_error_kind(b->host, LKB_PLUGIN_ERR_IO, "writing %s: %s", what,
                                            strerror(errno ? errno : EIO));
            fill = 0;
        }
    }
    if (rc == LKB_OK && n < 0)
        rc = b->api->set_error(b->host, "writing %s: libisofs failed (a file could not be read)",
                               what);
    if (rc == LKB_OK && fill && write_all(fd, buf, fill) < 0)
        rc = b->api->set_error_kind(b->host, LKB_PLUGIN_ERR_IO, "writing %s: %s", what,
                                    strerror(errno ? errno : EIO));
    if (rc != LKB_OK)
        bs->cancel(bs);
    bs->free_data(bs);
    free(bs);
    free(buf);
    return rc;
}
