/*
 * job-backpressure.c - whether the lab takes new work (see job-backpressure.h).
 */
#include <stdio.h>

#include "job-backpressure.h"

/* Bytes as a short human figure (MiB). */
static double mib(uint64_t b)
{
        return (double)b / (1024.0 * 1024.0);
}

bool lab_backpressure_accepting(const lab_load_t *l, char *why, size_t size)
{
        if (l->backlog >= l->backlog_max) {
                snprintf(why, size,
                         "backlog_full: %llu job(s) waiting to print, at jobs.backlog_max %llu; "
                         "new offers stay with the platform until the printers catch up",
                         (unsigned long long)l->backlog, (unsigned long long)l->backlog_max);
                return false;
        }
        if (l->spool_bytes + l->reserve >= l->spool_max) {
                snprintf(why, size,
                         "spool_full: the spool holds %.0f MiB, storage.spool_max is %.0f MiB; "
                         "new offers wait until printed jobs free room (or raise "
                         "storage.spool_max)",
                         mib(l->spool_bytes), mib(l->spool_max));
                return false;
        }
        if (l->free_bytes < l->reserve) {
                snprintf(why, size,
                         "disk_full: %.0f MiB free under the state directory, %.0f MiB needed "
                         "for one more job; free disk space",
                         mib(l->free_bytes), mib(l->reserve));
                return false;
        }
        if (size)
                why[0] = '\0';
        return true;
}
