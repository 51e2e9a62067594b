/*
 * platform-download.c - fetch each accepted job's print master: streamed to a
 * temporary file in the spool, resumed with Range, verified, then renamed.
 *
 * The one idea: a file named JOB.asset exists only once its SHA-256 matched
 * the job; until then the bytes live in JOB.part, which survives a crash or
 * an interrupted transfer and is resumed with `Range: bytes=N-` (the hash
 * is rebuilt from the bytes already on disk). A checksum mismatch throws the
 * part away and counts one attempt (kept in the store, so restarts do not
 * reset it); after platform.download_attempts the job fails with
 * asset_checksum_mismatch. Network trouble is not the job's fault: it is
 * retried with backoff and never counted. The content type is sniffed from
 * the first bytes, never taken from a header.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "digest.h"
#include "io-util.h"
#include "job-state.h"
#include "log.h"
#include "platform-private.h"
#include "platform-sniff.h"

static const lab_job_state_t download_states[] = {LAB_JOB_ACCEPTED, LAB_JOB_DOWNLOADING};

struct lab_download_s {
        lab_platform_t *p;
        char *job_id;
        char *part_path;
        char *final_path;
        int fd;
        lab_sha256_t *hash;
        int64_t expected;    /* asset.bytes */
        int64_t have;        /* bytes in the part file */
        int64_t offset;      /* where this request started */
        bool checked_status; /* first body bytes seen: status/range checked */
        bool discard;        /* not a 2xx: ignore the body */
        bool overflow;       /* more bytes than asset.bytes */
        char sha_expected[LAB_SHA256_HEX_LEN + 1];
        uint8_t head[LAB_SNIFF_BYTES];
        size_t head_len;
        lab_download_t *prev, *next;
};

/* In-memory backoff for a job whose download failed for a network reason. */
typedef struct lab_retry_s {
        char *job_id;
        uint64_t not_before; /* CLOCK_MONOTONIC usec */
        lab_backoff_t backoff;
        struct lab_retry_s *next;
} lab_retry_t;

/* The retry entry of job_id (created if create). */
static lab_retry_t *retry_get(lab_platform_t *p, const char *job_id, bool create)
{
        lab_retry_t *t;

        for (t = p->retries; t; t = t->next)
                if (strcmp(t->job_id, job_id) == 0)
                        return t;
        if (!create)
                return NULL;
        t = calloc(1, sizeof *t);
        if (!t || !(t->job_id = strdup(job_id))) {
                free(t);
                return NULL;
        }
        t->next = p->retries;
        p->retries = t;
        return t;
}

/* Forget job_id's retry entry. */
static void retry_forget(lab_platform_t *p, const char *job_id)
{
        for (lab_retry_t **t = &p->retries; *t; t = &(*t)->next)
                if (strcmp((*t)->job_id, job_id) == 0) {
                        lab_retry_t *dead = *t;
                        *t = dead->next;
                        free(dead->job_id);
                        free(dead);
                        return;
                }
}

/* The download of job_id in flight, or NULL. */
static lab_download_t *download_find(lab_platform_t *p, const char *job_id)
{
        for (lab_download_t *d = p->downloads; d; d = d->next)
                if (strcmp(d->job_id, job_id) == 0)
                        return d;
        return NULL;
}

/* Unlink and free a download (closes the part file, keeps it on disk). */
static void download_free(lab_download_t *d)
{
        lab_platform_t *p = d->p;

        LAB_LIST_REMOVE(p->downloads, d);
        p->n_downloads--;
        if (d->fd >= 0)
                close(d->fd);
        lab_sha256_free(d->hash);
        free(d->job_id);
        free(d->part_path);
        free(d->final_path);
        free(d);
}

/* Start over: empty the part file and the hash. */
static int download_restart(lab_download_t *d)
{
        lab_sha256_free(d->hash);
        d->hash = NULL;
        d->have = 0;
        d->head_len = 0;
        if (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0)
                return -errno;
        return lab_sha256_new(&d->hash);
}

/* Keep the first bytes for sniffing. */
static void keep_head(lab_download_t *d, const uint8_t *data, size_t n)
{
        while (d->head_len < sizeof d->head && n > 0) {
                d->head[d->head_len++] = *data++;
                n--;
        }
}

/* Rebuild the hash (and head) from the bytes already in the part file. */
static int download_rehash(lab_download_t *d)
{
        uint8_t buf[65536];
        int64_t done = 0;
        int r;

        r = lab_sha256_new(&d->hash);
        if (r < 0)
                return r;
        if (lseek(d->fd, 0, SEEK_SET) < 0)
                return -errno;
        while (done < d->have) {
                ssize_t n = read(d->fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                lab_sha256_update(d->hash, buf, (size_t)n);
                keep_head(d, buf, (size_t)n);
                done += n;
        }
        return lseek(d->fd, 0, SEEK_END) < 0 ? -errno : 0;
}

/* Check the answer's status (and Content-Range) at the first body bytes. */
static int check_status(lab_download_t *d, lab_req_t *r)
{
        long status = 0;
        unsigned long long start;

        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        d->checked_status = true;
        if (status == 206 && d->offset > 0 &&
            sscanf(r->content_range, "bytes %llu-", &start) == 1 && (int64_t)start == d->offset)
                return 0;
        if (status == 200) {
                if (d->have > 0) {
                        log_info("job %s: the platform ignored Range; downloading from the start",
                                 d->job_id);
                        return download_restart(d);
                }
                return 0;
        }
        if (status == 206) {
                log_warning("job %s: unexpected Content-Range '%s' for offset %" PRId64
                            "; downloading from the start",
                            d->job_id, r->content_range, d->offset);
                d->discard = true;
                return download_restart(d);
        }
        d->discard = true; /* an error answer: its body is not the asset */
        return 0;
}

/* curl: body bytes of the asset. */
static size_t on_asset_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        lab_req_t *r = userdata;
        lab_download_t *d = r->data;
        size_t n = size * nmemb;

        if (!d->checked_status && check_status(d, r) < 0)
                return 0;
        if (d->discard)
                return n;
        if (d->have + (int64_t)n > d->expected) {
                d->overflow = true;
                return 0;
        }
        if (lab_write_all(d->fd, data, n) < 0)
                return 0;
        lab_sha256_update(d->hash, data, n);
        keep_head(d, (const uint8_t *)data, n);
        d->have += (int64_t)n;
        return n;
}

/* Fail the job (downloading → failed) with reason and a job.failed event. */
static void download_fail_job(lab_platform_t *p, const char *job_id, const char *reason,
                              const char *detail)
{
        json_auto_t *body = json_pack("{s:s,s:s}", "reason", reason, "detail", detail);
        _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        int r;

        r = lab_store_job_move(p->store, job_id, LAB_JOB_DOWNLOADING, LAB_JOB_FAILED, reason,
                               detail, "job.failed", text ? text : "{}");
        if (r == -EPERM) {
                lab_log_illegal_transition(job_id, lab_job_state_to_string(LAB_JOB_DOWNLOADING),
                                           lab_job_state_to_string(LAB_JOB_FAILED));
                return;
        }
        if (r < 0) {
                log_error_errno(r, "job %s: cannot record the failure: %m", job_id);
                return;
        }
        log_struct(LOG_ERR, LAB_FIELDS({"JOB_ID", job_id}, {"ERROR_KEYWORD", reason}),
                   "job %s: failed: %s: %s", job_id, reason, detail);
        retry_forget(p, job_id);
        lab_platform_kick_outbox(p);
}

/* The whole asset is in the part file: verify, sniff, rename, record. */
static void download_finish(lab_download_t *d)
{
        lab_platform_t *p = d->p;
        _cleanup_(lab_store_job_freep) lab_store_job_t *job = NULL;
        char got[LAB_SHA256_HEX_LEN + 1], detail[256], body[256];
        const char *type;
        int r, attempts;

        if (lab_sha256_final_hex(d->hash, got) < 0 ||
            lab_store_job_get(p->store, d->job_id, &job) < 0)
                return;
        attempts = job->download_attempts + 1;

        if (!lab_sha256_equal(got, d->sha_expected)) {
                unlink(d->part_path);
                lab_store_job_set_download(p->store, d->job_id, attempts, NULL, NULL);
                snprintf(detail, sizeof detail, "sha256 %s instead of %s after %d of %u attempt(s)",
                         got, d->sha_expected, attempts, p->config->platform.download_attempts);
                if ((unsigned)attempts >= p->config->platform.download_attempts) {
                        download_fail_job(p, d->job_id, "asset_checksum_mismatch", detail);
                } else {
                        log_struct(LOG_WARNING, LAB_FIELDS({"JOB_ID", d->job_id}),
                                   "job %s: asset_checksum_mismatch: %s; downloading again",
                                   d->job_id, detail);
                }
                return;
        }

        type = lab_sniff_content_type(d->head, d->head_len);
        if (!type) {
                unlink(d->part_path);
                download_fail_job(p, d->job_id, "unsupported_asset_type",
                                  "the print master is not a JPEG, PNG, TIFF or WebP image");
                return;
        }
        if (fsync(d->fd) < 0 || rename(d->part_path, d->final_path) < 0) {
                log_error_errno(errno, "job %s: cannot store the print master in %s: %m", d->job_id,
                                d->final_path);
                return;
        }
        lab_fsync_dir(p->spool_dir);
        r = lab_store_job_set_download(p->store, d->job_id, attempts, d->final_path, type);
        snprintf(body, sizeof body,
                 "{\"bytes\":%" PRId64 ",\"sha256\":\"%s\",\"sniffed_type\":\"%s\"}", d->have, got,
                 type);
        if (r >= 0)
                r = lab_store_job_move(p->store, d->job_id, LAB_JOB_DOWNLOADING, LAB_JOB_DOWNLOADED,
                                       NULL, NULL, "job.downloaded", body);
        if (r == -EPERM) {
                lab_log_illegal_transition(d->job_id, lab_job_state_to_string(LAB_JOB_DOWNLOADING),
                                           lab_job_state_to_string(LAB_JOB_DOWNLOADED));
                return;
        }
        if (r < 0) {
                log_error_errno(r, "job %s: cannot record the download: %m", d->job_id);
                return;
        }
        retry_forget(p, d->job_id);
        log_struct(LOG_INFO, LAB_FIELDS({"JOB_ID", d->job_id}),
                   "job %s: downloaded %" PRId64 " bytes, %s, sha256 verified", d->job_id, d->have,
                   type);
        lab_platform_kick_outbox(p);
        if (p->downloaded_hook)
                p->downloaded_hook(d->job_id, p->downloaded_userdata);
}

static int on_download_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* A download request ended. */
static void on_download_done(lab_req_t *r, CURLcode rc)
{
        lab_download_t *d = r->data;
        lab_platform_t *p = r->p;
        lab_error_t err = {0};
        lab_retry_t *t;
        uint64_t now = 0, delay;
        char detail[256];

        if (rc == CURLE_ABORTED_BY_CALLBACK) {
                download_free(d);
                lab_req_free(r);
                return;
        }
        if (d->overflow) {
                snprintf(detail, sizeof detail,
                         "the platform sent more than the %" PRId64 " bytes the job announced",
                         d->expected);
                unlink(d->part_path);
                download_fail_job(p, d->job_id, "asset_size_mismatch", detail);
        } else if (lab_req_result(r, rc, &err) == 0 && !d->discard && d->have == d->expected) {
                download_finish(d);
        } else {
                if (!err.keyword[0])
                        lab_error_set(&err, EIO, "asset_incomplete",
                                      "the transfer of %s ended after %" PRId64 " of %" PRId64
                                      " bytes",
                                      r->url, d->have, d->expected);
                t = retry_get(p, d->job_id, true);
                if (t) {
                        delay = lab_req_retry_delay(r, &t->backoff);
                        sd_event_now(p->event, CLOCK_MONOTONIC, &now);
                        t->not_before = now + delay;
                        log_struct(
                            LOG_WARNING,
                            LAB_FIELDS({"JOB_ID", d->job_id}, {"ERROR_KEYWORD", err.keyword}),
                            "job %s: download interrupted at %" PRId64 " of %" PRId64
                            " bytes (%s: %s); resuming in %.1f s",
                            d->job_id, d->have, d->expected, err.keyword, err.message,
                            (double)delay / 1e6);
                }
        }
        download_free(d);
        lab_req_free(r);
        lab_download_schedule(p);
}

/* Start the download of one job (already in state downloading). */
static int download_start(lab_platform_t *p, const lab_store_job_t *job)
{
        lab_download_t *d = calloc(1, sizeof *d);
        struct stat st;
        lab_req_t *r;
        char range[64];
        int ret;

        if (!d)
                return -ENOMEM;
        d->p = p;
        d->fd = -1;
        d->expected = job->asset_bytes;
        snprintf(d->sha_expected, sizeof d->sha_expected, "%s", job->asset_sha256);
        d->job_id = strdup(job->id);
        if (!d->job_id || asprintf(&d->part_path, "%s/%s.part", p->spool_dir, job->id) < 0 ||
            asprintf(&d->final_path, "%s/%s.asset", p->spool_dir, job->id) < 0) {
                free(d->job_id);
                free(d);
                return -ENOMEM;
        }
        LAB_LIST_PREPEND(p->downloads, d);
        p->n_downloads++;

        d->fd = open(d->part_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (d->fd < 0 || fstat(d->fd, &st) < 0) {
                ret = log_error_errno(errno, "job %s: cannot open %s: %m", job->id, d->part_path);
                download_free(d);
                return ret;
        }
        d->have = st.st_size;
        ret = d->have > d->expected ? download_restart(d) : download_rehash(d);
        if (ret < 0) {
                download_free(d);
                return log_error_errno(ret, "job %s: cannot read %s: %m", job->id, d->part_path);
        }
        if (d->have == d->expected) {
                /* Everything arrived before a crash: verify without asking again. */
                download_finish(d);
                download_free(d);
                return 0;
        }

        r = lab_req_new(p, "GET", job->asset_url, NULL, on_download_done, d);
        if (!r) {
                download_free(d);
                return -ENOMEM;
        }
        d->offset = d->have;
        curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_asset_body);
        curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 0L);
        curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, 60L);
        if (d->have > 0) {
                snprintf(range, sizeof range, "%" PRId64 "-", d->have);
                curl_easy_setopt(r->easy, CURLOPT_RANGE, range);
                log_info("job %s: resuming the download at byte %" PRId64, job->id, d->have);
        }
        ret = lab_req_start(r);
        if (ret < 0) {
                download_free(d);
                return ret;
        }
        return 0;
}

/* Timer: a retry delay has passed. */
static int on_download_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        lab_download_schedule(userdata);
        return 0;
}

void lab_download_schedule(lab_platform_t *p)
{
        lab_store_job_t **jobs = NULL;
        uint64_t now = 0, next = UINT64_MAX;
        size_t n = 0;

        if (!p->started || lab_store_jobs_list(p->store, download_states,
                                               ELEMENTSOF(download_states), &jobs, &n) < 0)
                return;
        sd_event_now(p->event, CLOCK_MONOTONIC, &now);
        for (size_t i = 0; i < n; i++) {
                lab_store_job_t *job = jobs[i];
                lab_retry_t *t = retry_get(p, job->id, false);

                if (p->n_downloads >= p->config->platform.download_concurrency)
                        break;
                if (download_find(p, job->id))
                        continue;
                if (t && t->not_before > now) {
                        if (t->not_before < next)
                                next = t->not_before;
                        continue;
                }
                if (job->state == LAB_JOB_ACCEPTED) {
                        int r = lab_store_job_move(p->store, job->id, LAB_JOB_ACCEPTED,
                                                   LAB_JOB_DOWNLOADING, NULL, NULL, NULL, NULL);

                        if (r == -EPERM)
                                lab_log_illegal_transition(
                                    job->id, lab_job_state_to_string(LAB_JOB_ACCEPTED),
                                    lab_job_state_to_string(LAB_JOB_DOWNLOADING));
                        if (r < 0)
                                continue;
                }
                download_start(p, job);
        }
        lab_store_jobs_free(jobs, n);
        if (next != UINT64_MAX)
                lab_timer_arm(p->event, &p->download_timer, next - now, on_download_timer, p,
                              "platform-download");
}

void lab_download_abort(lab_platform_t *p, const char *job_id, bool delete_files)
{
        lab_download_t *d = download_find(p, job_id);
        char *path = NULL;

        if (d) {
                for (lab_req_t *r = p->reqs; r; r = r->next)
                        if (r->data == d) {
                                lab_req_abort(r); /* frees d */
                                break;
                        }
        }
        retry_forget(p, job_id);
        if (delete_files && asprintf(&path, "%s/%s.part", p->spool_dir, job_id) >= 0) {
                unlink(path);
                free(path);
        }
}

void lab_download_free_all(lab_platform_t *p)
{
        while (p->downloads)
                download_free(p->downloads);
        while (p->retries)
                retry_forget(p, p->retries->job_id);
}
