/*
 * retention-stage.h - delete the files of finished jobs once the reprint window is over.
 *
 * Why: a lab's disk fills with print masters and print files; once a job is
 * finished (reported printed, rejected, canceled, failed, dropped) and
 * storage.retention has passed, its files go. The store keeps the job and
 * its render audit record, so the history stays and a reprint can be
 * rendered again to the same bytes from a new download. Rejected offers
 * (remembered so that each is reported once) are forgotten at the same age.
 */
#pragma once

#include <stdint.h>
#include <time.h>

#include "store.h"

/*
 * Delete the files of jobs finished before now - retention_usec (in
 * batches, at most 10,000 jobs a sweep). A file that cannot be deleted
 * (other than already gone) is logged and its job tried again at the next
 * sweep. Rejected offers remembered before the same cutoff are forgotten
 * (store.h, lab_store_offers_prune). Returns 0 with the jobs and files done,
 * or a negative errno.
 */
int lab_retention_sweep(lab_store_t *s, uint64_t retention_usec, time_t now, unsigned *ret_jobs,
                        unsigned *ret_files);

/* The store's timestamp for t (UTC, "YYYY-MM-DDTHH:MM:SS.000Z") into buf[32] (pure). */
void lab_retention_cutoff(time_t t, char buf[32]);
