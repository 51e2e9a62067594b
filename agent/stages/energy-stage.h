/*
 * energy-stage.h - the lab's energy meters, sampled, counted and reported.
 *
 * Why: the platform routes work by cost and footprint and reports emissions
 * per order (issue 17; docs/protocol.md, "Energy"). This stage reads every
 * configured meter (drivers/meter.h) every meters[].interval, with jitter,
 * on threads of its own, so a meter that takes its whole timeout delays no
 * job, no printer check and no console answer. On the loop it turns each
 * reading into an interval (agent/energy: gaps, resets, wraps), shares the
 * interval among the copies printed on the meter's printers by media area,
 * and keeps it all in the store in one transaction with its events:
 *
 *   - energy.reading (telemetry) per meter every energy.report_interval;
 *   - job.energy once a job's last copy's interval closed;
 *   - meter.fault when a meter stops answering or answers what cannot be
 *     true (never a zero), or its counter went backwards (meter_reset);
 *   - meter.recovered with the outage and the energy the next reading bridged.
 *
 * A restart takes back each meter's last good reading from the store, so
 * nothing is lost or counted twice.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "http-get.h"
#include "meter.h"
#include "store.h"

typedef struct lab_energy_stage_s lab_energy_stage_t;

/* Called after events were appended. */
typedef void (*lab_energy_events_hook_t)(void *userdata);

/* http_get: the transport for shelly meters (lab_platform_http_get). */
int lab_energy_stage_new(lab_energy_stage_t **ret, sd_event *e, lab_store_t *store,
                         lab_http_get_fn http_get);

void lab_energy_stage_set_hooks(lab_energy_stage_t *st, lab_energy_events_hook_t events,
                                void *userdata);

/*
 * The config in force (at start and after every reload; it must outlive the
 * next call): meters are opened again from it, the printers on each meter
 * declared to the store. A meter whose settings its driver refuses is a
 * meter.fault (meter_config) and is not read.
 */
void lab_energy_stage_set_config(lab_energy_stage_t *st, const lab_config_t *c);

/*
 * The driver settings of configured meter c (pointing into c, which must
 * outlive them), http_get the shelly transport: 0, or meter_config (an
 * unknown preset). Also for `labagent --check-config`, which opens each
 * meter with them.
 */
int lab_energy_meter_settings(const lab_config_meter_t *c, lab_http_get_fn http_get,
                              lab_meter_settings_t *s, lab_error_t *err);

/* Stop every read (waits for the ones running, at most a meter's timeout) and free. */
void lab_energy_stage_free(lab_energy_stage_t *st);
