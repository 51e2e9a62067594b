/*
 * job-spec.h - a job as the platform describes it (docs/protocol.md "Job").
 *
 * Why: the job JSON comes from the network. It is validated field by field
 * once, here, into a typed struct, with a clear reason when it is bad, so the
 * rest of the agent never touches untrusted JSON. Pure: no I/O.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "url-path.h"

#define LAB_JOB_QUANTITY_MAX 1000

typedef struct lab_job_spec_s {
        char *id;
        char *order_id;
        char *sku;
        int quantity;
        char *priority; /* "rush" or "standard" */
        char *deadline; /* RFC 3339 or NULL */
        char *asset_url;
        char *asset_sha256; /* 64 lowercase hex digits */
        int64_t asset_bytes;
        char *asset_content_type; /* informative only, may be NULL */
        char *lease_expires_at;
        bool has_crop; /* crop box given: in the asset's pixels, after EXIF orientation */
        struct {
                unsigned x, y, width, height;
        } crop;
        char *json; /* the whole object, compact, as stored */
} lab_job_spec_t;

/*
 * Validate a job object into *ret. On failure returns -EBADMSG and sets err
 * (keyword bad_job, message naming the field), and *ret holds nothing.
 */
int lab_job_spec_parse(const json_t *obj, lab_job_spec_t *ret, lab_error_t *err);

/*
 * As lab_job_spec_parse, and on failure *ret_field names the field at fault
 * as docs/protocol.md writes it ("quantity", "asset.sha256", "crop.x"), or is
 * NULL when the fault is the whole object (not an object). A static string.
 */
int lab_job_spec_parse_field(const json_t *obj,       /* I - the job object */
                             lab_job_spec_t *ret,     /* O - the job */
                             lab_error_t *err,        /* O - bad_job and a sentence */
                             const char **ret_field); /* O - the field at fault */

/* Free the strings of a spec (not the struct). */
void lab_job_spec_done(lab_job_spec_t *s);
