/*
 * config-print-options.c - the rule for printer driver options: which names the
 * agent sets itself, and which name=value pairs alter colour.
 *
 * Why: see config-print-options.h. The lists come from what was measured on the
 * real filter chain (cups-filters imagetoraster, then Gutenprint 5.3):
 * imagetoraster applies gamma, brightness, saturation, hue and profile
 * before the driver sees the pixels; Gutenprint applies its colour
 * correction modes and every Stp adjustment curve unless the correction is
 * Raw (or Uncorrected); monochrome drops colour altogether.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "config-print-options.h"

/* Options the agent sends on every job itself: a lab setting them would fight it. */
static const char *const reserved[] = {
    "media",           "media-col",
    "PageSize",        "PageRegion",
    "copies",          "document-format",
    "job-name",        "print-quality",
    "print-scaling",   "orientation-requested",
    "fit-to-page",     "scaling",
    "natural-scaling", "ppi",
    "position",        "print-color-mode",
};

/* cups-filters image options and the value that leaves pixels alone. */
static const struct {
        const char *name, *neutral;
} cups_colour[] = {
    {"gamma", "1000"},
    {"brightness", "100"},
    {"saturation", "100"},
    {"hue", "0"},
};

/* Gutenprint adjustment curves (and their Fine variants): only None leaves them off. */
static const char *const stp_curves[] = {
    "Gamma",        "Brightness",  "Contrast",    "Saturation",     "CyanGamma",
    "MagentaGamma", "YellowGamma", "CyanBalance", "MagentaBalance", "YellowBalance",
};

/* Whether name is "Stp<curve>" or "StpFine<curve>" for one of stp_curves. */
static bool is_stp_curve(const char *name)
{
        if (strncmp(name, "Stp", 3) != 0)
                return false;
        name += 3;
        if (strncmp(name, "Fine", 4) == 0)
                name += 4;
        for (size_t i = 0; i < ELEMENTSOF(stp_curves); i++)
                if (strcmp(name, stp_curves[i]) == 0)
                        return true;
        return false;
}

bool lab_print_option_alters_colour(const char *name, const char *value, char *why, size_t size)
{
        char local[8];

        if (!why) {
                why = local;
                size = sizeof local;
        }
        why[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(cups_colour); i++)
                if (strcmp(name, cups_colour[i].name) == 0) {
                        if (strcmp(value, cups_colour[i].neutral) == 0)
                                return false;
                        snprintf(why, size,
                                 "%s=%s makes the CUPS image filter change every pixel after "
                                 "the agent's ICC profile (neutral: %s)",
                                 name, value, cups_colour[i].neutral);
                        return true;
                }
        if (strcmp(name, "profile") == 0) {
                snprintf(why, size,
                         "profile=%s makes the CUPS image filter apply a colour "
                         "profile after the agent's own",
                         value);
                return true;
        }
        if ((strcmp(name, "print-color-mode") == 0 && strstr(value, "monochrome")) ||
            (strcmp(name, "ColorModel") == 0 &&
             (strcasecmp(value, "Gray") == 0 || strcasecmp(value, "Grayscale") == 0 ||
              strcasecmp(value, "Black") == 0))) {
                snprintf(why, size,
                         "%s=%s prints in grey, dropping the colour the agent "
                         "rendered (neutral: color / RGB)",
                         name, value);
                return true;
        }
        if (strcmp(name, "StpColorCorrection") == 0) {
                if (strcmp(value, "Raw") == 0 || strcmp(value, "Uncorrected") == 0)
                        return false;
                snprintf(why, size,
                         "StpColorCorrection=%s makes Gutenprint correct colour again (neutral: "
                         "Raw, which passes the agent's pixels through unchanged)",
                         value);
                return true;
        }
        if (is_stp_curve(name)) {
                if (strcmp(value, "None") == 0)
                        return false;
                snprintf(why, size,
                         "%s=%s makes Gutenprint apply an adjustment curve (neutral: "
                         "None)",
                         name, value);
                return true;
        }
        if (strcmp(name, "StpLinearContrast") == 0 || strcmp(name, "StpLegacyDyesubGamma") == 0) {
                if (strcasecmp(value, "False") == 0)
                        return false;
                snprintf(why, size,
                         "%s=%s makes Gutenprint apply its own tone curve (neutral: "
                         "False)",
                         name, value);
                return true;
        }
        return false;
}

/* Whether s is 1..max printable ASCII characters, none of them in bad. */
static bool is_printable(const char *s, size_t max, const char *bad)
{
        size_t n = strlen(s);

        if (n == 0 || n > max)
                return false;
        for (; *s; s++)
                if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || strchr(bad, *s))
                        return false;
        return true;
}

const char *lab_print_option_check(const char *name, const char *value, char *buf, size_t size)
{
        char why[256];

        if (!is_printable(name, 64, "=,\"'\\") || !is_printable(value, 128, "\"'\\")) {
                snprintf(buf, size,
                         "'%.64s: %.64s': an option is a name of up to 64 and a value of up to 128 "
                         "printable characters, without spaces or quotes (as lpoptions -p QUEUE "
                         "-l lists them)",
                         name, value);
                return "bad_value";
        }
        if (lab_print_option_alters_colour(name, value, why, sizeof why)) {
                snprintf(buf, size,
                         "colour would be managed twice: %s; the agent already applies the "
                         "paper's ICC profile, so remove the option or set it to neutral",
                         why);
                return "colour_managed_twice";
        }
        for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
                if (strcmp(name, reserved[i]) == 0) {
                        snprintf(buf, size,
                                 "%s is set by the agent on every job (from the product and "
                                 "the printer's media); remove it from printers[].options",
                                 name);
                        return "option_reserved";
                }
        return NULL;
}
