/*
 * energy-media.c - a print's media area from its PWG 5101.1 size name (see energy-media.h).
 *
 * Why its own file: the name's grammar (class_name_WxHunit) is a small
 * parser of text that comes from the config and from jobs, kept apart from
 * the sharing arithmetic and tested on its own (tests/unit/test-energy.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "energy-media.h"

/* One side: digits with at most one '.', at least one digit; its value in *ret. */
static bool parse_side(const char *s, size_t len, double *ret)
{
        double v = 0, frac = 0.1;
        bool dot = false, digit = false;

        for (size_t i = 0; i < len; i++) {
                if (s[i] == '.' && !dot) {
                        dot = true;
                } else if (s[i] >= '0' && s[i] <= '9') {
                        digit = true;
                        if (dot) {
                                v += (s[i] - '0') * frac;
                                frac /= 10;
                        } else {
                                v = v * 10 + (s[i] - '0');
                        }
                        if (v > 1e6)
                                return false;
                } else {
                        return false;
                }
        }
        *ret = v;
        return digit;
}

int lab_energy_media_area(const char *pwg_name, double *ret_mm2)
{
        const char *size, *x, *end;
        double w, h, unit_mm;
        size_t len;

        if (!pwg_name || !ret_mm2)
                return -EINVAL;
        size = strrchr(pwg_name, '_');
        if (!size)
                return -EINVAL;
        size++;
        len = strlen(size);
        if (len > 2 && strcmp(size + len - 2, "in") == 0)
                unit_mm = 25.4;
        else if (len > 2 && strcmp(size + len - 2, "mm") == 0)
                unit_mm = 1.0;
        else
                return -EINVAL;
        end = size + len - 2;
        x = memchr(size, 'x', (size_t)(end - size));
        if (!x || !parse_side(size, (size_t)(x - size), &w) ||
            !parse_side(x + 1, (size_t)(end - x - 1), &h))
                return -EINVAL;
        w *= unit_mm;
        h *= unit_mm;
        if (!(w > 0) || !(h > 0) || w > 10000 || h > 10000)
                return -EINVAL;
        *ret_mm2 = w * h;
        return 0;
}
