/*
 * energy-share.c - an interval's mWh shared by media area, exactly (see energy-share.h). Pure.
 *
 * The one idea: integer weights and integer energy, products in 128 bits,
 * so floor(E × w / W) and its remainder are exact; the mWh the floors leave
 * go to the largest remainders, and the shares add up to E by construction.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "energy-share.h"

/* A copy's weight relative to the largest: 2^40 for the largest itself. */
#define WEIGHT_ONE 40

__extension__ typedef unsigned __int128 u128_t;

typedef struct entry_s {
        size_t index;                  /* into the caller's copies */
        const lab_energy_copy_t *copy; /* the copy, for the tie by key */
        uint64_t remainder;            /* (E × w) mod W: comparable, W is the same for all */
        int64_t share;                 /* floor(E × w / W), then + 1 for the largest remainders */
} entry_t;

/* Largest remainder first; ties by job id, copy number, then the caller's order. */
static int entry_compare(const void *a, const void *b)
{
        const entry_t *x = a, *y = b;
        int k;

        if (x->remainder != y->remainder)
                return x->remainder > y->remainder ? -1 : 1;
        k = strcmp(x->copy->job, y->copy->job);
        if (k != 0)
                return k;
        if (x->copy->copy != y->copy->copy)
                return x->copy->copy < y->copy->copy ? -1 : 1;
        return x->index < y->index ? -1 : (x->index > y->index);
}

int lab_energy_share(int64_t energy_mwh, const lab_energy_copy_t *copies, size_t n,
                     int64_t *ret_share_mwh, int64_t *ret_idle_mwh)
{
        entry_t *entries;
        double largest = 0;
        uint64_t total_weight = 0;
        int64_t left = energy_mwh;

        if (energy_mwh < 0)
                return -EINVAL;
        if (n > LAB_ENERGY_SHARE_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                if (!copies[i].job || !isfinite(copies[i].area) || !(copies[i].area > 0))
                        return -EINVAL;
                largest = fmax(largest, copies[i].area);
        }
        if (n == 0) {
                *ret_idle_mwh = energy_mwh;
                return 0;
        }

        entries = calloc(n, sizeof *entries);
        if (!entries)
                return -ENOMEM;
        /* Weights up to 2^40 each, so W < 2^60 and E × w < 2^103: exact in 128 bits. */
        for (size_t i = 0; i < n; i++) {
                entries[i].index = i;
                entries[i].copy = &copies[i];
                entries[i].remainder = (uint64_t)llround(
                    ldexp(copies[i].area / largest, WEIGHT_ONE)); /* weight, for now */
                total_weight += entries[i].remainder;
        }
        for (size_t i = 0; i < n; i++) {
                u128_t product = (u128_t)(uint64_t)energy_mwh * entries[i].remainder;

                entries[i].share = (int64_t)(product / total_weight);
                entries[i].remainder = (uint64_t)(product % total_weight);
                left -= entries[i].share;
        }
        /* 0 <= left < the copies with a remainder: the sum of remainders is left × W. */
        qsort(entries, n, sizeof *entries, entry_compare);
        for (size_t i = 0; i < n && left > 0; i++, left--)
                entries[i].share++;
        for (size_t i = 0; i < n; i++)
                ret_share_mwh[entries[i].index] = entries[i].share;
        *ret_idle_mwh = 0;
        free(entries);
        return 0;
}

/* The index of job in totals[0..n), or n. */
static size_t job_find(const lab_energy_job_total_t *totals, size_t n, const char *job)
{
        size_t i;

        for (i = 0; i < n; i++)
                if (strcmp(totals[i].job, job) == 0)
                        break;
        return i;
}

int lab_energy_jobs_add(lab_energy_job_total_t *totals, size_t *n, size_t max,
                        const lab_energy_copy_t *copies, const int64_t *share_mwh, size_t n_copies,
                        lab_energy_quality_t quality)
{
        size_t new_jobs = 0;

        if (*n > max)
                return -EINVAL;
        /* Check everything first: all of the interval or none of it. */
        for (size_t i = 0; i < n_copies; i++) {
                bool seen = false;

                if (!copies[i].job || share_mwh[i] < 0)
                        return -EINVAL;
                if (strnlen(copies[i].job, LAB_ENERGY_JOB_MAX) >= LAB_ENERGY_JOB_MAX)
                        return -ENAMETOOLONG;
                if (job_find(totals, *n, copies[i].job) < *n)
                        continue;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = strcmp(copies[j].job, copies[i].job) == 0;
                if (!seen)
                        new_jobs++;
        }
        if (new_jobs > max - *n)
                return -ENOSPC;

        for (size_t i = 0; i < n_copies; i++) {
                size_t k = job_find(totals, *n, copies[i].job);

                if (k == *n) {
                        totals[k] = (lab_energy_job_total_t){.quality = quality};
                        strcpy(totals[k].job, copies[i].job);
                        (*n)++;
                }
                totals[k].mwh += share_mwh[i];
                totals[k].copies++;
                if (quality > totals[k].quality)
                        totals[k].quality = quality;
        }
        return 0;
}
