/*
 * ipp-ppd.h - what a CUPS queue's PPD says that IPP does not: the driver's
 * own page size names with their imageable areas, and the queue's default
 * settings.
 *
 * Why: a queue with a vendor driver (Gutenprint's dye-sub drivers, the ones
 * labs use) takes its page size by PPD name only, and its colour settings
 * (StpColorCorrection, StpGamma, ...) exist only as PPD options; cupsd
 * serves the queue's PPD at /printers/NAME.ppd. Reading it is libcups' PPD
 * API, which CUPS marks deprecated (CUPS 3 drops PPD drivers) but which is
 * the only reader of the files these queues are made of. No I/O but the
 * given descriptor.
 */
#pragma once

#include "printer.h"

/* PPDs larger than this are refused (a Gutenprint PPD is about 40 KiB). */
#define LAB_PPD_MAX_BYTES (4 * 1024 * 1024)

/*
 * Read the PPD in fd (from its start). caps (may be NULL) gets its page sizes
 * (sizes, n_sizes; ppd set); st (may be NULL) gets the defaults that alter
 * colour (lab_print_option_alters_colour). 0, -EINVAL when it is not a PPD
 * (or too large), -ENOMEM.
 */
int lab_ipp_ppd_read(int fd, lab_printer_caps_t *caps, lab_printer_status_t *st);
