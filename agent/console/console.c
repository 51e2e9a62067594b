/*
 * console.c - the daemon's answers to labctl (see console.h and
 * docs/control.md). Read-outs come from one store read each; actions are
 * one store transaction each (with the audit record), then the print stage
 * (and, for stock, the telemetry stage) is told, so a crash between the two
 * loses nothing: the stages read pauses, queued copies and stock from the
 * store when they start.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "amount.h"
#include "console.h"
#include "job-state.h"
#include "log.h"
#include "macro.h"
#include "printer.h"
#include "rfc3339.h"
#include "stock.h"

#define STUCK_MAX 100
#define USES_MAX  16 /* the stock items one print may use */

/* The store failed: nothing changed. */
static json_t *store_failed(int r)
{
        return lab_control_error("store_failed",
                                 "the store refused the change (%s); nothing changed. Check the "
                                 "disk of the state directory and the daemon's log",
                                 strerror(r < 0 ? -r : r));
}

/*
 * The store refused a job's move (-EPERM): log it as illegal_transition with
 * the move it refused; *from and *to (may be NULL) get its states.
 */
static void log_refused(lab_console_t *c, const char *job_id, lab_job_state_t *from,
                        lab_job_state_t *to)
{
        lab_job_state_t f, t;

        (void)lab_store_job_refused(c->store, &f, &t);
        lab_log_illegal_transition(job_id, lab_job_state_to_string(f), lab_job_state_to_string(t));
        if (from)
                *from = f;
        if (to)
                *to = t;
}

/* A state's keyword for a person, "(none)" when there is none. */
static const char *state_text(lab_job_state_t s)
{
        const char *text = lab_job_state_to_string(s);

        return text ? text : "(none)";
}

/* Set key to a string or JSON null. */
static void set_str(json_t *o, const char *key, const char *v)
{
        json_object_set_new(o, key, v ? json_string(v) : json_null());
}

/* Append name to the list in buf ("a, b"; *len its length so far, 0 for the first). */
static void name_list_add(char *buf, size_t size, size_t *len, const char *name)
{
        int m;

        if (*len >= size)
                return;
        m = snprintf(buf + *len, size - *len, "%s%s", *len ? ", " : "", name);
        if (m > 0)
                *len += (size_t)m;
}

/* The audit actor of a peer: "labctl:NAME(uid=N)". */
static void actor_of(const lab_control_peer_t *peer, char *buf, size_t size)
{
        snprintf(buf, size, "labctl:%s(uid=%u)", peer->user, (unsigned)peer->uid);
}

/* The compact text of an audit detail object (consumed), or NULL. */
static char *audit_detail(json_t *o)
{
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

        json_decref(o);
        return text;
}

/* Every state a job has not finished in, into v; how many. */
static size_t unfinished_states(lab_job_state_t v[LAB_JOB_STATE_MAX])
{
        size_t n = 0;

        for (int i = 0; i < LAB_JOB_STATE_MAX; i++)
                if (!lab_job_state_is_final((lab_job_state_t)i))
                        v[n++] = (lab_job_state_t)i;
        return n;
}

/* {state: n} of a job's copies. */
static json_t *copy_counts(lab_store_copy_t **v, size_t n)
{
        json_t *o = json_object();

        for (size_t i = 0; o && i < n; i++) {
                const char *state = lab_copy_state_to_string(v[i]->state);
                json_t *cur = state ? json_object_get(o, state) : NULL;

                if (state)
                        json_object_set_new(o, state,
                                            json_integer(cur ? json_integer_value(cur) + 1 : 1));
        }
        return o;
}

/* A job summary (docs/control.md, JOB); with its copies in detail when detail is set. */
static json_t *job_json(lab_console_t *c, const lab_store_job_t *j, bool detail)
{
        lab_store_copy_t **v = NULL;
        size_t n = 0;
        json_t *o = json_object();

        if (!o)
                return NULL;
        set_str(o, "id", j->id);
        set_str(o, "order_id", j->order_id);
        set_str(o, "sku", j->sku);
        json_object_set_new(o, "quantity", json_integer(j->quantity));
        set_str(o, "priority", j->priority ? j->priority : "standard");
        set_str(o, "deadline", j->deadline);
        set_str(o, "state", lab_job_state_to_string(j->state));
        set_str(o, "reason", j->reason);
        set_str(o, "detail", j->detail);
        set_str(o, "printer", j->printer);
        set_str(o, "created_at", j->created_at);
        set_str(o, "updated_at", j->updated_at);
        if (lab_store_job_copies(c->store, j->id, &v, &n) < 0) {
                json_decref(o);
                return NULL;
        }
        json_object_set_new(o, "copies", copy_counts(v, n));
        if (detail) {
                json_t *list = json_array();

                for (size_t i = 0; list && i < n; i++) {
                        char name[LAB_PRINTER_JOB_NAME_MAX];
                        json_t *cp = json_object();

                        if (!cp)
                                break;
                        json_object_set_new(cp, "copy", json_integer(v[i]->copy));
                        set_str(cp, "state", lab_copy_state_to_string(v[i]->state));
                        set_str(cp, "printer", v[i]->printer);
                        json_object_set_new(cp, "attempt", json_integer(v[i]->attempt));
                        set_str(cp, "job_name",
                                v[i]->attempt > 0 &&
                                        lab_printer_job_name(name, sizeof name, v[i]->job_id,
                                                             (unsigned)v[i]->copy,
                                                             (unsigned)v[i]->attempt) >= 0
                                    ? name
                                    : NULL);
                        set_str(cp, "reason", v[i]->reason);
                        set_str(cp, "detail", v[i]->detail);
                        set_str(cp, "updated_at", v[i]->updated_at);
                        json_array_append_new(list, cp);
                }
                json_object_set_new(o, "copies_detail", list);
        }
        lab_store_copies_free(v, n);
        return o;
}

/* How many copies of printer are in one of states. */
static json_int_t count_copies(lab_console_t *c, const char *printer,
                               const lab_copy_state_t *states, size_t n_states)
{
        lab_store_copy_t **v = NULL;
        size_t n = 0;

        if (lab_store_copies_list(c->store, printer, states, n_states, &v, &n) < 0)
                return -1;
        lab_store_copies_free(v, n);
        return (json_int_t)n;
}

/* A printer's "stock" (its worst item's state, "" none) and "defect_rate_24h" (defects per
   print), null both when there is no telemetry stage or it cannot say. */
static void printer_summary_json(lab_console_t *c, const char *printer, json_t *o)
{
        const char *stock = NULL;
        double rate = 0;

        if (!c->telemetry || lab_telemetry_summary(c->telemetry, printer, &rate, &stock) < 0) {
                json_object_set_new(o, "stock", json_null());
                json_object_set_new(o, "defect_rate_24h", json_null());
                return;
        }
        set_str(o, "stock", stock ? stock : "");
        json_object_set_new(o, "defect_rate_24h", json_real(isfinite(rate) ? rate : 0));
}

/* A printer as the console shows it (docs/control.md, PRINTER). */
static json_t *printer_json(lab_console_t *c, const lab_config_printer_t *cp,
                            const lab_store_pause_t *pauses, size_t n_pauses)
{
        static const lab_copy_state_t queued[] = {LAB_COPY_QUEUED},
                                      at[] = {LAB_COPY_SUBMITTING, LAB_COPY_PRINTING};
        lab_print_stage_info_t info = {.state = "unknown"};
        const lab_store_pause_t *pause = NULL;
        json_t *o = json_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < n_pauses; i++)
                if (strcmp(pauses[i].printer, cp->name) == 0)
                        pause = &pauses[i];
        if (c->print)
                (void)lab_print_stage_info(c->print, cp->name, &info);
        if (!info.open)
                snprintf(info.reason, sizeof info.reason, "%s",
                         !cp->enabled ? "printer_disabled: enabled is false in the config"
                                      : "printer_not_open: its driver could not be opened; see "
                                        "the daemon's log");
        set_str(o, "name", cp->name);
        set_str(o, "driver", cp->driver == LAB_PRINTER_DRIVER_IPP ? "ipp" : "hotfolder");
        json_object_set_new(o, "enabled", json_boolean(cp->enabled));
        json_object_set_new(o, "available", json_boolean(info.available));
        set_str(o, "state", info.state);
        set_str(o, "reason", info.available ? "" : info.reason);
        if (info.boot > 0) {
                char up_since[32];
                lab_format_rfc3339((time_t)info.boot, up_since, sizeof up_since);
                set_str(o, "up_since", up_since);
        } else {
                json_object_set_new(o, "up_since", json_null());
        }
        if (pause)
                json_object_set_new(o, "paused",
                                    json_pack("{s:s, s:s, s:s?}", "by", pause->by, "since",
                                              pause->since, "reason", pause->reason));
        else
                json_object_set_new(o, "paused", json_null());
        json_object_set_new(o, "queued", json_integer(count_copies(c, cp->name, queued, 1)));
        json_object_set_new(o, "printing", json_integer(count_copies(c, cp->name, at, 2)));
        printer_summary_json(c, cp->name, o);
        return o;
}

/* Every printer of the config, in config order. */
static json_t *printers_json(lab_console_t *c)
{
        const lab_config_t *cfg = *c->config;
        lab_store_pause_t *pauses = NULL;
        size_t n_pauses = 0;
        json_t *list = json_array();

        if (!list || lab_store_printer_pauses(c->store, &pauses, &n_pauses) < 0) {
                json_decref(list);
                return NULL;
        }
        for (size_t i = 0; i < cfg->n_printers; i++)
                json_array_append_new(list, printer_json(c, &cfg->printers[i], pauses, n_pauses));
        lab_store_pauses_free(pauses, n_pauses);
        return list;
}

/* Add a state's count to the counts object. */
static void add_count(lab_job_state_t state, int64_t n, void *userdata)
{
        json_object_set_new(userdata, lab_job_state_to_string(state), json_integer((json_int_t)n));
}

/* Jobs that need a person (held, uncertain) or have not moved for control.stuck_after. */
static json_t *stuck_json(lab_console_t *c)
{
        lab_job_state_t live[LAB_JOB_STATE_MAX];
        size_t n_live = unfinished_states(live);
        const lab_config_t *cfg = *c->config;
        lab_store_job_t **jobs = NULL;
        size_t n = 0;
        char cutoff[40];
        json_t *list = json_array();

        lab_format_rfc3339(time(NULL) - (time_t)(cfg->control.stuck_after / 1000000ULL), cutoff,
                           sizeof cutoff);
        if (!list || lab_store_jobs_list(c->store, live, n_live, &jobs, &n) < 0) {
                json_decref(list);
                return NULL;
        }
        for (size_t i = 0; i < n && json_array_size(list) < STUCK_MAX; i++) {
                const lab_store_job_t *j = jobs[i];
                bool needs_person = j->state == LAB_JOB_HELD || j->state == LAB_JOB_UNCERTAIN;

                /* printed waits for the platform's acknowledgement: not the lab's to fix. */
                if (needs_person ||
                    (j->state != LAB_JOB_PRINTED && strcmp(j->updated_at, cutoff) < 0))
                        json_array_append_new(list, job_json(c, j, false));
        }
        lab_store_jobs_free(jobs, n);
        return list;
}

/* ---- energy (docs/control.md, `energy`) ---- */

/* A meters[].driver keyword. */
static const char *meter_driver_text(lab_meter_driver_t d)
{
        switch (d) {
        case LAB_METER_DRIVER_MODBUS:
                return "modbus";
        case LAB_METER_DRIVER_SHELLY:
                return "shelly";
        case LAB_METER_DRIVER_COMMAND:
                return "command";
        case LAB_METER_DRIVER_FILE:
                return "file";
        }
        return NULL;
}

/* A store time (unix usec) as RFC 3339, JSON null for 0 (none). */
static json_t *usec_json(int64_t usec)
{
        char buf[40];

        if (usec <= 0)
                return json_null();
        lab_format_rfc3339((time_t)(usec / 1000000), buf, sizeof buf);
        return json_string(buf);
}

/* The last local midnight before now, in unix usec (the day kwh_today counts from). */
static int64_t local_midnight_usec(time_t now)
{
        struct tm tm;
        time_t t = (time_t)-1;

        if (localtime_r(&now, &tm)) {
                tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
                tm.tm_isdst = -1; /* the zone's rule on that day, not now's */
                t = mktime(&tm);
        }
        if (t == (time_t)-1 || t > now)
                t = now - now % 86400; /* no zone to go by: UTC's */
        return (int64_t)t * 1000000;
}

/* The store's row of meter name, or NULL (not declared yet: the energy stage has not started). */
static const lab_store_energy_meter_t *meter_row(const lab_store_energy_meter_t *rows, size_t n,
                                                 const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(rows[i].name, name) == 0)
                        return &rows[i];
        return NULL;
}

/* A meter's state: its row's ("ok", "fault"), "unknown" before its first reading. */
static const char *meter_state(const lab_store_energy_meter_t *row)
{
        return row && row->state ? row->state : "unknown";
}

/* A meter's power now: the last good reading's while it is ok, else NAN (never 0). */
static double meter_power(const lab_store_energy_meter_t *row)
{
        if (!row || strcmp(meter_state(row), "ok") != 0 || !isfinite(row->power_w))
                return NAN;
        return row->power_w;
}

/* A meter as `energy` shows it (docs/control.md, METER), or NULL (the store failed). */
static json_t *meter_json(lab_console_t *c, const lab_config_meter_t *cm,
                          const lab_store_energy_meter_t *row, int64_t midnight, int64_t day_ago)
{
        lab_store_energy_window_t today, day;
        double power = meter_power(row);
        bool fault = row && strcmp(meter_state(row), "fault") == 0 && row->reason;
        json_t *o, *printers = json_array();

        if (!printers || lab_store_energy_window(c->store, cm->name, midnight, &today) < 0 ||
            lab_store_energy_window(c->store, cm->name, day_ago, &day) < 0) {
                json_decref(printers);
                return NULL;
        }
        for (size_t i = 0; i < cm->n_printers; i++)
                json_array_append_new(printers, json_string(cm->printers[i]));
        o = json_pack("{s:s, s:s?, s:o, s:s}", "name", cm->name, "driver",
                      meter_driver_text(cm->driver), "printers", printers, "state",
                      meter_state(row));
        if (!o)
                return NULL;
        json_object_set_new(o, "power_w", isfinite(power) ? json_real(power) : json_null());
        json_object_set_new(o, "kwh_today", json_real((double)today.energy_mwh / 1e6));
        json_object_set_new(o, "wh_per_print_24h",
                            day.prints > 0
                                ? json_real((double)day.print_mwh / (double)day.prints / 1000.0)
                                : json_null());
        json_object_set_new(o, "prints_24h", json_integer((json_int_t)day.prints));
        json_object_set_new(o, "energy_wh_24h", json_real((double)day.energy_mwh / 1000.0));
        json_object_set_new(o, "idle_wh_24h", json_real((double)day.idle_mwh / 1000.0));
        json_object_set_new(o, "last_ok_at", usec_json(row ? row->last_ok_at : 0));
        json_object_set_new(o, "fault",
                            fault ? json_pack("{s:s, s:s?, s:o}", "reason", row->reason, "detail",
                                              row->detail, "since", usec_json(row->fault_since))
                                  : json_null());
        json_object_set_new(o, "last_error",
                            row && row->last_error
                                ? json_pack("{s:s, s:o}", "text", row->last_error, "at",
                                            usec_json(row->last_error_at))
                                : json_null());
        return o;
}

/* The config's meter called name, or an unknown_meter answer (naming the meters) in *answer. */
static const lab_config_meter_t *find_meter(lab_console_t *c, const char *name, json_t **answer)
{
        const lab_config_t *cfg = *c->config;
        char names[1024] = "";
        size_t len = 0;

        for (size_t i = 0; i < cfg->n_meters; i++)
                if (strcmp(cfg->meters[i].name, name) == 0)
                        return &cfg->meters[i];
        if (cfg->n_meters == 0) {
                *answer = lab_control_error("unknown_meter",
                                            "there is no meter called \"%s\": the config has no "
                                            "energy meters (meters[])",
                                            name);
                return NULL;
        }
        for (size_t i = 0; i < cfg->n_meters; i++)
                name_list_add(names, sizeof names, &len, cfg->meters[i].name);
        *answer = lab_control_error("unknown_meter",
                                    "there is no meter called \"%s\"; the meters are: %s "
                                    "(labctl energy lists them)",
                                    name, names);
        return NULL;
}

static json_t *answer_energy(lab_console_t *c, const lab_control_request_t *req)
{
        const lab_config_t *cfg = *c->config;
        const lab_config_meter_t *one = NULL;
        lab_store_energy_meter_t *rows = NULL;
        time_t now = time(NULL);
        int64_t midnight = local_midnight_usec(now), day_ago = ((int64_t)now - 86400) * 1000000;
        json_t *answer = NULL, *list;
        size_t n = 0;
        int r;

        if (req->meter && !(one = find_meter(c, req->meter, &answer)))
                return answer;
        r = lab_store_energy_meter_list(c->store, &rows, &n);
        if (r < 0)
                return store_failed(r);
        list = json_array();
        /* The config's meters in its order: a row left by a meter taken out of it shows not. */
        for (size_t i = 0; list && i < cfg->n_meters; i++) {
                const lab_config_meter_t *cm = &cfg->meters[i];
                json_t *m;

                if (one && cm != one)
                        continue;
                m = meter_json(c, cm, meter_row(rows, n, cm->name), midnight, day_ago);
                if (!m) {
                        json_decref(list);
                        lab_store_energy_meter_list_free(rows, n);
                        return store_failed(-EIO);
                }
                json_array_append_new(list, m);
        }
        lab_store_energy_meter_list_free(rows, n);
        return list ? json_pack("{s:b, s:o}", "ok", 1, "meters", list) : NULL;
}

/* The status answer's "energy": the meters by state, their faults, their power now; NULL when
   the store cannot say. */
static json_t *energy_summary_json(lab_console_t *c)
{
        const lab_config_t *cfg = *c->config;
        lab_store_energy_meter_t *rows = NULL;
        json_int_t ok = 0, fault = 0, unknown = 0;
        double power = 0;
        bool any_power = false;
        json_t *faults, *o;
        size_t n = 0;

        if (lab_store_energy_meter_list(c->store, &rows, &n) < 0)
                return NULL;
        faults = json_array();
        for (size_t i = 0; faults && i < cfg->n_meters; i++) {
                const lab_store_energy_meter_t *row = meter_row(rows, n, cfg->meters[i].name);
                const char *state = meter_state(row);
                double w = meter_power(row);

                if (strcmp(state, "ok") == 0) {
                        ok++;
                } else if (strcmp(state, "fault") == 0) {
                        fault++;
                        json_array_append_new(faults,
                                              json_pack("{s:s, s:s?}", "meter", cfg->meters[i].name,
                                                        "reason", row ? row->reason : NULL));
                } else {
                        unknown++;
                }
                if (isfinite(w)) {
                        power += w;
                        any_power = true;
                }
        }
        lab_store_energy_meter_list_free(rows, n);
        if (!faults)
                return NULL;
        o = json_pack("{s:I, s:I, s:I, s:I, s:o}", "meters", (json_int_t)cfg->n_meters, "ok", ok,
                      "fault", fault, "unknown", unknown, "faults", faults);
        if (o)
                json_object_set_new(o, "power_w", any_power ? json_real(power) : json_null());
        return o;
}

static json_t *answer_status(lab_console_t *c, const lab_control_peer_t *peer)
{
        const lab_config_t *cfg = *c->config;
        const char *line = c->status_line ? c->status_line(c->userdata) : NULL;
        char started[40], now[40];
        int64_t outbox = -1;
        json_t *o, *energy, *counts = json_object();

        lab_format_rfc3339(c->started_at, started, sizeof started);
        lab_format_rfc3339(time(NULL), now, sizeof now);
        (void)lab_store_event_count(c->store, &outbox);
        if (counts && lab_store_jobs_by_state(c->store, add_count, counts) < 0) {
                json_decref(counts);
                return store_failed(-EIO);
        }
        o = json_pack("{s:b, s:s, s:s, s:{s:s, s:s, s:i, s:s, s:s, s:s?}, s:{s:s, s:I}, s:o}", "ok",
                      1, "role", lab_control_role_to_string(peer->role), "user", peer->user,
                      "agent", "version", LABAGENT_VERSION, "lab", cfg->lab.id, "pid",
                      (int)getpid(), "started_at", started, "now", now, "status", line, "platform",
                      "url", cfg->platform.url, "outbox", (json_int_t)outbox, "counts",
                      counts ? counts : json_object());
        if (!o)
                return NULL;
        json_object_set_new(o, "printers", printers_json(c));
        json_object_set_new(o, "stuck", stuck_json(c));
        energy = energy_summary_json(c);
        json_object_set_new(o, "energy", energy ? energy : json_null());
        return o;
}

static json_t *answer_jobs(lab_console_t *c, const lab_control_request_t *req)
{
        lab_job_state_t unfinished[LAB_JOB_STATE_MAX];
        size_t n_unfinished = unfinished_states(unfinished);
        const lab_job_state_t *states = req->n_states ? req->states : unfinished;
        size_t n_states = req->n_states ? req->n_states : n_unfinished;
        lab_store_job_t **jobs = NULL;
        size_t n = 0;
        json_t *list = json_array(), *o;
        int r;

        r = lab_store_jobs_list(c->store, states, n_states, &jobs, &n);
        if (r < 0 || !list) {
                json_decref(list);
                return store_failed(r);
        }
        for (size_t i = 0; i < n && i < req->limit; i++)
                json_array_append_new(list, job_json(c, jobs[i], false));
        lab_store_jobs_free(jobs, n);
        o = json_pack("{s:b, s:o, s:I}", "ok", 1, "jobs", list, "total", (json_int_t)n);
        return o;
}

/* The job, or an unknown_job answer in *answer. */
static lab_store_job_t *find_job(lab_console_t *c, const char *id, json_t **answer)
{
        lab_store_job_t *j = NULL;
        int r = lab_store_job_get(c->store, id, &j);

        if (r == -ENOENT)
                *answer = lab_control_error("unknown_job",
                                            "there is no job %s at this lab; labctl jobs --all "
                                            "lists them",
                                            id);
        else if (r < 0)
                *answer = store_failed(r);
        return r < 0 ? NULL : j;
}

static json_t *answer_job(lab_console_t *c, const lab_control_request_t *req)
{
        _cleanup_(lab_store_job_freep) lab_store_job_t *j = NULL;
        json_t *answer = NULL;

        j = find_job(c, req->job, &answer);
        if (!j)
                return answer;
        return json_pack("{s:b, s:o}", "ok", 1, "job", job_json(c, j, true));
}

/* The printer's config, or an unknown_printer answer in *answer. */
static const lab_config_printer_t *find_printer(lab_console_t *c, const char *name, json_t **answer)
{
        const lab_config_printer_t *cp = lab_config_find_printer(*c->config, name);

        if (!cp)
                *answer = lab_control_error("unknown_printer",
                                            "there is no printer called \"%s\"; labctl printers "
                                            "lists them",
                                            name);
        return cp;
}

/* {"ok": true, "printer": PRINTER} plus extra fields. */
static json_t *printer_answer(lab_console_t *c, const lab_config_printer_t *cp)
{
        lab_store_pause_t *pauses = NULL;
        size_t n = 0;
        json_t *o;

        if (lab_store_printer_pauses(c->store, &pauses, &n) < 0)
                return store_failed(-EIO);
        o = json_pack("{s:b, s:o}", "ok", 1, "printer", printer_json(c, cp, pauses, n));
        lab_store_pauses_free(pauses, n);
        return o;
}

static json_t *answer_pause(lab_console_t *c, const lab_control_request_t *req,
                            const lab_control_peer_t *peer)
{
        const lab_config_printer_t *cp;
        lab_store_pause_t *pauses = NULL;
        size_t n = 0;
        char actor[128];
        _cleanup_free_ char *detail = NULL;
        json_t *answer = NULL;
        int r;

        cp = find_printer(c, req->printer, &answer);
        if (!cp)
                return answer;
        actor_of(peer, actor, sizeof actor);
        detail = audit_detail(json_pack("{s:s, s:s?}", "printer", cp->name, "reason", req->reason));
        r = lab_store_printer_pause(c->store, cp->name, peer->user, req->reason, actor, detail);
        if (r < 0)
                return store_failed(r);
        log_struct(LOG_NOTICE, LAB_FIELDS({"PRINTER", cp->name}),
                   "printer %s: paused by %s (uid %u) from the console%s%s", cp->name, peer->user,
                   (unsigned)peer->uid, req->reason ? ": " : "", req->reason ? req->reason : "");
        if (c->print && lab_store_printer_pauses(c->store, &pauses, &n) >= 0) {
                for (size_t i = 0; i < n; i++)
                        if (strcmp(pauses[i].printer, cp->name) == 0)
                                (void)lab_print_stage_pause(c->print, &pauses[i], NULL);
                lab_store_pauses_free(pauses, n);
        }
        return printer_answer(c, cp);
}

static json_t *answer_resume(lab_console_t *c, const lab_control_request_t *req,
                             const lab_control_peer_t *peer)
{
        const lab_config_printer_t *cp;
        char actor[128];
        _cleanup_free_ char *detail = NULL;
        bool was_paused = false;
        json_t *answer = NULL;
        int r;

        cp = find_printer(c, req->printer, &answer);
        if (!cp)
                return answer;
        actor_of(peer, actor, sizeof actor);
        detail = audit_detail(json_pack("{s:s}", "printer", cp->name));
        r = lab_store_printer_resume(c->store, cp->name, actor, detail, &was_paused);
        if (r < 0)
                return store_failed(r);
        if (was_paused) {
                log_struct(LOG_NOTICE, LAB_FIELDS({"PRINTER", cp->name}),
                           "printer %s: resumed by %s (uid %u) from the console", cp->name,
                           peer->user, (unsigned)peer->uid);
                if (c->print)
                        (void)lab_print_stage_pause(c->print, NULL, cp->name);
        }
        answer = printer_answer(c, cp);
        if (answer && json_is_true(json_object_get(answer, "ok")))
                json_object_set_new(answer, "was_paused", json_boolean(was_paused));
        return answer;
}

/* The copy of a job the request names (the only one when it names none), or an error answer. */
static const lab_store_copy_t *pick_copy(lab_store_copy_t **v, size_t n,
                                         const lab_control_request_t *req, json_t **answer)
{
        if (req->copy == 0) {
                if (n == 1)
                        return v[0];
                *answer = lab_control_error(
                    n == 0 ? "not_reprintable" : "unknown_copy",
                    n == 0 ? "job %s has no copies yet: it has not reached a printer"
                           : "job %s has %zu copies; say which with --copy N (labctl job %s "
                             "lists them)",
                    req->job, n, req->job);
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                if (v[i]->copy == req->copy)
                        return v[i];
        *answer = lab_control_error("unknown_copy",
                                    "job %s has no copy %d; labctl job %s lists its copies",
                                    req->job, req->copy, req->job);
        return NULL;
}

static json_t *answer_reprint(lab_console_t *c, const lab_control_request_t *req,
                              const lab_control_peer_t *peer)
{
        _cleanup_(lab_store_job_freep) lab_store_job_t *j = NULL;
        lab_store_copy_t **v = NULL;
        const lab_store_copy_t *cp;
        char actor[128], name[LAB_PRINTER_JOB_NAME_MAX] = "";
        lab_store_reprint_t rp = {0};
        const lab_config_product_t *product;
        lab_stock_use_t uses[USES_MAX];
        json_t *answer = NULL;
        int r;

        j = find_job(c, req->job, &answer);
        if (!j)
                return answer;
        /* Its paper for the platform's defect figures; NULL once the product is gone. */
        product = lab_config_find_product(*c->config, j->sku);
        size_t n = 0;
        r = lab_store_job_copies(c->store, j->id, &v, &n);
        if (r < 0)
                return store_failed(r);
        cp = pick_copy(v, n, req, &answer);
        if (!cp) {
                lab_store_copies_free(v, n);
                return answer;
        }
        /* The print file must still be there: retention deletes it after storage.retention. */
        if (!cp->output_path || access(cp->output_path, R_OK) < 0) {
                answer = lab_control_error(
                    "print_file_gone",
                    "the print file of job %s for %s is gone (deleted after storage.retention); "
                    "the platform must send the job again",
                    j->id, cp->printer);
                lab_store_copies_free(v, n);
                return answer;
        }
        actor_of(peer, actor, sizeof actor);
        if (cp->attempt > 0)
                (void)lab_printer_job_name(name, sizeof name, j->id, (unsigned)cp->copy,
                                           (unsigned)cp->attempt);
        rp = (lab_store_reprint_t){.job_id = j->id,
                                   .copy = cp->copy,
                                   .defect = req->defect,
                                   .note = req->note,
                                   .by = peer->user,
                                   .actor = actor,
                                   .job_name = name,
                                   .media = product ? product->media : NULL,
                                   .uses = uses};
        /* An uncertain copy found printed with a defect was printed: what it used. */
        rp.n_uses = lab_stock_uses(lab_config_find_printer(*c->config, cp->printer),
                                   product ? product->media : NULL, uses, ELEMENTSOF(uses));
        lab_store_copies_free(v, n);
        r = lab_store_copy_reprint(c->store, &rp);
        if (r == -EPERM) {
                lab_job_state_t from, to;

                log_refused(c, j->id, &from, &to);
                if (from == j->state && to == LAB_JOB_PRINTING)
                        return lab_control_error("not_reprintable",
                                                 "job %s is %s: only a job printing or printed "
                                                 "can have a copy reprinted",
                                                 j->id, state_text(j->state));
                return lab_control_error("not_reprintable",
                                         "job %s may not go from %s to %s with this reprint; "
                                         "nothing changed",
                                         j->id, state_text(from), state_text(to));
        }
        if (r == -EBUSY)
                return lab_control_error("not_reprintable",
                                         "copy %d of job %s is not printed yet (nor uncertain); "
                                         "wait for it, or cancel the job from the platform",
                                         rp.copy, j->id);
        if (r < 0)
                return store_failed(r);
        log_struct(LOG_NOTICE, LAB_FIELDS({"JOB_ID", j->id}, {"PRINTER", rp.printer}),
                   "job %s: copy %d reported %s by %s (uid %u); reprint queued as copy %d on %s",
                   j->id, rp.copy, req->defect, peer->user, (unsigned)peer->uid, rp.reprint_copy,
                   rp.printer);
        /* Its defect (and any print it used) changes the printer's figures. */
        if (c->telemetry)
                lab_telemetry_review(c->telemetry, rp.printer);
        if (c->changed)
                c->changed(c->userdata);
        return json_pack("{s:b, s:s, s:i, s:i, s:s}", "ok", 1, "job", j->id, "copy", rp.copy,
                         "reprint_copy", rp.reprint_copy, "printer", rp.printer);
}

static json_t *answer_printed(lab_console_t *c, const lab_control_request_t *req,
                              const lab_control_peer_t *peer)
{
        const lab_config_t *cfg = *c->config;
        _cleanup_(lab_store_job_freep) lab_store_job_t *j = NULL, *after = NULL;
        _cleanup_free_ char *printer = NULL;
        lab_store_copy_t **v = NULL;
        const lab_store_copy_t *cp;
        const lab_config_product_t *product;
        lab_stock_use_t uses[USES_MAX];
        size_t n_uses;
        char actor[128], name[LAB_PRINTER_JOB_NAME_MAX] = "";
        json_t *answer = NULL;
        size_t n = 0;
        int r;

        j = find_job(c, req->job, &answer);
        if (!j)
                return answer;
        r = lab_store_job_copies(c->store, j->id, &v, &n);
        if (r < 0)
                return store_failed(r);
        cp = pick_copy(v, n, req, &answer);
        if (!cp) {
                lab_store_copies_free(v, n);
                return answer;
        }
        if (cp->attempt > 0)
                (void)lab_printer_job_name(name, sizeof name, j->id, (unsigned)cp->copy,
                                           (unsigned)cp->attempt);
        actor_of(peer, actor, sizeof actor);
        /* What the print used: the job's product's media on the copy's printer. */
        product = lab_config_find_product(cfg, j->sku);
        n_uses = lab_stock_uses(cp->printer ? lab_config_find_printer(cfg, cp->printer) : NULL,
                                product ? product->media : NULL, uses, ELEMENTSOF(uses));
        r = lab_store_copy_confirm_printed(c->store, j->id, cp->copy, name, peer->user, actor, uses,
                                           n_uses);
        if (r == -EBUSY) {
                answer = lab_control_error("not_uncertain",
                                           "copy %d of job %s is %s, not uncertain: there is "
                                           "nothing to confirm",
                                           cp->copy, j->id, lab_copy_state_to_string(cp->state));
        } else if (r == -EPERM) {
                lab_job_state_t from, to;

                log_refused(c, j->id, &from, &to);
                answer = lab_control_error("store_failed",
                                           "job %s may not go from %s to %s (the job state "
                                           "table does not allow it); nothing changed",
                                           j->id, state_text(from), state_text(to));
        } else if (r < 0) {
                answer = store_failed(r);
        }
        if (r >= 0) {
                log_struct(LOG_NOTICE, LAB_FIELDS({"JOB_ID", j->id}),
                           "job %s: copy %d confirmed printed by %s (uid %u)", j->id, cp->copy,
                           peer->user, (unsigned)peer->uid);
                printer = cp->printer ? strdup(cp->printer) : NULL;
        }
        lab_store_copies_free(v, n);
        if (r < 0)
                return answer;
        /* Its stock was counted in that transaction: judge the printer's items again. */
        if (c->telemetry && printer)
                lab_telemetry_review(c->telemetry, printer);
        if (c->changed)
                c->changed(c->userdata);
        after = find_job(c, req->job, &answer);
        if (!after)
                return answer;
        return json_pack("{s:b, s:o}", "ok", 1, "job", job_json(c, after, false));
}

/* A stock item as the console shows it (docs/control.md, ITEM). */
static json_t *stock_item_json(const lab_stock_item_t *it)
{
        json_t *o = json_object();
        char as_of[40];

        if (!o)
                return NULL;
        set_str(o, "printer", it->printer);
        set_str(o, "item", it->item);
        set_str(o, "kind", lab_stock_kind_to_string(it->kind));
        set_str(o, "media", it->media);
        set_str(o, "source", lab_stock_source_to_string(it->source));
        json_object_set_new(o, "remaining",
                            it->remaining >= 0 ? json_real(it->remaining) : json_null());
        set_str(o, "unit", lab_stock_unit_to_string(it->unit));
        json_object_set_new(o, "level", it->level >= 0 ? json_integer(it->level) : json_null());
        json_object_set_new(o, "capacity",
                            it->capacity > 0 ? json_real(it->capacity) : json_null());
        json_object_set_new(o, "threshold", json_real(it->threshold));
        set_str(o, "state", lab_stock_state_to_string(it->state));
        if (it->as_of > 0) {
                lab_format_rfc3339((time_t)it->as_of, as_of, sizeof as_of);
                set_str(o, "as_of", as_of);
        } else {
                json_object_set_new(o, "as_of", json_null());
        }
        json_object_set_new(o, "drift", it->has_drift ? json_real(it->drift) : json_null());
        return o;
}

static json_t *answer_stock(lab_console_t *c, const lab_control_request_t *req)
{
        const lab_config_t *cfg = *c->config;
        _cleanup_free_ lab_stock_item_t *items = NULL;
        json_t *answer = NULL, *list;
        size_t n = 0;
        int r;

        if (req->printer && !find_printer(c, req->printer, &answer))
                return answer;
        r = lab_store_stock_list(c->store, req->printer, &items, &n);
        if (r < 0)
                return store_failed(r);
        list = json_array();
        if (!list)
                return NULL;
        /* Of the printers in the config: a printer taken out of it prints nothing. */
        for (size_t i = 0; i < n; i++)
                if (lab_config_find_printer(cfg, items[i].printer))
                        json_array_append_new(list, stock_item_json(&items[i]));
        return json_pack("{s:b, s:o}", "ok", 1, "items", list);
}

/* The names of a printer's items for a sentence ("paper-4x6, ribbon"), into buf. */
static const char *item_names(const lab_stock_item_t *items, size_t n, char *buf, size_t size)
{
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n; i++)
                name_list_add(buf, size, &len, items[i].item);
        return buf;
}

/* stock_item_unknown: printer has no item called item. */
static json_t *item_unknown(const char *printer, const char *item, const lab_stock_item_t *items,
                            size_t n)
{
        char names[1024];

        if (n == 0)
                return lab_control_error("stock_item_unknown",
                                         "printer %s has no stock items (it reports none and the "
                                         "config declares no printers[].consumables for it)",
                                         printer);
        return lab_control_error("stock_item_unknown",
                                 "printer %s has no stock item \"%s\"; its items are: %s "
                                 "(labctl stock %s lists them)",
                                 printer, item, item_names(items, n, names, sizeof names), printer);
}

static json_t *answer_stock_adjust(lab_console_t *c, const lab_control_request_t *req,
                                   const lab_control_peer_t *peer)
{
        const lab_config_t *cfg = *c->config;
        const lab_config_printer_t *cp;
        _cleanup_free_ lab_stock_item_t *items = NULL;
        const lab_stock_item_t *before = NULL;
        const char *action = lab_stock_action_to_string(req->action);
        lab_store_stock_adjust_t a;
        char actor[128], amount[32], left[32];
        json_t *answer = NULL, *item;
        size_t n = 0;
        int r;

        cp = find_printer(c, req->printer, &answer);
        if (!cp)
                return answer;
        r = lab_store_stock_list(c->store, cp->name, &items, &n);
        if (r < 0)
                return store_failed(r);
        for (size_t i = 0; i < n; i++)
                if (strcmp(items[i].item, req->item) == 0)
                        before = &items[i];
        if (!before)
                return item_unknown(cp->name, req->item, items, n);
        actor_of(peer, actor, sizeof actor);
        a = (lab_store_stock_adjust_t){.printer = cp->name,
                                       .item = req->item,
                                       .action = req->action,
                                       .amount = req->amount,
                                       .by = peer->user,
                                       .actor = actor,
                                       .note = req->note,
                                       .hysteresis = cfg->stock.hysteresis};
        r = lab_store_stock_adjust(c->store, &a);
        lab_format_amount(req->amount, amount, sizeof amount);
        if (r == -ENOENT)
                return item_unknown(cp->name, req->item, items, n);
        if (r == -EPERM)
                return lab_control_error("stock_counted_by_printer",
                                         "printer %s reports \"%s\" itself (a supply or tray it "
                                         "counts); its figure comes from the printer and cannot "
                                         "be entered by hand. Replace or refill it at the printer; "
                                         "labctl stock %s shows what it reports",
                                         cp->name, req->item, cp->name);
        if (r == -ERANGE) {
                const char *unit = lab_stock_unit_to_string(before->unit);

                if (before->remaining <= 0)
                        return lab_control_error(
                            "stock_below_zero",
                            "cannot remove %s %s of %s on %s: %s. Nothing changed; record a "
                            "count with labctl stock set %s %s AMOUNT",
                            amount, unit ? unit : "units", req->item, cp->name,
                            before->remaining < 0 ? "no count is known yet" : "none are left",
                            cp->name, req->item);
                return lab_control_error("stock_below_zero",
                                         "cannot remove %s %s of %s on %s: only %s are left. "
                                         "Nothing changed; to record a count use labctl stock set "
                                         "%s %s AMOUNT",
                                         amount, unit ? unit : "units", req->item, cp->name,
                                         lab_format_amount(before->remaining, left, sizeof left),
                                         cp->name, req->item);
        }
        if (r < 0)
                return store_failed(r);
        log_struct(LOG_NOTICE, LAB_FIELDS({"PRINTER", cp->name}),
                   "printer %s: stock %s: %s %s by %s (uid %u) from the console; %s left (%s)%s%s",
                   cp->name, req->item, action, amount, peer->user, (unsigned)peer->uid,
                   a.result.remaining >= 0
                       ? lab_format_amount(a.result.remaining, left, sizeof left)
                       : "unknown",
                   lab_stock_state_to_string(a.result.state), req->note ? ": " : "",
                   req->note ? req->note : "");
        if (c->telemetry)
                lab_telemetry_review(c->telemetry, cp->name);
        if (c->changed)
                c->changed(c->userdata);
        item = stock_item_json(&a.result);
        if (!item)
                return NULL;
        return json_pack("{s:b, s:s, s:f, s:s?, s:s?, s:o}", "ok", 1, "action", action, "amount",
                         req->amount, "note", req->note, "event", a.state_event, "item", item);
}

json_t *lab_console_answer(const lab_control_request_t *req, const lab_control_peer_t *peer,
                           void *userdata)
{
        lab_console_t *c = userdata;

        switch (req->cmd) {
        case LAB_CONTROL_STATUS:
                return answer_status(c, peer);
        case LAB_CONTROL_JOBS:
                return answer_jobs(c, req);
        case LAB_CONTROL_JOB:
                return answer_job(c, req);
        case LAB_CONTROL_PRINTERS: {
                json_t *list = printers_json(c);
                return list ? json_pack("{s:b, s:o}", "ok", 1, "printers", list)
                            : store_failed(-EIO);
        }
        case LAB_CONTROL_PAUSE:
                return answer_pause(c, req, peer);
        case LAB_CONTROL_RESUME:
                return answer_resume(c, req, peer);
        case LAB_CONTROL_REPRINT:
                return answer_reprint(c, req, peer);
        case LAB_CONTROL_PRINTED:
                return answer_printed(c, req, peer);
        case LAB_CONTROL_STOCK:
                return answer_stock(c, req);
        case LAB_CONTROL_STOCK_ADJUST:
                return answer_stock_adjust(c, req, peer);
        case LAB_CONTROL_ENERGY:
                return answer_energy(c, req);
        default:
                return lab_control_error("bad_request", "unknown command");
        }
}
