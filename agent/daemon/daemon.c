/*
 * daemon.c - start, run, reload and stop the agent on an sd-event loop.
 *
 * The one idea: the main thread owns an sd-event loop and every piece of
 * state; signals arrive as loop events (SIGTERM/SIGINT stop, SIGHUP reloads),
 * and systemd is told what happens through sd_notify: READY=1 once the
 * config and store are open, RELOADING=1/READY=1 around a reload, STOPPING=1
 * on the way out, STATUS= lines a person can read, and WATCHDOG=1 pings from
 * sd_event_set_watchdog when the service has WatchdogSec=.
 *
 * It must never keep running on a config it could not fully validate, and a
 * bad config at reload must never replace the good one that is running.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <sys/stat.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "metrics-stage.h"
#include "platform.h"
#include "print-stage.h"
#include "render-printer-color.h"
#include "console.h"
#include "console-control.h"
#include "render-stage.h"
#include "render.h"
#include "retention-stage.h"
#include "deadline-stage.h"
#include "event-util.h"
#include "statedir.h"
#include "store.h"
#include "energy-stage.h"
#include "platform-http-get.h"
#include "telemetry-stage.h"

typedef struct lab_daemon_s {
        const lab_daemon_options_t *opts;
        sd_event *event;
        lab_config_t *config;
        lab_store_t *store;
        lab_platform_t *platform;
        lab_render_stage_t *render;
        lab_print_stage_t *print;
        lab_telemetry_t *telemetry; /* stock, printer quality, the device list */
        lab_energy_stage_t *energy; /* the energy meters */
        lab_metrics_t *metrics;     /* metrics.textfile */
        bool vips_started;
        lab_color_setup_t *color; /* which printers can render, for the config in force */
        sd_event_source *status_timer;
        sd_event_source *retention_timer;
        sd_event_source *deadline_timer;
        lab_deadlines_t *deadlines;
        lab_control_t *control; /* the console socket, NULL when it could not be made */
        lab_console_t console;
        char note[256];         /* the last reload's outcome, for STATUS */
        char last_status[4096]; /* the STATUS last sent */
        char *state_dir;
        char *store_path;
        int lock_fd;
        unsigned generation; /* config generation: 1 at start, +1 per successful reload */
} lab_daemon_t;

/* Log every problem of a config load, one journal entry each with its location fields. */
static void log_config_problems(const lab_config_problems_t *problems)
{
        for (size_t i = 0; i < problems->n; i++) {
                const lab_config_problem_t *p = &problems->v[i];
                _cleanup_free_ char *line = lab_config_problem_format(p);
                char lineno[16];

                snprintf(lineno, sizeof lineno, "%u", p->line);
                log_struct(LOG_ERR,
                           LAB_FIELDS({"CONFIG_FILE", p->file}, {"CONFIG_LINE", lineno},
                                      {"CONFIG_KEY", p->key_path}, {"ERROR_KEYWORD", p->keyword}),
                           "%s", line ? line : p->message);
        }
}

/*
 * Check every printer's colour setup for config c: log the registry's
 * problems and each printer that cannot render, with its reason. A bad
 * profile stops only the printers that use it. Returns NULL only when out of
 * memory.
 */
static lab_color_setup_t *check_colour(const lab_config_t *c)
{
        lab_config_problems_t problems = {0};
        lab_color_setup_t *s = NULL;

        if (lab_color_setup_load(c, &s, &problems) < 0) {
                log_error("colour: out of memory checking the printers' profiles");
                lab_config_problems_clear(&problems);
                return NULL;
        }
        log_config_problems(&problems);
        lab_config_problems_clear(&problems);
        for (size_t i = 0; i < s->n_printers; i++) {
                const lab_printer_color_t *p = &s->printers[i];
                char keyword[LAB_ERROR_KEYWORD_MAX];

                if (p->usable)
                        continue;
                snprintf(keyword, sizeof keyword, "%.*s", (int)strcspn(p->reason, ":"), p->reason);
                log_struct(LOG_ERR, LAB_FIELDS({"PRINTER", p->printer}, {"ERROR_KEYWORD", keyword}),
                           "printer %s cannot render: %s", p->printer, p->reason);
        }
        log_notice("colour: %zu of %zu printer(s) can render (registry %s)", s->n_usable,
                   s->n_printers, s->registry_path);
        return s;
}

/* The log level in force: the command line wins over the config. */
static void apply_log_level(lab_daemon_t *d)
{
        lab_log_set_max_level(d->opts->log_level >= 0 ? d->opts->log_level
                                                      : d->config->logging.level);
}

/* Tell systemd (and a person running systemctl status) what we are doing, when it changed. */
static void notify_status(lab_daemon_t *d)
{
        char status[sizeof d->last_status];

        snprintf(status, sizeof status,
                 "Ready: lab %s, %zu printer(s) (%zu can render), %zu product(s), store schema "
                 "%d at %s; %s; %s; %s%s%s",
                 d->config->lab.id, d->config->n_printers, d->color ? d->color->n_usable : 0,
                 d->config->n_products, lab_store_schema_version(d->store), d->store_path,
                 d->platform ? lab_platform_status(d->platform) : "platform not started",
                 d->render ? lab_render_stage_status(d->render) : "renders not started",
                 d->print ? lab_print_stage_status(d->print) : "printing not started",
                 d->note[0] ? "; " : "", d->note);
        if (strcmp(status, d->last_status) == 0)
                return;
        snprintf(d->last_status, sizeof d->last_status, "%s", status);
        sd_notifyf(false, "STATUS=%s", status);
}

/* Every few seconds: refresh STATUS if anything changed. */
static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        lab_daemon_t *d = userdata;

        notify_status(d);
        lab_timer_arm(d->event, &d->status_timer, 5ULL * 1000000ULL, on_status_timer, d, "status");
        return 0;
}

/* Hourly (and at start): delete the files of jobs finished longer ago than storage.retention. */
static int on_retention_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        lab_daemon_t *d = userdata;
        unsigned jobs = 0, files = 0;
        int r;

        r = lab_retention_sweep(d->store, d->config->storage.retention, time(NULL), &jobs, &files);
        if (r < 0)
                log_warning_errno(r, "retention: the sweep failed: %m; trying again in an hour");
        else if (jobs > 0)
                log_info("retention: deleted %u file(s) of %u finished job(s)", files, jobs);
        lab_timer_arm(d->event, &d->retention_timer, 3600ULL * 1000000ULL, on_retention_timer, d,
                      "retention");
        return 0;
}

/* Every minute: report jobs whose deadline is at risk. */
static int on_deadline_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        lab_daemon_t *d = userdata;
        int r = lab_deadlines_check(d->deadlines, d->store, d->config, time(NULL));

        if (r < 0)
                log_warning_errno(r, "deadlines: cannot check them: %m");
        else if (r > 0)
                lab_platform_kick_outbox(d->platform);
        lab_timer_arm(d->event, &d->deadline_timer, 60ULL * 1000000ULL, on_deadline_timer, d,
                      "deadlines");
        return 0;
}

/* Record a lifecycle action in the audit table; a failure is logged, never fatal. */
static void audit(lab_daemon_t *d, const char *action, const char *detail)
{
        int r = lab_store_audit_append(d->store, "daemon", action, detail);
        if (r < 0)
                log_warning_errno(r, "store: could not record %s in the audit log: %m", action);
}

/* Swap two strings. */
static void swap_str(char **a, char **b)
{
        char *t = *a;

        *a = *b;
        *b = t;
}

/*
 * Keys that only take effect at start: when a reload changes one, warn and
 * keep the running value in the new config, so the config in force always
 * says what the daemon really uses.
 */
static void keep_restart_only(lab_config_t *old, lab_config_t *fresh)
{
        if (strcmp(old->storage.state_dir, fresh->storage.state_dir) != 0) {
                log_warning("config: storage.state_dir changed from %s to %s; this takes effect at "
                            "the next restart",
                            old->storage.state_dir, fresh->storage.state_dir);
                swap_str(&old->storage.state_dir, &fresh->storage.state_dir);
        }
        if (strcmp(old->control.socket, fresh->control.socket) != 0) {
                log_warning("config: control.socket changed from %s to %s; this takes effect at "
                            "the next restart",
                            old->control.socket, fresh->control.socket);
                swap_str(&old->control.socket, &fresh->control.socket);
        }
        if (strcmp(old->lab.id, fresh->lab.id) != 0) {
                log_warning("config: lab.id changed from %s to %s; this takes effect at the next "
                            "restart",
                            old->lab.id, fresh->lab.id);
                swap_str(&old->lab.id, &fresh->lab.id);
        }
}

/* SIGHUP: load the config again; keep the running one if the new one is bad. */
static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        lab_daemon_t *d = userdata;
        lab_config_problems_t problems = {0};
        lab_config_t *fresh = NULL;
        lab_error_t tls_err = {0};
        uint64_t now = 0;
        char detail[256];
        int r;

        sd_event_now(d->event, CLOCK_MONOTONIC, &now);
        sd_notifyf(false,
                   "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading configuration from %s",
                   (unsigned long long)now, d->opts->config_path);
        log_info("config: reloading %s (SIGHUP)", d->opts->config_path);

        r = lab_config_load_file(d->opts->config_path, &fresh, &problems);
        if (r >= 0 && lab_platform_check_tls(fresh, &tls_err) < 0) {
                /* A valid file naming unusable TLS material is refused like an invalid one. */
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", tls_err.keyword}), "%s: %s",
                           tls_err.keyword, tls_err.message);
                lab_config_free(fresh);
                fresh = NULL;
                r = -EINVAL;
        }
        if (r < 0) {
                log_config_problems(&problems);
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", "config_reload_failed"}),
                           "config_reload_failed: %s has %zu problem(s)%s; keeping the running "
                           "configuration (generation %u). Fix the file and reload again.",
                           d->opts->config_path, problems.n,
                           tls_err.keyword[0] ? " and unusable TLS material" : "", d->generation);
                snprintf(detail, sizeof detail, "%zu problem(s) in %s%s%s", problems.n,
                         d->opts->config_path, tls_err.keyword[0] ? ", " : "", tls_err.keyword);
                audit(d, "config_reload_failed", detail);
                snprintf(d->note, sizeof d->note,
                         "config reload failed (%zu problem(s) in %s%s%s), running with "
                         "generation %u",
                         problems.n, d->opts->config_path, tls_err.keyword[0] ? ", " : "",
                         tls_err.keyword, d->generation);
                lab_config_problems_clear(&problems);
                sd_notify(false, "READY=1");
                notify_status(d);
                return 0;
        }

        keep_restart_only(d->config, fresh);
        lab_color_setup_t *old_color = d->color;
        d->color = check_colour(fresh);
        /* The link and the renders move to the new config before the old one is freed. */
        lab_platform_reload(d->platform, fresh);
        lab_render_stage_set_config(d->render, fresh, d->color);
        lab_print_stage_set_config(d->print, fresh, d->color);
        lab_telemetry_set_config(d->telemetry, fresh);
        lab_energy_stage_set_config(d->energy, fresh);
        lab_metrics_set_config(d->metrics, fresh);
        lab_control_set_groups(d->control, fresh->control.operators_group,
                               fresh->control.viewers_group);
        lab_render_init(NULL, fresh->render.threads, fresh->render.cache_max);
        lab_color_setup_free(old_color);
        lab_config_free(d->config);
        d->config = fresh;
        d->generation++;
        apply_log_level(d);
        log_debug("config: generation %u: lab %s, %zu printer(s), %zu product(s), %zu meter(s)",
                  d->generation, d->config->lab.id, d->config->n_printers, d->config->n_products,
                  d->config->n_meters);

        snprintf(detail, sizeof detail, "generation %u", d->generation);
        audit(d, "config_reloaded", detail);
        log_notice("config: reloaded %s (generation %u)", d->opts->config_path, d->generation);
        snprintf(d->note, sizeof d->note, "config reloaded (generation %u)", d->generation);
        sd_notify(false, "READY=1");
        notify_status(d);
        return 0;
}

/* SIGTERM/SIGINT: leave the loop; cleanup happens in lab_daemon_main. */
static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        lab_daemon_t *d = userdata;

        sd_notify(false, "STOPPING=1\nSTATUS=Stopping");
        log_notice("stopping on %s", strsignal((int)si->ssi_signo));
        return sd_event_exit(d->event, 0);
}

/* A render recorded events (a job may be rendered): deliver them, queue it at its printer. */
static void on_render_events(void *userdata)
{
        lab_daemon_t *d = userdata;

        lab_platform_kick_outbox(d->platform);
        lab_print_stage_kick(d->print);
}

/* The print stage recorded events: deliver them. */
static void on_print_events(void *userdata)
{
        lab_daemon_t *d = userdata;

        lab_platform_kick_outbox(d->platform);
}

/* A new device list: the link sends it (PUT /devices), the newest winning. */
static void on_devices(const char *body, void *userdata)
{
        lab_daemon_t *d = userdata;

        lab_platform_set_devices(d->platform, body);
}

/* Jobs were rerouted or a printer came back: render what waits. */
static void on_rerouted(void *userdata)
{
        lab_daemon_t *d = userdata;

        lab_render_stage_retry_held(d->render);
}

/* For the router: whether the print stage knows a printer cannot take work. */
static const char *printer_health(const char *printer, const char *media, const char *format,
                                  char *buf, size_t size, void *userdata)
{
        lab_daemon_t *d = userdata;

        return lab_print_stage_unfit(d->print, printer, media, format, buf, size);
}

/* The platform canceled a job at a printer. */
static int on_cancel_at_printer(const char *job_id, void *userdata)
{
        lab_daemon_t *d = userdata;

        return lab_print_stage_cancel(d->print, job_id);
}

/* The daemon's STATUS line, for labctl status. */
static const char *console_status(void *userdata)
{
        lab_daemon_t *d = userdata;

        notify_status(d);
        return d->last_status;
}

/* The console changed copies (a reprint, a confirmed copy): print, report. */
static void on_console_changed(void *userdata)
{
        lab_daemon_t *d = userdata;

        lab_print_stage_kick(d->print);
        lab_platform_kick_outbox(d->platform);
}

/* The console socket; without it the daemon still prints (logged). */
static void start_console(lab_daemon_t *d)
{
        lab_error_t err = {0};

        d->console = (lab_console_t){.store = d->store,
                                     .print = d->print,
                                     .telemetry = d->telemetry,
                                     .config = (const lab_config_t *const *)&d->config,
                                     .started_at = time(NULL),
                                     .status_line = console_status,
                                     .changed = on_console_changed,
                                     .userdata = d};
        if (lab_control_new(&d->control, d->event, d->config->control.socket, lab_console_answer,
                            &d->console, &err) < 0) {
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", err.keyword}), "%s: %s",
                           err.keyword, err.message);
                return;
        }
        lab_control_set_groups(d->control, d->config->control.operators_group,
                               d->config->control.viewers_group);
        log_info("console: labctl served at %s", d->config->control.socket);
}

/* A print master was downloaded: render it. */
static void on_downloaded(const char *job_id, void *userdata)
{
        lab_daemon_t *d = userdata;

        lab_render_stage_kick(d->render);
}

/* libvips and the render stage (worker pool, state_dir/render); returns an exit code. */
static int start_renders(lab_daemon_t *d)
{
        _cleanup_free_ char *dir = NULL;
        int r;

        if (asprintf(&dir, "%s/render", d->state_dir) < 0)
                return LAB_EXIT_FAILURE;
        if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", "state_dir_unusable"}),
                           "state_dir_unusable: cannot create %s: %s", dir, strerror(errno));
                return LAB_EXIT_FAILURE;
        }
        r = lab_render_init(d->opts->argv0, d->config->render.threads, d->config->render.cache_max);
        if (r < 0) {
                log_error_errno(r, "render: libvips cannot start: %m");
                return LAB_EXIT_FAILURE;
        }
        d->vips_started = true;
        r = lab_render_stage_new(&d->render, d->event, d->store, dir, d->config->render.workers);
        if (r < 0) {
                log_error_errno(r, "render: cannot start the worker pool: %m");
                return LAB_EXIT_FAILURE;
        }
        lab_render_stage_set_hook(d->render, on_render_events, d);
        lab_render_stage_set_health(d->render, printer_health, d);
        lab_render_stage_set_config(d->render, d->config, d->color);
        lab_platform_set_downloaded_hook(d->platform, on_downloaded, d);

        r = lab_print_stage_new(&d->print, d->event, d->store);
        if (r < 0) {
                log_error_errno(r, "printing: cannot start the printer workers: %m");
                return LAB_EXIT_FAILURE;
        }
        lab_print_stage_set_hooks(d->print, on_print_events, on_rerouted, d);
        r = lab_telemetry_new(&d->telemetry, d->event, d->store);
        if (r < 0) {
                log_error_errno(r, "telemetry: cannot start: %m");
                return LAB_EXIT_FAILURE;
        }
        lab_telemetry_set_hooks(d->telemetry, on_print_events, on_devices, d);
        lab_telemetry_set_config(d->telemetry, d->config);
        lab_print_stage_set_telemetry(d->print, d->telemetry);
        lab_print_stage_set_config(d->print, d->config, d->color);
        r = lab_energy_stage_new(&d->energy, d->event, d->store, lab_platform_http_get);
        if (r < 0) {
                log_error_errno(r, "energy: cannot start: %m");
                return LAB_EXIT_FAILURE;
        }
        lab_energy_stage_set_hooks(d->energy, on_print_events, d);
        lab_energy_stage_set_config(d->energy, d->config);
        r = lab_metrics_new(&d->metrics, d->event, d->store, d->print);
        if (r < 0) {
                log_error_errno(r, "metrics: cannot start: %m");
                return LAB_EXIT_FAILURE;
        }
        lab_render_stage_set_timing(d->render, lab_metrics_render_timed, d->metrics);
        lab_metrics_set_config(d->metrics, d->config);
        lab_platform_set_cancel_hook(d->platform, on_cancel_at_printer, d);
        return LAB_EXIT_OK;
}

/* Load the config at start; returns an exit code (LAB_EXIT_OK to go on). */
static int load_initial_config(lab_daemon_t *d)
{
        lab_config_problems_t problems = {0};
        int r;

        r = lab_config_load_file(d->opts->config_path, &d->config, &problems);
        if (r < 0) {
                log_config_problems(&problems);
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", "config_invalid"}),
                           "config_invalid: %s has %zu problem(s); refusing to start. Check it "
                           "with: labagent --check-config %s",
                           d->opts->config_path, problems.n, d->opts->config_path);
                lab_config_problems_clear(&problems);
                return LAB_EXIT_CONFIG;
        }
        apply_log_level(d);
        d->color = check_colour(d->config);
        return LAB_EXIT_OK;
}

/* Lock the state directory and open the store; returns an exit code. */
static int open_state(lab_daemon_t *d)
{
        lab_error_t err = {0};
        int r;

        d->state_dir =
            strdup(d->opts->state_dir ? d->opts->state_dir : d->config->storage.state_dir);
        if (!d->state_dir ||
            asprintf(&d->store_path, "%s/%s", d->state_dir, LAB_STORE_FILENAME) < 0)
                return LAB_EXIT_FAILURE;

        d->lock_fd = lab_statedir_lock(d->state_dir, &err);
        if (d->lock_fd < 0) {
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", err.keyword}), "%s: %s",
                           err.keyword, err.message);
                return d->lock_fd == -EBUSY ? LAB_EXIT_LOCKED : LAB_EXIT_FAILURE;
        }

        r = lab_store_open(&d->store, d->store_path, &err);
        if (r < 0) {
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", err.keyword}), "%s: %s",
                           err.keyword, err.message);
                /* A file we refuse to touch needs a person; restarting will not help. */
                return strcmp(err.keyword, "store_corrupt") == 0 ||
                               strcmp(err.keyword, "store_schema_newer") == 0 ||
                               strcmp(err.keyword, "store_foreign") == 0
                           ? LAB_EXIT_STORE_REFUSED
                           : LAB_EXIT_FAILURE;
        }
        return LAB_EXIT_OK;
}

/* Build the loop: signals and the watchdog. */
static int setup_loop(lab_daemon_t *d)
{
        int r;

        r = sd_event_default(&d->event);
        if (r < 0)
                return log_error_errno(r, "cannot create the event loop: %m");

        static const int stop_signals[] = {SIGTERM, SIGINT};
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++) {
                r = sd_event_add_signal(d->event, NULL, stop_signals[i] | SD_EVENT_SIGNAL_PROCMASK,
                                        on_sigterm, d);
                if (r < 0)
                        return log_error_errno(r, "cannot watch signal %d: %m", stop_signals[i]);
        }
        r = sd_event_add_signal(d->event, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_sighup, d);
        if (r < 0)
                return log_error_errno(r, "cannot watch SIGHUP: %m");

        /* Pings WATCHDOG=1 at about half of WATCHDOG_USEC when systemd asks for it. */
        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                return log_error_errno(r, "cannot set up the watchdog: %m");
        if (r > 0)
                log_debug("watchdog: enabled by the service manager");
        return 0;
}

int lab_daemon_main(const lab_daemon_options_t *opts)
{
        lab_daemon_t d = {.opts = opts, .lock_fd = -1, .generation = 1};
        lab_error_t err = {0};
        int ret, r;

        ret = load_initial_config(&d);
        if (ret != LAB_EXIT_OK)
                goto out;
        ret = open_state(&d);
        if (ret != LAB_EXIT_OK)
                goto out;
        if (setup_loop(&d) < 0) {
                ret = LAB_EXIT_FAILURE;
                goto out;
        }

        r = lab_platform_new(&d.platform, d.event, d.store, d.config, d.state_dir, &err);
        if (r < 0) {
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", err.keyword}),
                           "%s: %s; refusing to start", err.keyword, err.message);
                ret = LAB_EXIT_CONFIG;
                goto out;
        }
        ret = start_renders(&d);
        if (ret != LAB_EXIT_OK)
                goto out;
        /* Housekeeping: STATUS, deadlines at risk, old files. */
        r = lab_deadlines_new(&d.deadlines);
        if (r >= 0)
                r = lab_timer_arm(d.event, &d.status_timer, 5ULL * 1000000ULL, on_status_timer, &d,
                                  "status");
        if (r >= 0)
                r = lab_timer_arm(d.event, &d.deadline_timer, 15ULL * 1000000ULL, on_deadline_timer,
                                  &d, "deadlines");
        if (r >= 0)
                r = lab_timer_arm(d.event, &d.retention_timer, 10ULL * 1000000ULL,
                                  on_retention_timer, &d, "retention");
        if (r < 0) {
                log_error_errno(r, "cannot arm the housekeeping timers: %m");
                ret = LAB_EXIT_FAILURE;
                goto out;
        }

        audit(&d, "daemon_started", LABAGENT_VERSION);
        r = lab_store_event_append(d.store, LAB_EVENT_JOB, "lab.started", NULL,
                                   "{\"version\":\"" LABAGENT_VERSION "\"}", NULL);
        if (r < 0)
                log_warning_errno(r, "store: cannot record lab.started in the outbox: %m");
        log_notice("labagent %s ready: lab %s, config %s, store %s (schema %d)", LABAGENT_VERSION,
                   d.config->lab.id, opts->config_path, d.store_path,
                   lab_store_schema_version(d.store));
        start_console(&d);
        sd_notify(false, "READY=1");
        lab_platform_start(d.platform);
        lab_render_stage_start(d.render);
        lab_print_stage_start(d.print);
        notify_status(&d);

        r = sd_event_loop(d.event);
        if (r < 0) {
                log_error_errno(r, "event loop failed: %m");
                ret = LAB_EXIT_FAILURE;
        } else {
                ret = r == 0 ? LAB_EXIT_OK : LAB_EXIT_FAILURE;
        }
        audit(&d, "daemon_stopped", ret == LAB_EXIT_OK ? "clean" : "failure");
        log_notice("stopped");

out:
        lab_control_free(d.control);
        /* Calls in progress finish and are recorded before the link and the store go. */
        lab_print_stage_free(d.print);
        d.print = NULL; /* the render stage's last results may still kick it */
        lab_telemetry_free(d.telemetry);
        /* Waits for meter reads still running (each at most its meter's timeout). */
        lab_energy_stage_free(d.energy);
        lab_render_stage_free(d.render);
        lab_metrics_free(d.metrics); /* after the renders: the last ones are timed */
        if (d.vips_started)
                lab_render_shutdown();
        lab_platform_free(d.platform);
        lab_color_setup_free(d.color);
        sd_event_source_disable_unref(d.status_timer);
        sd_event_source_disable_unref(d.retention_timer);
        sd_event_source_disable_unref(d.deadline_timer);
        lab_deadlines_free(d.deadlines);
        sd_event_unref(d.event);
        lab_store_close(d.store);
        lab_config_free(d.config);
        if (d.lock_fd >= 0)
                close(d.lock_fd);
        free(d.store_path);
        free(d.state_dir);
        return ret;
}
