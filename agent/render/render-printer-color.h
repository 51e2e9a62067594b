/*
 * render-printer-color.h - can each configured printer render? Its model must be in
 * the colour registry and every paper profile of the model must be usable.
 *
 * Why: a bad profile (a vendor file that does not parse, a CMYK profile on
 * an RGB printer, an intent the profile lacks) must stop only the printers
 * that use it, with a reason naming the file and the fault, while the rest
 * of the lab keeps printing. Checked at start and at every reload; the
 * daemon keeps the result and shows it in STATUS.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "config-profiles.h"

typedef struct lab_printer_color_s {
        char *printer;
        bool usable;
        char *reason; /* "keyword: sentence" when not usable, else NULL */
} lab_printer_color_t;

typedef struct lab_color_setup_s {
        char *registry_path;
        lab_registry_t *registry; /* NULL when missing or invalid */
        lab_printer_color_t *printers;
        size_t n_printers;
        size_t n_usable;
} lab_color_setup_t;

/*
 * Load the registry of c (profiles.directory/registry.yaml) and check every
 * printer. Never fails for a bad registry or profile (those make printers
 * unusable, with the registry's problems appended to *problems); returns a
 * negative errno only when out of memory.
 */
int lab_color_setup_load(const lab_config_t *c, lab_color_setup_t **ret,
                         lab_config_problems_t *problems);

/* Free (NULL is fine). */
void lab_color_setup_free(lab_color_setup_t *s);

/* The result for printer name, or NULL. */
const lab_printer_color_t *lab_color_setup_printer(const lab_color_setup_t *s, const char *name);
