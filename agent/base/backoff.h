/*
 * backoff.h - how long to wait before retrying the platform.
 *
 * Why: a hundred labs retrying in lock-step after an outage would knock the
 * platform over again. docs/protocol.md fixes the rule: full jitter,
 * delay = random(0, min(cap, base * 2^attempt)), reset after a success, and
 * a Retry-After from the server (seconds or HTTP date, at most 10 minutes)
 * replaces the computed delay. Pure: the caller passes the clock and the
 * random number, so tests are deterministic.
 */
#pragma once

#include <stdint.h>
#include <time.h>

/* The protocol's defaults: 1 s base, 60 s cap. Times are microseconds, like sd-event. */
#define LAB_BACKOFF_BASE_USEC_DEFAULT (1ULL * 1000000ULL)
#define LAB_BACKOFF_CAP_USEC_DEFAULT  (60ULL * 1000000ULL)
/* The longest Retry-After we honour; longer values are clamped to it. */
#define LAB_RETRY_AFTER_MAX_USEC (600ULL * 1000000ULL)

/* Consecutive failures of one kind of request; zero it after a success. */
typedef struct lab_backoff_s {
        unsigned attempt; /* failures so far, saturating */
} lab_backoff_t;

/*
 * Full-jitter delay for a retry after attempt failures (0 = first retry):
 * random scaled onto [0, min(cap_usec, base_usec * 2^attempt)], both ends included
 * (random 0 -> 0, random UINT32_MAX -> the ceiling). Never overflows, for any attempt.
 */
uint64_t lab_backoff_delay(unsigned attempt, uint64_t base_usec, uint64_t cap_usec,
                           uint32_t random);

/* The delay for b's current attempt; then counts one more failure. */
uint64_t lab_backoff_next(lab_backoff_t *b, uint64_t base_usec, uint64_t cap_usec, uint32_t random);

/* Forget all failures (after a success). */
void lab_backoff_reset(lab_backoff_t *b);

/*
 * Parse a Retry-After value (RFC 9110 10.2.3): delay-seconds, or an HTTP-date (IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850 and asctime forms a recipient
 * must also accept). Surrounding spaces/tabs are ignored. The wait is clamped to
 * LAB_RETRY_AFTER_MAX_USEC; a date at or before now gives 0. Returns 0 with *ret_usec set, or
 * -EINVAL for anything else (empty, sign, non-digits, more digits than uint64_t holds, a
 * malformed or impossible date).
 */
int lab_parse_retry_after(const char *value, time_t now, uint64_t *ret_usec);
