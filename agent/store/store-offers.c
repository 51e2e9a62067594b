/*
 * store-offers.c - offers rejected before any job row could exist.
 *
 * Why: an offer that fails validation (bad_job) has no usable id to key a
 * job row on, yet the platform lists it on every poll until it hears the
 * lab's answer. The offer is remembered here by the SHA-256 of its canonical
 * JSON, together with its job.rejected event in one transaction, so it is
 * reported exactly once and the next polls neither log nor report it; an
 * offer with the same id and another body has another digest and is judged
 * again. Rows are forgotten after storage.retention (retention-stage.c).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"

#include "store-private.h"

int lab_store_offer_known(lab_store_t *s, const char *digest)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r;

        if (!s || !digest)
                return -EINVAL;
        r = store_prepare(s, "SELECT 1 FROM rejected_offers WHERE digest = ?1", &stmt);
        if (r >= 0)
                r = store_bind_text(stmt, 1, digest);
        return r < 0 ? r : store_step_exists(s, stmt);
}

int lab_store_offer_reject(lab_store_t *s, const char *digest, const char *job_id,
                           const char *reason, const char *field, const char *detail,
                           const char *event_body)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int64_t n;
        int r;

        if (!s || !digest || strlen(digest) != 64 || !reason || !reason[0] ||
            !store_is_json_object(event_body))
                return -EINVAL;

        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_prepare(s,
                          "INSERT INTO rejected_offers (digest, job_id, reason, field, detail) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)",
                          &stmt);
        if (r >= 0)
                r = store_bind_text(stmt, 1, digest);
        if (r >= 0)
                r = store_bind_text(stmt, 2, job_id);
        if (r >= 0)
                r = store_bind_text(stmt, 3, reason);
        if (r >= 0)
                r = store_bind_text(stmt, 4, field);
        if (r >= 0)
                r = store_bind_text(stmt, 5, detail);
        if (r < 0)
                return r;
        n = store_step_write(s, stmt);
        if (n < 0)
                return (int)n;
        r = store_event_insert(s, LAB_EVENT_JOB, "job.rejected", job_id, event_body, NULL);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

int lab_store_offers_prune(lab_store_t *s, const char *before, int64_t *ret_deleted)
{
        int64_t n;

        if (!s || !before)
                return -EINVAL;
        n = store_write_text(s, "DELETE FROM rejected_offers WHERE created_at < ?1", before, NULL);
        if (n < 0)
                return (int)n;
        if (ret_deleted)
                *ret_deleted = n;
        return 0;
}
