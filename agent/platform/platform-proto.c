/*
 * platform-proto.c - parse the platform's responses (see platform-proto.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "platform-proto.h"
#include "url-path.h"

#define LAB_PROTO_LIST_MAX 10000 /* entries in any list the platform sends */

/* Parse body as one JSON object; err set on failure. */
static json_t *load_object(const char *body, size_t len, const char *what, lab_error_t *err)
{
        json_error_t jerr;
        json_t *root;

        if (len > LAB_PROTO_BODY_MAX) {
                lab_error_set(err, EMSGSIZE, "platform_response_too_large",
                              "the platform's %s answer is larger than %d bytes", what,
                              LAB_PROTO_BODY_MAX);
                return NULL;
        }
        root = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                lab_error_set(err, EBADMSG, "platform_bad_response",
                              "the platform's %s answer is not valid JSON (line %d: %s)", what,
                              jerr.line, jerr.text);
                return NULL;
        }
        if (!json_is_object(root)) {
                json_decref(root);
                lab_error_set(err, EBADMSG, "platform_bad_response",
                              "the platform's %s answer is not a JSON object", what);
                return NULL;
        }
        return root;
}

/* A member that must be an array of at most LAB_PROTO_LIST_MAX entries (absent: empty). */
static int get_array(json_t *obj, const char *key, const char *what, int required, json_t **ret,
                     lab_error_t *err)
{
        json_t *a = json_object_get(obj, key);

        if (!a && !required) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_array(a) || json_array_size(a) > LAB_PROTO_LIST_MAX)
                return lab_error_set(err, EBADMSG, "platform_bad_response",
                                     "the platform's %s answer needs '%s' as an array of at most "
                                     "%d entries",
                                     what, key, LAB_PROTO_LIST_MAX);
        *ret = a;
        return 0;
}

/* Parse one {"id"|"job_id", "action"?, "reason"?} entry. */
static int parse_action(json_t *e, const char *id_key, lab_proto_action_t fixed, int has_action,
                        lab_proto_job_action_t *ret, lab_error_t *err)
{
        const char *id = json_string_value(json_object_get(e, id_key));
        const char *reason = json_string_value(json_object_get(e, "reason"));
        lab_proto_action_t action = fixed;

        if (!json_is_object(e) || !lab_id_valid(id))
                return lab_error_set(err, EBADMSG, "platform_bad_response",
                                     "an entry of the platform's answer has no valid '%s'", id_key);
        if (has_action) {
                const char *a = json_string_value(json_object_get(e, "action"));

                if (a && strcmp(a, "continue") == 0)
                        action = LAB_PROTO_CONTINUE;
                else if (a && strcmp(a, "cancel") == 0)
                        action = LAB_PROTO_CANCEL;
                else if (a && strcmp(a, "drop") == 0)
                        action = LAB_PROTO_DROP;
                else
                        return lab_error_set(err, EBADMSG, "platform_bad_response",
                                             "job %s: action must be continue, cancel or drop", id);
        }
        ret->job_id = strdup(id);
        ret->reason = reason && strlen(reason) <= 128 ? strdup(reason) : NULL;
        ret->action = action;
        return ret->job_id ? 0 : -ENOMEM;
}

/* Parse an array of action entries into a new vector. */
static int parse_actions(json_t *a, const char *id_key, lab_proto_action_t fixed, int has_action,
                         lab_proto_job_action_t **ret, size_t *ret_n, lab_error_t *err)
{
        size_t n = a ? json_array_size(a) : 0;
        lab_proto_job_action_t *v = n ? calloc(n, sizeof *v) : NULL;
        int r;

        if (n && !v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = parse_action(json_array_get(a, i), id_key, fixed, has_action, &v[i], err);
                if (r < 0) {
                        lab_proto_actions_free(v, i + 1);
                        return r;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int lab_proto_parse_assignments(const char *body, size_t len, lab_proto_assignments_t *ret,
                                lab_error_t *err)
{
        json_t *root, *jobs, *cancels;
        int r;

        memset(ret, 0, sizeof *ret);
        root = load_object(body, len, "assignments", err);
        if (!root)
                return -EBADMSG;
        r = get_array(root, "assignments", "assignments", 1, &jobs, err);
        if (r == 0)
                r = get_array(root, "cancellations", "assignments", 0, &cancels, err);
        if (r == 0)
                r = parse_actions(cancels, "job_id", LAB_PROTO_CANCEL, 0, &ret->cancellations,
                                  &ret->n_cancellations, err);
        if (r == 0)
                ret->jobs = json_incref(jobs);
        json_decref(root);
        return r;
}

void lab_proto_assignments_done(lab_proto_assignments_t *a)
{
        json_decref(a->jobs);
        lab_proto_actions_free(a->cancellations, a->n_cancellations);
        memset(a, 0, sizeof *a);
}

int lab_proto_parse_accept(const char *body, size_t len, json_t **ret_job, lab_error_t *err)
{
        json_t *root = load_object(body, len, "accept", err), *job;

        *ret_job = NULL;
        if (!root)
                return -EBADMSG;
        job = json_object_get(root, "job");
        if (!json_is_object(job)) {
                json_decref(root);
                return lab_error_set(err, EBADMSG, "platform_bad_response",
                                     "the platform's accept answer has no 'job' object");
        }
        *ret_job = json_incref(job);
        json_decref(root);
        return 0;
}

void lab_proto_strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

int lab_proto_parse_ack(const char *body, size_t len, char ***ret_uuids, size_t *ret_n,
                        lab_error_t *err)
{
        json_t *root = load_object(body, len, "events", err), *a;
        char **v;
        size_t n;
        int r;

        *ret_uuids = NULL;
        *ret_n = 0;
        if (!root)
                return -EBADMSG;
        r = get_array(root, "acknowledged", "events", 1, &a, err);
        if (r < 0) {
                json_decref(root);
                return r;
        }
        n = json_array_size(a);
        v = calloc(n + 1, sizeof *v);
        if (!v) {
                json_decref(root);
                return -ENOMEM;
        }
        for (size_t i = 0, k = 0; i < n; i++) {
                const char *u = json_string_value(json_array_get(a, i));

                /* Only well-formed UUID strings; anything else cannot match an event. */
                if (!u || strlen(u) != 36)
                        continue;
                v[k] = strdup(u);
                if (!v[k]) {
                        lab_proto_strv_free(v);
                        json_decref(root);
                        return -ENOMEM;
                }
                *ret_n = ++k;
        }
        json_decref(root);
        *ret_uuids = v;
        return 0;
}

int lab_proto_parse_reconcile(const char *body, size_t len, lab_proto_job_action_t **ret,
                              size_t *ret_n, lab_error_t *err)
{
        json_t *root = load_object(body, len, "active-jobs", err), *a;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (!root)
                return -EBADMSG;
        r = get_array(root, "jobs", "active-jobs", 1, &a, err);
        if (r == 0)
                r = parse_actions(a, "id", LAB_PROTO_CONTINUE, 1, ret, ret_n, err);
        json_decref(root);
        return r;
}

void lab_proto_actions_free(lab_proto_job_action_t *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].job_id);
                free(v[i].reason);
        }
        free(v);
}

/* Copy s into buf, at most size-1 bytes, control characters replaced. */
static void copy_clean(char *buf, size_t size, const char *s)
{
        size_t i = 0;

        for (; s && s[i] && i + 1 < size; i++)
                buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        buf[i] = '\0';
}

void lab_proto_parse_problem(const char *body, size_t len, char *code, size_t code_size,
                             char *detail, size_t detail_size)
{
        json_t *root = NULL;
        const char *d;

        code[0] = detail[0] = '\0';
        if (body && len <= LAB_PROTO_PROBLEM_MAX)
                root = json_loadb(body, len, 0, NULL);
        if (!json_is_object(root)) {
                json_decref(root);
                return;
        }
        copy_clean(code, code_size, json_string_value(json_object_get(root, "code")));
        d = json_string_value(json_object_get(root, "detail"));
        if (!d)
                d = json_string_value(json_object_get(root, "title"));
        copy_clean(detail, detail_size, d);
        json_decref(root);
}
