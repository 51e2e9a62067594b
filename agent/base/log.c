/*
 * log.c - write log messages to the journal or to stderr (see log.h).
 *
 * The one idea: decide the target once at start-up from JOURNAL_STREAM, and
 * keep the stderr line format a pure function so that it can be tested.
 * Never allocates on the logging path: messages are formatted on the stack
 * and truncated if longer than LAB_LOG_LINE_MAX.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

#define LAB_LOG_LINE_MAX   4096
#define LAB_LOG_FIELDS_MAX 16

static int log_max_level = LOG_INFO;
static int log_to_journal = 0;

/* True when JOURNAL_STREAM ("dev:ino") names the file our stderr is. */
static int stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void lab_log_open(lab_log_target_t target)
{
        switch (target) {
        case LAB_LOG_TARGET_JOURNAL:
                log_to_journal = 1;
                break;
        case LAB_LOG_TARGET_STDERR:
                log_to_journal = 0;
                break;
        default:
                log_to_journal = stderr_is_journal();
        }
}

void lab_log_set_max_level(int priority)
{
        log_max_level = priority;
}

int lab_log_get_max_level(void)
{
        return log_max_level;
}

const char *lab_log_level_name(int priority)
{
        switch (priority) {
        case LOG_EMERG:
        case LOG_ALERT:
        case LOG_CRIT:
                return "critical";
        case LOG_ERR:
                return "error";
        case LOG_WARNING:
                return "warning";
        case LOG_NOTICE:
                return "notice";
        case LOG_INFO:
                return "info";
        default:
                return "debug";
        }
}

int lab_log_format_line(char *buf, size_t size, unsigned long long realtime_usec, int pid,
                        int priority, const char *message, const lab_log_field_t *fields,
                        size_t n_fields)
{
        time_t secs = (time_t)(realtime_usec / 1000000ULL);
        unsigned ms = (unsigned)(realtime_usec % 1000000ULL / 1000ULL);
        char stamp[32] = "";
        struct tm tm;
        size_t off;
        int n;

        if (gmtime_r(&secs, &tm))
                strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

        n = snprintf(buf, size, "%s.%03uZ labagent[%d] %s: %s", stamp, ms, pid,
                     lab_log_level_name(priority), message);
        if (n < 0)
                return n;
        off = (size_t)n;
        for (size_t i = 0; i < n_fields; i++) {
                /* A field whose value the message already shows is for the journal only. */
                if (!fields[i].value || strstr(message, fields[i].value))
                        continue;
                n = snprintf(off < size ? buf + off : NULL, off < size ? size - off : 0, " %s=%s",
                             fields[i].key, fields[i].value);
                if (n < 0)
                        return n;
                off += (size_t)n;
        }
        return (int)off;
}

/* Send one entry to the journal with MESSAGE, PRIORITY and the given fields. */
static void write_journal(int priority, int err, const char *message, const lab_log_field_t *fields,
                          size_t n_fields)
{
        char prio[32], errnobuf[32], msgbuf[LAB_LOG_LINE_MAX + 16];
        char fieldbuf[LAB_LOG_FIELDS_MAX][512];
        struct iovec iov[LAB_LOG_FIELDS_MAX + 4];
        size_t n = 0;

        snprintf(msgbuf, sizeof msgbuf, "MESSAGE=%s", message);
        snprintf(prio, sizeof prio, "PRIORITY=%d", priority);
        iov[n++] = (struct iovec){msgbuf, strlen(msgbuf)};
        iov[n++] = (struct iovec){prio, strlen(prio)};
        iov[n++] = (struct iovec){(char *)"SYSLOG_IDENTIFIER=labagent", 26};
        if (err != 0) {
                snprintf(errnobuf, sizeof errnobuf, "ERRNO=%d", abs(err));
                iov[n++] = (struct iovec){errnobuf, strlen(errnobuf)};
        }
        for (size_t i = 0; i < n_fields && i < LAB_LOG_FIELDS_MAX; i++) {
                if (!fields[i].value)
                        continue;
                snprintf(fieldbuf[i], sizeof fieldbuf[i], "%s=%s", fields[i].key, fields[i].value);
                iov[n++] = (struct iovec){fieldbuf[i], strlen(fieldbuf[i])};
        }
        sd_journal_sendv(iov, (int)n);
}

int lab_log_internal(int priority, int err, const lab_log_field_t *fields, size_t n_fields,
                     const char *fmt, ...)
{
        int ret = err != 0 ? -abs(err) : -EIO;
        char message[LAB_LOG_LINE_MAX];
        int saved_errno = errno;
        va_list ap;

        if (priority > log_max_level)
                return ret;

        errno = abs(err); /* for %m */
        va_start(ap, fmt);
        vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);

        if (log_to_journal) {
                write_journal(priority, err, message, fields, n_fields);
        } else {
                char line[LAB_LOG_LINE_MAX + 1024];
                struct timespec ts;
                int n;

                clock_gettime(CLOCK_REALTIME, &ts);
                n = lab_log_format_line(line, sizeof line - 1,
                                        (unsigned long long)ts.tv_sec * 1000000ULL +
                                            (unsigned long long)ts.tv_nsec / 1000ULL,
                                        (int)getpid(), priority, message, fields, n_fields);
                if (n >= 0) {
                        size_t len = (size_t)n < sizeof line - 2 ? (size_t)n : sizeof line - 2;
                        line[len++] = '\n';
                        (void)!write(STDERR_FILENO, line, len);
                }
        }
        errno = saved_errno;
        return ret;
}

int lab_log_illegal_transition(const char *job_id, const char *from, const char *to)
{
        const lab_log_field_t fields[] = {{"JOB_ID", job_id},
                                          {"ERROR_KEYWORD", "illegal_transition"}};

        return lab_log_internal(LOG_ERR, EPERM, fields, ELEMENTSOF(fields),
                                "illegal_transition: job %s: %s → %s is not allowed; not applied",
                                job_id ? job_id : "(none)", from ? from : "(none)",
                                to ? to : "(none)");
}
