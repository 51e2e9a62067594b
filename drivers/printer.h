/*
 * printer.h - the one interface every printer driver implements.
 *
 * Why: the lab's printers are the agent's hands, and they come in two kinds:
 * IPP (CUPS queues and IPP Everywhere printers, drivers/printer-ipp.c on
 * libcups) and minilab hot folders (drivers/printer-hotfolder*.c). The
 * orchestration sees only this interface: submit a file under a stable job
 * name, follow that job, cancel it, read the printer's health, supplies and
 * loaded media, and find a job again by its name after a crash.
 *
 * Threading: every call may block (network, disk) for up to the printer's
 * configured timeout (printers[].timeout). Call them from a worker thread,
 * never from the event loop. One handle is used by one thread at a time;
 * different handles are independent of each other.
 *
 * Errors: negative errno plus a lab_error_t whose keyword is one of
 *   printer_unreachable  cannot connect (refused, no route, name unknown)
 *   printer_timeout      connected, but no answer within the timeout
 *   printer_busy         the printer said busy (IPP server-error-busy) for
 *                        longer than the timeout allowed retrying: try later
 *   printer_refused      the printer refused the job or its attributes
 *                        (document format, media, ...): retrying will not help
 *   printer_file_error   the print file cannot be read
 *   printer_protocol     the printer answered something this driver cannot use
 *   printer_job_unknown  no such job on the printer (it may have forgotten it)
 *   hotfolder_unwritable the hot folder cannot be written (missing, full, denied)
 *   printer_config       the printer's config entry cannot work (bad URI, ...)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

typedef struct lab_printer_s lab_printer_t;

/* ---- printer status ---- */

typedef enum lab_printer_state_e {
        LAB_PRINTER_IDLE,        /* ready for work */
        LAB_PRINTER_PROCESSING,  /* printing */
        LAB_PRINTER_STOPPED,     /* stopped by itself or an operator (IPP printer-state 5) */
        LAB_PRINTER_UNREACHABLE, /* no answer: the status holds only what we knew */
} lab_printer_state_t;

typedef enum lab_severity_e {
        LAB_SEVERITY_REPORT,  /* -report or no suffix */
        LAB_SEVERITY_WARNING, /* -warning */
        LAB_SEVERITY_ERROR,   /* -error */
} lab_severity_t;

#define LAB_PRINTER_REASONS_MAX  32
#define LAB_PRINTER_SUPPLIES_MAX 16
#define LAB_PRINTER_TRAYS_MAX    8
#define LAB_PRINTER_MEDIA_MAX    16
#define LAB_PRINTER_DEFAULTS_MAX 16

/* One printer-state-reasons value, split: "media-empty-error" → media-empty, error. */
typedef struct lab_printer_reason_s {
        char keyword[64]; /* without the severity suffix; "stalled" for a stalled hot folder */
        lab_severity_t severity;
} lab_printer_reason_t;

/* What a supply is, from its PWG / CUPS type keyword (lab_supply_kind_of). */
typedef enum lab_supply_kind_e {
        LAB_SUPPLY_OTHER,  /* not said, or none of the below (fuser, staples, ...) */
        LAB_SUPPLY_PAPER,  /* an input tray (printer-input-tray), or a supply of type paper */
        LAB_SUPPLY_RIBBON, /* ribbonWax, inkRibbon, ribbon-wax, ... (dye-sub media sets) */
        LAB_SUPPLY_INK,    /* ink, inkCartridge, solidWax, ... */
        LAB_SUPPLY_TONER,  /* toner, tonerCartridge, ... */
        LAB_SUPPLY_WASTE,  /* a receptacle that fills up: wasteToner, wasteInk, ... */
} lab_supply_kind_t;

/*
 * One supply (PWG 5100.13 printer-supply, or the CUPS marker-* attributes), or
 * one input tray (printer-input-tray, kind paper). Nothing unknown is ever a
 * number: RFC 3805's -2 (unknown) and -3 (some left), and any value out of
 * range, leave level, amount and remaining at -1; -3 sets some_left.
 */
typedef struct lab_supply_s {
        char name[128];    /* printer-supply-description or marker-names; a tray's name */
        char type[64];     /* PWG type keyword (ribbonWax, toner, ...) or marker-types */
        char color[64];    /* colorantname or marker-colors, "" when unknown */
        int level;         /* percent 0..100, -1 unknown */
        char message[256]; /* marker-message (Gutenprint: "310 native prints remaining on 6x4 (PC)
                              media"), or "" */
        long remaining;    /* prints remaining parsed from a Gutenprint message, -1 unknown */
        lab_supply_kind_t kind;
        bool some_left; /* level and remaining unknown, but the printer says some is left
                           (RFC 3805 -3; Gutenprint "One or more remaining prints") */
        int amount;     /* the level in the supply's own unit (a tray: sheets), -1 unknown */
        int capacity;   /* maxcapacity in that unit, -1 unknown */
        char unit[24];  /* that unit: printer-supply's unit keyword (percent, sheets, ...),
                           a tray's capacityunit or "sheets"; "" unknown */
        int low;        /* marker-low-levels: percent at which the printer calls it low, -1 */
        int high;       /* marker-high-levels (a waste receptacle: almost full), -1 unknown */
        char media[64]; /* the media it holds: Gutenprint's NAME in "... on NAME media", a
                           tray's loaded size (media-col-ready of its source), "" unknown */
} lab_supply_t;

/* One loaded medium (media-col-ready, or media-ready when that is all there is). */
typedef struct lab_media_ready_s {
        char size[64];   /* PWG 5101.1 self-describing name, e.g. na_index-4x6_4x6in */
        char type[64];   /* media-type keyword, "" when unknown */
        char source[32]; /* media-source keyword, "" when unknown */
} lab_media_ready_t;

/* One of a queue's default settings (a PPD *Default line, or an IPP *-default attribute). */
typedef struct lab_printer_default_s {
        char name[64];
        char value[64];
} lab_printer_default_t;

typedef struct lab_printer_status_s {
        lab_printer_state_t state;
        char message[256]; /* printer-state-message, or the driver's own sentence */
        lab_printer_reason_t reasons[LAB_PRINTER_REASONS_MAX];
        size_t n_reasons; /* "none" is not listed */
        lab_supply_t supplies[LAB_PRINTER_SUPPLIES_MAX];
        size_t n_supplies;
        /* The input trays (printer-input-tray: PAPPL and IPP Everywhere printers), kind
           paper, kept apart from the supplies: level, amount (sheets) and capacity. */
        lab_supply_t trays[LAB_PRINTER_TRAYS_MAX];
        size_t n_trays;
        int64_t supplies_age; /* s between the printer's last marker change (marker-change-time)
                                 and its answer (printer-up-time, the same clock): the levels
                                 are as of the read minus this (a level is stale between
                                 jobs); -1 unknown */
        long impressions;     /* printer-impressions-completed (its life), -1 unknown */
        lab_media_ready_t media[LAB_PRINTER_MEDIA_MAX];
        size_t n_media;
        bool accepting; /* printer-is-accepting-jobs (true for a writable hot folder) */
        int64_t boot;   /* CLOCK_REALTIME s at which the printer's job memory began (its last
                           start), 0 unknown: see lab_printer_memory_t */
        /* The queue's defaults that alter colour (lab_print_option_alters_colour), read
           at every status: a CUPS queue's PPD defaults and print-color-mode-default. */
        lab_printer_default_t colour_defaults[LAB_PRINTER_DEFAULTS_MAX];
        size_t n_colour_defaults;
} lab_printer_status_t;

/*
 * What a printer remembers of the jobs it was sent. A job the printer does
 * not list "never got there" only if its memory reaches back past the send:
 * it has not restarted since (boot), and it still lists every job received
 * from before the send on (complete_since). Every time is CLOCK_REALTIME
 * seconds on the agent's clock (drivers convert the printer's own times
 * through its up-time, so the two clocks need not agree); 0 is unknown.
 *
 *   IPP          boot = now - printer-up-time (unknown where printer-up-time is
 *                a wall clock, as on cupsd); complete_since = when the oldest
 *                finished job it still lists ended (printers purge finished
 *                jobs oldest first, so every job that ended after it is listed)
 *   hot folders  boot = when the folder's identity file was made (a folder
 *                emptied or replaced gets a new one); complete_since = the
 *                oldest of the driver's own records of what it published
 */
typedef struct lab_printer_memory_s {
        int64_t boot;
        int64_t complete_since;
} lab_printer_memory_t;

/* ---- capabilities ---- */

/*
 * One page size a printer offers. From a CUPS queue's PPD (its PageSize
 * names, which are what the driver behind the queue understands: Gutenprint
 * maps any other name to its default size), or from IPP media-col-database.
 */
typedef struct lab_printer_size_s {
        char name[64]; /* what to send: the PPD PageSize name, or the PWG media name */
        char text[64]; /* how the PPD shows it ("4x6", "2x6*2"), "" from IPP */
        int nominal_w; /* the size it is sold as, hundredths of mm; 0 when it is not a */
        int nominal_h; /* plain sheet (a multi-cut such as w288h432-div2) or not known */
        double area_w; /* the imageable area, points (1/72 in): what the file must fill */
        double area_h;
} lab_printer_size_t;

typedef struct lab_printer_caps_s {
        char **media; /* media-supported: PWG size names */
        size_t n_media;
        char **media_types; /* media-type-supported */
        size_t n_media_types;
        char **formats; /* document-format-supported, MIME types */
        size_t n_formats;
        unsigned *resolutions; /* printer-resolution-supported, dpi (cross-feed) */
        size_t n_resolutions;
        bool color;                /* print-color-mode-supported includes color */
        char *make_model;          /* printer-make-and-model, or NULL */
        lab_printer_size_t *sizes; /* the sizes it offers with their imageable areas (a CUPS
                                      queue's PPD, else media-col-database) */
        size_t n_sizes;
        bool ppd;          /* sizes are a CUPS queue's PPD PageSizes: send their names */
        bool scaling_none; /* print-scaling-supported includes none */
} lab_printer_caps_t;

/* Free what a caps holds and zero it. */
void lab_printer_caps_done(lab_printer_caps_t *c);

/* Whether caps list s (media, media type or format). */
bool lab_printer_caps_has(char *const *list, size_t n, const char *s);

/* ---- jobs ---- */

typedef enum lab_pjob_state_e {
        LAB_PJOB_PENDING,    /* waiting at the printer (IPP pending/pending-held; not picked up) */
        LAB_PJOB_PROCESSING, /* being printed (IPP processing/processing-stopped) */
        LAB_PJOB_COMPLETED,  /* printed */
        LAB_PJOB_ABORTED,    /* the printer gave up (jam, out of paper, error) */
        LAB_PJOB_CANCELED,   /* canceled (by us or at the printer) */
        LAB_PJOB_UNKNOWN,    /* the printer cannot tell (it vanished mid-job) */
} lab_pjob_state_t;

#define LAB_PRINTER_JOB_NAME_MAX 160

typedef struct lab_pjob_status_s {
        lab_pjob_state_t state;
        bool stopped;              /* IPP processing-stopped: held at the printer, which will not
                                      go on by itself (a CUPS filter failed, the queue stopped) */
        int impressions_completed; /* -1 unknown */
        char reasons[256];         /* job-state-reasons, comma-separated, or the driver's keyword */
        char message[256];         /* job-state-message (else job-printer-state-message, what
                                      a CUPS filter or backend said), or the minilab's error */
        char job_name[LAB_PRINTER_JOB_NAME_MAX]; /* the job-name the printer has for it, ""
                                                    unknown: a printer that restarted can
                                                    give a job-id to another job */
        /* A job that stopped, was aborted or canceled: the printer's reasons then
           (job-printer-state-reasons, else printer-state-reasons read at once), and the
           first error fault among them (lab_printer_fault_of), "" when none is known. */
        char printer_reasons[256];
        char fault[32];
} lab_pjob_status_t;

typedef struct lab_print_request_s {
        const char *file;        /* the print file (rendered) */
        const char *format;      /* its MIME type: image/jpeg, image/tiff, image/pwg-raster */
        const char *job_name;    /* stable key from lab_printer_job_name() */
        unsigned copies;         /* >= 1 */
        const char *media;       /* PWG media size name, e.g. na_index-4x6_4x6in */
        const char *media_type;  /* e.g. photographic-glossy, or NULL */
        const char *order_id;    /* for order descriptions (hot folders), or NULL */
        unsigned width, height;  /* the file's pixels (for hot-folder order files), 0 unknown */
        unsigned dpi;            /* 0 unknown */
        const char *queue_media; /* printers[].media's name for media at this queue, or NULL */
        const lab_config_pair_t *options; /* printers[].options: job attributes for every job */
        size_t n_options;
} lab_print_request_t;

/*
 * The stable job name for copy `copy` (1-based) of lab job job_id, attempt
 * `attempt` (1-based): "<job_id>/<copy>/<attempt>". Job ids never hold '/'.
 * Returns 0, or -ENAMETOOLONG / -EINVAL (bad id or zero copy/attempt).
 */
int lab_printer_job_name(char *buf, size_t size, const char *job_id, unsigned copy,
                         unsigned attempt);

/* Split a job name made by lab_printer_job_name(); -EINVAL if it is not one. */
int lab_printer_job_name_parse(const char *name, char *job_id, size_t size, unsigned *copy,
                               unsigned *attempt);

/* ---- the driver calls ---- */

/*
 * Open the printer a config entry describes (copies what it needs from cfg).
 * Does not talk to the printer yet: an unreachable printer opens fine and
 * its status says unreachable. Fails only for a config the driver cannot use
 * (printer_config) or out of memory.
 */
int lab_printer_open(const lab_config_printer_t *cfg, lab_printer_t **ret, lab_error_t *err);

/* Close and free (NULL is fine). Jobs already submitted go on at the printer. */
void lab_printer_close(lab_printer_t *p);

/* The printer's configured name. */
const char *lab_printer_name(const lab_printer_t *p);

/* What the printer can do (media, media types, document formats, resolutions, colour). */
int lab_printer_capabilities(lab_printer_t *p, lab_printer_caps_t *ret, lab_error_t *err);

/*
 * Submit a print file. On success *ret_handle is the driver's handle for
 * the job (IPP: the job-id in decimal; hot folder: the item's name),
 * malloc'd. On failure nothing was queued at the printer, as far as the
 * driver can tell; if the connection dropped after the file was sent, the
 * caller must use lab_printer_find_job() before trying again.
 */
int lab_printer_submit(lab_printer_t *p, const lab_print_request_t *req, char **ret_handle,
                       lab_error_t *err);

/* Where a submitted job stands. printer_job_unknown when the printer forgot it. */
int lab_printer_job_status(lab_printer_t *p, const char *handle, lab_pjob_status_t *ret,
                           lab_error_t *err);

/* Cancel a submitted job (a job already finished is not an error: 0). */
int lab_printer_cancel(lab_printer_t *p, const char *handle, lab_error_t *err);

/*
 * The printer's state, reasons, supplies and loaded media. An unreachable
 * printer is not an error here: returns 0 with state UNREACHABLE and the
 * reason in message (keyword printer_unreachable or printer_timeout in err).
 */
int lab_printer_status(lab_printer_t *p, lab_printer_status_t *ret, lab_error_t *err);

/*
 * Find a job submitted earlier by its job name (crash recovery). 0 with
 * *ret_handle (malloc'd) and *ret_status; -ENOENT (printer_job_unknown)
 * when the printer has no job of that name — it never had it, or it has
 * forgotten it: *ret_memory (may be NULL; filled on success and on -ENOENT)
 * is what tells which, through lab_printer_may_resend(). A driver that knows
 * the job was received but has lost what became of it (a hot-folder item the
 * minilab took, whose result is gone) returns 0 with state UNKNOWN.
 */
int lab_printer_find_job(lab_printer_t *p, const char *job_name, char **ret_handle,
                         lab_pjob_status_t *ret_status, lab_printer_memory_t *ret_memory,
                         lab_error_t *err);

/*
 * A file descriptor that becomes readable when a job or the printer may have
 * changed (hot folders: inotify), for the event loop to watch; -1 when the
 * driver must be polled (IPP). Owned by the handle; the watcher calls
 * lab_printer_drain_watch() when it is readable.
 */
int lab_printer_watch_fd(lab_printer_t *p);

/* Read and discard what made the watch fd readable (does not block). */
void lab_printer_drain_watch(lab_printer_t *p);

/* ---- health (pure) ---- */

/*
 * Can the printer take work, judging by its status? Returns true when it
 * can; otherwise false with a "keyword: sentence" reason in buf. Keywords:
 * printer_unreachable, printer_stopped, printer_not_accepting, media_empty,
 * media_jam, cover_open, door_open, marker_supply_empty, printer_offline,
 * printer_stalled, waste_full, printer_error (any other -error reason).
 * Warnings (media-low, marker-supply-low, marker-waste-almost-full) do not
 * make a printer unavailable.
 */
bool lab_printer_status_available(const lab_printer_status_t *s, char *buf, size_t size);

/*
 * The fault a printer-state-reasons value stands for, whatever its suffix
 * (ippeveprinter sends media-empty-report): true with *ret_keyword and
 * *ret_severity (WARNING or ERROR), false when it is no fault (a report,
 * "paused", "none"). Errors: media_empty (media-empty, media-needed),
 * media_jam, marker_supply_empty, cover_open, door_open, printer_offline
 * (offline, shutdown), printer_stalled, waste_full (marker-waste-full),
 * printer_error (any other reason with -error); warnings: media_low,
 * marker_supply_low, waste_almost_full (marker-waste-almost-full).
 */
bool lab_printer_fault_of(const lab_printer_reason_t *r, const char **ret_keyword,
                          lab_severity_t *ret_severity);

/* The kind of a supply type keyword (PWG ribbonWax, CUPS ribbon-wax, ...); NULL: other. */
lab_supply_kind_t lab_supply_kind_of(const char *type);

/* "other", "paper", "ribbon", "ink", "toner", "waste". */
const char *lab_supply_kind_to_string(lab_supply_kind_t k);

/* Clock slack (s) of the memory rule: up-times and job times are whole seconds. */
#define LAB_PRINTER_CLOCK_SLACK 2

typedef enum lab_resend_e {
        LAB_RESEND_OK,        /* the printer would list the copy had it arrived: send it again */
        LAB_RESEND_RESTARTED, /* the printer's memory began after the send: printer_restarted */
        LAB_RESEND_FORGOT,    /* its memory does not reach back past the send: printer_forgot */
} lab_resend_t;

/*
 * The one rule for a copy the printer does not list (pure). sent: when the
 * send began (CLOCK_REALTIME s, 0 unknown); m: what find_job said of the
 * printer's memory; history_usec: printers[].job_history, how long lab IT
 * says the printer keeps finished jobs listed; now: CLOCK_REALTIME s.
 * Sent again only when the printer has not restarted since the send (its
 * boot instant is known and older) and its list reaches back past it: the
 * printer still lists a job that ended before the send, or the send is
 * younger than job_history. Anything else is not provable, an unknown boot
 * instant included (a cupsd that crashed can list old jobs and have lost
 * the newest): the copy may have printed. why (may be NULL) gets
 * "keyword: sentence" for a refusal ("" for OK).
 */
lab_resend_t lab_printer_may_resend(const lab_printer_memory_t *m, int64_t sent,
                                    uint64_t history_usec, int64_t now, char *why, size_t size);

/* "idle", "processing", "stopped", "unreachable". */
const char *lab_printer_state_to_string(lab_printer_state_t s);

/*
 * Why a job the printer stopped, aborted or canceled did not print, as a
 * keyword: media_mismatch (the printer found other media loaded than the
 * job's: Gutenprint's "Incorrect media", IPP media-mismatch), filter_failed
 * (a CUPS filter could not convert the file: processing-stopped with
 * job-completed-with-errors, or document-format/unprintable errors),
 * printer_stopped (held processing-stopped for another reason),
 * printer_aborted, printer_canceled.
 */
const char *lab_pjob_failure(const lab_pjob_status_t *st);

/* "pending", "processing", "completed", "aborted", "canceled", "unknown". */
const char *lab_pjob_state_to_string(lab_pjob_state_t s);

/* Split an IPP reason "media-empty-error" into *out (keyword + severity). */
void lab_printer_reason_parse(const char *value, lab_printer_reason_t *out);

/* ---- media and colour (pure) ---- */

/*
 * The size to send for media (a PWG 5101.1 name) to a printer with caps.
 * explicit_name (printers[].media's name for it, or NULL) must be one of the
 * printer's sizes (PPD name) or media-supported names. Otherwise: a PWG name
 * the printer lists in media-supported is sent as it is (*ret NULL); else
 * the one plain size (a PPD's, or media-col-database's) whose nominal size
 * is media's (within 1 mm, either way round). 0 with *ret (NULL: send media
 * itself); -ENOENT (no such size) or -EEXIST (more than one: a guess) with
 * "printer_refused: ..." in why naming the printer's choices.
 */
int lab_printer_media_choose(const lab_printer_caps_t *caps, const char *printer, const char *media,
                             const char *explicit_name, const lab_printer_size_t **ret, char *why,
                             size_t size);

/*
 * The nominal size of a PPD PageSize name, in hundredths of mm: a name libcups
 * knows (4x6, A4, ...) or Gutenprint's and ppdc's "w<pt>h<pt>"; -EINVAL for
 * anything else (multi-cut names such as w288h432-div2 included).
 */
int lab_ppd_size_nominal(const char *name, int *ret_w, int *ret_h);

/*
 * Whether a file of width x height pixels at dpi fills size's imageable
 * area exactly (either orientation: the filter turns a landscape file), or
 * one pixel short on an edge (imagetoraster truncates the area's last
 * fraction of a pixel). Anything else would be cropped, padded or resampled
 * by the filter. false with "media_size_mismatch: ..." in why (may be NULL).
 */
bool lab_printer_size_fits(const lab_printer_size_t *size, const char *printer, unsigned width,
                           unsigned height, unsigned dpi, char *why, size_t size_why);

/*
 * Whether a status's colour defaults leave the agent's colours alone, given
 * the options the agent sends on every job (they override a default of the
 * same name, as its own print-color-mode=color overrides print-color-mode
 * and the PPD's ColorModel). false with "queue_colour_altered: ..." in buf.
 */
bool lab_printer_colour_ok(const lab_printer_status_t *s, const char *printer,
                           const lab_config_pair_t *options, size_t n_options, char *buf,
                           size_t size);
