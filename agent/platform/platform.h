/*
 * platform.h - the agent's link to the central platform (docs/protocol.md).
 *
 * Why: the platform is the agent's only window onto the business. This
 * module pulls the lab's jobs (long poll), claims each one before any work
 * on it, downloads and verifies its print master, reconciles the active jobs
 * after every reconnect, carries cancellations to the job, and delivers the
 * outbox. Everything runs on the sd-event loop through platform-curl; nothing
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

/* One line for STATUS=: connection state and counts. */
const char *lab_platform_status(lab_platform_t *p);

/* Stop everything and free. NULL is fine. */
void lab_platform_free(lab_platform_t *p);
