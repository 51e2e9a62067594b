/*
 * job-spec.c - validate the platform's job JSON (see job-spec.h).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "rfc3339.h"
#include "digest.h"
#include "job-spec.h"

/* Set err to bad_job with the message, and *field to the field at fault; returns -EBADMSG. */
#define BAD(field_name, ...)                                                                       \
        (*field = (field_name), lab_error_set(err, EBADMSG, "bad_job", __VA_ARGS__))

/*
 * A string member (name: how docs/protocol.md writes it) of 1..max bytes; NULL
 * with err and *field set if absent (and required) or wrong, NULL with err
 * clear if absent and optional.
 */
static const char *get_string(const json_t *obj, const char *key, const char *name, size_t max,
                              int required, lab_error_t *err, const char **field)
{
        const json_t *v = json_object_get(obj, key);
        const char *s;

        if (!v || json_is_null(v)) {
                if (required)
                        BAD(name, "job field '%s' is missing", name);
                return NULL;
        }
        if (!json_is_string(v)) {
                BAD(name, "job field '%s' must be a string", name);
                return NULL;
        }
        s = json_string_value(v);
        if (strlen(s) != json_string_length(v) || strlen(s) == 0 || strlen(s) > max) {
                BAD(name, "job field '%s' must be 1 to %zu characters without NUL", name, max);
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
static int get_crop(const json_t *obj, lab_job_spec_t *s, lab_error_t *err, const char **field)
{
        static const char *const keys[] = {"x", "y", "width", "height"};
        static const char *const names[] = {"crop.x", "crop.y", "crop.width", "crop.height"};
        const json_t *crop = json_object_get(obj, "crop");
        unsigned v[4];

        if (!crop || json_is_null(crop))
                return 0;
        if (!json_is_object(crop))
                return BAD("crop", "job field 'crop' must be an object {x, y, width, height}");
        for (size_t i = 0; i < 4; i++) {
                const json_t *n = json_object_get(crop, keys[i]);
                json_int_t min = i < 2 ? 0 : 1;

                if (!json_is_integer(n) || json_integer_value(n) < min ||
                    json_integer_value(n) > 1000000)
                        return BAD(names[i], "crop.%s must be an integer from %d to 1000000",
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

/*
 * Whether url is "https://" with a host and no space, control character or
 * backslash. The agent fetches it as given (docs/protocol.md, "Ids in
 * paths"): it is the platform's URL, not one the agent builds from data.
 */
static bool asset_url_ok(const char *url)
{
        if (strncmp(url, "https://", 8) != 0 || url[8] == '\0' || strchr("/?#:@", url[8]))
                return false;
        for (const unsigned char *c = (const unsigned char *)url; *c; c++)
                if (*c <= 0x20 || *c == 0x7f || *c == '\\')
                        return false;
        return true;
}

int lab_job_spec_parse(const json_t *obj, lab_job_spec_t *ret, lab_error_t *err)
{
        const char *field;

        return lab_job_spec_parse_field(obj, ret, err, &field);
}

int lab_job_spec_parse_field(const json_t *obj, lab_job_spec_t *ret, lab_error_t *err,
                             const char **field)
{
        lab_job_spec_t s = {0};
        const char *id, *order_id, *sku, *priority, *deadline, *url, *sha, *ctype, *lease;
        const json_t *asset, *q, *b;
        char sha_lower[65];
        int r = 0;

        memset(ret, 0, sizeof *ret);
        *field = NULL;
        if (!json_is_object(obj))
                return BAD(NULL, "a job must be a JSON object");

        id = get_string(obj, "id", "id", LAB_ID_MAX, 1, err, field);
        if (!id)
                return -EBADMSG;
        if (!lab_id_valid(id))
                return BAD("id",
                           "job id must be 1 to %d characters from A-Z, a-z, 0-9, '.', '_', "
                           "':' and '-', and not '.' or '..'",
                           LAB_ID_MAX);
        order_id = get_string(obj, "order_id", "order_id", 256, 1, err, field);
        if (!order_id)
                return -EBADMSG;
        sku = get_string(obj, "sku", "sku", 256, 1, err, field);
        if (!sku)
                return -EBADMSG;
        lease = get_string(obj, "lease_expires_at", "lease_expires_at", 64, 1, err, field);
        if (!lease)
                return -EBADMSG;

        q = json_object_get(obj, "quantity");
        if (!json_is_integer(q) || json_integer_value(q) < 1 ||
            json_integer_value(q) > LAB_JOB_QUANTITY_MAX)
                return BAD("quantity", "job field 'quantity' must be an integer from 1 to %d",
                           LAB_JOB_QUANTITY_MAX);

        lab_error_clear(err);
        priority = get_string(obj, "priority", "priority", 16, 0, err, field);
        if (lab_error_isset(err))
                return -EBADMSG;
        if (priority && strcmp(priority, "rush") != 0 && strcmp(priority, "standard") != 0)
                return BAD("priority", "job field 'priority' must be rush or standard");
        deadline = get_string(obj, "deadline", "deadline", 64, 0, err, field);
        if (lab_error_isset(err))
                return -EBADMSG;
        if (deadline && lab_parse_rfc3339(deadline, &(time_t){0}) < 0)
                return BAD("deadline", "job field 'deadline' must be an RFC 3339 date-time "
                                       "(2026-11-28T18:00:00Z)");

        asset = json_object_get(obj, "asset");
        if (!json_is_object(asset))
                return BAD("asset", "job field 'asset' must be an object");
        url = get_string(asset, "url", "asset.url", 2048, 1, err, field);
        if (!url)
                return -EBADMSG;
        sha = get_string(asset, "sha256", "asset.sha256", 64, 1, err, field);
        if (!sha)
                return -EBADMSG;
        if (strncmp(url, "https://", 8) != 0)
                return BAD("asset.url", "asset url must be https://");
        if (!asset_url_ok(url))
                return BAD("asset.url", "asset url must be an https:// URL with a host, without "
                                        "spaces, control characters or '\\'");
        if (!lab_sha256_hex_valid(sha))
                return BAD("asset.sha256", "asset sha256 must be 64 hexadecimal digits");
        for (size_t i = 0; i < 64; i++)
                sha_lower[i] = (char)tolower((unsigned char)sha[i]);
        sha_lower[64] = '\0';
        b = json_object_get(asset, "bytes");
        if (!json_is_integer(b) || json_integer_value(b) < 1)
                return BAD("asset.bytes", "asset bytes must be a positive integer");
        lab_error_clear(err);
        ctype = get_string(asset, "content_type", "asset.content_type", 128, 0, err, field);
        if (lab_error_isset(err))
                return -EBADMSG;

        if (get_crop(obj, &s, err, field) < 0)
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
