/*
 * fuzz-control.c - fuzz target for the console's request parser
 * (console-request.c). The control socket is open to every local user, so
 * every byte of a request line is hostile input. The input is cut into lines
 * as the daemon cuts a connection's stream; each line goes through
 * lab_control_request_parse(), and what it accepts must hold what the code
 * acting on it relies on (a known command, its fields present, bounded and
 * free of control characters); what it refuses must come with a documented
 * keyword, a one-line sentence and nothing to free.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "console-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A text field the parser accepted: NULL when allowed, else 1..max bytes, no control bytes. */
static void check_text(const char *s, bool required, size_t max)
{
        size_t len;

        if (!s) {
                if (required)
                        abort();
                return;
        }
        len = strlen(s);
        if (len == 0 || len > max)
                abort();
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        abort();
}

/* What an accepted request must hold. */
static void check_request(const lab_control_request_t *req)
{
        if (req->cmd < 0 || req->cmd >= LAB_CONTROL_CMD_MAX || !req->root ||
            !lab_control_cmd_to_string(req->cmd))
                abort();
        switch (req->cmd) {
        case LAB_CONTROL_JOBS:
                if (req->limit < 1 || req->limit > 1000 || req->n_states > LAB_JOB_STATE_MAX)
                        abort();
                for (size_t i = 0; i < req->n_states; i++)
                        if (!lab_job_state_to_string(req->states[i]))
                                abort();
                break;
        case LAB_CONTROL_JOB:
                check_text(req->job, true, 255);
                break;
        case LAB_CONTROL_PAUSE:
                check_text(req->printer, true, 255);
                check_text(req->reason, false, 200);
                break;
        case LAB_CONTROL_RESUME:
                check_text(req->printer, true, 255);
                break;
        case LAB_CONTROL_REPRINT:
                check_text(req->job, true, 255);
                check_text(req->note, false, 500);
                if (req->copy < 0 || req->copy > 1000000 || !lab_control_defect_valid(req->defect))
                        abort();
                break;
        case LAB_CONTROL_PRINTED:
                check_text(req->job, true, 255);
                if (req->copy < 1 || req->copy > 1000000)
                        abort();
                break;
        default:
                break;
        }
        /* Whoever asks, the answer is a yes or a no. */
        if (lab_control_allowed(req->cmd, LAB_CONTROL_ROLE_NONE) ||
            !lab_control_allowed(req->cmd, LAB_CONTROL_ROLE_OPERATOR))
                abort();
}

/* Parse one line and check the outcome. */
static void one_line(const char *line, size_t len)
{
        lab_control_request_t req;
        lab_error_t err = {0};

        if (lab_control_request_parse(line, len, &req, &err) == 0) {
                check_request(&req);
                lab_control_request_done(&req);
                if (req.root)
                        abort();
                lab_control_request_done(&req);
                return;
        }
        if (strcmp(err.keyword, "bad_request") != 0 && strcmp(err.keyword, "bad_defect") != 0)
                abort();
        if (err.message[0] == '\0' ||
            strnlen(err.message, sizeof err.message) >= sizeof err.message)
                abort();
        /* The sentence goes to a person's terminal (labctl) and the journal: one printable line. */
        for (const char *m = err.message; *m; m++)
                if ((unsigned char)*m < 0x20 || *m == 0x7f)
                        abort();
        if (req.root || req.printer || req.reason || req.job || req.defect || req.note ||
            req.n_states)
                abort();
        lab_control_request_done(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *p = (const char *)data, *end = p + size;

        /* The whole input as one line (the daemon refuses a line with a NUL or over the limit). */
        one_line(p, size);
        /* And line by line, as a connection carries them. */
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

                if (nl || p != (const char *)data)
                        one_line(p, len);
                p += len + (nl ? 1 : 0);
        }
        return 0;
}
