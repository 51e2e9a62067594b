/*
 * store-writer.c - the victim of the crash-safety test: appends events to the
 * store at argv[1] as fast as it can and prints each committed seq on stdout.
 *
 * Why: only a separate process can be SIGKILLed at an arbitrary instant
 * (mid-transaction, mid-fsync, mid-checkpoint). A seq is printed only after
 * lab_store_event_append returned, i.e. after its transaction committed, so
 * every seq the test read must still be in the store when it reopens it.
 * Bounded: at most 200000 appends and 20 seconds, then it exits cleanly.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io-util.h"
#include "store.h"

#define WRITER_MAX_APPENDS 200000
#define WRITER_MAX_MS      20000

/* Monotonic clock in milliseconds. */
static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open the store, append until the bounds are hit, report every committed seq. */
int main(int argc, char **argv)
{
        lab_error_t err = {};
        lab_store_t *s = NULL;
        long long deadline;
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s STORE.db\n", argv[0]);
                return 2;
        }
        /* A reader that went away ends the run with EPIPE, not a signal. */
        signal(SIGPIPE, SIG_IGN);

        r = lab_store_open(&s, argv[1], &err);
        if (r < 0) {
                fprintf(stderr, "store-writer: %s: %s\n", err.keyword, err.message);
                return 1;
        }

        deadline = now_ms() + WRITER_MAX_MS;
        for (long i = 0; i < WRITER_MAX_APPENDS && now_ms() < deadline; i++) {
                char body[96], job[32], line[32];
                int64_t seq;
                int n;

                snprintf(body, sizeof body, "{\"n\":%ld,\"pid\":%d}", i, (int)getpid());
                snprintf(job, sizeof job, "job-%ld", i % 16);
                /* Every fourth event is telemetry: both classes must survive the kill. */
                r = lab_store_event_append(s, i % 4 == 3 ? LAB_EVENT_TELEMETRY : LAB_EVENT_JOB,
                                           "test.append", job, body, &seq);
                if (r < 0) {
                        fprintf(stderr, "store-writer: append %ld: %s\n", i, strerror(-r));
                        lab_store_close(s);
                        return 1;
                }
                n = snprintf(line, sizeof line, "%" PRId64 "\n", seq);
                if (lab_write_all(STDOUT_FILENO, line, (size_t)n) < 0)
                        break;
        }

        lab_store_close(s);
        return 0;
}
