/*
 * rfc3339.c - RFC 3339 date-times (see rfc3339.h). Shared by the daemon
 * (deadlines, copy ages) and labctl (ages on screen), which links nothing
 * else of the agent.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "rfc3339.h"

/* Read exactly n digits at *p into *ret; advances *p. */
static int digits(const char **p, int n, int *ret)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

int lab_parse_rfc3339(const char *s, time_t *ret)
{
        struct tm tm = {0};
        int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
        const char *p = s;
        time_t t;

        if (!s || digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
            digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't') || (p++, digits(&p, 2, &h) < 0) ||
            *p++ != ':' || digits(&p, 2, &mi) < 0 || *p++ != ':' || digits(&p, 2, &se) < 0)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                while (isdigit((unsigned char)*p))
                        p++;
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                sign = *p++ == '+' ? 1 : -1;
                if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0 || oh > 23 ||
                    om > 59)
                        return -EINVAL;
        } else
                return -EINVAL;
        if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
                return -EINVAL;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = se;
        t = timegm(&tm);
        /* timegm normalises 31 February into March: refuse what does not round-trip. */
        if (tm.tm_mday != d || tm.tm_mon != mo - 1)
                return -EINVAL;
        *ret = t - sign * (oh * 3600 + om * 60);
        return 0;
}

void lab_format_rfc3339(time_t t, char *buf, size_t size)
{
        struct tm tm;

        if (size == 0)
                return;
        buf[0] = '\0';
        if (gmtime_r(&t, &tm))
                strftime(buf, size, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}
