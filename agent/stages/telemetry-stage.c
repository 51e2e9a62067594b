/*
 * telemetry-stage.c - stock events, printer.quality and the device list (see telemetry-stage.h).
 *
 * The loop's side of agent/stock's rules: per printer, what was last sent
 * in a stock.level and when, the hourly budget of state events, what
 * printer.quality last said, and what the device list knows (caps from the
 * print stage's capabilities, state and supplies from its status reads).
 * Durable state is the store's: an item's told state is written with its
 * event, so a restart neither repeats nor loses a stock.low.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "event-util.h"
#include "log.h"
#include "macro.h"
#include "rfc3339.h"
#include "stock.h"
#include "telemetry-stage.h"

#define DEVICES_FIRST_USEC    (UINT64_C(5) * 1000000)  /* at start: after the first reads */
#define DEVICES_DEBOUNCE_USEC (UINT64_C(60) * 1000000) /* media or supplies changed */
#define STOCK_ITEMS_MAX       (LAB_PRINTER_SUPPLIES_MAX + LAB_PRINTER_TRAYS_MAX)
#define DAY_S                 (24 * 3600)

typedef struct tl_printer_s {
        char *name;
        bool seen; /* in the config in force */
        /* what the printer last reported (its figures are written only when they change) */
        lab_stock_item_t *reported;
        size_t n_reported;
        bool report_known;
        /* stock.level */
        lab_stock_item_t *sent; /* the items of the last stock.level */
        size_t n_sent;
        bool level_sent;
        uint64_t level_at; /* CLOCK_MONOTONIC usec of the last stock.level */
        lab_stock_rate_t rate;
        unsigned suppressed; /* state events not sent for the hourly budget, since the last level */
        /* printer.quality */
        char *quality_sent;
        uint64_t quality_at;
        /* the device list */
        char *make_model;
        json_t *media_supported; /* array of strings, or NULL */
        json_t *media_loaded;    /* array of {size, type, source}, or NULL */
        json_t *supplies;        /* array, or NULL */
        json_t *devices_sig;     /* [media_loaded, [[name, level, remaining], ...]] as of the
                                    last change that called for a device list */
        char state[16];
        bool available;
        char *reason;
        long impressions;
        bool status_known;
        struct tl_printer_s *next;
} tl_printer_t;

struct lab_telemetry_s {
        sd_event *event;
        lab_store_t *store;
        const lab_config_t *config;
        tl_printer_t *printers;
        sd_event_source *devices_timer;
        char *devices_sent; /* the last body handed to the hook, less its date */
        lab_telemetry_events_hook_t events_hook;
        lab_telemetry_devices_hook_t devices_hook;
        void *userdata;
};

static uint64_t now_usec(lab_telemetry_t *t)
{
        uint64_t now = 0;

        sd_event_now(t->event, CLOCK_MONOTONIC, &now);
        return now;
}

static void events_appended(lab_telemetry_t *t)
{
        if (t->events_hook)
                t->events_hook(t->userdata);
}

static tl_printer_t *printer_get(lab_telemetry_t *t, const char *name, bool create)
{
        tl_printer_t *p;

        for (p = t->printers; p; p = p->next)
                if (strcmp(p->name, name) == 0)
                        return p;
        if (!create)
                return NULL;
        p = calloc(1, sizeof *p);
        if (!p || !(p->name = strdup(name))) {
                free(p);
                return NULL;
        }
        p->impressions = -1;
        snprintf(p->state, sizeof p->state, "unknown");
        p->next = t->printers;
        t->printers = p;
        return p;
}

static void printer_free(tl_printer_t *p)
{
        free(p->name);
        free(p->reported);
        free(p->sent);
        free(p->quality_sent);
        free(p->make_model);
        json_decref(p->media_supported);
        json_decref(p->media_loaded);
        json_decref(p->supplies);
        json_decref(p->devices_sig);
        free(p->reason);
        free(p);
}

/* A figure as JSON: null when unknown (< 0). */
static json_t *figure(double v)
{
        return v >= 0 && isfinite(v) ? json_real(v) : json_null();
}

static json_t *level_json(int v)
{
        return v >= 0 ? json_integer(v) : json_null();
}

static json_t *as_of_json(int64_t t)
{
        char buf[40];

        if (t <= 0)
                return json_null();
        lab_format_rfc3339((time_t)t, buf, sizeof buf);
        return json_string(buf);
}

/* A new reference to a (an array), or a new empty array when a is NULL. */
static json_t *array_or_empty(json_t *a)
{
        return a ? json_incref(a) : json_array();
}

/* ---- the device list ---- */

/* Send the device list now: every printer of the config, with what is known of it. */
static void devices_send(lab_telemetry_t *t)
{
        json_auto_t *printers = json_array(), *o = NULL;
        _cleanup_free_ char *sig = NULL, *body = NULL;
        char now[40];

        if (!t->config || !t->devices_hook || !printers)
                return;
        for (size_t i = 0; i < t->config->n_printers; i++) {
                const lab_config_printer_t *cp = &t->config->printers[i];
                tl_printer_t *p = printer_get(t, cp->name, true);
                json_t *consumables = json_array(), *d;
                lab_stock_item_t *items = NULL;
                size_t n = 0;

                if (!p || !consumables)
                        continue;
                if (lab_store_stock_list(t->store, cp->name, &items, &n) >= 0)
                        for (size_t k = 0; k < n; k++) {
                                if (items[k].source == LAB_STOCK_SOURCE_PRINTER)
                                        continue;
                                json_array_append_new(
                                    consumables,
                                    json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "item",
                                              items[k].item, "kind",
                                              lab_stock_kind_to_string(items[k].kind), "media",
                                              items[k].media, "unit",
                                              lab_stock_unit_to_string(items[k].unit), "capacity",
                                              figure(items[k].capacity), "remaining",
                                              figure(items[k].remaining), "state",
                                              lab_stock_state_to_string(items[k].state)));
                        }
                free(items);
                d = json_pack(
                    "{s:s, s:s, s:o, s:s, s:b, s:s, s:o, s:o, s:o, s:o, s:o}", "name", cp->name,
                    "driver", cp->driver == LAB_PRINTER_DRIVER_IPP ? "ipp" : "hotfolder",
                    "make_model", p->make_model ? json_string(p->make_model) : json_null(), "state",
                    p->status_known ? p->state : "unknown", "available",
                    p->status_known && p->available, "reason", p->reason ? p->reason : "",
                    "media_supported", array_or_empty(p->media_supported), "media_loaded",
                    array_or_empty(p->media_loaded), "supplies", array_or_empty(p->supplies),
                    "consumables", consumables, "impressions",
                    p->impressions >= 0 ? json_integer(p->impressions) : json_null());
                if (d)
                        json_array_append_new(printers, d);
        }
        o = json_pack("{s:O}", "printers", printers);
        sig = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!sig || (t->devices_sent && strcmp(sig, t->devices_sent) == 0))
                return;
        lab_format_rfc3339(time(NULL), now, sizeof now);
        json_object_set_new(o, "updated_at", json_string(now));
        body = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        if (!body)
                return;
        log_debug("device list: %zu printers, %zu bytes", json_array_size(printers), strlen(body));
        t->devices_hook(body, t->userdata);
        free(t->devices_sent);
        t->devices_sent = TAKE_PTR(sig);
}

static int on_devices_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
        (void)src;
        (void)usec;
        devices_send(userdata);
        return 0;
}

/* Send the device list after delay, unless a send is already due sooner. */
static void devices_soon(lab_telemetry_t *t, uint64_t delay)
{
        uint64_t at = now_usec(t) + delay, armed = 0;
        int enabled = SD_EVENT_OFF;

        if (!t->devices_timer)
                return;
        sd_event_source_get_enabled(t->devices_timer, &enabled);
        if (enabled != SD_EVENT_OFF && sd_event_source_get_time(t->devices_timer, &armed) >= 0 &&
            armed <= at)
                return;
        sd_event_source_set_time(t->devices_timer, at);
        sd_event_source_set_enabled(t->devices_timer, SD_EVENT_ONESHOT);
}

/* ---- stock ---- */

static unsigned hysteresis(lab_telemetry_t *t)
{
        return t->config ? t->config->stock.hysteresis : 5;
}

/* The body of stock.level for printer's items. */
static char *level_body(tl_printer_t *p, const lab_stock_item_t *items, size_t n)
{
        json_auto_t *o = NULL;
        json_t *arr = json_array();

        for (size_t i = 0; arr && i < n; i++) {
                const lab_stock_item_t *it = &items[i];
                json_array_append_new(
                    arr,
                    json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:s, s:o, s:o}", "item",
                              it->item, "kind", lab_stock_kind_to_string(it->kind), "media",
                              it->media, "source", lab_stock_source_to_string(it->source),
                              "remaining", figure(it->remaining), "unit",
                              lab_stock_unit_to_string(it->unit), "level", level_json(it->level),
                              "capacity", figure(it->capacity), "state",
                              lab_stock_state_to_string(it->state), "as_of", as_of_json(it->as_of),
                              "drift", it->has_drift ? json_real(it->drift) : json_null()));
        }
        o = json_pack("{s:s, s:o, s:o}", "printer", p->name, "items", arr ? arr : json_array(),
                      "media_loaded", array_or_empty(p->media_loaded));
        if (o && p->suppressed > 0)
                json_object_set_new(o, "suppressed", json_integer(p->suppressed));
        return o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/*
 * Judge each item of p again (hysteresis against what was told) and tell
 * what changed, within the hourly budget; then send a stock.level when it
 * is due. The items are read back from the store: what it keeps is what is
 * told.
 */
static void review(lab_telemetry_t *t, tl_printer_t *p)
{
        _cleanup_free_ lab_stock_item_t *items = NULL;
        const lab_config_t *c = t->config;
        int64_t now = (int64_t)time(NULL);
        uint64_t mono = now_usec(t);
        bool appended = false;
        size_t n = 0;

        if (lab_store_stock_list(t->store, p->name, &items, &n) < 0) {
                log_error("printer %s: cannot read its stock items from the store", p->name);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                lab_stock_item_t *it = &items[i];
                lab_stock_state_t judged = lab_stock_judge(it, hysteresis(t), false);
                bool record;
                const char *ev = lab_stock_event_of(it->told, judged, &record);
                _cleanup_free_ char *body = NULL;

                if (judged == it->state && !record)
                        continue;
                it->state = judged;
                if (ev &&
                    !lab_stock_rate_take(&p->rate, now, c ? c->stock.max_events_per_hour : 12)) {
                        log_notice("printer %s: %s of %s not sent: over "
                                   "stock.max_events_per_hour (counted in the next stock.level)",
                                   p->name, ev, it->item);
                        p->suppressed++;
                        ev = NULL;
                }
                if (ev && !(body = lab_stock_state_body(it))) {
                        log_error("printer %s: out of memory telling %s", p->name, ev);
                        continue;
                }
                if (lab_store_stock_told(t->store, p->name, it->item, judged,
                                         record ? judged : LAB_STOCK_UNKNOWN, ev, body) < 0) {
                        log_error("printer %s: cannot record the stock state of %s", p->name,
                                  it->item);
                        continue;
                }
                if (record)
                        it->told = judged;
                if (ev) {
                        appended = true;
                        log_struct(judged == LAB_STOCK_OK ? LOG_NOTICE : LOG_WARNING,
                                   LAB_FIELDS({"PRINTER", p->name}, {"STOCK_ITEM", it->item}),
                                   "printer %s: %s: %s (%g %s left, low at %g)", p->name, ev,
                                   it->item, it->remaining, lab_stock_unit_to_string(it->unit),
                                   it->threshold);
                }
        }
        /* stock.level: moved enough, and not sent within report_interval. */
        if (c && n > 0 && (!p->level_sent || mono >= p->level_at + c->stock.report_interval) &&
            (!p->level_sent || p->suppressed > 0 ||
             lab_stock_moved(p->sent, p->n_sent, items, n, c->stock.min_change_percent,
                             c->stock.min_change_units))) {
                _cleanup_free_ char *body = level_body(p, items, n);

                if (body && lab_store_event_append(t->store, LAB_EVENT_TELEMETRY, "stock.level",
                                                   NULL, body, NULL) >= 0) {
                        appended = true;
                        free(p->sent);
                        p->sent = TAKE_PTR(items);
                        p->n_sent = n;
                        p->level_sent = true;
                        p->level_at = mono;
                        p->suppressed = 0;
                }
        }
        if (appended)
                events_appended(t);
}

/* The window's figures as JSON. */
static json_t *quality_json(const lab_store_quality_t *q)
{
        json_t *kinds = json_object();

        for (size_t i = 0; kinds && i < q->n_kinds; i++)
                json_object_set_new(kinds, q->by_kind[i].kind, json_integer(q->by_kind[i].n));
        return json_pack("{s:I, s:o, s:I, s:I, s:f}", "printed", (json_int_t)q->printed, "defects",
                         kinds ? kinds : json_object(), "aborted", (json_int_t)q->aborted, "faults",
                         (json_int_t)q->faults, "defect_rate",
                         q->printed > 0 ? (double)q->defects / (double)q->printed : 0.0);
}

/* printer.quality, when its figures changed and report_interval passed since the last. */
static void quality(lab_telemetry_t *t, tl_printer_t *p)
{
        lab_store_quality_t day, week;
        int64_t now = (int64_t)time(NULL);
        uint64_t mono = now_usec(t);
        json_auto_t *o = NULL;
        _cleanup_free_ char *body = NULL;

        if (!t->config ||
            (p->quality_sent && mono < p->quality_at + t->config->stock.report_interval))
                return;
        if (lab_store_printer_quality(t->store, p->name, now, DAY_S, &day) < 0 ||
            lab_store_printer_quality(t->store, p->name, now, 7 * DAY_S, &week) < 0)
                return;
        o = json_pack("{s:s, s:o, s:o}", "printer", p->name, "last_24h", quality_json(&day),
                      "last_7d", quality_json(&week));
        body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!body || (p->quality_sent && strcmp(body, p->quality_sent) == 0))
                return;
        if (lab_store_event_append(t->store, LAB_EVENT_TELEMETRY, "printer.quality", NULL, body,
                                   NULL) < 0)
                return;
        free(p->quality_sent);
        p->quality_sent = TAKE_PTR(body);
        p->quality_at = mono;
        events_appended(t);
}

/* ---- the calls ---- */

int lab_telemetry_new(lab_telemetry_t **ret, sd_event *e, lab_store_t *store)
{
        lab_telemetry_t *t = calloc(1, sizeof *t);
        int r;

        if (!t)
                return -ENOMEM;
        t->event = sd_event_ref(e);
        t->store = store;
        r = sd_event_add_time(e, &t->devices_timer, CLOCK_MONOTONIC, UINT64_MAX, 0,
                              on_devices_timer, t);
        if (r < 0) {
                lab_telemetry_free(t);
                return r;
        }
        sd_event_source_set_description(t->devices_timer, "devices");
        sd_event_source_set_enabled(t->devices_timer, SD_EVENT_OFF);
        *ret = t;
        return 0;
}

void lab_telemetry_set_hooks(lab_telemetry_t *t, lab_telemetry_events_hook_t events,
                             lab_telemetry_devices_hook_t devices, void *userdata)
{
        t->events_hook = events;
        t->devices_hook = devices;
        t->userdata = userdata;
}

void lab_telemetry_set_config(lab_telemetry_t *t, const lab_config_t *c)
{
        t->config = c;
        for (tl_printer_t *p = t->printers; p; p = p->next)
                p->seen = false;
        for (size_t i = 0; i < c->n_printers; i++) {
                const lab_config_printer_t *cp = &c->printers[i];
                lab_stock_item_t *items = calloc(cp->n_consumables + 1, sizeof *items);
                tl_printer_t *p = printer_get(t, cp->name, true);

                if (p)
                        p->seen = true;
                for (size_t k = 0; items && k < cp->n_consumables; k++)
                        lab_stock_declared(cp->name, &cp->consumables[k], c->stock.low_percent,
                                           &items[k]);
                if (!items ||
                    lab_store_stock_declare(t->store, cp->name, items, cp->n_consumables) < 0)
                        log_error("printer %s: cannot record its consumables in the store",
                                  cp->name);
                free(items);
                if (p)
                        review(t, p);
        }
        /* Printers gone from the config: forgotten (their store rows stay until they return). */
        for (tl_printer_t **pp = &t->printers; *pp;) {
                tl_printer_t *p = *pp;
                if (!p->seen) {
                        *pp = p->next;
                        printer_free(p);
                } else {
                        pp = &p->next;
                }
        }
        free(t->devices_sent);
        t->devices_sent = NULL; /* at start and after a reload: sent again, even unchanged */
        devices_soon(t, DEVICES_FIRST_USEC);
}

void lab_telemetry_caps(lab_telemetry_t *t, const char *printer, const lab_printer_caps_t *caps)
{
        tl_printer_t *p = printer_get(t, printer, false);
        json_t *media = json_array();

        if (!p || !media) {
                json_decref(media);
                return;
        }
        for (size_t i = 0; i < caps->n_media; i++)
                json_array_append_new(media, json_string(caps->media[i]));
        json_decref(p->media_supported);
        p->media_supported = media;
        free(p->make_model);
        p->make_model = caps->make_model ? strdup(caps->make_model) : NULL;
        devices_soon(t, DEVICES_DEBOUNCE_USEC);
}

/* Whether figure a (JSON number or null) moved to b by step or more, or became (un)known. */
static bool json_moved(json_t *a, json_t *b, double step)
{
        if (json_is_number(a) != json_is_number(b))
                return true;
        return json_is_number(a) && fabs(json_number_value(a) - json_number_value(b)) >= step;
}

/* Whether a device list signature (devices_take) differs enough from the last one. */
static bool devices_moved(json_t *was, json_t *now, unsigned min_pct, double min_units)
{
        json_t *ws = json_array_get(was, 1), *ns = json_array_get(now, 1);

        if (!was || !json_equal(json_array_get(was, 0), json_array_get(now, 0)) ||
            json_array_size(ws) != json_array_size(ns))
                return true;
        for (size_t i = 0; i < json_array_size(ns); i++) {
                json_t *w = json_array_get(ws, i), *n = json_array_get(ns, i);

                if (!json_equal(json_array_get(w, 0), json_array_get(n, 0)) ||
                    json_moved(json_array_get(w, 1), json_array_get(n, 1), min_pct) ||
                    json_moved(json_array_get(w, 2), json_array_get(n, 2), min_units))
                        return true;
        }
        return false;
}

/* What of a status read the device list carries, and whether loaded media or supplies changed
   enough to send it again. */
static bool devices_take(tl_printer_t *p, const lab_printer_status_t *st, int64_t now,
                         unsigned min_pct, double min_units)
{
        json_t *loaded = json_array(), *supplies = json_array();
        json_auto_t *sig = NULL;
        bool changed;

        for (size_t i = 0; loaded && i < st->n_media; i++)
                json_array_append_new(
                    loaded, json_pack("{s:s, s:s, s:s}", "size", st->media[i].size, "type",
                                      st->media[i].type, "source", st->media[i].source));
        for (size_t i = 0; supplies && i < st->n_supplies + st->n_trays; i++) {
                const lab_supply_t *sp =
                    i < st->n_supplies ? &st->supplies[i] : &st->trays[i - st->n_supplies];
                bool tray = i >= st->n_supplies;
                const char *unit = sp->remaining >= 0 ? "prints" : tray ? "sheets" : "percent";
                double remaining = sp->remaining >= 0 ? (double)sp->remaining
                                   : tray             ? (double)sp->amount
                                                      : (double)sp->level;

                json_array_append_new(
                    supplies,
                    json_pack(
                        "{s:s, s:s, s:o, s:o, s:s, s:o}", "name", sp->name, "kind",
                        lab_supply_kind_to_string(sp->kind), "level", level_json(sp->level),
                        "remaining", figure(remaining), "unit", unit, "as_of",
                        as_of_json(st->supplies_age >= 0 && !tray ? now - st->supplies_age : now)));
        }
        /* What counts as a change: the media loaded, the supplies there are, or a figure
           that moved by stock.min_change_* since the last change (not their dates). */
        {
                json_t *bare = json_array(), *v;
                size_t i;

                json_array_foreach(supplies, i, v) json_array_append_new(
                    bare, json_pack("[O, O, O]", json_object_get(v, "name"),
                                    json_object_get(v, "level"), json_object_get(v, "remaining")));
                sig = json_pack("[O, o]", loaded, bare);
        }
        changed = sig && devices_moved(p->devices_sig, sig, min_pct, min_units);
        if (changed) {
                json_decref(p->devices_sig);
                p->devices_sig = TAKE_PTR(sig);
        }
        json_decref(p->media_loaded);
        p->media_loaded = loaded;
        json_decref(p->supplies);
        p->supplies = supplies;
        p->impressions = st->impressions;
        return changed;
}

/* A declared item the printer also counts: its count wins (drift kept by the store). */
static void printer_counts(lab_telemetry_t *t, const char *printer, const lab_config_printer_t *cp,
                           const lab_stock_item_t *reported, size_t n)
{
        for (size_t k = 0; cp && k < cp->n_consumables; k++) {
                const lab_config_consumable_t *c = &cp->consumables[k];

                for (size_t i = 0; c->supply && i < n; i++) {
                        const lab_stock_item_t *it = &reported[i];
                        double count = -1;

                        if (strcmp(it->item, c->supply) != 0)
                                continue;
                        if (it->unit == c->unit && it->remaining >= 0)
                                count = it->remaining;
                        else if (it->level >= 0)
                                count = round(c->capacity * it->level / 100.0);
                        if (count >= 0 && lab_store_stock_printer_count(t->store, printer, c->name,
                                                                        count, it->as_of) < 0)
                                log_error("printer %s: cannot record its count of %s", printer,
                                          c->name);
                }
        }
}

/* Whether two reads report the same items with the same figures (their dates aside). */
static bool same_figures(const lab_stock_item_t *a, size_t na, const lab_stock_item_t *b, size_t nb)
{
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (strcmp(a[i].item, b[i].item) != 0 || strcmp(a[i].media, b[i].media) != 0 ||
                    a[i].kind != b[i].kind || a[i].unit != b[i].unit ||
                    a[i].remaining != b[i].remaining || a[i].capacity != b[i].capacity ||
                    a[i].level != b[i].level || a[i].threshold != b[i].threshold)
                        return false;
        return true;
}

void lab_telemetry_status(lab_telemetry_t *t, const char *printer, const lab_printer_status_t *st,
                          bool available, const char *reason)
{
        tl_printer_t *p = printer_get(t, printer, false);
        lab_stock_item_t items[STOCK_ITEMS_MAX];
        int64_t now = (int64_t)time(NULL);
        size_t n;

        if (!p || !t->config || st->state == LAB_PRINTER_UNREACHABLE)
                return;
        p->status_known = true;
        p->available = available;
        snprintf(p->state, sizeof p->state, "%s", lab_printer_state_to_string(st->state));
        free(p->reason);
        p->reason = strdup(reason ? reason : "");
        n = lab_stock_from_status(printer, st, now, t->config->stock.low_percent, items,
                                  ELEMENTSOF(items));
        /* The store is written when a figure changed: as_of stays the first read of it. */
        if (!p->report_known || !same_figures(p->reported, p->n_reported, items, n)) {
                lab_stock_item_t *copy = n ? malloc(n * sizeof *copy) : NULL;

                if (lab_store_stock_report(t->store, printer, items, n) < 0) {
                        log_error("printer %s: cannot record the stock it reports", printer);
                } else if (n == 0 || copy) {
                        if (copy)
                                memcpy(copy, items, n * sizeof *copy);
                        free(p->reported);
                        p->reported = copy;
                        p->n_reported = n;
                        p->report_known = true;
                        copy = NULL;
                }
                free(copy);
        }
        /* On every read: where the printer counts a declared item too, its count wins. */
        printer_counts(t, printer, lab_config_find_printer(t->config, printer), items, n);
        review(t, p);
        quality(t, p);
        if (devices_take(p, st, now, t->config->stock.min_change_percent,
                         t->config->stock.min_change_units))
                devices_soon(t, DEVICES_DEBOUNCE_USEC);
}

void lab_telemetry_review(lab_telemetry_t *t, const char *printer)
{
        tl_printer_t *p = printer_get(t, printer, false);

        if (!p)
                return;
        review(t, p);
        quality(t, p);
}

bool lab_telemetry_holds(lab_telemetry_t *t, const char *printer, char *why, size_t size)
{
        _cleanup_free_ lab_stock_item_t *items = NULL;
        size_t n = 0;

        if (!t->config || t->config->stock.on_counted_empty != LAB_COUNTED_EMPTY_HOLD ||
            lab_store_stock_list(t->store, printer, &items, &n) < 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (items[i].source == LAB_STOCK_SOURCE_PRINTER || items[i].state != LAB_STOCK_OUT)
                        continue;
                snprintf(why, size,
                         "stock_out: the agent's count of %s is 0 and stock.on_counted_empty is "
                         "hold; load it (labctl stock load %s %s AMOUNT)",
                         items[i].item, printer, items[i].item);
                return true;
        }
        return false;
}

int lab_telemetry_summary(lab_telemetry_t *t, const char *printer, double *ret_defect_rate,
                          const char **ret_stock_state)
{
        static const lab_stock_state_t worst[] = {LAB_STOCK_OUT, LAB_STOCK_LOW, LAB_STOCK_UNKNOWN,
                                                  LAB_STOCK_OK};
        _cleanup_free_ lab_stock_item_t *items = NULL;
        lab_store_quality_t day;
        size_t n = 0;
        int r;

        *ret_stock_state = "";
        r = lab_store_printer_quality(t->store, printer, (int64_t)time(NULL), DAY_S, &day);
        if (r < 0)
                return r;
        *ret_defect_rate = day.printed > 0 ? (double)day.defects / (double)day.printed : 0.0;
        r = lab_store_stock_list(t->store, printer, &items, &n);
        if (r < 0)
                return r;
        for (size_t w = 0; w < ELEMENTSOF(worst); w++)
                for (size_t i = 0; i < n; i++)
                        if (items[i].state == worst[w]) {
                                *ret_stock_state = lab_stock_state_to_string(worst[w]);
                                return 0;
                        }
        return 0;
}

void lab_telemetry_free(lab_telemetry_t *t)
{
        if (!t)
                return;
        while (t->printers) {
                tl_printer_t *p = t->printers;
                t->printers = p->next;
                printer_free(p);
        }
        sd_event_source_disable_unref(t->devices_timer);
        free(t->devices_sent);
        sd_event_unref(t->event);
        free(t);
}
