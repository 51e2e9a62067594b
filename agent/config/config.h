/*
 * config.h - the daemon's configuration as typed structs, and its strict loader.
 *
 * Why: lab IT edits /etc/labagent/labagent.yaml by hand. Every mistake in it
 * (unknown key, wrong type, missing key, duplicate name, bad unit) must be
 * reported with file:line:column and the key path, and the daemon must refuse
 * to start rather than guess. The loader never logs: it returns the list of
 * problems and the caller decides where they go.
 *
 * Durations are stored in microseconds (uint64_t, like sd-event), sizes in
 * bytes (uint64_t).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum lab_printer_driver_e {
        LAB_PRINTER_DRIVER_IPP,       /* CUPS queue or IPP Everywhere printer */
        LAB_PRINTER_DRIVER_HOTFOLDER, /* minilab hot folder */
} lab_printer_driver_t;

typedef enum lab_hotfolder_format_e {
        LAB_HOTFOLDER_GENERIC, /* file + JSON sidecar, done/ and error/ */
        LAB_HOTFOLDER_NORITSU, /* DPOF order folder */
        LAB_HOTFOLDER_DNP,     /* one folder per print size */
} lab_hotfolder_format_t;

typedef enum lab_print_quality_e {
        LAB_PRINT_QUALITY_DRAFT = 3, /* the IPP print-quality enum values */
        LAB_PRINT_QUALITY_NORMAL = 4,
        LAB_PRINT_QUALITY_HIGH = 5,
} lab_print_quality_t;

typedef enum lab_fit_e {
        LAB_FIT_FILL,  /* crop to fill the print */
        LAB_FIT_FIT,   /* fit inside, white border */
        LAB_FIT_EXACT, /* input must already have the print's aspect */
} lab_fit_t;

/* How a meter is read (meters[].driver; drivers/meter.h has the drivers). */
typedef enum lab_meter_driver_e {
        LAB_METER_DRIVER_MODBUS,  /* Modbus TCP, a preset or a register map */
        LAB_METER_DRIVER_SHELLY,  /* a Shelly Gen2 plug or meter, RPC over HTTP */
        LAB_METER_DRIVER_COMMAND, /* an executable printing JSON */
        LAB_METER_DRIVER_FILE,    /* a counter file (hwmon energy1_input) */
} lab_meter_driver_t;

/* A Modbus meter's preset (meters[].preset). */
typedef enum lab_meter_preset_e {
        LAB_METER_PRESET_NONE, /* registers: gives the map */
        LAB_METER_PRESET_SDM630,
        LAB_METER_PRESET_SDM120,
} lab_meter_preset_t;

/* Which Shelly RPC component a shelly meter reads (meters[].component). */
typedef enum lab_meter_component_e {
        LAB_METER_COMPONENT_SWITCH, /* Switch.GetStatus: plugs and relays with metering */
        LAB_METER_COMPONENT_EM1,    /* EM1.GetStatus + EM1Data.GetStatus: energy meters */
} lab_meter_component_t;

/* What a consumable is (printers[].consumables[].kind; stock.h names them). */
typedef enum lab_stock_kind_e {
        LAB_STOCK_KIND_PAPER,
        LAB_STOCK_KIND_RIBBON,
        LAB_STOCK_KIND_INK,
        LAB_STOCK_KIND_TONER,
        LAB_STOCK_KIND_PACKAGING,
        LAB_STOCK_KIND_OTHER,
} lab_stock_kind_t;

/* What a consumable is counted in (printers[].consumables[].unit; stock.h names them). */
typedef enum lab_stock_unit_e {
        LAB_STOCK_UNIT_PRINTS,
        LAB_STOCK_UNIT_SHEETS,
        LAB_STOCK_UNIT_METRES,
        LAB_STOCK_UNIT_PERCENT, /* a printer's level with no count: never declared */
} lab_stock_unit_t;

/* What a counted stock of zero does (stock.on_counted_empty). */
typedef enum lab_counted_empty_e {
        LAB_COUNTED_EMPTY_WARN, /* stock.out only: an estimate never stops a lab by itself */
        LAB_COUNTED_EMPTY_HOLD, /* and the printer takes no new work until stock is loaded */
} lab_counted_empty_t;

/* One entry of a mapping of names to strings (printers[].options, printers[].media). */
typedef struct lab_config_pair_s {
        char *name;
        char *value;
} lab_config_pair_t;

/*
 * One consumable no device reports, declared for a printer: counted by the
 * agent from what it prints (uses), or recorded by technicians only (no uses).
 */
typedef struct lab_config_consumable_s {
        char *name;              /* unique in the printer, an id (url-path.h) */
        lab_stock_kind_t kind;   /* required */
        lab_stock_unit_t unit;   /* prints (default), sheets or metres */
        double capacity;         /* a full load, in unit, > 0, required */
        lab_config_pair_t *uses; /* PWG media name -> units one print of it uses (a number) */
        size_t n_uses;           /* 0: the technicians' record alone (source technician) */
        double low;              /* low at or below this (unit); < 0: stock.low_percent of
                                    capacity (default) */
        char *supply;            /* the printer's supply that counts it too (its name), or
                                    NULL: where it reports a count, that count wins */
} lab_config_consumable_t;

typedef struct lab_config_printer_s {
        char *name;                    /* unique, [A-Za-z0-9_.-]{1,64} */
        lab_printer_driver_t driver;   /* required */
        char *uri;                     /* ipp: required, ipp:// or ipps:// */
        char *folder;                  /* hotfolder: required, absolute path */
        lab_hotfolder_format_t format; /* hotfolder: default generic */
        char *model;                   /* optional: media table key */
        bool enabled;                  /* default true */
        double weight;                 /* routing weight, > 0, default 1.0 */
        uint64_t timeout;              /* usec: one request to the printer, default 30s, 1s..300s */
        uint64_t stall_after;          /* usec: work not taken up by then = stalled, default 10m */
        lab_print_quality_t print_quality; /* ipp: print-quality, default high */
        unsigned queue_depth;              /* copies sent and not finished at once, default 2 */
        double per_minute;                 /* prints a minute, for the router, default 1.0 */
        uint64_t job_history;       /* usec the printer keeps finished jobs listed, default 60s */
        lab_config_pair_t *options; /* ipp: job attributes sent with every job (driver options
                                       such as StpColorCorrection: Raw); none colour-altering */
        size_t n_options;
        lab_config_pair_t *media; /* ipp: product media (PWG name) -> the queue's own media name */
        size_t n_media;
        lab_config_consumable_t *consumables; /* stock no device reports (docs/stock.md) */
        size_t n_consumables;
} lab_config_printer_t;

/* The value of name in pairs, or NULL. */
const char *lab_config_pair_get(const lab_config_pair_t *pairs, size_t n, const char *name);

typedef struct lab_config_product_s {
        char *sku;        /* unique */
        char *media;      /* PWG 5101.1 media size name, required */
        char *media_type; /* default "photographic-glossy" */
        lab_fit_t fit;    /* default fill */
        double sharpen;   /* output sharpening sigma in pixels, 0 (none, default) .. 5 */
} lab_config_product_t;

/* A Modbus register map (meters[].registers): float32 input registers, high word first. */
typedef struct lab_config_registers_s {
        unsigned energy; /* cumulative energy register (30073, or the 0-based address), required */
        unsigned power;  /* instant power register; 0: the meter has none */
        double energy_scale; /* the register's figure × this = Wh; default 1000 (kWh) */
        double power_scale;  /* the register's figure × this = W; default 1 */
} lab_config_registers_t;

typedef struct lab_config_meter_s {
        char *name; /* unique */
        lab_meter_driver_t driver;
        char *address;   /* modbus: host[:port][/unit]; shelly: host[:port] or http(s) URL;
                            command, file: an absolute path */
        char **printers; /* the printers on this circuit (each on one meter at most) */
        size_t n_printers;
        uint64_t interval;     /* usec between samples, default 60s, 1s..1d */
        uint64_t timeout;      /* usec, one read, default 5s, 100ms..60s, below interval */
        double max_power_w;    /* a power above this is meter_bad_value; 0 (default): no limit */
        unsigned counter_bits; /* command, file: the counter wraps modulo 2^bits; 0: never */
        /* modbus: a preset or a register map, one of the two */
        lab_meter_preset_t preset;
        lab_config_registers_t registers; /* registers.energy 0: no map given */
        /* shelly */
        lab_meter_component_t component; /* default switch */
        unsigned channel;                /* the component's id, default 0 */
        char *username;                  /* HTTP digest authentication; NULL: none */
        char *password;
        /* file */
        double scale; /* Wh per unit of the file's number; default 1/3.6e9 (µJ) */
} lab_config_meter_t;

typedef struct lab_config_s {
        char *path; /* file it was loaded from */

        struct {
                char *id;   /* required, [a-z0-9-]{1,64} */
                char *name; /* optional, human name */
        } lab;

        struct {
                char *url;                     /* required, https:// */
                char *ca_file;                 /* required, absolute path */
                char *cert_file;               /* required, absolute path */
                char *key_file;                /* required, absolute path */
                uint64_t poll_wait;            /* usec, default 25s, 1s..300s */
                uint64_t connect_timeout;      /* usec, default 10s */
                bool trust_system_ca;          /* also trust the system CA store, default false */
                unsigned download_attempts;    /* per asset, default 3, 1..20 */
                unsigned download_concurrency; /* parallel downloads, default 2, 1..16 */
                unsigned outbox_max_events;    /* telemetry shed above this, default 100000 */
        } platform;

        lab_config_printer_t *printers;
        size_t n_printers;

        lab_config_product_t *products;
        size_t n_products;

        struct {
                char *directory; /* profile registry, default /usr/share/labagent/profiles */
        } profiles;

        struct {
                unsigned low_percent;         /* low at or below this level, default 15 */
                uint64_t report_interval;     /* usec: stock.level at most this often, 5m */
                unsigned min_change_percent;  /* stock.level when a level moved this much, 2 */
                double min_change_units;      /* ... or a count this much, default 5 */
                unsigned hysteresis;          /* percent points above low to be ok again, 5 */
                unsigned max_events_per_hour; /* stock.low/out/ok per printer, default 12 */
                lab_counted_empty_t on_counted_empty; /* default warn */
        } stock;

        lab_config_meter_t *meters;
        size_t n_meters;

        struct {
                double grid_gco2e_per_kwh; /* the grid's carbon intensity; < 0 (default): unknown */
                uint64_t report_interval;  /* usec: energy.reading per meter, default 5m */
        } energy;

        struct {
                char *textfile; /* Prometheus textfile (*.prom) to write; NULL (default): none */
        } metrics;

        struct {
                char *state_dir;         /* default /var/lib/labagent */
                uint64_t spool_max;      /* bytes, default 20GiB */
                uint64_t max_asset_size; /* bytes, default 200MiB */
                uint64_t retention; /* usec: files of finished jobs kept this long, default 14d */
        } storage;

        struct {
                int level; /* syslog priority, default LOG_INFO */
        } logging;

        struct {
                unsigned max_pixels; /* input width × height above which image_too_large, default
                                        100000000 */
                unsigned workers;    /* renders at once; 0 (default): one per CPU core */
                unsigned threads;    /* libvips threads per render, default 1, 1..16 */
                uint64_t cache_max;  /* libvips operation cache, bytes, default 64MiB */
                double gamut_warn;   /* share of out-of-gamut pixels that raises a quality warning,
                                        default 0.05 */
        } render;

        struct {
                unsigned max_attempts; /* attempts per copy before it fails, default 3 */
                unsigned backlog_max;  /* jobs waiting to print above which no offer is claimed,
                                          default 500 */
                uint64_t
                    poll_interval; /* usec: how often printing copies are checked, default 2s */
                uint64_t status_interval; /* usec: how often printer health is read, default 10s */
        } jobs;

        struct {
                char *socket; /* the console's unix socket, default /run/labagent/control.sock */
                char *operators_group; /* may act (pause, reprint), default labagent-operators */
                char *viewers_group;   /* may look, default labagent-viewers */
                uint64_t
                    stuck_after; /* usec: a job unchanged this long is shown stuck, default 10m */
        } control;
} lab_config_t;

/* One problem found in a config file. */
typedef struct lab_config_problem_s {
        char *file;      /* as given to the loader */
        unsigned line;   /* 1-based; 0 when the file could not be read at all */
        unsigned column; /* 1-based */
        char *key_path;  /* "printers[1].uri"; "" for the document itself */
        char *keyword;   /* stable: unknown_key, missing_key, wrong_type, ... */
        char *message;   /* a sentence for a person */
} lab_config_problem_t;

typedef struct lab_config_problems_s {
        lab_config_problem_t *v;
        size_t n;
} lab_config_problems_t;

/*
 * Load and validate a config file. On success returns 0 and sets *ret.
 * On failure returns a negative errno (-EINVAL for an invalid config, the
 * open/read errno for an unreadable file), leaves *ret NULL and appends every
 * problem found to *problems (the caller frees them with
 * lab_config_problems_clear).
 */
int lab_config_load_file(const char *path,                 /* I - file to read */
                         lab_config_t **ret,               /* O - config */
                         lab_config_problems_t *problems); /* O - problems found */

/* As lab_config_load_file, from memory; name is used in problem reports. */
int lab_config_load_buffer(const char *name, const char *buf, size_t len, lab_config_t **ret,
                           lab_config_problems_t *problems);

/* Free a config (NULL is fine). */
void lab_config_free(lab_config_t *c);

/* Find a printer by name, NULL if none. */
const lab_config_printer_t *lab_config_find_printer(const lab_config_t *c, const char *name);

/* Find a product by SKU (whether the lab sells it), NULL if none. */
const lab_config_product_t *lab_config_find_product(const lab_config_t *c, const char *sku);

/* Format one problem as "file:line:col: key.path: message [keyword]" (malloc'd). */
char *lab_config_problem_format(const lab_config_problem_t *p);

/* Print every problem, one line each, to f. */
void lab_config_problems_print(const lab_config_problems_t *problems, FILE *f);

/* Free the problems and reset the list to empty. */
void lab_config_problems_clear(lab_config_problems_t *problems);

/* Parse "25s", "5m", "1h30m", "250ms", "2d" into usec. 0 on success, -EINVAL/-ERANGE. */
int lab_parse_duration(const char *s, uint64_t *ret);

/* Parse "200MiB", "20GiB", "512KiB", "1GB", "4096B" into bytes. 0 on success, -EINVAL/-ERANGE. */
int lab_parse_size(const char *s, uint64_t *ret);

/* Log-level names: error, warning, notice, info, debug -> syslog priority; -EINVAL if unknown. */
int lab_parse_log_level(const char *s);
