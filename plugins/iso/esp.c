#include "esp.h"

#include <errno.h>
#include <fcntl.h>
#include <lkb/disk/efi.h>
#include <lkb/disk/fat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assets.h"

/* The toolkit's ids take a text seed: the build's seed in hex. */
static void seed_hex(const struct lkb_build_input *in, char out[65])
{
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", in->seed[i]);
}

static int write_fat(const struct lkb_host_api *api, lkb_host *host,
                     const struct lkb_build_input *in, const struct lkb_disk_tree *tree,
                     const char *path)
{
    struct lkb_disk_error err;
    uint64_t bytes;
    if (lkb_fat_min_bytes(tree, LKB_FAT_AUTO, &bytes, &err) < 0)
        return api->set_error(host, "sizing the EFI System Partition: %s", err.msg);
    char seed[65];
    seed_hex(in, seed);
    struct lkb_fat_opts o = {.type = LKB_FAT_AUTO, .label = "EFIBOOT", .seed = seed,
                             .mtime = in->source_date_epoch};
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return api->set_error_kind(host, LKB_PLUGIN_ERR_IO, "creating %s: %s", path,
                                   strerror(errno));
    int rc = LKB_OK;
    if (ftruncate(fd, (off_t)bytes) < 0)
        rc = api->set_error_kind(host, LKB_PLUGIN_ERR_IO, "sizing %s: %s", path,
                                 strerror(errno));
    else if (lkb_fat_write(fd, 0, bytes, &o, tree, &err) < 0)
        rc = api->set_error(host, "writing the EFI System Partition: %s", err.msg);
    if (close(fd) < 0 && rc == LKB_OK)
        rc = api->set_error_kind(host, LKB_PLUGIN_ERR_IO, "closing %s: %s", path,
                                 strerror(errno));
    return rc;
}

int iso_esp_image(const struct lkb_host_api *api, lkb_host *host,
                  const struct lkb_build_input *in, char **path_out)
{
    enum lkb_efi_arch arch = lkb_efi_arch_from_oci(in->arch);
    if (!arch)
        return api->set_error(host, "%s boots amd64 and arm64 with UEFI, not %s", in->format,
                              in->arch);
    if (!in->kernel_path)
        return api->set_error(host, "%s needs a kernel: the configuration has none", in->format);
    struct lkb_assets assets;
    if (iso_efi_assets(api, host, in, lkb_efi_loader_name(arch), &assets) != LKB_OK)
        return LKB_FAIL;
    const struct lkb_asset *loader = lkb_assets_get(&assets, lkb_efi_loader_name(arch));
    struct lkb_efi_params p = {.arch = arch,
                               .kernel_path = in->kernel_path,
                               .initrd_path = in->initrd_path,
                               .ucode_path = in->ucode_path,
                               .cmdline = in->cmdline,
                               .loader = loader->data,
                               .loader_size = loader->size};
    struct lkb_disk_tree *tree = lkb_disk_tree_new();
    struct lkb_efi_esp *esp = NULL;
    struct lkb_disk_error err;
    char *dir = NULL, *path = NULL;
    int rc = tree ? LKB_OK : api->set_error(host, "out of memory");
    if (rc == LKB_OK && lkb_efi_esp_add(tree, "", &p, &esp, &err) < 0)
        rc = api->set_error(host, "%s: %s", in->format, err.msg);
    if (rc == LKB_OK)
        rc = api->make_temp_dir(host, &dir);
    if (rc == LKB_OK) {
        size_t len = strlen(dir) + sizeof "/esp.img";
        if (!(path = malloc(len)))
            rc = api->set_error(host, "out of memory");
        else
            snprintf(path, len, "%s/esp.img", dir);
    }
    if (rc == LKB_OK)
        rc = write_fat(api, host, in, tree, path);
    if (dir)
        api->free(dir);
    if (esp)
        lkb_efi_esp_free(esp);
    if (tree)
        lkb_disk_tree_free(tree);
    lkb_assets_free(&assets);
    if (rc != LKB_OK) {
        free(path);
        return LKB_FAIL;
    }
    *path_out = path;
    return LKB_OK;
}
