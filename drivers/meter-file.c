/*
 * meter-file.c - energy from a counter file: one number, times a scale.
 *
 * Why: some printers' hosts and PDUs expose their energy counter as a file
 * (hwmon's energy1_input in µJ, a vendor's sysfs node, a file another
 * program keeps up to date); a file and a scale read them all, with no
 * protocol. The file holds one decimal number (surrounding blanks and one
 * newline allowed); energy_wh = number × file_scale. It has no power.
 *
 * A read opens the file afresh (a sysfs node is regenerated at each open),
 * reads at most LAB_METER_OUTPUT_MAX bytes, and refuses the rest. Opening
 * with O_NONBLOCK keeps a FIFO put there by mistake from hanging the read;
 * the kernel's read of a regular or sysfs file is not bounded by the
 * meter's timeout (hwmon reads a chip over I2C in milliseconds). The bytes
 * are then read by lab_meter_file_parse (pure, fuzzed).
 *
 * Never: write the file, guess a number out of text that is not one, take
 * an empty file for 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "meter-private.h"

typedef struct file_meter_s {
        lab_meter_t base; /* first */
        double scale;
} file_meter_t;

static void file_meter_close(lab_meter_t *m)
{
        lab_meter_done(m);
        free(m);
}

static int file_meter_open(const lab_meter_settings_t *s, lab_meter_t **ret, lab_error_t *err)
{
        file_meter_t *fm;
        int r;

        if (s->address[0] != '/')
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: the counter file %s must be an absolute path",
                                     s->name, s->address);
        if (!(isfinite(s->file_scale) && s->file_scale > 0))
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: the file scale must be a number above 0 (µJ to "
                                     "Wh: 2.7777777777777777e-10)",
                                     s->name);
        fm = calloc(1, sizeof *fm);
        if (!fm)
                return -ENOMEM;
        r = lab_meter_init(&fm->base, &lab_meter_file_ops, s);
        if (r < 0) {
                file_meter_close(&fm->base);
                return r;
        }
        fm->scale = s->file_scale;
        *ret = &fm->base;
        return 0;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Whether s is a plain decimal number: [+-]digits[.digits][e[+-]digits], a digit somewhere
   before the exponent. No hex, no "nan" or "inf" (told apart by the caller). */
static bool is_decimal(const char *s)
{
        bool digits = false;

        if (*s == '+' || *s == '-')
                s++;
        for (; *s >= '0' && *s <= '9'; s++)
                digits = true;
        if (*s == '.')
                for (s++; *s >= '0' && *s <= '9'; s++)
                        digits = true;
        if (!digits)
                return false;
        if (*s == 'e' || *s == 'E') {
                s++;
                if (*s == '+' || *s == '-')
                        s++;
                if (*s < '0' || *s > '9')
                        return false;
                while (*s >= '0' && *s <= '9')
                        s++;
        }
        return *s == '\0';
}

int lab_meter_file_parse(const lab_meter_t *m, char *text, size_t len, double scale,
                         lab_meter_reading_t *ret, lab_error_t *err)
{
        size_t start, end;
        char *num_end;
        double v;

        if (strlen(text) != len)
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s: the counter file %s holds a NUL byte, not a "
                                     "number",
                                     m->name, m->address);
        for (start = 0; start < len && is_blank(text[start]); start++)
                ;
        for (end = len; end > start && is_blank(text[end - 1]); end--)
                ;
        text[end] = '\0';
        if (start == end)
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s: the counter file %s is empty", m->name, m->address);

        errno = 0;
        v = strtod(text + start, &num_end);
        if (num_end == text + end && (isnan(v) || isinf(v)))
                /* "nan", "inf": a number, but not a count */
                return lab_meter_check_energy(m, "the counter file", v, err);
        if (!is_decimal(text + start) || num_end != text + end) {
                char excerpt[40];

                lab_meter_excerpt(excerpt, sizeof excerpt, text + start, end - start);
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s: the counter file %s holds \"%s\", not a number",
                                     m->name, m->address, excerpt);
        }
        if (errno == ERANGE && isinf(v))
                return lab_error_set(err, ERANGE, "meter_bad_value",
                                     "meter %s: the counter file %s holds a number too large "
                                     "for a counter",
                                     m->name, m->address);
        if (v < 0)
                return lab_error_set(err, ERANGE, "meter_bad_value",
                                     "meter %s: the counter file %s holds a negative count (%s)",
                                     m->name, m->address, text + start);
        /* no power figure: power_w NAN */
        return lab_meter_take(m, "the counter file's energy", v * scale, "the power", NAN, ret,
                              err);
}

static int file_meter_read(lab_meter_t *m, lab_meter_reading_t *ret, lab_error_t *err)
{
        file_meter_t *fm = (file_meter_t *)m;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        struct stat st;

        fd = open(m->address, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return lab_error_set(err, errno, "meter_unreachable",
                                     "meter %s: cannot open the counter file %s (%s); check the "
                                     "path and that the service may read it",
                                     m->name, m->address, strerror(errno));
        if (fstat(fd, &st) < 0)
                return lab_error_set(err, errno, "meter_unreachable",
                                     "meter %s: cannot stat the counter file %s (%s)", m->name,
                                     m->address, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return lab_error_set(err, EINVAL, "meter_unreachable",
                                     "meter %s: %s is not a regular file; point the meter at the "
                                     "counter file itself",
                                     m->name, m->address);
        buf = malloc(LAB_METER_OUTPUT_MAX + 1);
        if (!buf)
                return -ENOMEM;
        /* bounded: at most LAB_METER_OUTPUT_MAX + 1 bytes, in at most that many reads */
        for (size_t tries = 0; len <= LAB_METER_OUTPUT_MAX && tries <= LAB_METER_OUTPUT_MAX;
             tries++) {
                ssize_t n = read(fd, buf + len, LAB_METER_OUTPUT_MAX + 1 - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return lab_error_set(err, errno, "meter_unreachable",
                                             "meter %s: cannot read the counter file %s (%s)",
                                             m->name, m->address, strerror(errno));
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len > LAB_METER_OUTPUT_MAX)
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s: the counter file %s is over %d bytes: it is not "
                                     "a counter",
                                     m->name, m->address, LAB_METER_OUTPUT_MAX);
        buf[len] = '\0';
        return lab_meter_file_parse(m, buf, len, fm->scale, ret, err);
}

const lab_meter_ops_t lab_meter_file_ops = {
    .driver = "file",
    .open = file_meter_open,
    .close = file_meter_close,
    .read = file_meter_read,
};
