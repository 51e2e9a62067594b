/*
 * energy-stage.c - sample the meters, count and share their energy, report it.
 *
 * Why: see energy-stage.h. The reads block (a meter may take its whole
 * timeout), so they run on this stage's own threads, never on the render
 * pool or the loop; everything else (counting, sharing, the store, events)
 * runs on the loop. Each meter has at most one read in flight. A meter is
 * rebuilt on reload; a read still running for a meter that is gone is let
 * finish and dropped.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "energy-counter.h"
#include "energy-media.h"
#include "energy-share.h"
#include "energy-stage.h"
#include "event-util.h"
#include "log.h"
#include "macro.h"
#include "meter.h"
#include "worker-pool.h"

/* Threads for meter reads: a slow meter holds one, so a few keep the others on time. */
#define METER_THREADS 4u
/* A copy whose media size cannot be read weighs as a 4x6 (mm²). */
#define DEFAULT_AREA_MM2 (101.6 * 152.4)
/* job.energy events looked for per interval closed. */
#define JOBS_PER_PASS 64
/* Reported intervals and prints are kept this long (labctl shows 24 h), in usec. */
#define KEEP_USEC (UINT64_C(8) * 24 * 3600 * 1000000)

typedef struct meter_s meter_t;

struct meter_s {
        lab_energy_stage_t *stage;
        const lab_config_meter_t *cfg; /* NULL once retired (a reload dropped it) */
        char *name;
        lab_meter_t *handle; /* NULL: its settings were refused */
        lab_energy_counter_t counter;
        lab_store_energy_meter_t row; /* the store's row, as last written */
        sd_event_source *timer;
        bool busy; /* a read is in flight */
        meter_t *prev, *next;
};

/* One read, from submit to done. */
typedef struct read_s {
        meter_t *meter;
        int r;
        lab_meter_reading_t reading;
        lab_error_t err;
} read_t;

struct lab_energy_stage_s {
        sd_event *event;
        lab_store_t *store;
        lab_http_get_fn http_get;
        const lab_config_t *config;
        lab_pool_t *pool;
        sd_event_source *report_timer;
        meter_t *meters;       /* the configured ones */
        unsigned retired_busy; /* retired meters whose read is still running */
        uint64_t rng;
        lab_energy_events_hook_t events_hook;
        void *userdata;
        int64_t last_prune; /* unix usec */
};

static int64_t wall_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* xorshift64: jitter only, nothing secret. */
static uint64_t next_random(lab_energy_stage_t *st)
{
        st->rng ^= st->rng << 13;
        st->rng ^= st->rng >> 7;
        st->rng ^= st->rng << 17;
        return st->rng;
}

/* interval ± 5 %, so meters configured alike do not all ask at the same instant. */
static uint64_t jittered(lab_energy_stage_t *st, uint64_t interval)
{
        uint64_t span = interval / 10;

        return span ? interval - span / 2 + next_random(st) % (span + 1) : interval;
}

/* An RFC 3339 UTC time with milliseconds. */
static void format_time(int64_t usec, char *buf, size_t size)
{
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;
        char sec[32];

        gmtime_r(&t, &tm);
        strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, size, "%s.%03dZ", sec, (int)((usec % 1000000) / 1000));
}

static json_t *json_time(int64_t usec)
{
        char buf[48];

        format_time(usec, buf, sizeof buf);
        return json_string(buf);
}

/* A figure, or null when unknown (NAN). */
static json_t *json_figure(double v)
{
        return isfinite(v) ? json_real(v) : json_null();
}

/* Wh of whole mWh, as a JSON number exact to the mWh. */
static json_t *json_wh(int64_t mwh)
{
        return json_real((double)mwh / 1000.0);
}

static void notify(lab_energy_stage_t *st)
{
        if (st->events_hook)
                st->events_hook(st->userdata);
}

static void arm(meter_t *m, uint64_t delay);

/* ---- the meter's row and its faults ---- */

/* Replace a string field of the row. */
static void set_text(char **field, const char *v)
{
        char *copy = v ? strdup(v) : NULL;

        if (v && !copy)
                return; /* keep the old text rather than lose the field */
        free(*field);
        *field = copy;
}

/*
 * A read failed (counted: the counter must bridge it), or its figures were
 * refused (the counter counted that itself): the fault, once, and the last
 * error. A fault the store did not take is told again at the next failure.
 */
static void meter_failed(meter_t *m, const lab_error_t *err, bool counted)
{
        lab_energy_stage_t *st = m->stage;
        int64_t now = wall_usec();
        char last[sizeof err->keyword + sizeof err->message + 2];
        json_auto_t *body = NULL;
        _cleanup_free_ char *text = NULL;
        lab_store_energy_event_t ev = {.kind = "meter.fault"};
        bool new_fault = !m->row.state || strcmp(m->row.state, "fault") != 0;
        int r;

        if (!counted)
                lab_energy_counter_failed(&m->counter);
        snprintf(last, sizeof last, "%s: %s", err->keyword, err->message);
        set_text(&m->row.last_error, last);
        m->row.last_error_at = now;
        if (new_fault) {
                set_text(&m->row.state, "fault");
                set_text(&m->row.reason, err->keyword);
                set_text(&m->row.detail, err->message);
                m->row.fault_since = now;
                m->row.power_w = NAN;
                body = json_pack("{s:s, s:s, s:s, s:o}", "meter", m->name, "reason", err->keyword,
                                 "detail", err->message, "since", json_time(now));
                text = body ? json_dumps(body, JSON_COMPACT) : NULL;
                ev.body = text;
                log_warning("meter %s: %s: %s", m->name, err->keyword, err->message);
        } else {
                log_debug("meter %s: still failing: %s: %s", m->name, err->keyword, err->message);
        }
        r = lab_store_energy_meter_write(st->store, &m->row, &ev, text ? 1 : 0);
        if (r < 0) {
                log_error_errno(r, "meter %s: cannot record its fault in the store: %m", m->name);
                if (new_fault)
                        set_text(&m->row.state, "unknown"); /* told at the next failure */
        } else if (text) {
                notify(st);
        }
}

/* ---- closing an interval ---- */

/* The area of a copy of sku (mm²), from the product's media name. */
static double sku_area(lab_energy_stage_t *st, const char *sku)
{
        const lab_config_product_t *p = lab_config_find_product(st->config, sku);
        double a;

        if (p && lab_energy_media_area(p->media, &a) == 0)
                return a;
        return DEFAULT_AREA_MM2;
}

/* Events that go with a closed interval: the recovery, a reset. */
static size_t interval_events(meter_t *m, const lab_energy_interval_t *iv, int64_t now,
                              char **texts, lab_store_energy_event_t *ev)
{
        size_t n = 0;

        if (m->row.state && strcmp(m->row.state, "fault") == 0) {
                json_auto_t *b = json_pack(
                    "{s:s, s:I, s:o}", "meter", m->name, "outage_s",
                    (json_int_t)((now - (m->row.fault_since ? m->row.fault_since : now)) / 1000000),
                    "bridged_wh", json_wh(iv->delta_mwh));

                texts[n] = b ? json_dumps(b, JSON_COMPACT) : NULL;
                if (texts[n]) {
                        ev[n] = (lab_store_energy_event_t){"meter.recovered", texts[n]};
                        n++;
                }
                log_info("meter %s: answering again; %.3f Wh bridged", m->name, iv->delta_wh);
        }
        if (iv->quality == LAB_ENERGY_RESET) {
                char detail[256];
                json_auto_t *b = NULL;

                snprintf(detail, sizeof detail,
                         "the meter's counter went back to %.3f Wh (it restarted, or was "
                         "replaced); counting goes on from there, and what it counted between "
                         "the last reading and its restart is not known",
                         iv->total_wh);
                b = json_pack("{s:s, s:s, s:s, s:o}", "meter", m->name, "reason", "meter_reset",
                              "detail", detail, "since", json_time(now));
                texts[n] = b ? json_dumps(b, JSON_COMPACT) : NULL;
                if (texts[n]) {
                        ev[n] = (lab_store_energy_event_t){"meter.fault", texts[n]};
                        n++;
                }
                log_notice("meter %s: meter_reset: %s", m->name, detail);
        }
        return n;
}

/* job.energy for every job whose last copy's interval closed. */
static void report_jobs(lab_energy_stage_t *st)
{
        lab_store_energy_job_t *jobs = NULL;
        size_t n = 0;
        int r;

        r = lab_store_energy_jobs_due(st->store, JOBS_PER_PASS, &jobs, &n);
        if (r < 0) {
                log_error_errno(r, "energy: cannot read the jobs whose energy is due: %m");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                json_auto_t *b =
                    json_pack("{s:s?, s:s?, s:o, s:i, s:s, s:s}", "printer", jobs[i].printer,
                              "meter", jobs[i].meter, "energy_wh", json_wh(jobs[i].mwh), "copies",
                              jobs[i].copies, "method", "area_share", "quality", jobs[i].quality);
                _cleanup_free_ char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;

                if (!text)
                        break;
                r = lab_store_energy_job_reported(st->store, jobs[i].job_id, text);
                if (r < 0)
                        log_error_errno(r, "job %s: cannot record job.energy: %m", jobs[i].job_id);
        }
        lab_store_energy_jobs_free(jobs, n);
}

/* An interval closed: share it among the open prints and keep it all in one transaction. */
static void meter_interval(meter_t *m, const lab_energy_interval_t *iv)
{
        lab_energy_stage_t *st = m->stage;
        lab_store_energy_print_t *prints = NULL;
        _cleanup_free_ lab_energy_copy_t *copies = NULL;
        _cleanup_free_ int64_t *shares = NULL;
        char *texts[2] = {NULL, NULL};
        lab_store_energy_event_t ev[2];
        lab_store_energy_interval_t row;
        int64_t now = wall_usec(), idle = 0;
        lab_energy_saved_t saved = lab_energy_counter_saved(&m->counter);
        size_t n = 0, n_ev;
        int r;

        r = lab_store_energy_open_prints(st->store, m->name, &prints, &n);
        if (r < 0)
                goto failed;
        copies = calloc(n ? n : 1, sizeof *copies);
        shares = calloc(n ? n : 1, sizeof *shares);
        if (!copies || !shares) {
                r = -ENOMEM;
                goto failed;
        }
        for (size_t i = 0; i < n; i++)
                copies[i] = (lab_energy_copy_t){.job = prints[i].job_id,
                                                .copy = (unsigned)prints[i].copy,
                                                .area = sku_area(st, prints[i].sku)};
        r = lab_energy_share(iv->delta_mwh, copies, n, shares, &idle);
        if (r < 0)
                goto failed;
        n_ev = interval_events(m, iv, now, texts, ev);
        row = (lab_store_energy_interval_t){
            .meter = m->name,
            .from_at = m->row.last_ok_at && m->row.last_ok_at <= now ? m->row.last_ok_at : now,
            .to_at = now,
            .energy_mwh = iv->delta_mwh,
            .idle_mwh = idle,
            .total_wh = iv->total_wh,
            .power_w = iv->power_w,
            .quality = lab_energy_quality_to_string(iv->quality),
            .saved_wh = saved.energy_wh,
        };
        r = lab_store_energy_close(st->store, &row, prints, shares, n, ev, n_ev);
        free(texts[0]);
        free(texts[1]);
        lab_store_energy_prints_free(prints, n);
        prints = NULL;
        if (r < 0)
                goto failed;
        m->row.saved_valid = true;
        m->row.saved_wh = saved.energy_wh;
        m->row.counted_mwh += iv->delta_mwh;
        m->row.power_w = iv->power_w;
        m->row.last_ok_at = now;
        set_text(&m->row.state, "ok");
        set_text(&m->row.reason, NULL);
        set_text(&m->row.detail, NULL);
        m->row.fault_since = 0;
        log_debug("meter %s: %.3f Wh (%s), %zu print(s), %.3f Wh idle", m->name, iv->delta_wh,
                  row.quality, n, (double)idle / 1000.0);
        report_jobs(st);
        notify(st);
        return;
failed:
        lab_store_energy_prints_free(prints, n);
        log_error_errno(r, "meter %s: cannot record %.3f Wh: %m; the next reading covers it",
                        m->name, iv->delta_wh);
        /* The counter moved its baseline; measure the next reading from what the store has. */
        {
                lab_energy_saved_t back = {.valid = m->row.saved_valid,
                                           .energy_wh = m->row.saved_wh};

                (void)lab_energy_counter_seed(&m->counter, &back, NULL);
        }
}

/* The first good reading ever: the baseline, kept so a restart measures from it. */
static void meter_baseline(meter_t *m, const lab_meter_reading_t *reading)
{
        int r;

        m->row.saved_valid = true;
        m->row.saved_wh = reading->energy_wh;
        m->row.power_w = reading->power_w;
        m->row.last_ok_at = wall_usec();
        set_text(&m->row.state, "ok");
        set_text(&m->row.reason, NULL);
        set_text(&m->row.detail, NULL);
        m->row.fault_since = 0;
        r = lab_store_energy_meter_write(m->stage->store, &m->row, NULL, 0);
        if (r < 0)
                log_error_errno(r, "meter %s: cannot record its first reading: %m", m->name);
}

/* ---- reads ---- */

static void read_work(void *userdata)
{
        read_t *rd = userdata;

        rd->r = lab_meter_read(rd->meter->handle, &rd->reading, &rd->err);
}

static void meter_free(meter_t *m)
{
        if (!m)
                return;
        sd_event_source_disable_unref(m->timer);
        lab_meter_close(m->handle);
        free(m->row.name);
        free(m->row.state);
        free(m->row.reason);
        free(m->row.detail);
        free(m->row.last_error);
        free(m->name);
        free(m);
}

static void read_done(void *userdata, bool ran)
{
        _cleanup_free_ read_t *rd = userdata;
        meter_t *m = rd->meter;
        lab_energy_interval_t iv;
        lab_energy_sample_t sample;
        lab_error_t e = {0};
        int r;

        m->busy = false;
        if (!m->cfg) { /* retired by a reload */
                m->stage->retired_busy--;
                meter_free(m);
                return;
        }
        if (!ran)
                return;
        arm(m, jittered(m->stage, m->cfg->interval));
        if (rd->r < 0) {
                meter_failed(m, &rd->err, false);
                return;
        }
        sample = (lab_energy_sample_t){rd->reading.energy_wh, rd->reading.power_w,
                                       rd->reading.mono_usec};
        r = lab_energy_counter_add(&m->counter, &sample, &iv, &e);
        if (r < 0)
                meter_failed(m, &e, true);
        else if (r == 0)
                meter_baseline(m, &rd->reading);
        else
                meter_interval(m, &iv);
}

static int on_meter_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        meter_t *m = userdata;
        read_t *rd;
        int r;

        (void)s;
        (void)usec;
        if (m->busy || !m->handle)
                return 0;
        rd = calloc(1, sizeof *rd);
        if (!rd) {
                arm(m, m->cfg->interval);
                return 0;
        }
        rd->meter = m;
        r = lab_pool_submit(m->stage->pool, read_work, read_done, rd);
        if (r < 0) {
                free(rd);
                arm(m, m->cfg->interval);
                return 0;
        }
        m->busy = true;
        return 0;
}

static void arm(meter_t *m, uint64_t delay)
{
        int r = lab_timer_arm(m->stage->event, &m->timer, delay, on_meter_timer, m, "meter");

        if (r < 0)
                log_error_errno(r, "meter %s: cannot schedule its next reading: %m", m->name);
}

/* ---- energy.reading ---- */

static void report_meter(lab_energy_stage_t *st, meter_t *m)
{
        lab_store_energy_pending_t p;
        json_auto_t *b = NULL;
        _cleanup_free_ char *text = NULL;
        double grid = st->config->energy.grid_gco2e_per_kwh;
        int r;

        r = lab_store_energy_pending(st->store, m->name, &p);
        if (r < 0) {
                log_error_errno(r, "meter %s: cannot read its intervals: %m", m->name);
                return;
        }
        if (p.intervals == 0)
                return; /* nothing measured: no reading (a fault is never a zero) */
        b = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:s, s:o}", "meter", m->name,
                      "from", json_time(p.from_at), "to", json_time(p.to_at), "energy_wh",
                      json_wh(p.energy_mwh), "total_wh", json_real(p.total_wh), "power_w",
                      json_figure(p.power_w), "power_w_max", json_figure(p.power_w_max), "prints",
                      (json_int_t)p.prints, "idle_wh", json_wh(p.idle_mwh), "quality", p.quality,
                      "co2e_g",
                      grid >= 0 ? json_real((double)p.energy_mwh / 1e6 * grid) : json_null());
        text = b ? json_dumps(b, JSON_COMPACT) : NULL;
        if (!text)
                return;
        r = lab_store_energy_reported(st->store, m->name, p.last_id, text);
        if (r < 0)
                log_error_errno(r, "meter %s: cannot record energy.reading: %m", m->name);
}

static int on_report_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        lab_energy_stage_t *st = userdata;
        int64_t now = wall_usec();
        int r;

        (void)s;
        (void)usec;
        for (meter_t *m = st->meters; m; m = m->next)
                report_meter(st, m);
        report_jobs(st);
        if (now - st->last_prune > 3600 * INT64_C(1000000)) {
                st->last_prune = now;
                r = lab_store_energy_prune(st->store, now - (int64_t)KEEP_USEC);
                if (r < 0)
                        log_warning_errno(r, "energy: cannot prune old intervals: %m");
        }
        notify(st);
        r = lab_timer_arm(st->event, &st->report_timer, st->config->energy.report_interval,
                          on_report_timer, st, "energy-report");
        if (r < 0)
                log_error_errno(r, "energy: cannot schedule the next report: %m");
        return 0;
}

/* ---- config ---- */

int lab_energy_meter_settings(const lab_config_meter_t *c, lab_http_get_fn http_get,
                              lab_meter_settings_t *s, lab_error_t *err)
{
        static const char *const presets[] = {NULL, "sdm630", "sdm120"};

        *s = (lab_meter_settings_t){
            .name = c->name,
            .address = c->address,
            .timeout_usec = c->timeout,
            .max_power_w = c->max_power_w,
        };
        switch (c->driver) {
        case LAB_METER_DRIVER_MODBUS:
                s->kind = LAB_METER_MODBUS;
                if (c->preset != LAB_METER_PRESET_NONE) {
                        if (lab_meter_preset(presets[c->preset], &s->energy, &s->power) < 0)
                                return lab_error_set(err, EINVAL, "meter_config",
                                                     "meter %s: unknown preset", c->name);
                } else {
                        s->energy = (lab_meter_register_t){(int)c->registers.energy,
                                                           c->registers.energy_scale};
                        s->power = (lab_meter_register_t){(int)c->registers.power,
                                                          c->registers.power_scale};
                }
                break;
        case LAB_METER_DRIVER_SHELLY:
                s->kind = LAB_METER_SHELLY;
                s->component = c->component == LAB_METER_COMPONENT_EM1 ? LAB_METER_SHELLY_EM1
                                                                       : LAB_METER_SHELLY_SWITCH;
                s->channel = c->channel;
                s->username = c->username;
                s->password = c->password;
                s->http_get = http_get;
                break;
        case LAB_METER_DRIVER_COMMAND:
                s->kind = LAB_METER_COMMAND;
                break;
        case LAB_METER_DRIVER_FILE:
                s->kind = LAB_METER_FILE;
                s->file_scale = c->scale;
                break;
        }
        return 0;
}

/* The row the store has for name (its saved reading, state), into m. */
static void meter_load(meter_t *m, const lab_store_energy_meter_t *rows, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (strcmp(rows[i].name, m->name) != 0)
                        continue;
                m->row = rows[i];
                m->row.name = rows[i].name ? strdup(rows[i].name) : NULL;
                m->row.state = rows[i].state ? strdup(rows[i].state) : NULL;
                m->row.reason = rows[i].reason ? strdup(rows[i].reason) : NULL;
                m->row.detail = rows[i].detail ? strdup(rows[i].detail) : NULL;
                m->row.last_error = rows[i].last_error ? strdup(rows[i].last_error) : NULL;
                return;
        }
        m->row = (lab_store_energy_meter_t){
            .name = strdup(m->name), .state = strdup("unknown"), .power_w = NAN};
}

/* Open one configured meter: its driver, its counter seeded from the store, its timer. */
static int meter_new(lab_energy_stage_t *st, const lab_config_meter_t *c,
                     const lab_store_energy_meter_t *rows, size_t n_rows)
{
        lab_energy_counter_settings_t cs = {
            .counter_bits = c->counter_bits,
            .unit_wh = c->driver == LAB_METER_DRIVER_FILE ? c->scale : 1.0,
            .max_power_w = c->max_power_w,
        };
        lab_meter_settings_t settings;
        lab_energy_saved_t saved;
        lab_error_t err = {0};
        meter_t *m;
        int r;

        m = calloc(1, sizeof *m);
        if (!m || !(m->name = strdup(c->name))) {
                free(m);
                return -ENOMEM;
        }
        m->stage = st;
        m->cfg = c;
        meter_load(m, rows, n_rows);
        LAB_LIST_PREPEND(st->meters, m);
        r = lab_energy_counter_init(&m->counter, &cs, &err);
        if (r >= 0) {
                saved = (lab_energy_saved_t){m->row.saved_valid, m->row.saved_wh};
                if (lab_energy_counter_seed(&m->counter, &saved, &err) < 0)
                        log_warning("meter %s: the saved reading is unusable (%s); the next "
                                    "reading starts a new baseline",
                                    m->name, err.message);
                lab_error_clear(&err);
                r = lab_energy_meter_settings(c, st->http_get, &settings, &err);
        }
        if (r >= 0)
                r = lab_meter_open(&settings, &m->handle, &err);
        if (r < 0) {
                meter_failed(m, &err, false);
                return 0; /* told, and not read until the config changes */
        }
        /* The first read soon, spread over a second (or the interval, if shorter). */
        arm(m, next_random(st) % (c->interval < 1000000 ? c->interval : 1000000));
        return 0;
}

/* Drop every meter (a read in flight keeps its meter until it ends). */
static void meters_clear(lab_energy_stage_t *st)
{
        while (st->meters) {
                meter_t *m = st->meters;

                LAB_LIST_REMOVE(st->meters, m);
                m->cfg = NULL;
                if (m->busy) {
                        m->timer = sd_event_source_disable_unref(m->timer);
                        st->retired_busy++;
                } else {
                        meter_free(m);
                }
        }
}

/* The store's printer → meter table and the meters' rows, from the config. */
static void declare(lab_energy_stage_t *st, const lab_config_t *c)
{
        _cleanup_free_ const char **names = calloc(c->n_meters + 1, sizeof *names);
        _cleanup_free_ const char **printers = NULL, **owners = NULL;
        size_t n = 0, total = 0;
        int r;

        for (size_t i = 0; i < c->n_meters; i++)
                total += c->meters[i].n_printers;
        printers = calloc(total + 1, sizeof *printers);
        owners = calloc(total + 1, sizeof *owners);
        if (!names || !printers || !owners) {
                log_error("energy: out of memory declaring the meters");
                return;
        }
        for (size_t i = 0; i < c->n_meters; i++) {
                names[i] = c->meters[i].name;
                for (size_t j = 0; j < c->meters[i].n_printers; j++) {
                        printers[n] = c->meters[i].printers[j];
                        owners[n++] = c->meters[i].name;
                }
        }
        r = lab_store_energy_declare(st->store, names, c->n_meters, printers, owners, n);
        if (r < 0)
                log_error_errno(r, "energy: cannot record the meters of the config: %m");
}

void lab_energy_stage_set_config(lab_energy_stage_t *st, const lab_config_t *c)
{
        lab_store_energy_meter_t *rows = NULL;
        size_t n_rows = 0;
        int r;

        if (!st || !c)
                return;
        meters_clear(st);
        st->config = c;
        declare(st, c);
        if (c->n_meters > 0 && !st->pool) {
                r = lab_pool_new(&st->pool, st->event, METER_THREADS, "meter");
                if (r < 0) {
                        log_error_errno(r, "energy: cannot start the meter threads: %m");
                        return;
                }
        }
        r = lab_store_energy_meter_list(st->store, &rows, &n_rows);
        if (r < 0)
                log_error_errno(r, "energy: cannot read the meters' saved readings: %m");
        for (size_t i = 0; i < c->n_meters; i++) {
                r = meter_new(st, &c->meters[i], rows, n_rows);
                if (r < 0)
                        log_error_errno(r, "meter %s: cannot start: %m", c->meters[i].name);
        }
        lab_store_energy_meter_list_free(rows, n_rows);
        if (c->n_meters > 0) {
                r = lab_timer_arm(st->event, &st->report_timer, c->energy.report_interval,
                                  on_report_timer, st, "energy-report");
                if (r < 0)
                        log_error_errno(r, "energy: cannot schedule reports: %m");
        } else {
                st->report_timer = sd_event_source_disable_unref(st->report_timer);
        }
}

int lab_energy_stage_new(lab_energy_stage_t **ret, sd_event *e, lab_store_t *store,
                         lab_http_get_fn http_get)
{
        lab_energy_stage_t *st;
        struct timespec ts;

        st = calloc(1, sizeof *st);
        if (!st)
                return -ENOMEM;
        st->event = sd_event_ref(e);
        st->store = store;
        st->http_get = http_get;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        st->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ 0x9e3779b97f4a7c15u;
        *ret = st;
        return 0;
}

void lab_energy_stage_set_hooks(lab_energy_stage_t *st, lab_energy_events_hook_t events,
                                void *userdata)
{
        st->events_hook = events;
        st->userdata = userdata;
}

void lab_energy_stage_free(lab_energy_stage_t *st)
{
        if (!st)
                return;
        meters_clear(st);
        /* Waits for the reads still running; their done frees the retired meters. */
        lab_pool_free(st->pool);
        sd_event_source_disable_unref(st->report_timer);
        sd_event_unref(st->event);
        free(st);
}
