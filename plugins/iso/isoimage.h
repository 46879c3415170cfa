/* An ISO 9660 image assembled and written with libisofs (the library
 * behind xorriso): Rock Ridge and Joliet, El Torito boot entries, an
 * isohybrid MBR, and every timestamp, owner and volume id fixed so the
 * same inputs give the same bytes. */
#ifndef LKB_ISO_ISOIMAGE_H
#define LKB_ISO_ISOIMAGE_H

/* libisofs.h uses uint32_t and time_t without including their headers. */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* No libburn here: libisofs.h then declares struct burn_source itself. */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>
#include <lkb/plugin.h>

struct isoimg {
    IsoImage *image;
    const struct lkb_host_api *api;
    lkb_host *host;
    int64_t mtime; /* every node's and the volume's time (SOURCE_DATE_EPOCH) */
    /* A BIOS El Torito entry (isolinux.bin, patched with a boot info table),
     * and the isohybrid MBR that makes the file boot from a disk too. */
    ElToritoBootImage *bios;
    unsigned char *mbr; /* 32 KiB system area, NULL for none */
};

/* A new image with volume id volid; sets api->set_error on failure. */
int isoimg_new(struct isoimg *b, const struct lkb_host_api *api, lkb_host *host,
               const char *volid, int64_t mtime);
void isoimg_free(struct isoimg *b);

/* The directory at path ("" is the root), created with its parents (mode
 * 0755, root-owned) when missing. */
int isoimg_dir(struct isoimg *b, const char *path, IsoDir **out);

/* A file from the host, read when the image is written. */
int isoimg_add_path(struct isoimg *b, const char *iso_path, const char *host_path, mode_t mode,
                    IsoNode **out);

/* A file from memory (copied). */
int isoimg_add_data(struct isoimg *b, const char *iso_path, const void *data, size_t size,
                    mode_t mode);

/* Owner, permissions and the three times of a node. */
void isoimg_stamp(IsoNode *node, mode_t mode, uid_t uid, gid_t gid, int64_t mtime);

/* Boot from BIOS with ISOLINUX: isolinux_path must already be in the image;
 * the catalog goes to catalog_path; mbr (isohdpfx.bin, up to 32 KiB, NULL
 * for none) makes the image an isohybrid. */
int isoimg_boot_isolinux(struct isoimg *b, const char *isolinux_path, const char *catalog_path,
                         const void *mbr, size_t mbr_size);

/* Boot from UEFI: an El Torito entry for platform 0xEF whose image is the
 * FAT file system at esp_path (already in the image). The catalog goes to
 * catalog_path unless a BIOS entry placed it. With gpt, the FAT image also
 * gets a GPT partition entry (and one in the isohybrid MBR) so firmware
 * finds it when the file is written to a disk. */
int isoimg_boot_efi(struct isoimg *b, const char *esp_path, const char *catalog_path, int gpt);

/* Write the whole image to fd. */
int isoimg_write(struct isoimg *b, int fd, const char *what);

#endif
