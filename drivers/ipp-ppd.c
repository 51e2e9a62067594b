/*
 * ipp-ppd.c - read a CUPS queue's PPD: page sizes with imageable areas, and
 * the defaults that alter colour.
 *
 * Why: see ipp-ppd.h. The PPD comes from the network (cupsd), so it is
 * bounded in size and parsed only by libcups; every string copied out is
 * bounded. The PPD calls are deprecated in libcups 2.x, and this file is the
 * only user, so the warning is silenced here and nowhere else.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <cups/ppd.h>

#include "ipp-ppd.h"
#include "config-print-options.h"

/* No sheet is longer than 100 m: a larger imageable area is not a page size. */
#define PPD_MAX_POINTS (100.0 * 72.0 / 0.0254)

/* Copy src into dst (size bytes), printable ASCII only, cut at the end. */
static void copy_printable(char *dst, size_t size, const char *src)
{
        size_t i = 0;

        for (; src && src[i] && i + 1 < size; i++)
                dst[i] =
                    (unsigned char)src[i] >= 0x20 && (unsigned char)src[i] < 0x7f ? src[i] : '?';
        dst[i] = '\0';
}

/* Add name=value to st's colour defaults when it alters colour (and there is room). */
static void colour_default_add(lab_printer_status_t *st, const char *name, const char *value)
{
        lab_printer_default_t *d;

        if (!name || !value || st->n_colour_defaults >= LAB_PRINTER_DEFAULTS_MAX ||
            !lab_print_option_alters_colour(name, value, NULL, 0))
                return;
        d = &st->colour_defaults[st->n_colour_defaults++];
        copy_printable(d->name, sizeof d->name, name);
        copy_printable(d->value, sizeof d->value, value);
}

/* The page sizes of ppd into caps. */
static int read_sizes(ppd_file_t *ppd, lab_printer_caps_t *caps)
{
        ppd_option_t *page = ppdFindOption(ppd, "PageSize");
        lab_printer_size_t *v;

        if (ppd->num_sizes <= 0)
                return 0;
        v = calloc((size_t)ppd->num_sizes, sizeof *v);
        if (!v)
                return -ENOMEM;
        /* The PPD's sizes replace what IPP said (a cupsd makes its media-col-database up). */
        free(caps->sizes);
        caps->n_sizes = 0;
        for (int i = 0; i < ppd->num_sizes; i++) {
                const ppd_size_t *s = &ppd->sizes[i];
                ppd_choice_t *c = page ? ppdFindChoice(page, s->name) : NULL;
                lab_printer_size_t *d = &v[caps->n_sizes];

                /* The custom-size entry, a size that cannot print, or one no sheet has. */
                if (!s->name[0] || !isfinite(s->right - s->left) || !isfinite(s->top - s->bottom) ||
                    s->right <= s->left || s->top <= s->bottom ||
                    s->right - s->left > PPD_MAX_POINTS || s->top - s->bottom > PPD_MAX_POINTS)
                        continue;
                copy_printable(d->name, sizeof d->name, s->name);
                copy_printable(d->text, sizeof d->text, c ? c->text : "");
                if (lab_ppd_size_nominal(d->name, &d->nominal_w, &d->nominal_h) < 0)
                        d->nominal_w = d->nominal_h = 0;
                d->area_w = s->right - s->left;
                d->area_h = s->top - s->bottom;
                caps->n_sizes++;
        }
        caps->sizes = v;
        caps->ppd = true;
        return 0;
}

/* Every option's default that alters colour into st. */
static void read_defaults(ppd_file_t *ppd, lab_printer_status_t *st)
{
        for (ppd_option_t *o = ppdFirstOption(ppd); o; o = ppdNextOption(ppd))
                colour_default_add(st, o->keyword, o->defchoice);
}

int lab_ipp_ppd_read(int fd, lab_printer_caps_t *caps, lab_printer_status_t *st)
{
        struct stat sb;
        ppd_file_t *ppd;
        int dup_fd, r = 0;

        if (fstat(fd, &sb) < 0 || sb.st_size <= 0 || sb.st_size > LAB_PPD_MAX_BYTES ||
            lseek(fd, 0, SEEK_SET) < 0)
                return -EINVAL;
        /* ppdOpenFd closes the descriptor it reads (cupsFileClose): give it a dup. */
        dup_fd = dup(fd);
        if (dup_fd < 0)
                return -errno;
        ppd = ppdOpenFd(dup_fd);
        if (!ppd)
                return -EINVAL;
        if (caps)
                r = read_sizes(ppd, caps);
        if (st && r >= 0)
                read_defaults(ppd, st);
        ppdClose(ppd);
        return r;
}

#pragma GCC diagnostic pop
