/*
 * fuzz-ppd.c - fuzz target for a CUPS queue's PPD as the IPP driver reads it.
 *
 * The PPD comes from the network (GET /printers/NAME.ppd from cupsd). The
 * bytes go into a memory file, as the driver's download does, and through
 * lab_ipp_ppd_read (libcups' PPD parser, then the sizes and colour defaults
 * taken out of it); every size is then matched and checked the way the
 * driver uses them. Seeds: the PPDs cupsd serves for Gutenprint's DNP DS620
 * and Mitsubishi CP-D90DW queues (tests/fuzz/corpus/ppd).
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io-util.h"
#include "ipp-ppd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        lab_printer_caps_t caps = {0};
        lab_printer_status_t st = {0};
        const lab_printer_size_t *chosen;
        char why[1024];
        int fd = memfd_create("fuzz-ppd", MFD_CLOEXEC);

        if (fd < 0)
                return 0;
        if (lab_write_all(fd, data, size) == 0 && lab_ipp_ppd_read(fd, &caps, &st) == 0) {
                (void)lab_printer_media_choose(&caps, "fuzz", "na_index-4x6_4x6in", NULL, &chosen,
                                               why, sizeof why);
                (void)lab_printer_media_choose(&caps, "fuzz", "na_5x7_5x7in", "w360h504", &chosen,
                                               why, sizeof why);
                for (size_t i = 0; i < caps.n_sizes; i++)
                        (void)lab_printer_size_fits(&caps.sizes[i], "fuzz", 1240, 1844, 300, why,
                                                    sizeof why);
                (void)lab_printer_colour_ok(&st, "fuzz", NULL, 0, why, sizeof why);
                lab_printer_caps_done(&caps);
        }
        close(fd);
        return 0;
}
