/*
 * log.h - logging for the daemon: structured journal entries under systemd,
 * one readable line on stderr otherwise.
 *
 * Why: lab IT reads the journal (`journalctl -u labagent JOB_ID=…`), a
 * developer reads a terminal. When the JOURNAL_STREAM environment variable
 * names our stderr, entries go through sd_journal_send with fields such as
 * JOB_ID, ORDER_ID and PRINTER; otherwise they are written as one line:
 *   2026-11-28T16:40:01.123Z labagent[812] info: message JOB_ID=j1 PRINTER=ds620
 *
 * The log target and level are process-wide by nature (there is one stderr
 * and one journal): they are the only process state in the library.
 */
#pragma once

#include <stddef.h>
#include <syslog.h>

#include "macro.h"

typedef struct lab_log_field_s {
        const char *key;   /* journal field name: upper case, digits, underscore */
        const char *value; /* NULL fields are skipped */
} lab_log_field_t;

typedef enum lab_log_target_e {
        LAB_LOG_TARGET_AUTO,    /* journal when JOURNAL_STREAM matches stderr, else stderr */
        LAB_LOG_TARGET_STDERR,  /* always one line on stderr */
        LAB_LOG_TARGET_JOURNAL, /* always sd_journal_send */
} lab_log_target_t;

/* Choose the target (AUTO looks at JOURNAL_STREAM). */
void lab_log_open(lab_log_target_t target);

/* Only messages at this syslog priority or more severe are written. */
void lab_log_set_max_level(int priority);
int lab_log_get_max_level(void);

/* Name of a priority ("error", "warning", "notice", "info", "debug"). */
const char *lab_log_level_name(int priority);

/*
 * Write one message. err is an errno (sign ignored, 0 for none): %m in fmt
 * expands to its text. Returns -|err|, or -EIO when err is 0, so callers can
 * write `return log_error_errno(r, "…: %m");`.
 */
int lab_log_internal(int priority, int err, const lab_log_field_t *fields, size_t n_fields,
                     const char *fmt, ...) _printf_(5, 6);

/*
 * Format the stderr line (pure): timestamp (usec since epoch, realtime),
 * identifier, pid, priority, message and the fields whose value the message
 * does not already show. Returns the length that the full line needs, as
 * snprintf does.
 */
int lab_log_format_line(char *buf, size_t size, unsigned long long realtime_usec, int pid,
                        int priority, const char *message, const lab_log_field_t *fields,
                        size_t n_fields);

#define log_full_errno(prio, err, ...) lab_log_internal((prio), (err), NULL, 0, __VA_ARGS__)
#define log_error_errno(err, ...)      log_full_errno(LOG_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...)    log_full_errno(LOG_WARNING, (err), __VA_ARGS__)
#define log_error(...)                 log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning(...)               log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_notice(...)                log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(...)                  log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...)                 log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)

/*
 * Log that a job's state may not move from → to (the job state table
 * refused it; nothing was written): ERROR_KEYWORD=illegal_transition and
 * JOB_ID, the states as given (NULL shows as "(none)"). Returns -EPERM.
 */
int lab_log_illegal_transition(const char *job_id, /* I - job */
                               const char *from,   /* I - its state, or NULL */
                               const char *to);    /* I - the refused state, or NULL */

/* A message with journal fields: log_struct(LOG_INFO, LAB_FIELDS({"JOB_ID", id}), "…", …). */
#define LAB_FIELDS(...)                                                                            \
        (const lab_log_field_t[]){__VA_ARGS__}, ELEMENTSOF(((const lab_log_field_t[]){__VA_ARGS__}))
#define log_struct(prio, fields_and_count, ...)                                                    \
        lab_log_internal((prio), 0, fields_and_count, __VA_ARGS__)
