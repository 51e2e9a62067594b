/*
 * job-router.c - score the lab's printers for a job (see job-router.h).
 */
#include <stdio.h>
#include <string.h>

#include "job-router.h"

double lab_router_score(const lab_route_candidate_t *c)
{
        double per_minute = c->per_minute > 0 ? c->per_minute : 1.0;

        return c->weight / (1.0 + (double)c->backlog / per_minute);
}

int lab_router_choose(const lab_route_candidate_t *v, size_t n, char *why, size_t size)
{
        int best = -1;
        double best_score = 0;
        size_t used;

        for (size_t i = 0; i < n; i++) {
                double score;

                if (v[i].unfit)
                        continue;
                score = lab_router_score(&v[i]);
                if (best < 0 || score > best_score ||
                    (score == best_score && strcmp(v[i].printer, v[best].printer) < 0)) {
                        best = (int)i;
                        best_score = score;
                }
        }
        if (best >= 0 || size == 0)
                return best;

        used = (size_t)snprintf(why, size, "no_printer: no printer can print this job%s",
                                n ? " (" : " (the lab has no printers)");
        for (size_t i = 0; i < n && used < size; i++)
                used += (size_t)snprintf(why + used, size - used, "%s%s: %s", i ? "; " : "",
                                         v[i].printer, v[i].unfit);
        if (n && used < size)
                snprintf(why + used, size - used, ")");
        return -1;
}
