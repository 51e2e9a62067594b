/*
 * rfc3339.h - parse the date-times of the platform, the store and the
 * console answers.
 *
 * Why: the same strict parser for every timestamp the agent or labctl reads
 * (a deadline, a copy's last change, a console answer's clock), so that
 * both agree to the second. Pure, no dependencies.
 */
#pragma once

#include <stddef.h>
#include <time.h>

/*
 * Parse an RFC 3339 date-time ("2026-11-28T18:00:00Z", "...T18:00:00.5+01:00";
 * 'T'/'t' and 'Z'/'z' in either case). 0 with *ret (seconds since the epoch),
 * or -EINVAL.
 */
int lab_parse_rfc3339(const char *s, time_t *ret);

/* "2026-11-28T09:12:44.000Z" for t (UTC): the store's timestamp format, which sorts as text. */
void lab_format_rfc3339(time_t t, char *buf, size_t size);
