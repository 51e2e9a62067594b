/*
 * metrics-stage.c - the metrics file: gather, format, write atomically (see metrics-stage.h).
 *
 * Loop thread only. The store's figures, the stock items and the meters are
 * read again only when the store was written to since the last tick
 * (lab_store_metrics_read says so); the print stage's view of each printer
 * and the render times are in memory. The text is compared with what was
 * last written, so an idle agent formats a few kilobytes every 15 s and
 * writes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "event-util.h"
#include "io-util.h"
#include "log.h"
#include "macro.h"
#include "metrics-stage.h"

#define FIRST_WRITE_USEC (UINT64_C(1) * 1000000) /* after start or a reload */

const double lab_metrics_render_buckets[] = {0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120};
const size_t lab_metrics_render_n_buckets = ELEMENTSOF(lab_metrics_render_buckets);

struct lab_metrics_s {
        sd_event *event;
        lab_store_t *store;
        lab_print_stage_t *print;
        const lab_config_t *config;
        char *path; /* metrics.textfile in force, NULL: off */
        sd_event_source *timer;
        /* what the store said last (read again only after a write to it) */
        lab_store_metrics_t figures;
        lab_stock_item_t *stock;
        size_t n_stock;
        lab_store_energy_meter_t *meters;
        size_t n_meters;
        bool store_known;
        lab_prom_histogram_t render;
        /* the file as last written */
        char *written;
        dev_t dev;
        ino_t ino;
        uint64_t written_at; /* CLOCK_MONOTONIC usec */
        /* the problem logged last ("keyword errno"), "" none: each is logged once */
        char problem[LAB_ERROR_KEYWORD_MAX + 16];
};

/* ---- the text (pure) ---- */

static void printer_counts(const lab_store_metrics_t *f, const char *printer, int64_t *printed,
                           int64_t *defects)
{
        *printed = *defects = 0;
        for (size_t i = 0; f && i < f->n_printers; i++)
                if (strcmp(f->printers[i].printer, printer) == 0) {
                        *printed = f->printers[i].printed;
                        *defects = f->printers[i].defects;
                }
}

static bool configured(const lab_metrics_snapshot_t *snap, const char *printer)
{
        for (size_t i = 0; i < snap->n_printers; i++)
                if (strcmp(snap->printers[i].name, printer) == 0)
                        return true;
        return false;
}

/* A counter per printer: the config's printers (0 when they never printed), then others that
   printed (since removed from the config: their counts stay). */
static void printer_counter(lab_prom_t *p, const lab_metrics_snapshot_t *snap, const char *name,
                            const char *help, bool defects)
{
        const lab_store_metrics_t *f = snap->store;

        lab_prom_family(p, name, LAB_PROM_COUNTER, help);
        for (size_t i = 0; i < snap->n_printers; i++) {
                int64_t printed, defect;

                printer_counts(f, snap->printers[i].name, &printed, &defect);
                lab_prom_sample(p, (lab_prom_label_t[]){{"printer", snap->printers[i].name}}, 1,
                                (double)(defects ? defect : printed));
        }
        for (size_t i = 0; f && i < f->n_printers; i++)
                if (!configured(snap, f->printers[i].printer))
                        lab_prom_sample(
                            p, (lab_prom_label_t[]){{"printer", f->printers[i].printer}}, 1,
                            (double)(defects ? f->printers[i].defects : f->printers[i].printed));
}

static void format_jobs(lab_prom_t *p, const lab_store_metrics_t *f)
{
        lab_prom_family(p, "labagent_jobs", LAB_PROM_GAUGE,
                        "Jobs in the store by state (job-state.h; finished jobs included).");
        for (int s = 0; s < LAB_JOB_STATE_MAX; s++)
                lab_prom_sample(p, (lab_prom_label_t[]){{"state", lab_job_state_to_string(s)}}, 1,
                                f ? (double)f->jobs[s] : NAN);

        lab_prom_family(p, "labagent_outbox_events", LAB_PROM_GAUGE,
                        "Events recorded and not yet acknowledged by the platform, by class.");
        lab_prom_sample(p, (lab_prom_label_t[]){{"class", "job"}}, 1,
                        f ? (double)f->outbox_job : NAN);
        lab_prom_sample(p, (lab_prom_label_t[]){{"class", "telemetry"}}, 1,
                        f ? (double)f->outbox_telemetry : NAN);
}

static void format_printers(lab_prom_t *p, const lab_metrics_snapshot_t *snap)
{
        printer_counter(p, snap, "labagent_prints_total",
                        "Copies printed, by printer, since the store was created.", false);
        printer_counter(p, snap, "labagent_defects_total",
                        "Defects reported on printed copies (labctl reprint), by printer.", true);

        lab_prom_family(p, "labagent_printer_up", LAB_PROM_GAUGE,
                        "1 when the printer takes work, 0 when it does not (unreachable, "
                        "stopped, paused); absent until its status was read.");
        for (size_t i = 0; i < snap->n_printers; i++)
                lab_prom_sample(p, (lab_prom_label_t[]){{"printer", snap->printers[i].name}}, 1,
                                snap->printers[i].up < 0 ? NAN : snap->printers[i].up);
}

/* The stock families: what each says of an item (NaN: unknown, or not this family's). */
typedef enum stock_figure_e { STOCK_REMAINING, STOCK_CAPACITY, STOCK_LEVEL } stock_figure_t;

static const struct {
        const char *name, *help;
} stock_families[] = {
    [STOCK_REMAINING] = {"labagent_stock_remaining",
                         "What is left of a consumable, in its unit (prints, sheets, metres); "
                         "absent when unknown."},
    [STOCK_CAPACITY] = {"labagent_stock_capacity",
                        "A full load of a consumable, in its unit; absent when unknown."},
    [STOCK_LEVEL] = {"labagent_stock_level_ratio",
                     "A consumable's level as a share of a full load (0 to 1); absent when "
                     "unknown."},
};

static double stock_figure(const lab_stock_item_t *it, stock_figure_t f)
{
        /* An item known as a level alone has labagent_stock_level_ratio only. */
        bool counted = it->unit != LAB_STOCK_UNIT_PERCENT;

        switch (f) {
        case STOCK_REMAINING:
                return counted && it->remaining >= 0 ? it->remaining : NAN;
        case STOCK_CAPACITY:
                return counted && it->capacity > 0 ? it->capacity : NAN;
        case STOCK_LEVEL:
        default:
                return it->level >= 0 ? it->level / 100.0 : NAN;
        }
}

static void format_stock(lab_prom_t *p, const lab_metrics_snapshot_t *snap)
{
        for (size_t f = 0; f < ELEMENTSOF(stock_families); f++) {
                lab_prom_family(p, stock_families[f].name, LAB_PROM_GAUGE, stock_families[f].help);
                for (size_t i = 0; i < snap->n_stock; i++) {
                        const lab_stock_item_t *it = &snap->stock[i];
                        lab_prom_label_t labels[] = {{"printer", it->printer},
                                                     {"item", it->item},
                                                     {"unit", lab_stock_unit_to_string(it->unit)}};

                        /* The level is a ratio: no unit. */
                        lab_prom_sample(p, labels, f == STOCK_LEVEL ? 2 : 3, stock_figure(it, f));
                }
        }
}

/* The meter families: what each says of a meter (NaN: left out). */
typedef enum meter_figure_e { METER_UP, METER_JOULES, METER_WATTS } meter_figure_t;

static const struct {
        const char *name, *help;
        lab_prom_type_t type;
} meter_families[] = {
    [METER_UP] = {"labagent_meter_up",
                  "1 when the energy meter's last read was good, 0 in fault; absent until it "
                  "was read.",
                  LAB_PROM_GAUGE},
    [METER_JOULES] = {"labagent_meter_energy_joules_total",
                      "Energy counted on the meter since it was first read (no interval lost or "
                      "counted twice across faults and restarts).",
                      LAB_PROM_COUNTER},
    [METER_WATTS] = {"labagent_meter_power_watts",
                     "The meter's power at its last good read; absent when it gives none or is "
                     "in fault.",
                     LAB_PROM_GAUGE},
};

static double meter_figure(const lab_store_energy_meter_t *m, meter_figure_t f)
{
        bool ok = m->state && strcmp(m->state, "ok") == 0,
             fault = m->state && strcmp(m->state, "fault") == 0;

        switch (f) {
        case METER_UP:
                return ok ? 1 : fault ? 0 : NAN;
        case METER_JOULES:
                /* mWh × 36 / 10: exact in integers, one rounding to the double. */
                return ok || fault ? (double)(m->counted_mwh * 36) / 10.0 : NAN;
        case METER_WATTS:
        default:
                return ok && isfinite(m->power_w) ? m->power_w : NAN;
        }
}

static void format_meters(lab_prom_t *p, const lab_metrics_snapshot_t *snap)
{
        for (size_t f = 0; f < ELEMENTSOF(meter_families); f++) {
                lab_prom_family(p, meter_families[f].name, meter_families[f].type,
                                meter_families[f].help);
                for (size_t i = 0; i < snap->n_meters; i++)
                        lab_prom_sample(p, (lab_prom_label_t[]){{"meter", snap->meters[i].name}}, 1,
                                        meter_figure(&snap->meters[i], f));
        }
}

int lab_metrics_format(const lab_metrics_snapshot_t *snap, char **ret, size_t *ret_len)
{
        lab_prom_t p = {0};
        int r = 0;

        if (!snap || !ret)
                return -EINVAL;
        lab_prom_family(&p, "labagent_build_info", LAB_PROM_GAUGE,
                        "Always 1; the labagent version in its label.");
        lab_prom_sample(&p, (lab_prom_label_t[]){{"version", LABAGENT_VERSION}}, 1, 1);
        format_jobs(&p, snap->store);
        format_printers(&p, snap);
        format_stock(&p, snap);
        if (snap->render) {
                lab_prom_family(&p, "labagent_render_seconds", LAB_PROM_HISTOGRAM,
                                "Time to render a print file (lab_render on a worker), renders "
                                "that wrote one since the agent started.");
                lab_prom_histogram(&p, NULL, 0, snap->render);
        }
        format_meters(&p, snap);
        *ret = lab_prom_steal(&p, ret_len, &r);
        return *ret ? 0 : r;
}

/* ---- the file ---- */

/* err for a write of path that failed with r at step (pure: a sentence a person can act on). */
static int write_error(lab_error_t *err, int r, const char *path, const char *dir, const char *step)
{
        switch (-r) {
        case ENOENT:
        case ENOTDIR:
                return lab_error_set(err, -r, "metrics_write_failed",
                                     "cannot %s %s: the directory %s does not exist; create it "
                                     "(node_exporter's --collector.textfile.directory) or set "
                                     "metrics.textfile to a file in an existing directory",
                                     step, path, dir);
        case EACCES:
        case EPERM:
        case EROFS:
                return lab_error_set(
                    err, -r, "metrics_write_failed",
                    "cannot %s %s: labagent may not write in %s (%s); give the labagent user "
                    "write access to it and, under systemd, add ReadWritePaths=%s in a "
                    "drop-in (/usr/share/doc/labagent/examples/metrics-textfile.conf)",
                    step, path, dir, strerror(-r), dir);
        case ENOSPC:
        case EDQUOT:
                return lab_error_set(err, -r, "metrics_write_failed",
                                     "cannot %s %s: the file system of %s is full (%s); free "
                                     "some space there",
                                     step, path, dir, strerror(-r));
        default:
                return lab_error_set(err, -r, "metrics_write_failed", "cannot %s %s: %s", step,
                                     path, strerror(-r));
        }
}

int lab_metrics_write_file(const char *path, const char *text, size_t n, lab_error_t *err)
{
        _cleanup_free_ char *tmp = NULL, *dir_buf = NULL;
        _cleanup_close_ int fd = -1;
        const char *dir;
        int r = 0;

        if (!path || !text)
                return lab_error_set(err, EINVAL, "metrics_write_failed", "no file to write");
        if (asprintf(&tmp, "%s.tmp", path) < 0 || !(dir_buf = strdup(path)))
                return lab_error_set(err, ENOMEM, "metrics_write_failed", "out of memory");
        dir = dirname(dir_buf);

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return write_error(err, -errno, path, dir, "create a file beside");
        /* Readable by node_exporter's user, whatever the service's UMask. */
        if (fchmod(fd, 0644) < 0)
                r = write_error(err, -errno, path, dir, "write");
        if (r == 0 && (r = lab_write_all(fd, text, n)) < 0)
                r = write_error(err, r, path, dir, "write");
        if (r == 0 && fsync(fd) < 0)
                r = write_error(err, -errno, path, dir, "write");
        if (r == 0 && close(TAKE_FD(fd)) < 0)
                r = write_error(err, -errno, path, dir, "write");
        if (r == 0 && rename(tmp, path) < 0)
                r = write_error(err, -errno, path, dir, "replace");
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }
        r = lab_fsync_dir(dir);
        if (r < 0)
                return write_error(err, r, path, dir, "sync the directory of");
        return 0;
}

/* ---- the stage ---- */

/* Log a problem once (until another one, or success, replaces it); "" clears it. */
static bool problem_new(lab_metrics_t *m, const char *keyword, int r)
{
        char p[sizeof m->problem];

        snprintf(p, sizeof p, "%s %d", keyword, r);
        if (strcmp(p, m->problem) == 0)
                return false;
        snprintf(m->problem, sizeof m->problem, "%s", p);
        return true;
}

/* Whether the file at m->path is still the one this stage wrote. */
static bool file_is_ours(const lab_metrics_t *m, const char *path)
{
        struct stat st;

        return m->written && path && stat(path, &st) == 0 && st.st_dev == m->dev &&
               st.st_ino == m->ino;
}

/* Read the store again when it was written to (the stock and meters with it). */
static int refresh_store(lab_metrics_t *m)
{
        lab_stock_item_t *stock = NULL;
        lab_store_energy_meter_t *meters = NULL;
        size_t n_stock = 0, n_meters = 0;
        int r;

        r = lab_store_metrics_read(m->store, &m->figures);
        if (r < 0)
                return r;
        if (r == 0 && m->store_known)
                return 0;
        r = lab_store_stock_list(m->store, NULL, &stock, &n_stock);
        if (r < 0)
                return r;
        r = lab_store_energy_meter_list(m->store, &meters, &n_meters);
        if (r < 0) {
                free(stock);
                return r;
        }
        free(m->stock);
        lab_store_energy_meter_list_free(m->meters, m->n_meters);
        m->stock = stock;
        m->n_stock = n_stock;
        m->meters = meters;
        m->n_meters = n_meters;
        m->store_known = true;
        return 0;
}

static bool meter_configured(const lab_config_t *c, const char *name)
{
        for (size_t i = 0; i < c->n_meters; i++)
                if (strcmp(c->meters[i].name, name) == 0)
                        return true;
        return false;
}

/* The file's text now, from the store, the print stage and the render times. */
static int gather(lab_metrics_t *m, char **ret, size_t *ret_len)
{
        const lab_config_t *c = m->config;
        _cleanup_free_ lab_metrics_printer_t *printers = NULL;
        _cleanup_free_ lab_stock_item_t *stock = NULL;
        _cleanup_free_ lab_store_energy_meter_t *meters = NULL;
        size_t n_stock = 0, n_meters = 0;
        int r;

        r = refresh_store(m);
        if (r < 0)
                return r;
        printers = calloc(c->n_printers ? c->n_printers : 1, sizeof *printers);
        stock = calloc(m->n_stock ? m->n_stock : 1, sizeof *stock);
        meters = calloc(m->n_meters ? m->n_meters : 1, sizeof *meters);
        if (!printers || !stock || !meters)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_printers; i++) {
                lab_print_stage_info_t info = {0};

                printers[i].name = c->printers[i].name;
                printers[i].up = -1;
                if (m->print && lab_print_stage_info(m->print, printers[i].name, &info) >= 0 &&
                    info.open && info.known)
                        printers[i].up = info.available;
        }
        /* Only what the config names now: a removed printer's items, a removed meter's row,
           are history, not the lab's state. */
        for (size_t i = 0; i < m->n_stock; i++)
                if (lab_config_find_printer(c, m->stock[i].printer))
                        stock[n_stock++] = m->stock[i];
        for (size_t i = 0; i < m->n_meters; i++)
                if (meter_configured(c, m->meters[i].name))
                        meters[n_meters++] = m->meters[i]; /* shallow: m keeps the strings */
        return lab_metrics_format(&(lab_metrics_snapshot_t){.printers = printers,
                                                            .n_printers = c->n_printers,
                                                            .store = &m->figures,
                                                            .stock = stock,
                                                            .n_stock = n_stock,
                                                            .meters = meters,
                                                            .n_meters = n_meters,
                                                            .render = &m->render},
                                  ret, ret_len);
}

static void tick(lab_metrics_t *m)
{
        _cleanup_free_ char *text = NULL;
        lab_error_t err = {0};
        uint64_t now = 0;
        size_t n = 0;
        struct stat st;
        int r;

        if (!m->path || !m->config)
                return;
        r = gather(m, &text, &n);
        if (r < 0) {
                if (problem_new(m, "metrics_read_failed", r))
                        log_struct(LOG_WARNING,
                                   LAB_FIELDS({"ERROR_KEYWORD", "metrics_read_failed"}),
                                   "metrics_read_failed: cannot gather the figures for %s: %s; "
                                   "trying again every %llu s",
                                   m->path, strerror(-r),
                                   (unsigned long long)(LAB_METRICS_INTERVAL_USEC / 1000000));
                return;
        }
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (m->written && strcmp(text, m->written) == 0 &&
            now - m->written_at < LAB_METRICS_HEARTBEAT_USEC && file_is_ours(m, m->path))
                return; /* nothing new: nothing written */
        r = lab_metrics_write_file(m->path, text, n, &err);
        if (r < 0) {
                if (problem_new(m, err.keyword, r))
                        log_struct(LOG_WARNING, LAB_FIELDS({"ERROR_KEYWORD", err.keyword}),
                                   "%s: %s; trying again every %llu s", err.keyword, err.message,
                                   (unsigned long long)(LAB_METRICS_INTERVAL_USEC / 1000000));
                return;
        }
        if (m->problem[0])
                log_info("metrics: %s written again", m->path);
        else if (!m->written)
                log_info("metrics: writing %s for node_exporter's textfile collector", m->path);
        m->problem[0] = '\0';
        if (stat(m->path, &st) == 0) {
                m->dev = st.st_dev;
                m->ino = st.st_ino;
        }
        free(m->written);
        m->written = TAKE_PTR(text);
        m->written_at = now;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        lab_metrics_t *m = userdata;

        tick(m);
        if (m->path)
                lab_timer_arm(m->event, &m->timer, LAB_METRICS_INTERVAL_USEC, on_timer, m,
                              "metrics");
        return 0;
}

int lab_metrics_new(lab_metrics_t **ret, sd_event *e, lab_store_t *store, lab_print_stage_t *print)
{
        lab_metrics_t *m;
        int r;

        if (!ret || !e || !store)
                return -EINVAL;
        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->store = store;
        m->print = print;
        r = lab_prom_histogram_init(&m->render, lab_metrics_render_buckets,
                                    lab_metrics_render_n_buckets);
        if (r < 0) {
                lab_metrics_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

/* Delete the file this stage wrote at its current path (another path, or none, takes over). */
static void forget_file(lab_metrics_t *m)
{
        if (file_is_ours(m, m->path)) {
                if (unlink(m->path) < 0)
                        log_warning_errno(-errno,
                                          "metrics: cannot delete %s: %m; node_exporter "
                                          "serves it until it is deleted",
                                          m->path);
                else
                        log_info("metrics: deleted %s (metrics.textfile changed)", m->path);
        }
        free(m->written);
        m->written = NULL;
        m->problem[0] = '\0';
}

void lab_metrics_set_config(lab_metrics_t *m, const lab_config_t *c)
{
        const char *path = c ? c->metrics.textfile : NULL;

        if (!m)
                return;
        m->config = c;
        if (m->path && (!path || strcmp(path, m->path) != 0)) {
                forget_file(m);
                free(m->path);
                m->path = NULL;
        }
        if (!path) {
                if (m->timer)
                        sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
                return;
        }
        if (!m->path) {
                m->path = strdup(path);
                if (!m->path) {
                        log_error("metrics: out of memory; %s is not written", path);
                        return;
                }
        }
        /* The printers or meters may have changed: soon, whatever the text was. */
        if (lab_timer_arm(m->event, &m->timer, FIRST_WRITE_USEC, on_timer, m, "metrics") < 0)
                log_error("metrics: cannot arm the timer; %s is not written", m->path);
}

void lab_metrics_render_timed(double seconds, void *userdata)
{
        lab_metrics_t *m = userdata;

        if (m)
                lab_prom_histogram_observe(&m->render, seconds);
}

void lab_metrics_free(lab_metrics_t *m)
{
        if (!m)
                return;
        sd_event_source_disable_unref(m->timer);
        sd_event_unref(m->event);
        lab_store_metrics_done(&m->figures);
        free(m->stock);
        lab_store_energy_meter_list_free(m->meters, m->n_meters);
        free(m->written);
        free(m->path);
        free(m);
}
