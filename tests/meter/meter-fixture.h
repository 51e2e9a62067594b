/*
 * meter-fixture.h - what the meter drivers' tests share: one read that must
 * succeed, one that must fail with a given keyword (and hand back no figure),
 * a close comparison of figures, and a test peer (a meter on loopback run as
 * a child process, driven through its stdin).
 */
#pragma once

#include <sys/types.h>

#include "macro.h"
#include "meter.h"

/* Read m; fail the test unless it succeeds with no error set and a time. */
lab_meter_reading_t meter_read_ok(lab_meter_t *m);

/*
 * Read m; fail the test unless it fails with keyword and a sentence, and
 * hands back no figure (NaN energy and power, time 0). Returns how long the
 * read took (ms).
 */
long long meter_read_fails(lab_meter_t *m, const char *keyword);

/* The same, and the sentence must hold needle (NULL: any). */
long long meter_read_fails_saying(lab_meter_t *m, const char *keyword, const char *needle);

/* Open s; fail the test unless it fails with meter_config, a sentence and no handle. why
   names the case in the output. */
void meter_expect_config(const lab_meter_settings_t *s, const char *why);

/* cmocka 1.1's assert_float_equal() compares floats: too coarse for Wh counters. */
#define assert_near(a, b, eps) meter_assert_near_at((a), (b), (eps), #a, __FILE__, __LINE__)
void meter_assert_near_at(double a, double b, double eps, const char *what, const char *file,
                          int line);

/* A test peer: a child whose stdin takes commands and whose stdout says its port, then
   "ok" per command. */
typedef struct meter_peer_s {
        const char *what; /* "the Modbus peer", for failures */
        pid_t pid;
        int in;  /* its stdin: our commands */
        int out; /* its stdout: its port, then "ok" per command */
        int port;
} meter_peer_t;

/* Start argv (argv[0] a path) and read its port; port, if not 0, is the one it must say. */
void meter_peer_start(meter_peer_t *p, const char *what, char *const argv[], int port);

/* Send a command; wait for its answer, which must be "ok" (or start "ok "). The answer is
   copied to answer (size bytes) when answer is not NULL. */
_printf_(4, 5) void meter_peer_ask(meter_peer_t *p, char *answer, size_t size, const char *fmt,
                                   ...);
#define meter_peer_say(p, ...) meter_peer_ask((p), NULL, 0, __VA_ARGS__)

/* Stop the peer: end of stdin, then SIGKILL if it lingers; always reaped. */
void meter_peer_stop(meter_peer_t *p);

/* A port found free on loopback (bound, then closed: nothing listens there). */
int meter_free_port(void);
