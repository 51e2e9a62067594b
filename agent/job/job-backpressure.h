/*
 * job-backpressure.h - whether the lab takes new work right now.
 *
 * Why: a lab that accepts more than it can print, or than its disk can hold,
 * fails jobs halfway instead of leaving them with the platform, which could
 * send them to another lab. So the agent stops claiming new offers while its
 * backlog (jobs accepted and not yet printed) is at jobs.backlog_max, while
 * its spool (print masters and print files) is near storage.spool_max, or
 * while the disk under the state directory is nearly full; it says so
 * upstream (lab.accepting) and takes offers again once below. Offers it does
 * not claim stay with the platform. The decision is pure; the facts are
 * gathered by the caller.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lab_load_s {
        uint64_t backlog;     /* jobs accepted and not finished or printed */
        uint64_t backlog_max; /* jobs.backlog_max */
        uint64_t spool_bytes; /* bytes in the spool (masters) and render (print files) dirs */
        uint64_t spool_max;   /* storage.spool_max */
        uint64_t free_bytes;  /* free space for the agent on the state directory's file system */
        uint64_t reserve;     /* free space to keep: room for one more job at least */
} lab_load_t;

/*
 * true when new offers may be claimed; otherwise false with a "keyword:
 * sentence" in why (backlog_full, spool_full, disk_full). A job being
 * claimed needs room for its master and its print file, so the spool
 * counts as full one reserve before spool_max.
 */
bool lab_backpressure_accepting(const lab_load_t *l, char *why, size_t size);
