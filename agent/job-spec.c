/*
 * job-spec.c - validate the platform's job JSON (see job-spec.h).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "deadline.h"
#include "digest.h"
#include "job-spec.h"

int lab_job_id_valid(const char *id)
{
        size_t n = 0;

        if (!id)
                return 0;
        for (const char *c = id; *c; c++, n++)
                if (*c < 0x21 || *c > 0x7e || *c == '/' || n >= LAB_JOB_ID_MAX)
                        return 0;
        return n > 0;
}

/* A required string member of at most max bytes; NULL (with err set) if absent or wrong. */
static const char *get_string(const json_t *obj, const char *key, size_t max, int required,
                              lab_error_t *err)
{
        const json_t *v = json_object_get(obj, key);
        const char *s;

        if (!v || json_is_null(v)) {
                if (required)
                        lab_error_set(err, EBADMSG, "bad_job", "job field '%s' is missing", key);
                return NULL;
        }
        if (!json_is_string(v)) {
                lab_error_set(err, EBADMSG, "bad_job", "job field '%s' must be a string", key);
                return NULL;
        }
        s = json_string_value(v);
        if (strlen(s) != json_string_length(v) || strlen(s) == 0 || strlen(s) > max) {
                lab_error_set(err, EBADMSG, "bad_job",
                              "job field '%s' must be 1 to %zu characters without NUL", key, max);
                return NULL;
        }
        return s;
}

/* strdup into *dst; returns 0 or -ENOMEM. */
static int dup_into(char **dst, const char *s)
{
        if (!s) {
                *dst = NULL;
                return 0;
        }
        *dst = strdup(s);
        return *dst ? 0 : -ENOMEM;
}

/* The optional crop box {x, y, width, height}: integers, width and height at least 1. */
static int get_crop(const json_t *obj, lab_job_spec_t *s, lab_error_t *err)
{
        static const char *const keys[] = {"x", "y", "width", "height"};
        const json_t *crop = json_object_get(obj, "crop");
        unsigned v[4];

        if (!crop || json_is_null(crop))
                return 0;
        if (!json_is_object(crop))
                return lab_error_set(err, EBADMSG, "bad_job",
                                     "job field 'crop' must be an object {x, y, width, height}");
        for (size_t i = 0; i < 4; i++) {
                const json_t *n = json_object_get(crop, keys[i]);
                json_int_t min = i < 2 ? 0 : 1;

                if (!json_is_integer(n) || json_integer_value(n) < min ||
                    json_integer_value(n) > 1000000)
                        return lab_error_set(err, EBADMSG, "bad_job",
                                             "crop.%s must be an integer from %d to 1000000",
                                             keys[i], (int)min);
                v[i] = (unsigned)json_integer_value(n);
        }
        s->has_crop = true;
        s->crop.x = v[0];
        s->crop.y = v[1];
        s->crop.width = v[2];
        s->crop.height = v[3];
        return 0;
}

int lab_job_spec_parse(const json_t *obj, lab_job_spec_t *ret, lab_error_t *err)
{
        lab_job_spec_t s = {0};
        const char *id, *order_id, *sku, *priority, *deadline, *url, *sha, *ctype, *lease;
        const json_t *asset, *q, *b;
        char sha_lower[65];
        int r = 0;

        memset(ret, 0, sizeof *ret);
        if (!json_is_object(obj))
                return lab_error_set(err, EBADMSG, "bad_job", "a job must be a JSON object");

        id = get_string(obj, "id", LAB_JOB_ID_MAX, 1, err);
        if (!id)
                return -EBADMSG;
        if (!lab_job_id_valid(id))
                return lab_error_set(err, EBADMSG, "bad_job",
                                     "job id must be printable ASCII without '/' or spaces");
        order_id = get_string(obj, "order_id", 256, 1, err);
        sku = get_string(obj, "sku", 256, 1, err);
        lease = get_string(obj, "lease_expires_at", 64, 1, err);
        if (!order_id || !sku || !lease)
                return -EBADMSG;

        q = json_object_get(obj, "quantity");
        if (!json_is_integer(q) || json_integer_value(q) < 1 ||
            json_integer_value(q) > LAB_JOB_QUANTITY_MAX)
                return lab_error_set(err, EBADMSG, "bad_job",
                                     "job field 'quantity' must be an integer from 1 to %d",
                                     LAB_JOB_QUANTITY_MAX);

        lab_error_clear(err);
        priority = get_string(obj, "priority", 16, 0, err);
        if (lab_error_isset(err))
                return -EBADMSG;
        if (priority && strcmp(priority, "rush") != 0 && strcmp(priority, "standard") != 0)
                return lab_error_set(err, EBADMSG, "bad_job",
                                     "job field 'priority' must be rush or standard");
        deadline = get_string(obj, "deadline", 64, 0, err);
        if (lab_error_isset(err))
                return -EBADMSG;
        if (deadline && lab_parse_rfc3339(deadline, &(time_t){0}) < 0)
                return lab_error_set(err, EBADMSG, "bad_job",
                                     "job field 'deadline' must be an RFC 3339 date-time "
                                     "(2026-11-28T18:00:00Z)");

        asset = json_object_get(obj, "asset");
        if (!json_is_object(asset))
                return lab_error_set(err, EBADMSG, "bad_job",
                                     "job field 'asset' must be an object");
        url = get_string(asset, "url", 2048, 1, err);
        sha = get_string(asset, "sha256", 64, 1, err);
        if (!url || !sha)
                return -EBADMSG;
        if (strncmp(url, "https://", 8) != 0)
                return lab_error_set(err, EBADMSG, "bad_job", "asset url must be https://");
        if (!lab_sha256_hex_valid(sha))
                return lab_error_set(err, EBADMSG, "bad_job",
                                     "asset sha256 must be 64 hexadecimal digits");
        for (size_t i = 0; i < 64; i++)
                sha_lower[i] = (char)tolower((unsigned char)sha[i]);
        sha_lower[64] = '\0';
        b = json_object_get(asset, "bytes");
        if (!json_is_integer(b) || json_integer_value(b) < 1)
                return lab_error_set(err, EBADMSG, "bad_job",
                                     "asset bytes must be a positive integer");
        lab_error_clear(err);
        ctype = get_string(asset, "content_type", 128, 0, err);
        if (lab_error_isset(err))
                return -EBADMSG;

        if (get_crop(obj, &s, err) < 0)
                return -EBADMSG;

        s.quantity = (int)json_integer_value(q);
        s.asset_bytes = (int64_t)json_integer_value(b);
        s.json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
        if (!s.json)
                r = -ENOMEM;
        if (r == 0)
                r = dup_into(&s.id, id);
        if (r == 0)
                r = dup_into(&s.order_id, order_id);
        if (r == 0)
                r = dup_into(&s.sku, sku);
        if (r == 0)
                r = dup_into(&s.priority, priority ? priority : "standard");
        if (r == 0)
                r = dup_into(&s.deadline, deadline);
        if (r == 0)
                r = dup_into(&s.asset_url, url);
        if (r == 0)
                r = dup_into(&s.asset_sha256, sha_lower);
        if (r == 0)
                r = dup_into(&s.asset_content_type, ctype);
        if (r == 0)
                r = dup_into(&s.lease_expires_at, lease);
        if (r < 0) {
                lab_job_spec_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

void lab_job_spec_done(lab_job_spec_t *s)
{
        if (!s)
                return;
        free(s->id);
        free(s->order_id);
        free(s->sku);
        free(s->priority);
        free(s->deadline);
        free(s->asset_url);
        free(s->asset_sha256);
        free(s->asset_content_type);
        free(s->lease_expires_at);
        free(s->json);
        memset(s, 0, sizeof *s);
}
