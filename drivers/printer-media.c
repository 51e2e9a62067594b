/*
 * printer-media.c - which of a printer's page sizes a product's media is,
 * whether a print file fills it exactly, and whether a queue's defaults
 * leave colour alone. Pure: no I/O.
 *
 * Why: a CUPS queue with a vendor driver (Gutenprint) knows its sizes by PPD
 * names (w288h432 for 4x6), lists only dimension-built custom_ names over
 * IPP, and maps any name it does not know to its default size: the job then
 * completes at the wrong size, silently. Several PPD sizes share one sheet
 * (2x6, 4x6 and 2x6*2 on a DS620 4x6 sheet), so a size is matched by what it
 * is sold as, and a choice that is not the only one is refused rather than
 * guessed. The file must fill the imageable area to the pixel: otherwise the
 * filter crops or resamples it.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cups/cups.h>

#include "config-print-options.h"
#include "printer.h"

/* 1 mm, in the hundredths of mm sizes are counted in: PWG names round to 0.1 mm or 1/100 in. */
#define NOMINAL_SLACK 100

int lab_ppd_size_nominal(const char *name, int *ret_w, int *ret_h)
{
        pwg_media_t *m = pwgMediaForPPD(name);
        unsigned w, h;
        int used = 0;

        /* pwgMediaForPPD also makes up custom sizes for unknown names: only take known ones. */
        if (m && m->ppd && strcmp(m->ppd, name) == 0) {
                *ret_w = m->width;
                *ret_h = m->length;
                return 0;
        }
        /* "w288h432": width and height in points, nothing after them. */
        if (sscanf(name, "w%5uh%5u%n", &w, &h, &used) == 2 && name[used] == '\0' && w > 0 &&
            h > 0) {
                *ret_w = (int)lround(w * 2540.0 / 72.0);
                *ret_h = (int)lround(h * 2540.0 / 72.0);
                return 0;
        }
        return -EINVAL;
}

/* Whether nominal size (w, h) is (pw, ph) within NOMINAL_SLACK, either way round. */
static bool same_size(int w, int h, int pw, int ph)
{
        return (abs(w - pw) <= NOMINAL_SLACK && abs(h - ph) <= NOMINAL_SLACK) ||
               (abs(w - ph) <= NOMINAL_SLACK && abs(h - pw) <= NOMINAL_SLACK);
}

/* Append "name (text)" entries of the sizes (or the media names) to buf after used bytes. */
static void list_choices(const lab_printer_caps_t *caps, bool only_matching, int pw, int ph,
                         char *buf, size_t size, size_t used)
{
        bool by_size = caps->ppd || only_matching;
        size_t count = by_size ? caps->n_sizes : caps->n_media, shown = 0;

        for (size_t i = 0; i < count && used + 1 < size; i++) {
                const lab_printer_size_t *s = by_size ? &caps->sizes[i] : NULL;
                const char *name = s ? s->name : caps->media[i];
                int n;

                if (only_matching && (!s || !same_size(s->nominal_w, s->nominal_h, pw, ph)))
                        continue;
                n = snprintf(buf + used, size - used, "%s%s%s%s%s", shown ? ", " : "", name,
                             s && s->text[0] ? " (" : "", s ? s->text : "",
                             s && s->text[0] ? ")" : "");
                if (n < 0)
                        return;
                used += (size_t)n;
                shown++;
        }
        if (shown == 0 && used + 1 < size)
                snprintf(buf + used, size - used, "none");
}

int lab_printer_media_choose(const lab_printer_caps_t *caps, const char *printer, const char *media,
                             const char *explicit_name, const lab_printer_size_t **ret, char *why,
                             size_t size)
{
        const lab_printer_size_t *found = NULL;
        pwg_media_t *pwg;
        size_t n_found = 0;
        int used;

        *ret = NULL;
        why[0] = '\0';
        if (explicit_name) {
                for (size_t i = 0; caps->ppd && i < caps->n_sizes; i++)
                        if (strcmp(caps->sizes[i].name, explicit_name) == 0) {
                                *ret = &caps->sizes[i];
                                return 0;
                        }
                if (!caps->ppd && (caps->n_media == 0 ||
                                   lab_printer_caps_has(caps->media, caps->n_media, explicit_name)))
                        return 0; /* the caller sends explicit_name as the media keyword */
                used = snprintf(why, size,
                                "printer_refused: printers[].media names %s for %s, which "
                                "printer %s does not offer; its sizes: ",
                                explicit_name, media, printer);
                list_choices(caps, false, 0, 0, why, size, used > 0 ? (size_t)used : 0);
                return -ENOENT;
        }
        /* A PWG name the printer lists is its own (cupsd maps it through its PPD); not the
           custom_WxHmm names cupsd makes up from a PPD's dimensions, which several sizes share. */
        if ((!caps->ppd && caps->n_media == 0 && caps->n_sizes == 0) ||
            (lab_printer_caps_has(caps->media, caps->n_media, media) &&
             (!caps->ppd || strncmp(media, "custom_", 7) != 0)))
                return 0;
        pwg = pwgMediaForPWG(media);
        /* By what the size is: a PPD's sizes, or an IPP printer's media-col-database. */
        if (pwg)
                for (size_t i = 0; i < caps->n_sizes; i++) {
                        const lab_printer_size_t *s = &caps->sizes[i];

                        if (s->nominal_w > 0 &&
                            same_size(s->nominal_w, s->nominal_h, pwg->width, pwg->length)) {
                                found = found ? found : s;
                                n_found++;
                        }
                }
        if (n_found == 1) {
                *ret = found;
                return 0;
        }
        if (n_found > 1) {
                used =
                    snprintf(why, size, "printer_refused: printer %s has %zu sizes that are %s (",
                             printer, n_found, media);
                list_choices(caps, true, pwg->width, pwg->length, why, size,
                             used > 0 ? (size_t)used : 0);
                used = (int)strlen(why);
                snprintf(why + used, size - (size_t)used,
                         "); name the one to use in printers[].media");
                return -EEXIST;
        }
        used = snprintf(
            why, size, "printer_refused: printer %s has no size that is %s%s; its sizes: ", printer,
            media, pwg ? "" : " (not a PWG 5101.1 media name)");
        list_choices(caps, false, 0, 0, why, size, used > 0 ? (size_t)used : 0);
        used = (int)strlen(why);
        if ((size_t)used + 1 < size)
                snprintf(why + used, size - (size_t)used,
                         "; route the product elsewhere or name the size in printers[].media");
        return -ENOENT;
}

/* Pixels of length pt points at dpi, rounded; -1 for a length no sheet has (or not a number). */
static long to_pixels(double pt, unsigned dpi)
{
        double px = pt * dpi / 72.0;

        return isfinite(px) && px >= 0.0 && px <= 10000000.0 ? lround(px) : -1;
}

/* Whether n pixels fill an edge of area pixels: exactly, or one short (see below). */
static bool edge_fits(unsigned n, long area)
{
        return area > 0 && ((long)n == area || (long)n == area - 1);
}

bool lab_printer_size_fits(const lab_printer_size_t *size, const char *printer, unsigned width,
                           unsigned height, unsigned dpi, char *why, size_t size_why)
{
        long w = to_pixels(size->area_w, dpi), h = to_pixels(size->area_h, dpi);

        /* imagetoraster works in single-precision inches and truncates: an edge of exactly
           2128 pixels (510.72 pt, the D90's 5x7) gives it 2127, and a 2128-pixel file loses
           its last row. One pixel short fills the area (the driver's last row stays white). */
        if (dpi > 0 && ((edge_fits(width, w) && edge_fits(height, h)) ||
                        (edge_fits(width, h) && edge_fits(height, w))))
                return true;
        if (why)
                snprintf(why, size_why,
                         "media_size_mismatch: printer %s prints %s%s%s on an imageable area of "
                         "%ldx%ld pixels at %u dpi (a pixel less may fit), but the registry's "
                         "media table makes %ux%u; "
                         "the filter would crop or resample every print: correct the model's "
                         "media table in the colour registry",
                         printer, size->name, size->text[0] ? " " : "", size->text, w, h, dpi,
                         width, height);
        return false;
}

bool lab_printer_colour_ok(const lab_printer_status_t *s, const char *printer,
                           const lab_config_pair_t *options, size_t n_options, char *buf,
                           size_t size)
{
        for (size_t i = 0; i < s->n_colour_defaults; i++) {
                const lab_printer_default_t *d = &s->colour_defaults[i];
                char why[256];

                /* The agent sends its own value on every job: the default never applies. Its
                   own print-color-mode=color is also what cupsd turns into the PPD ColorModel. */
                if (lab_config_pair_get(options, n_options, d->name) ||
                    strcmp(d->name, "print-color-mode") == 0 || strcmp(d->name, "ColorModel") == 0)
                        continue;
                if (!lab_print_option_alters_colour(d->name, d->value, why, sizeof why))
                        continue;
                snprintf(buf, size,
                         "queue_colour_altered: the queue of printer %s has the default %s=%s, "
                         "which alters colour on top of the agent's ICC profile (colour would "
                         "be managed twice): %s; reset it (lpadmin -p QUEUE -o %s=NEUTRAL) or "
                         "set it in printers[].options",
                         printer, d->name, d->value, why, d->name);
                return false;
        }
        return true;
}
