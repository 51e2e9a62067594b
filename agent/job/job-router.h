/*
 * job-router.h - which printer of the lab should print a job.
 *
 * Why: a lab has several printers that overlap in what they can do. The
 * choice is a score, not a switch statement: a printer that cannot do the
 * product (media size and paper in its model's tables, a usable profile,
 * enabled, healthy) is out, with its reason; among the rest the score is
 * the configured weight divided by (1 + the minutes of work already waiting
 * for it); ties go to the name that sorts first, so the choice is
 * deterministic. Pure: the caller gathers the facts.
 */
#pragma once

#include <stddef.h>

typedef struct lab_route_candidate_s {
        const char *printer; /* its name */
        const char *unfit;   /* NULL when it can print the job, else "keyword: sentence" */
        double weight;       /* printers[].weight, > 0 */
        unsigned backlog;    /* prints waiting for it or in flight */
        double per_minute;   /* prints per minute it manages; <= 0: unknown, counted as 1 */
} lab_route_candidate_t;

/* The score of a fit candidate: weight / (1 + backlog / per_minute). */
double lab_router_score(const lab_route_candidate_t *c);

/*
 * The index of the best candidate, or -1 when none fits: then why holds
 * "no_printer: no printer can print this job (NAME: reason; ...)".
 */
int lab_router_choose(const lab_route_candidate_t *v, size_t n, char *why, size_t size);
