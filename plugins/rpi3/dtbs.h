/* The kernel's device trees for BCM2837 boards (Pi 3B, 3B+, 3A+, CM3, CM3+,
 * Zero 2 W) and the names they go by on the boot partition: at the root
 * under the kernel's own names, where the GPU firmware looks for them
 * (config.txt upstream_kernel=1) and applies dtoverlay=/dtparam=; and in
 * dtb/broadcom/ under the names u-boot's rpi_3 build asks for in
 * ${fdtfile}, which differ for two boards (bcm2837-rpi-cm3.dtb,
 * bcm2837-rpi-zero-2.dtb). */
#ifndef LKB_RPI3_DTBS_H
#define LKB_RPI3_DTBS_H

#include <lkb/plugin.h>
#include <stddef.h>

/* dtbs[src] goes onto the boot partition as name. */
struct rpi3_dtb_copy {
    size_t src;
    char *name;
};

/* The copies for the BCM2837/BCM2710 device trees among dtbs, each under
 * every name the firmware and u-boot may ask for. *n_out is 0 when there
 * is none. Returns -1 when out of memory. */
int rpi3_dtb_plan(const struct lkb_input_file *dtbs, size_t n, struct rpi3_dtb_copy **out,
                  size_t *n_out);
void rpi3_dtb_plan_free(struct rpi3_dtb_copy *copies, size_t n);

#endif
