/*
 * ipp-peer.h - real IPP peers for the IPP driver tests: ippeveprinter set up
 * as a photo printer, cupsd in the foreground with its own files, and the
 * small process, port and HTTP helpers they need.
 *
 * Why: the driver is only worth what it does against real printers; these
 * helpers start them on free loopback ports, with every wait bounded, and
 * always stop what they started (each peer runs in its own process group and
 * dies with the test process).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

typedef struct ipp_peer_s {
        pid_t pid;     /* the peer process (leader of its own process group), 0 when stopped */
        int port;      /* loopback port it listens on */
        char *dir;     /* scratch directory (conf, script, log, spool) */
        char *spool;   /* ippeveprinter -d / cupsd RequestRoot */
        char uri[256]; /* ipp://localhost:PORT/ipp/print (ippeveprinter) */
        char name[64]; /* printer name */
} ipp_peer_t;

/* The photo printer's ippeveprinter -a attributes (4x6 and 5x7, glossy and matte). */
extern const char ipp_peer_photo_conf[];

/*
 * The -c command every peer runs: behaviour picked by the job name in the
 * spool file name: "slow" sleeps 3 s, "hang" sleeps 30 s, "empty" reports
 * media-empty-error and fails, "supply40" reports a new ribbon level.
 */
extern const char ipp_peer_job_script[];

/* A free loopback TCP port (bound to port 0 and released); aborts on failure. */
int ipp_peer_free_port(void);

/* Start ippeveprinter as photo printer `name`; waits until it accepts connections. */
void ipp_peer_start_eve(ipp_peer_t *peer, const char *name);

/*
 * Start cupsd in the foreground (as root, dropping to lp) with a config of its
 * own, then add queue `queue` pointing at printer_uri with lpadmin -m everywhere.
 */
void ipp_peer_start_cupsd(ipp_peer_t *peer, const char *queue, const char *printer_uri);

/*
 * The same with queue on device_uri (file:// works: FileDevice Yes) made from
 * model (lpinfo -m: "everywhere", "gutenprint.5.3://dnp-ds620/expert", ...)
 * with the NULL-terminated "NAME=VALUE" queue defaults options, and the
 * NULL-terminated "NAME VALUE" environment of every filter and backend (a
 * cups-files.conf SetEnv each); both may be NULL.
 */
void ipp_peer_start_cupsd_driver(ipp_peer_t *peer, const char *queue, const char *device_uri,
                                 const char *model, const char *const *options,
                                 const char *const *env);

/* Stop the peer and its process group (SIGTERM, then SIGKILL after 3 s); removes its files. */
void ipp_peer_stop(ipp_peer_t *peer);

/*
 * Stop the peer's process group, by SIGKILL (crash: a power cut) or SIGTERM
 * (a clean restart), and start it again on the same port with the same files.
 */
void ipp_peer_restart(ipp_peer_t *peer, bool crash);

/* SIGKILL only the peer process (a crash), and reap it; the group is killed by stop. */
void ipp_peer_crash(ipp_peer_t *peer);

/* Run argv with stdout/stderr appended to log (or inherited if NULL); exit status, -1 on timeout.
 */
int ipp_peer_run(char *const argv[], const char *log, int timeout_ms);

/* HTTP GET path from localhost:port; returns the HTTP status code, or -1. */
int ipp_peer_http_get(int port, const char *path);

/* Whether something accepts TCP connections on localhost:port. */
bool ipp_peer_port_open(int port);

/* Write a random-noise JPEG of w x h at path with the vips CLI; aborts on failure. */
void ipp_peer_make_jpeg(const char *path, int w, int h);

/* The file in dir whose name starts with prefix (malloc'd path), or NULL. */
char *ipp_peer_find_file(const char *dir, const char *prefix);

/* A driver config for an IPP printer: name, uri, timeout in ms (strings are borrowed). */
lab_config_printer_t ipp_peer_config(const char *name, const char *uri, unsigned timeout_ms);
