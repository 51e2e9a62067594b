/*
 * config-units.c - the unit syntax of the config file: durations, sizes, log levels.
 *
 * Why: "25s", "1h30m", "200MiB" and "info" are what a person writes; the
 * daemon wants microseconds, bytes and syslog priorities. These are pure
 * functions (no I/O, no allocation) so the grammar is tested on its own and
 * the loader only has to say where in the file a bad value was. They never
 * guess: a number without a unit, a fraction, a space or a wrong-case unit
 * is refused, and overflow is an error, never a wrap-around.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "config-private.h"

/* clang-format off */
const lab_config_word_t lab_config_log_levels[] = {
        { "error", LOG_ERR },   { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
        { "info", LOG_INFO },   { "debug", LOG_DEBUG },     { NULL, 0 },
};

typedef struct unit_s {
        const char *name;
        uint64_t factor;
} unit_t;

static const unit_t duration_units[] = {
        { "ms", LAB_USEC_PER_MSEC }, { "s", LAB_USEC_PER_SEC }, { "m", LAB_USEC_PER_MIN },
        { "h", LAB_USEC_PER_HOUR },  { "d", LAB_USEC_PER_DAY },
};

static const unit_t size_units[] = {
        { "B", 1 },
        { "kB", UINT64_C(1000) },
        { "MB", UINT64_C(1000000) },
        { "GB", UINT64_C(1000000000) },
        { "TB", UINT64_C(1000000000000) },
        { "KiB", LAB_KIB },
        { "MiB", LAB_MIB },
        { "GiB", LAB_GIB },
        { "TiB", LAB_GIB * 1024 },
};

/* Largest first, for lab_format_size. */
static const unit_t iec_units[] = {
        { "TiB", LAB_GIB * 1024 }, { "GiB", LAB_GIB }, { "MiB", LAB_MIB }, { "KiB", LAB_KIB },
};
/* clang-format on */

/* Read the decimal digits at *p into *ret, advancing *p; -EINVAL if none, -ERANGE on overflow. */
static int parse_digits(const char **p, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;
        bool overflow = false;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned d = (unsigned)(*s - '0');

                if (v > (UINT64_MAX - d) / 10)
                        overflow = true; /* keep scanning so the syntax is still checked */
                else
                        v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return overflow ? -ERANGE : 0;
}

/* Read the unit letters at *p (the longest run of ASCII letters) and look them up. */
static int parse_unit(const char **p, const unit_t *units, size_t n_units, uint64_t *ret)
{
        const char *s = *p;
        size_t len = 0;

        while ((s[len] >= 'a' && s[len] <= 'z') || (s[len] >= 'A' && s[len] <= 'Z'))
                len++;
        if (len == 0)
                return -EINVAL;
        for (size_t i = 0; i < n_units; i++)
                if (strlen(units[i].name) == len && memcmp(units[i].name, s, len) == 0) {
                        *p = s + len;
                        *ret = units[i].factor;
                        return 0;
                }
        return -EINVAL;
}

int lab_parse_duration(const char *s, uint64_t *ret)
{
        uint64_t total = 0;
        bool overflow = false;

        if (!s || !ret || *s == '\0')
                return -EINVAL;
        while (*s != '\0') {
                uint64_t n, factor;
                int r;

                r = parse_digits(&s, &n);
                if (r == -ERANGE)
                        overflow = true;
                else if (r < 0)
                        return r;
                r = parse_unit(&s, duration_units, ELEMENTSOF(duration_units), &factor);
                if (r < 0)
                        return r;
                if (overflow || n > UINT64_MAX / factor || total > UINT64_MAX - n * factor)
                        overflow = true;
                else
                        total += n * factor;
        }
        if (overflow)
                return -ERANGE;
        *ret = total;
        return 0;
}

int lab_parse_size(const char *s, uint64_t *ret)
{
        uint64_t n, factor;
        int r, digits;

        if (!s || !ret || *s == '\0')
                return -EINVAL;
        digits = parse_digits(&s, &n);
        if (digits < 0 && digits != -ERANGE)
                return digits;
        r = parse_unit(&s, size_units, ELEMENTSOF(size_units), &factor);
        if (r < 0)
                return r;
        if (*s != '\0')
                return -EINVAL; /* one number, one unit: "1GiB512MiB" is refused */
        if (digits == -ERANGE || n > UINT64_MAX / factor)
                return -ERANGE;
        *ret = n * factor;
        return 0;
}

int lab_config_word_lookup(const lab_config_word_t *words, const char *s)
{
        if (!s)
                return -EINVAL;
        for (; words->word; words++)
                if (strcmp(words->word, s) == 0)
                        return words->value;
        return -EINVAL;
}

void lab_config_words_join(const lab_config_word_t *words, char *buf, size_t size)
{
        size_t used = 0;

        if (size == 0)
                return;
        buf[0] = '\0';
        for (const lab_config_word_t *w = words; w->word; w++) {
                int n = snprintf(buf + used, size - used, "%s%s", w == words ? "" : ", ", w->word);

                if (n < 0 || (size_t)n >= size - used)
                        return;
                used += (size_t)n;
        }
}

int lab_parse_log_level(const char *s)
{
        return lab_config_word_lookup(lab_config_log_levels, s);
}

void lab_format_duration(uint64_t usec, char *buf, size_t size)
{
        for (size_t i = ELEMENTSOF(duration_units); i > 0; i--) {
                const unit_t *u = &duration_units[i - 1];

                if (usec != 0 && usec % u->factor == 0) {
                        snprintf(buf, size, "%" PRIu64 "%s", usec / u->factor, u->name);
                        return;
                }
        }
        if (usec == 0)
                snprintf(buf, size, "0s");
        else
                snprintf(buf, size, "%" PRIu64 "us", usec);
}

void lab_format_size(uint64_t bytes, char *buf, size_t size)
{
        for (size_t i = 0; i < ELEMENTSOF(iec_units); i++)
                if (bytes != 0 && bytes % iec_units[i].factor == 0) {
                        snprintf(buf, size, "%" PRIu64 "%s", bytes / iec_units[i].factor,
                                 iec_units[i].name);
                        return;
                }
        snprintf(buf, size, "%" PRIu64 "B", bytes);
}
