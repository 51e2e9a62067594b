/*
 * energy-share.h - one interval's energy shared among the copies printed in it (pure).
 *
 * Why: the platform reports emissions per order and routes by cost, so each
 * job gets its part of what the meter counted (issue 17, "Attribution"):
 * the energy of an interval is shared among the copies printed in it on the
 * meter's printers, weighted by media area; an interval with no copies is
 * idle energy. The promise is exact: over any window, the jobs' energy plus
 * the idle energy equals the metered total. Floating-point shares would
 * drift by a rounding per copy, so everything here is whole milliwatt-hours
 * (the counter's deltas, energy-counter.h, are too) and the shares are
 * rounded by largest remainder: they add up to the interval's mWh exactly,
 * in every interval, so over every window. No I/O, no logging, no clock
 * (tests/unit/test-energy.c).
 *
 * The rules:
 *   - A copy's weight is its media area (any unit, the same for every copy
 *     of a call, e.g. mm² from the media size) relative to the largest
 *     copy's, to 2^-40: equal sizes weigh exactly the same, an 8x12 exactly
 *     four 4x6.
 *   - Each copy gets floor(E × w / W) mWh; the mWh left over (fewer than
 *     the copies) go one each to the largest remainders; ties go to the
 *     smaller key (job id, then copy number), then to the earlier copy, so
 *     the result does not depend on the order of distinct copies.
 *   - With copies, the idle energy is 0; with none, it is all of E.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "energy-counter.h"
#include "url-path.h"

/* At most this many copies in one interval: the exact arithmetic's bound. */
#define LAB_ENERGY_SHARE_MAX (1u << 20)

/* A job id as a job total keeps it, with its NUL (docs/protocol.md, "Ids and paths"). */
#define LAB_ENERGY_JOB_MAX (LAB_ID_MAX + 1)

/* One copy printed in the interval on one of the meter's printers. */
typedef struct lab_energy_copy_s {
        const char *job; /* job id */
        unsigned copy;   /* copy number within the job */
        double area;     /* media area, finite and > 0 (mm²: width × height of the media) */
} lab_energy_copy_t;

/* One job's energy over many intervals (lab_energy_jobs_add). */
typedef struct lab_energy_job_total_s {
        char job[LAB_ENERGY_JOB_MAX];
        int64_t mwh;                  /* the sum of its copies' shares */
        unsigned copies;              /* the copy shares added (one per copy printed) */
        lab_energy_quality_t quality; /* the worst of its intervals': ok < gap < meter_reset */
} lab_energy_job_total_t;

/*
 * Share energy_mwh (>= 0) among the n copies: ret_share_mwh[i] for copies[i]
 * (an array of n, may be NULL when n is 0) and *ret_idle_mwh, which add up
 * to energy_mwh exactly. -EINVAL for a negative energy, a copy with no job
 * id or an area that is not finite and > 0; -E2BIG for more than
 * LAB_ENERGY_SHARE_MAX copies; -ENOMEM. Nothing written on failure.
 */
int lab_energy_share(int64_t energy_mwh, const lab_energy_copy_t *copies, size_t n,
                     int64_t *ret_share_mwh, int64_t *ret_idle_mwh);

/*
 * Add one interval's shares (of lab_energy_share) to per-job totals: a job
 * already in totals[0..*n) gets its copies' mWh added and its quality
 * worsened to the interval's, a new job is appended. -ENOSPC when a new job
 * does not fit in max, -ENAMETOOLONG for a job id of LAB_ENERGY_JOB_MAX
 * characters or more, -EINVAL for a copy with no job id: then nothing is
 * added (all of the interval or none of it).
 */
int lab_energy_jobs_add(lab_energy_job_total_t *totals, size_t *n, size_t max,
                        const lab_energy_copy_t *copies, const int64_t *share_mwh, size_t n_copies,
                        lab_energy_quality_t quality);
