/*
 * console-request.c - parse and check console requests, decide roles (see
 * console-request.h). Every field is type- and length-checked here, so the
 * code that acts on a request never sees a wrong type or an endless string.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "console-request.h"
#include "macro.h"

#define NAME_MAX_LEN   255 /* printer and meter names, job ids */
#define REASON_MAX_LEN 200
#define NOTE_MAX_LEN   500
#define ITEM_MAX_LEN   (LAB_STOCK_ITEM_MAX - 1) /* a stock item's name */

static const char *const cmd_names[LAB_CONTROL_CMD_MAX] = {
    [LAB_CONTROL_STATUS] = "status",   [LAB_CONTROL_JOBS] = "jobs",
    [LAB_CONTROL_JOB] = "job",         [LAB_CONTROL_PRINTERS] = "printers",
    [LAB_CONTROL_PAUSE] = "pause",     [LAB_CONTROL_RESUME] = "resume",
    [LAB_CONTROL_REPRINT] = "reprint", [LAB_CONTROL_PRINTED] = "printed",
    [LAB_CONTROL_STOCK] = "stock",     [LAB_CONTROL_STOCK_ADJUST] = "stock.adjust",
    [LAB_CONTROL_ENERGY] = "energy",
};

static const char *const defects[] = {
    "banding", "colour_cast", "scratch",     "crease", "smear",
    "cut",     "paper_jam",   "not_printed", "other",
};

const char *lab_control_cmd_to_string(lab_control_cmd_t cmd)
{
        return cmd >= 0 && cmd < LAB_CONTROL_CMD_MAX ? cmd_names[cmd] : NULL;
}

const char *lab_control_role_to_string(lab_control_role_t role)
{
        switch (role) {
        case LAB_CONTROL_ROLE_OPERATOR:
                return "operator";
        case LAB_CONTROL_ROLE_VIEWER:
                return "viewer";
        default:
                return "none";
        }
}

bool lab_control_defect_valid(const char *defect)
{
        for (size_t i = 0; defect && i < ELEMENTSOF(defects); i++)
                if (strcmp(defect, defects[i]) == 0)
                        return true;
        return false;
}

bool lab_control_allowed(lab_control_cmd_t cmd, lab_control_role_t role)
{
        switch (cmd) {
        case LAB_CONTROL_STATUS:
        case LAB_CONTROL_JOBS:
        case LAB_CONTROL_JOB:
        case LAB_CONTROL_PRINTERS:
        case LAB_CONTROL_STOCK:
        case LAB_CONTROL_ENERGY:
                return role == LAB_CONTROL_ROLE_VIEWER || role == LAB_CONTROL_ROLE_OPERATOR;
        case LAB_CONTROL_PAUSE:
        case LAB_CONTROL_RESUME:
        case LAB_CONTROL_REPRINT:
        case LAB_CONTROL_PRINTED:
        case LAB_CONTROL_STOCK_ADJUST:
                return role == LAB_CONTROL_ROLE_OPERATOR;
        default:
                return false;
        }
}

/* Whether gid is the caller's primary group or one of its supplementary groups. */
static bool in_group(gid_t want, gid_t gid, const gid_t *gids, size_t n)
{
        if (want == (gid_t)-1)
                return false;
        if (gid == want)
                return true;
        for (size_t i = 0; gids && i < n; i++)
                if (gids[i] == want)
                        return true;
        return false;
}

lab_control_role_t lab_control_role(uid_t uid, gid_t gid, const gid_t *gids, size_t n_gids,
                                    uid_t self, gid_t operators, gid_t viewers)
{
        if (uid == 0 || uid == self || in_group(operators, gid, gids, n_gids))
                return LAB_CONTROL_ROLE_OPERATOR;
        if (in_group(viewers, gid, gids, n_gids))
                return LAB_CONTROL_ROLE_VIEWER;
        return LAB_CONTROL_ROLE_NONE;
}

/*
 * Whether the UTF-8 text s (len bytes, valid: jansson checked it) holds a
 * control character: C0 (below 0x20), DEL, or C1 (U+0080..U+009F, which some
 * terminals act on). Its length in characters goes to *chars.
 */
static bool has_control(const char *s, size_t len, size_t *chars)
{
        const unsigned char *u = (const unsigned char *)s;
        bool bad = false;

        *chars = 0;
        for (size_t i = 0; i < len; i++) {
                if ((u[i] & 0xc0) != 0x80)
                        (*chars)++;
                if (u[i] < 0x20 || u[i] == 0x7f)
                        bad = true;
                else if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
                        bad = true;
        }
        return bad;
}

/* A text field: absent is fine unless required; else a string of 1..max characters, no
 * control characters. */
static int text_field(json_t *root, const char *key, bool required, size_t max, const char **ret,
                      lab_error_t *err)
{
        json_t *v = json_object_get(root, key);
        const char *s;
        size_t len, chars;

        *ret = NULL;
        if (!v || json_is_null(v)) {
                if (required)
                        return lab_error_set(err, EINVAL, "bad_request",
                                             "the request needs \"%s\" (see docs/control.md)", key);
                return 0;
        }
        if (!json_is_string(v))
                return lab_error_set(err, EINVAL, "bad_request", "\"%s\" must be a string", key);
        s = json_string_value(v);
        len = json_string_length(v);
        if (len == 0 && required)
                return lab_error_set(err, EINVAL, "bad_request", "\"%s\" must not be empty", key);
        if (has_control(s, len, &chars))
                return lab_error_set(err, EINVAL, "bad_request",
                                     "\"%s\" contains a control character", key);
        if (chars > max)
                return lab_error_set(err, EINVAL, "bad_request",
                                     "\"%s\" is %zu characters long; at most %zu", key, chars, max);
        *ret = len ? s : NULL;
        return 0;
}

/* A positive integer field (absent: *ret = 0 unless required). */
static int int_field(json_t *root, const char *key, bool required, long long max, int *ret,
                     lab_error_t *err)
{
        json_t *v = json_object_get(root, key);

        *ret = 0;
        if (!v) {
                if (required)
                        return lab_error_set(err, EINVAL, "bad_request",
                                             "the request needs \"%s\" (see docs/control.md)", key);
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
                return lab_error_set(err, EINVAL, "bad_request",
                                     "\"%s\" must be a whole number from 1 to %lld", key, max);
        *ret = (int)json_integer_value(v);
        return 0;
}

/* A required number field: finite and >= 0 (an integer or a real). */
static int amount_field(json_t *root, const char *key, double *ret, lab_error_t *err)
{
        json_t *v = json_object_get(root, key);
        double d;

        *ret = 0;
        if (!v)
                return lab_error_set(err, EINVAL, "bad_request",
                                     "the request needs \"%s\" (see docs/control.md)", key);
        d = json_number_value(v);
        if (!json_is_number(v) || !isfinite(d) || d < 0)
                return lab_error_set(err, EINVAL, "bad_request",
                                     "\"%s\" must be a number of 0 or more", key);
        *ret = d;
        return 0;
}

/* stock.adjust's "action": load, set, add or remove. */
static int action_field(json_t *root, lab_control_request_t *req, lab_error_t *err)
{
        const char *s = json_string_value(json_object_get(root, "action"));
        int a = s ? lab_stock_action_from_string(s) : -1;

        if (a < 0)
                return lab_error_set(err, EINVAL, "bad_request",
                                     "\"action\" must be one of load, set, add, remove");
        req->action = (lab_stock_action_t)a;
        return 0;
}

/* The jobs request's "states" list. */
static int states_field(json_t *root, lab_control_request_t *req, lab_error_t *err)
{
        json_t *v = json_object_get(root, "states"), *item;
        size_t i;

        if (!v)
                return 0;
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > LAB_JOB_STATE_MAX)
                return lab_error_set(err, EINVAL, "bad_request",
                                     "\"states\" must be a list of 1 to %d job states",
                                     LAB_JOB_STATE_MAX);
        json_array_foreach(v, i, item)
        {
                lab_job_state_t s = lab_job_state_from_string(json_string_value(item));

                if (s == LAB_JOB_STATE_INVALID)
                        return lab_error_set(err, EINVAL, "bad_request",
                                             "\"states\"[%zu] is not a job state (claiming, "
                                             "accepted, ... dropped: docs/control.md)",
                                             i);
                req->states[req->n_states++] = s;
        }
        return 0;
}

/* Read the fields of the command in req->cmd. */
static int parse_fields(json_t *root, lab_control_request_t *req, lab_error_t *err)
{
        int r = 0, limit = 0;

        switch (req->cmd) {
        case LAB_CONTROL_STATUS:
        case LAB_CONTROL_PRINTERS:
                return 0;
        case LAB_CONTROL_JOBS:
                if ((r = states_field(root, req, err)) < 0 ||
                    (r = int_field(root, "limit", false, 1000, &limit, err)) < 0)
                        return r;
                req->limit = limit ? (unsigned)limit : 100;
                return 0;
        case LAB_CONTROL_JOB:
                return text_field(root, "id", true, NAME_MAX_LEN, &req->job, err);
        case LAB_CONTROL_PAUSE:
                if ((r = text_field(root, "printer", true, NAME_MAX_LEN, &req->printer, err)) < 0)
                        return r;
                return text_field(root, "reason", false, REASON_MAX_LEN, &req->reason, err);
        case LAB_CONTROL_RESUME:
                return text_field(root, "printer", true, NAME_MAX_LEN, &req->printer, err);
        case LAB_CONTROL_REPRINT:
                if ((r = text_field(root, "job", true, NAME_MAX_LEN, &req->job, err)) < 0 ||
                    (r = int_field(root, "copy", false, 1000000, &req->copy, err)) < 0 ||
                    (r = text_field(root, "defect", true, 48, &req->defect, err)) < 0 ||
                    (r = text_field(root, "note", false, NOTE_MAX_LEN, &req->note, err)) < 0)
                        return r;
                if (!lab_control_defect_valid(req->defect))
                        return lab_error_set(err, EINVAL, "bad_defect",
                                             "\"%s\" is not a defect; use one of banding, "
                                             "colour_cast, scratch, crease, smear, cut, "
                                             "paper_jam, not_printed, other",
                                             req->defect);
                return 0;
        case LAB_CONTROL_PRINTED:
                if ((r = text_field(root, "job", true, NAME_MAX_LEN, &req->job, err)) < 0)
                        return r;
                return int_field(root, "copy", true, 1000000, &req->copy, err);
        case LAB_CONTROL_STOCK:
                return text_field(root, "printer", false, NAME_MAX_LEN, &req->printer, err);
        case LAB_CONTROL_STOCK_ADJUST:
                if ((r = text_field(root, "printer", true, NAME_MAX_LEN, &req->printer, err)) < 0 ||
                    (r = text_field(root, "item", true, ITEM_MAX_LEN, &req->item, err)) < 0 ||
                    (r = action_field(root, req, err)) < 0 ||
                    (r = amount_field(root, "amount", &req->amount, err)) < 0)
                        return r;
                return text_field(root, "note", false, NOTE_MAX_LEN, &req->note, err);
        case LAB_CONTROL_ENERGY:
                return text_field(root, "meter", false, NAME_MAX_LEN, &req->meter, err);
        default:
                return lab_error_set(err, EINVAL, "bad_request", "unknown command");
        }
}

int lab_control_request_parse(const char *line, size_t len, lab_control_request_t *req,
                              lab_error_t *err)
{
        json_error_t jerr;
        json_t *root, *cmd;
        const char *name;
        int r;

        *req = (lab_control_request_t){0};
        if (!line || len >= LAB_CONTROL_LINE_MAX)
                return lab_error_set(err, EMSGSIZE, "bad_request",
                                     "the request is longer than %d bytes",
                                     LAB_CONTROL_LINE_MAX - 1);
        root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                /* jansson quotes the bytes near the error: the sender's, maybe escapes. */
                for (char *c = jerr.text; *c; c++)
                        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                                *c = '?';
                return lab_error_set(err, EINVAL, "bad_request",
                                     "the request is not JSON (%s at column %d)", jerr.text,
                                     jerr.column);
        }
        if (!json_is_object(root)) {
                json_decref(root);
                return lab_error_set(err, EINVAL, "bad_request",
                                     "the request must be a JSON object");
        }
        cmd = json_object_get(root, "cmd");
        name = json_string_value(cmd);
        req->cmd = LAB_CONTROL_CMD_MAX;
        for (int i = 0; name && i < LAB_CONTROL_CMD_MAX; i++)
                if (strcmp(name, cmd_names[i]) == 0)
                        req->cmd = (lab_control_cmd_t)i;
        if (req->cmd == LAB_CONTROL_CMD_MAX) {
                json_decref(root);
                *req = (lab_control_request_t){0};
                return lab_error_set(err, EINVAL, "bad_request",
                                     "\"cmd\" must be one of status, jobs, job, printers, stock, "
                                     "energy, pause, resume, reprint, printed, stock.adjust");
        }
        r = parse_fields(root, req, err);
        if (r < 0) {
                json_decref(root);
                *req = (lab_control_request_t){0};
                return r;
        }
        req->root = root;
        return 0;
}

void lab_control_request_done(lab_control_request_t *req)
{
        if (!req)
                return;
        json_decref(req->root);
        *req = (lab_control_request_t){0};
}
