/*
 * telemetry-stage.h - stock, printer quality and the device list, upstream.
 *
 * Why: the platform routes orders between labs by what each lab can print
 * now: its stock, its printers' defect rates, the media they hold. The print
 * stage reads every printer's status; this stage turns those reads, and
 * every copy printed, into the figures the platform needs, without flooding
 * it (docs/protocol.md, "Stock"):
 *
 *   - stock items: what the printer reports, what the agent counts against
 *     the config's consumables, what technicians record (agent/stock holds
 *     the rules, the store the figures);
 *   - stock.low / stock.out / stock.ok (class job) when an item's state
 *     changes, with hysteresis, at most stock.max_events_per_hour per
 *     printer (the excess counted in the next stock.level as suppressed);
 *   - stock.level (telemetry) at most once per stock.report_interval per
 *     printer, and only when an item moved by stock.min_change_*;
 *   - printer.quality (telemetry) when its figures change, at most once per
 *     stock.report_interval per printer;
 *   - the device list (PUT /devices, through the devices hook) at start,
 *     after a reload, and 60 s after loaded media or supplies last changed.
 *
 * Everything runs on the loop; the store is the only I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "printer.h"
#include "store.h"

typedef struct lab_telemetry_s lab_telemetry_t;

/* Called after events were appended. */
typedef void (*lab_telemetry_events_hook_t)(void *userdata);

/* Called with a new device list to send (a JSON object; the callee copies it). */
typedef void (*lab_telemetry_devices_hook_t)(const char *body, void *userdata);

int lab_telemetry_new(lab_telemetry_t **ret, sd_event *e, lab_store_t *store);

void lab_telemetry_set_hooks(lab_telemetry_t *t, lab_telemetry_events_hook_t events,
                             lab_telemetry_devices_hook_t devices, void *userdata);

/*
 * The config in force (at start and after every reload; it must outlive the
 * next call): the consumables are declared to the store, every printer's
 * items judged again, and the device list sent again.
 */
void lab_telemetry_set_config(lab_telemetry_t *t, const lab_config_t *c);

/* What printer can do (its make and model, the media it supports), from the print stage. */
void lab_telemetry_caps(lab_telemetry_t *t, const char *printer, const lab_printer_caps_t *caps);

/*
 * A status read of printer (not unreachable), with what the print stage
 * made of it: its items reported, judged and told; stock.level and
 * printer.quality when due; the device list when its media or supplies
 * changed.
 */
void lab_telemetry_status(lab_telemetry_t *t, const char *printer, const lab_printer_status_t *st,
                          bool available, const char *reason);

/* Copies were printed or stock entered by hand: judge printer's items again now. */
void lab_telemetry_review(lab_telemetry_t *t, const char *printer);

/*
 * Whether printer must take no new work for its stock: a counted item out
 * with stock.on_counted_empty hold ("stock_out: sentence" into why).
 */
bool lab_telemetry_holds(lab_telemetry_t *t, const char *printer, char *why, size_t size);

/* printer's defect rate over the last 24 h (defects / printed; 0 when none printed) and
   its stock state (the worst of its items: "ok", "low", "out", "unknown", "" none). */
int lab_telemetry_summary(lab_telemetry_t *t, const char *printer, double *ret_defect_rate,
                          const char **ret_stock_state);

void lab_telemetry_free(lab_telemetry_t *t);
