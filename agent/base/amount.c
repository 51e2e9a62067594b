/*
 * amount.c - a number of stock units as a person reads it (see amount.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "amount.h"

char *lab_format_amount(double v, char *buf, size_t size)
{
        size_t len;

        if (!isfinite(v)) {
                snprintf(buf, size, "-");
                return buf;
        }
        /* Whole numbers as such (no libm: a cast truncates below 1e15 exactly). */
        if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
                snprintf(buf, size, "%.0f", v);
                return buf;
        }
        snprintf(buf, size, "%.2f", v);
        len = strlen(buf);
        while (len > 0 && buf[len - 1] == '0')
                buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '.')
                buf[--len] = '\0';
        if (strcmp(buf, "-0") == 0)
                snprintf(buf, size, "0");
        return buf;
}
