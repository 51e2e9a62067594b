/*
 * platform-proto.h - parse the platform's responses (docs/protocol.md), pure.
 *
 * Why: every byte of a response is untrusted. These functions turn a body
 * into plain C values or a clear reason it is unusable, with no I/O, so they
 * are unit-tested and fuzzed (tests/fuzz/fuzz-proto.c) apart from the
 * network code in platform.c. Bodies larger than LAB_PROTO_BODY_MAX are
 * refused before they reach here.
 */
#pragma once

#include <stddef.h>

#include <jansson.h>

#include "error.h"

#define LAB_PROTO_BODY_MAX    (1024 * 1024)
#define LAB_PROTO_PROBLEM_MAX (64 * 1024)

/* A cancellation or a reconcile answer for one job. */
typedef enum lab_proto_action_e {
        LAB_PROTO_CONTINUE,
        LAB_PROTO_CANCEL,
        LAB_PROTO_DROP,
} lab_proto_action_t;

typedef struct lab_proto_job_action_s {
        char *job_id;
        lab_proto_action_t action;
        char *reason; /* may be NULL */
} lab_proto_job_action_t;

typedef struct lab_proto_assignments_s {
        json_t *jobs; /* array of job objects (validate each with job-spec) */
        lab_proto_job_action_t *cancellations; /* action is always CANCEL */
        size_t n_cancellations;
} lab_proto_assignments_t;

/* Parse a 200 answer to the assignments poll. err keyword: platform_bad_response. */
int lab_proto_parse_assignments(const char *body, size_t len, lab_proto_assignments_t *ret,
                                lab_error_t *err);
void lab_proto_assignments_done(lab_proto_assignments_t *a);

/* Parse the accept answer {"job": {...}}; *ret_job is a new reference. */
int lab_proto_parse_accept(const char *body, size_t len, json_t **ret_job, lab_error_t *err);

/* Parse {"acknowledged": ["uuid", ...]} into a NULL-terminated array (free with
 * lab_proto_strv_free). */
int lab_proto_parse_ack(const char *body, size_t len, char ***ret_uuids, size_t *ret_n,
                        lab_error_t *err);
void lab_proto_strv_free(char **v);

/* Parse the reconcile answer {"jobs":[{"id","action","reason"?}]}. */
int lab_proto_parse_reconcile(const char *body, size_t len, lab_proto_job_action_t **ret,
                              size_t *ret_n, lab_error_t *err);
void lab_proto_actions_free(lab_proto_job_action_t *v, size_t n);

/*
 * Read an application/problem+json body: code (stable keyword, "" if none)
 * and detail (or title), both cleaned of control characters. Never fails:
 * an unreadable body gives code "" and detail "".
 */
void lab_proto_parse_problem(const char *body, size_t len, char *code, size_t code_size,
                             char *detail, size_t detail_size);
