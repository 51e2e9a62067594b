/*
 * deadline-stage.h - jobs whose deadline the lab is about to miss.
 *
 * Why: a job may carry a deadline (the customer's promised time). The
 * platform can act on a deadline at risk (tell the customer, move the job)
 * only if the lab says so in time, so the agent estimates when each waiting
 * job will be printed — the prints ahead of it in the lab over the printers'
 * speed — and sends job.deadline_at_risk once per job when that estimate,
 * plus a margin, passes the deadline. The parsing and the judgement are pure.
 */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "rfc3339.h"
#include "store.h"

/* Whether a job done in `minutes` from now, plus margin_minutes, misses its deadline (pure). */
bool lab_deadline_at_risk(time_t deadline, time_t now, double minutes, double margin_minutes);

typedef struct lab_deadlines_s lab_deadlines_t;

/* A deadline watcher (remembers which jobs it warned about). */
int lab_deadlines_new(lab_deadlines_t **ret);
void lab_deadlines_free(lab_deadlines_t *d);

/*
 * Look at every job still to print that has a deadline, in print order
 * (rush first, then oldest), against the printers' speed (per_minute of the
 * enabled printers); append job.deadline_at_risk for each newly at risk.
 * Returns how many events were appended, or a negative errno.
 */
int lab_deadlines_check(lab_deadlines_t *d, lab_store_t *s, const lab_config_t *c, time_t now);
