/*
 * backoff.c - full-jitter retry delays and the Retry-After header.
 *
 * The one idea: integer arithmetic that cannot overflow, whatever attempt
 * count or header a server sends us. Retry-After dates are parsed by hand
 * against the three fixed RFC 9110 layouts (no strptime: it is locale- and
 * whitespace-lenient and would accept dates the RFC does not).
 */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "backoff.h"
#include "macro.h"

#define LAB_USEC_PER_SEC        1000000ULL
#define LAB_RETRY_AFTER_MAX_SEC (LAB_RETRY_AFTER_MAX_USEC / LAB_USEC_PER_SEC)

uint64_t lab_backoff_delay(unsigned attempt, uint64_t base_usec, uint64_t cap_usec, uint32_t random)
{
        uint64_t ceiling, q, r;

        if (base_usec == 0 || cap_usec == 0)
                return 0;
        /* base * 2^attempt > cap  <=>  base > cap / 2^attempt (integer division is exact here). */
        if (attempt >= 64 || base_usec > (cap_usec >> attempt))
                ceiling = cap_usec;
        else
                ceiling = base_usec << attempt;

        /* ceiling * random / UINT32_MAX without a 128-bit product: split ceiling = q*M + r. */
        q = ceiling / UINT32_MAX;
        r = ceiling % UINT32_MAX;
        return q * random + (r * random) / UINT32_MAX;
}

uint64_t lab_backoff_next(lab_backoff_t *b, uint64_t base_usec, uint64_t cap_usec, uint32_t random)
{
        uint64_t d = lab_backoff_delay(b->attempt, base_usec, cap_usec, random);

        if (b->attempt < UINT_MAX)
                b->attempt++;
        return d;
}

void lab_backoff_reset(lab_backoff_t *b)
{
        b->attempt = 0;
}

/* Parse exactly n ASCII digits at p into *ret. */
static bool lab_digits(const char *p, size_t n, int *ret)
{
        int v = 0;

        for (size_t i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return false;
                v = v * 10 + (p[i] - '0');
        }
        *ret = v;
        return true;
}

/* The index (0-11) of the three-letter month at p, or -1 (names are case-sensitive). */
static int lab_month(const char *p)
{
        static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

        for (int i = 0; i < 12; i++)
                if (memcmp(p, names + 3 * i, 3) == 0)
                        return i;
        return -1;
}

/* True when the n bytes at p are a day name: short ("Sun") or long ("Sunday"). */
static bool lab_weekday(const char *p, size_t n, bool long_form)
{
        static const char *const names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                            "Friday", "Saturday", "Sunday"};

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                size_t len = long_form ? strlen(names[i]) : 3;

                if (n == len && memcmp(p, names[i], len) == 0)
                        return true;
        }
        return false;
}

/* Parse "HH:MM:SS" at p into tm. */
static bool lab_hms(const char *p, struct tm *tm)
{
        if (p[2] != ':' || p[5] != ':')
                return false;
        if (!lab_digits(p, 2, &tm->tm_hour) || !lab_digits(p + 3, 2, &tm->tm_min) ||
            !lab_digits(p + 6, 2, &tm->tm_sec))
                return false;
        /* second 60 is a leap second (RFC 5322); timegm folds it into the next minute. */
        return tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 60;
}

/* Days in month mon (0-11) of the Gregorian year. */
static int lab_days_in_month(int year, int mon)
{
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

        return days[mon] + (mon == 1 && leap);
}

/* Parse one of the three HTTP-date layouts (p[0..n), not NUL-terminated) into *ret (UTC). */
static bool lab_parse_http_date(const char *p, size_t n, time_t now, time_t *ret)
{
        struct tm tm = {0};
        int year, day;
        const char *comma;

        if (n == 29) {
                /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
                if (!lab_weekday(p, 3, false) || memcmp(p + 3, ", ", 2) != 0 || p[7] != ' ' ||
                    p[11] != ' ' || p[16] != ' ' || memcmp(p + 25, " GMT", 4) != 0)
                        return false;
                if (!lab_digits(p + 5, 2, &day) || (tm.tm_mon = lab_month(p + 8)) < 0 ||
                    !lab_digits(p + 12, 4, &year) || !lab_hms(p + 17, &tm))
                        return false;
        } else if (n == 24 && p[3] == ' ') {
                /* asctime: "Sun Nov  6 08:49:37 1994" (day is SP DIGIT or 2DIGIT) */
                if (!lab_weekday(p, 3, false) || p[7] != ' ' || p[10] != ' ' || p[19] != ' ')
                        return false;
                if ((tm.tm_mon = lab_month(p + 4)) < 0 ||
                    !(p[8] == ' ' ? lab_digits(p + 9, 1, &day) : lab_digits(p + 8, 2, &day)) ||
                    !lab_hms(p + 11, &tm) || !lab_digits(p + 20, 4, &year))
                        return false;
        } else {
                /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
                struct tm cur;
                int yy;

                comma = memchr(p, ',', n);
                if (!comma || (size_t)(p + n - comma) != 24)
                        return false;
                if (!lab_weekday(p, (size_t)(comma - p), true) || comma[1] != ' ' ||
                    comma[4] != '-' || comma[8] != '-' || comma[11] != ' ' ||
                    memcmp(comma + 20, " GMT", 4) != 0)
                        return false;
                if (!lab_digits(comma + 2, 2, &day) || (tm.tm_mon = lab_month(comma + 5)) < 0 ||
                    !lab_digits(comma + 9, 2, &yy) || !lab_hms(comma + 12, &tm))
                        return false;
                /* A two-digit year more than 50 years ahead is the last such year in the past. */
                if (!gmtime_r(&now, &cur))
                        return false;
                year = (cur.tm_year + 1900) / 100 * 100 + yy;
                if (year > cur.tm_year + 1900 + 50)
                        year -= 100;
        }

        if (day < 1 || day > lab_days_in_month(year, tm.tm_mon))
                return false;
        tm.tm_mday = day;
        tm.tm_year = year - 1900;
        tm.tm_isdst = 0;
        *ret = timegm(&tm);
        return true;
}

int lab_parse_retry_after(const char *value, time_t now, uint64_t *ret_usec)
{
        const char *p, *end;
        uint64_t secs = 0;
        time_t when;
        bool digits = true;

        if (!value || !ret_usec)
                return -EINVAL;
        p = value;
        end = value + strlen(value);
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
                end--;
        if (p == end)
                return -EINVAL;

        for (const char *c = p; c < end; c++)
                if (*c < '0' || *c > '9')
                        digits = false;

        if (digits) {
                for (const char *c = p; c < end; c++) {
                        uint64_t d = (uint64_t)(*c - '0');

                        if (secs > (UINT64_MAX - d) / 10)
                                return -EINVAL; /* does not fit: not a number we trust */
                        secs = secs * 10 + d;
                }
        } else {
                if (!lab_parse_http_date(p, (size_t)(end - p), now, &when))
                        return -EINVAL;
                /* Unsigned difference is exact when when > now, whatever their signs. */
                secs = when > now ? (uint64_t)when - (uint64_t)now : 0;
        }

        if (secs > LAB_RETRY_AFTER_MAX_SEC)
                secs = LAB_RETRY_AFTER_MAX_SEC;
        *ret_usec = secs * LAB_USEC_PER_SEC;
        return 0;
}
