/*
 * platform.h - the agent's link to the central platform (docs/protocol.md).
 *
 * Why: the platform is the agent's only window onto the business. This
 * module pulls the lab's jobs (long poll), claims each one before any work
 * on it, downloads and verifies its print master, reconciles the active jobs
 * after every reconnect, carries cancellations to the job, delivers the
 * outbox and keeps the platform's copy of the lab's device list current.
 * Everything runs on the sd-event loop through platform-curl; nothing
 * here blocks. All durable effects go through the store, each with its
 * outbox event in the same transaction.
 */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"
#include "error.h"
#include "store.h"

typedef struct lab_platform_s lab_platform_t;

/*
 * Called when the platform cancels a job that has already reached a printer
 * (the printer drivers implement it). Returns 0 when the printer job was
 * canceled, negative errno otherwise.
 */
typedef int (*lab_platform_cancel_hook_t)(const char *job_id, void *userdata);

/* Called on the loop when a job's print master is downloaded and verified. */
typedef void (*lab_platform_job_hook_t)(const char *job_id, void *userdata);

/*
 * Check the TLS material a config names (CA bundle, client certificate, key
 * permissions, key matches certificate, expiry). Error keywords:
 * tls_file_missing, tls_file_unreadable, tls_key_permissions, tls_cert_invalid,
 * tls_key_invalid, tls_key_mismatch, tls_ca_invalid, tls_cert_expired.
 */
int lab_platform_check_tls(const lab_config_t *config, lab_error_t *err);

/* Create the link (checks TLS material first); state_dir holds the spool. */
int lab_platform_new(lab_platform_t **ret, sd_event *e, lab_store_t *store,
                     const lab_config_t *config, const char *state_dir, lab_error_t *err);

/* Start: reconcile, poll, resume downloads, deliver the outbox. */
int lab_platform_start(lab_platform_t *p);

/*
 * Take a new config (after lab_platform_check_tls passed on it): drops every
 * connection so that new ones use the new certificate and key. Transfers in
 * flight are retried (downloads resume).
 */
void lab_platform_reload(lab_platform_t *p, const lab_config_t *config);

/* Set the hook for canceling a job that reached a printer. */
void lab_platform_set_cancel_hook(lab_platform_t *p, lab_platform_cancel_hook_t hook,
                                  void *userdata);

/* Set the hook called after a job reached "downloaded". */
void lab_platform_set_downloaded_hook(lab_platform_t *p, lab_platform_job_hook_t hook,
                                      void *userdata);

/* Deliver the outbox soon (call after appending events). */
void lab_platform_kick_outbox(lab_platform_t *p);

/*
 * Replace the device list to send (a JSON object, copied); sent as soon as
 * the link allows, the newest body wins: a body set while an older one is in
 * flight is sent after it; a failed PUT is retried with the link's backoff;
 * an identical body to the last one delivered is not sent again.
 *
 * PUT /v1/labs/{lab}/devices (docs/protocol.md, "Devices"). May be called
 * before lab_platform_start (sent once started) and at any time after; the
 * body stays pending until the platform answers 2xx, through failures and
 * reloads (not across a restart: set it again at start). "Identical" is
 * byte for byte, so a caller that wants repeats skipped builds the body
 * deterministically (JSON_SORT_KEYS, updated_at = when the list last
 * changed). A body that is not a JSON object, or over 1 MiB, is refused and
 * logged (devices_invalid, devices_too_large); the platform keeps the last
 * one. NULL p is fine.
 */
void lab_platform_set_devices(lab_platform_t *p, /* I - link */
                              const char *body); /* I - the device list, JSON object text */

/* One line for STATUS=: connection state and counts. */
const char *lab_platform_status(lab_platform_t *p);

/* Stop everything and free. NULL is fine. */
void lab_platform_free(lab_platform_t *p);
