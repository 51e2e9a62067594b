/*
 * event-writer.c - append N events to a labagent store, as the agent's own
 * producers would (through lab_store_event_append), for the platform-link
 * tests: "1,000 events produced while the platform is down".
 *
 *   event-writer STORE COUNT CLASS     CLASS: job or telemetry
 *
 * Prints each event's sequence number on stdout, one per line, after its
 * commit. The agent may be running on the same store: SQLite's WAL and busy
 * timeout make the two writers take turns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int main(int argc, char **argv)
{
        lab_store_t *s = NULL;
        lab_error_t err = {0};
        lab_event_class_t cls;
        long count;
        int r;

        if (argc != 4 || (count = strtol(argv[2], NULL, 10)) <= 0 || count > 100000) {
                fprintf(stderr, "usage: event-writer STORE COUNT job|telemetry\n");
                return 2;
        }
        cls = strcmp(argv[3], "telemetry") == 0 ? LAB_EVENT_TELEMETRY : LAB_EVENT_JOB;
        r = lab_store_open(&s, argv[1], &err);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", err.keyword, err.message);
                return 1;
        }
        for (long i = 0; i < count; i++) {
                char body[64];
                int64_t seq;

                snprintf(body, sizeof body, "{\"n\":%ld}", i);
                r = lab_store_event_append(
                    s, cls, cls == LAB_EVENT_JOB ? "test.job" : "test.sample", NULL, body, &seq);
                if (r < 0) {
                        fprintf(stderr, "append %ld: %s\n", i, strerror(-r));
                        lab_store_close(s);
                        return 1;
                }
                printf("%lld\n", (long long)seq);
        }
        lab_store_close(s);
        return 0;
}
