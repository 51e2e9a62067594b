/*
 * retention-stage.c - delete the files of finished jobs (see retention-stage.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "retention-stage.h"
#include "rfc3339.h"

#define SWEEP_BATCH   100
#define SWEEP_BATCHES 100

void lab_retention_cutoff(time_t t, char buf[32])
{
        lab_format_rfc3339(t, buf, 32);
}

int lab_retention_sweep(lab_store_t *s, uint64_t retention_usec, time_t now, unsigned *ret_jobs,
                        unsigned *ret_files)
{
        time_t back = (time_t)(retention_usec / 1000000ULL);
        unsigned jobs = 0, files = 0;
        int64_t forgotten = 0;
        char cutoff[32];
        int r = 0;

        lab_retention_cutoff(now > back ? now - back : 0, cutoff);
        for (int batch = 0; batch < SWEEP_BATCHES; batch++) {
                char **ids = NULL;
                size_t n_ids = 0, kept = 0;

                r = lab_store_jobs_expired(s, cutoff, SWEEP_BATCH, &ids);
                if (r < 0)
                        break;
                for (; ids && ids[n_ids]; n_ids++) {
                        char **paths = NULL;
                        bool failed = false;

                        if (lab_store_job_files(s, ids[n_ids], &paths) < 0) {
                                kept++;
                                continue;
                        }
                        for (size_t i = 0; paths && paths[i]; i++) {
                                if (unlink(paths[i]) == 0)
                                        files++;
                                else if (errno != ENOENT) {
                                        log_warning("retention: cannot delete %s: %m; trying "
                                                    "again at the next sweep",
                                                    paths[i]);
                                        failed = true;
                                }
                        }
                        lab_strv_free(paths);
                        if (failed || lab_store_job_files_gone(s, ids[n_ids]) < 0)
                                kept++;
                        else
                                jobs++;
                }
                lab_strv_free(ids);
                /* A full batch of jobs that all stay would come back at once: stop there. */
                if (n_ids < SWEEP_BATCH || kept == n_ids)
                        break;
        }
        /*
         * Rejected offers are remembered as long as files are kept; one
         * listed again after that is reported again.
         */
        if (lab_store_offers_prune(s, cutoff, &forgotten) < 0)
                log_warning("retention: cannot forget old rejected offers; trying again at the "
                            "next sweep");
        else if (forgotten > 0)
                log_debug("retention: forgot %lld rejected offer(s)", (long long)forgotten);
        if (ret_jobs)
                *ret_jobs = jobs;
        if (ret_files)
                *ret_files = files;
        return r < 0 ? r : 0;
}
