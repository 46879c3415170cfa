#define _GNU_SOURCE /* asprintf */
#include "rootfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int iso_rootfs_skipped(const char *path)
{
    if (strncmp(path, "boot/", 5) != 0 || !path[5])
        return 0;
    return strcmp(path + 5, "dtb") != 0 && strcmp(path + 5, "dtb/") != 0 &&
           strncmp(path + 5, "dtb/", 4) != 0;
}

/* Regular files already unpacked, by tar name, for hard links. */
struct unpacked {
    char **names;
    char **paths;
    size_t n;
};

static const char *unpacked_find(const struct unpacked *u, const char *name)
{
    for (size_t i = u->n; i-- > 0;)
        if (strcmp(u->names[i], name) == 0)
            return u->paths[i];
    return NULL;
}

static int unpacked_add(struct unpacked *u, const char *name, char *path)
{
    char **nn = realloc(u->names, (u->n + 1) * sizeof *nn);
    if (nn)
        u->names = nn;
    char **np = realloc(u->paths, (u->n + 1) * sizeof *np);
    if (np)
        u->paths = np;
    char *copy = strdup(name);
    if (!nn || !np || !copy) {
        free(copy);
        return -1;
    }
    u->names[u->n] = copy;
    u->paths[u->n++] = path;
    return 0;
}

static void unpacked_free(struct unpacked *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->names[i]);
        free(u->paths[i]);
    }
    free(u->names);
    free(u->paths);
}

/* "./a/b/" -> "a/b"; "" for the root. */
static char *clean(const char *name)
{
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    while (*name == '/')
        name++;
    if (strcmp(name, ".") == 0)
        name = "";
    char *c = strdup(name);
    size_t len = c ? strlen(c) : 0;
    while (len && c[len - 1] == '/')
        c[--len] = '\0';
    return c;
}

static int unpack(struct archive *a, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int r = archive_read_data_into_fd(a, fd);
    if (close(fd) < 0 || r != ARCHIVE_OK)
        return -1;
    return 0;
}

/* One entry; *counter numbers the unpacked files. */
static int add_entry(struct isoimg *b, struct archive *a, struct archive_entry *e,
                     const char *name, const char *tmp_dir, struct unpacked *u, size_t *counter)
{
    const struct lkb_host_api *api = b->api;
    mode_t mode = archive_entry_perm(e);
    uid_t uid = (uid_t)archive_entry_uid(e);
    gid_t gid = (gid_t)archive_entry_gid(e);
    int64_t mtime = archive_entry_mtime(e);
    if (!*name) { /* the root directory itself */
        isoimg_stamp((IsoNode *)iso_image_get_root(b->image), mode, uid, gid, mtime);
        return LKB_OK;
    }
    const char *sl = strrchr(name, '/');
    const char *base = sl ? sl + 1 : name;
    char *dirpath = sl ? strndup(name, (size_t)(sl - name)) : strdup("");
    IsoDir *parent;
    if (!dirpath)
        return api->set_error(b->host, "out of memory");
    int rc = isoimg_dir(b, dirpath, &parent);
    free(dirpath);
    if (rc != LKB_OK)
        return rc;
    IsoNode *node = NULL;
    int ret = 0;
    const char *hardlink = archive_entry_hardlink(e);
    if (hardlink) {
        char *target = clean(hardlink);
        const char *src = target ? unpacked_find(u, target) : NULL;
        free(target);
        if (!src)
            return api->set_error(b->host, "rootfs tar: hard link %s to %s, which is not an "
                                           "earlier regular file", name, hardlink);
        ret = iso_tree_add_new_node(b->image, parent, base, src, &node);
        mode = 0; /* keep the target's attributes, set below from it */
    } else {
        switch (archive_entry_filetype(e)) {
        case AE_IFDIR: {
            IsoDir *d;
            if ((rc = isoimg_dir(b, name, &d)) != LKB_OK)
                return rc;
            node = (IsoNode *)d;
            break;
        }
        case AE_IFREG: {
            char *path = NULL;
            if (asprintf(&path, "%s/%zu", tmp_dir, (*counter)++) < 0)
                return api->set_error(b->host, "out of memory");
            if (unpack(a, path) < 0) {
                rc = api->set_error_kind(b->host, LKB_PLUGIN_ERR_IO, "unpacking %s to %s: %s",
                                         name, path, strerror(errno ? errno : EIO));
                free(path);
                return rc;
            }
            ret = iso_tree_add_new_node(b->image, parent, base, path, &node);
            if (ret >= 0 && unpacked_add(u, name, path) < 0) {
                free(path);
                return api->set_error(b->host, "out of memory");
            }
            if (ret < 0)
                free(path);
            break;
        }
        case AE_IFLNK:
            ret = iso_tree_add_new_symlink(parent, base, archive_entry_symlink(e),
                                           (IsoSymlink **)&node);
            break;
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
        case AE_IFSOCK:
            ret = iso_tree_add_new_special(parent, base, archive_entry_mode(e),
                                           archive_entry_rdev(e), (IsoSpecial **)&node);
            break;
        default:
            return api->set_error(b->host, "rootfs tar: %s has a file type ISO 9660 cannot hold",
                                  name);
        }
    }
    if (ret < 0)
        return api->set_error(b->host, "adding %s to the ISO: %s", name, iso_error_to_msg(ret));
    if (hardlink) {
        /* A hard link shares the target's attributes. */
        IsoNode *t;
        char *iso_target = clean(hardlink);
        char *abs = NULL;
        if (!iso_target || asprintf(&abs, "/%s", iso_target) < 0) {
            free(iso_target);
            return api->set_error(b->host, "out of memory");
        }
        free(iso_target);
        if (iso_tree_path_to_node(b->image, abs, &t) == 1)
            isoimg_stamp(node, iso_node_get_permissions(t), iso_node_get_uid(t),
                         iso_node_get_gid(t), iso_node_get_mtime(t));
        free(abs);
        return LKB_OK;
    }
    isoimg_stamp(node, mode, uid, gid, mtime);
    return LKB_OK;
}

int iso_rootfs_add(struct isoimg *b, const char *tar_path, const char *tmp_dir)
{
    const struct lkb_host_api *api = b->api;
    struct archive *a = archive_read_new();
    if (!a)
        return api->set_error(b->host, "out of memory");
    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    if (archive_read_open_filename(a, tar_path, 1 << 20) != ARCHIVE_OK) {
        int rc = api->set_error_kind(b->host, LKB_PLUGIN_ERR_IO, "reading %s: %s", tar_path,
                                     archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    struct unpacked u = {0};
    size_t counter = 0;
    struct archive_entry *e;
    int rc = LKB_OK, r = ARCHIVE_EOF;
    while (rc == LKB_OK && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        char *name = clean(archive_entry_pathname(e));
        if (!name)
            rc = api->set_error(b->host, "out of memory");
        else if (!iso_rootfs_skipped(name))
            rc = add_entry(b, a, e, name, tmp_dir, &u, &counter);
        free(name);
    }
    if (rc == LKB_OK && r != ARCHIVE_EOF)
        rc = api->set_error(b->host, "reading %s: %s", tar_path, archive_error_string(a));
    archive_read_free(a);
    unpacked_free(&u);
    return rc;
}
