/*
 * config-schema.c - every section and key of labagent.yaml as a table, and
 * the walker that decodes a node tree into lab_config_t by that table.
 *
 * Why: the schema is data, not code. One descriptor per key says its name,
 * type, whether it is required (and for which driver), its default, its
 * range or allowed words, a validator and where it lands in the struct. One
 * walker applies the table, so every key gets the same strictness: unknown
 * keys (with a did-you-mean), missing keys, wrong types, duplicate keys and
 * names, bad units and out-of-range values all become problems with a
 * position and a key path. The walker recurses only along the schema (four
 * levels at most), never along the input, and never stops at the first
 * problem. Defaults are filled in before decoding, so lab_config_free can
 * free a half-decoded config.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config-private.h"
#include "config-print-options.h"
#include "url-path.h"

/*
 * The key and section descriptors are declared in config-private.h, because
 * the profile registry (config-profiles.c) is decoded by the same walker; the table
 * below uses the short names.
 */
typedef lab_schema_key_t schema_key_t;
typedef lab_schema_section_t schema_section_t;
typedef lab_string_check_t string_check_t;
#define KEY_STRING   LAB_KEY_STRING
#define KEY_BOOL     LAB_KEY_BOOL
#define KEY_UINT     LAB_KEY_UINT
#define KEY_NUMBER   LAB_KEY_NUMBER
#define KEY_DURATION LAB_KEY_DURATION
#define KEY_SIZE     LAB_KEY_SIZE
#define KEY_ENUM     LAB_KEY_ENUM
#define KEY_SECTION  LAB_KEY_SECTION
#define KEY_LIST     LAB_KEY_LIST
#define KEY_MAP      LAB_KEY_MAP
#define KEY_STRINGS  LAB_KEY_STRINGS

_Static_assert(sizeof(lab_printer_driver_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lab_hotfolder_format_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lab_fit_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lab_meter_driver_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lab_print_quality_t) == sizeof(int), "enums are stored as int");

/* ---- validators ---- */

/* True when s is 1..max characters, each a letter/digit allowed by the flags or in extra. */
static bool is_token(const char *s, size_t max, bool upper, const char *extra)
{
        size_t n = strlen(s);

        if (n == 0 || n > max)
                return false;
        for (; *s; s++) {
                if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))
                        continue;
                if (upper && *s >= 'A' && *s <= 'Z')
                        continue;
                if (!strchr(extra, *s))
                        return false;
        }
        return true;
}

/* True when s starts with prefix and has something after it, with no white space anywhere. */
static bool has_scheme(const char *s, const char *prefix)
{
        size_t n = strlen(prefix);

        return strncmp(s, prefix, n) == 0 && s[n] != '\0' && !strpbrk(s, " \t\r\n");
}

/* lab.id: [a-z0-9-]{1,64}. */
static const char *check_lab_id(const char *s)
{
        return is_token(s, 64, false, "-") ? NULL
                                           : "must be 1 to 64 characters from a-z, 0-9 and '-'";
}

/* printers[].name: an id (url-path.h): [A-Za-z0-9._:-]{1,128}, not "." or "..". */
static const char *check_printer_name(const char *s)
{
        return lab_id_valid(s) ? NULL
                               : "must be 1 to 128 characters from A-Z, a-z, 0-9, '.', '_', ':' "
                                 "and '-', and not '.' or '..'";
}

/* platform.url: https only. */
static const char *check_https_url(const char *s)
{
        return has_scheme(s, "https://") ? NULL : "must be an https:// URL";
}

/* printers[].uri: ipp:// or ipps://. */
static const char *check_ipp_uri(const char *s)
{
        return has_scheme(s, "ipp://") || has_scheme(s, "ipps://")
                   ? NULL
                   : "must be an ipp:// or ipps:// URI";
}

/* Any path the daemon opens: absolute, so it does not depend on the working directory. */
static const char *check_absolute_path(const char *s)
{
        return s[0] == '/' ? NULL : "must be an absolute path (starting with /)";
}

/* metrics.textfile: node_exporter's textfile collector reads only *.prom files. */
static const char *check_prom_path(const char *s)
{
        size_t n = strlen(s);

        if (s[0] != '/')
                return "must be an absolute path (starting with /)";
        if (n < 6 || strcmp(s + n - 5, ".prom") != 0 || s[n - 6] == '/')
                return "must name a file ending in .prom (node_exporter's textfile collector "
                       "reads only those)";
        return NULL;
}

/* printers[].media: product media name -> the queue's own name for it, both plain tokens. */
static const char *check_media_pair(const char *name, const char *value, char *buf, size_t size)
{
        if (!is_token(name, 64, true, "_.-") || !is_token(value, 64, true, "_.-+*")) {
                snprintf(buf, size,
                         "'%.64s: %.64s': media names are 1 to 64 characters from A-Z, a-z, 0-9, "
                         "'_', '.' and '-' (the product's PWG name: the queue's name, as "
                         "lpoptions -p QUEUE -l lists it under PageSize)",
                         name, value);
                return "bad_value";
        }
        return NULL;
}

/* printers[].consumables[].uses: media name -> a positive number of units per print. */
static const char *check_use_pair(const char *name, const char *value, char *buf, size_t size)
{
        char *end = NULL;
        double v;

        errno = 0;
        v = strtod(value, &end);
        if (!is_token(name, 64, true, "_.-") || end == value || *end || errno || !(v > 0) ||
            v > 1e6) {
                snprintf(buf, size,
                         "'%.64s: %.64s': a use is a PWG media name and the units one print of "
                         "it takes, a number above 0 (e.g. na_index-4x6_4x6in: 1)",
                         name, value);
                return "bad_value";
        }
        return NULL;
}

/* ---- the schema ---- */

/* The tables read best one key per entry, aligned by hand. */
/* clang-format off */

static const lab_config_word_t printer_drivers[] = {
        { "ipp", LAB_PRINTER_DRIVER_IPP },
        { "hotfolder", LAB_PRINTER_DRIVER_HOTFOLDER },
        { NULL, 0 },
};

static const lab_config_word_t hotfolder_formats[] = {
        { "generic", LAB_HOTFOLDER_GENERIC },
        { "noritsu", LAB_HOTFOLDER_NORITSU },
        { "dnp", LAB_HOTFOLDER_DNP },
        { NULL, 0 },
};

static const lab_config_word_t print_qualities[] = {
        { "draft", LAB_PRINT_QUALITY_DRAFT },
        { "normal", LAB_PRINT_QUALITY_NORMAL },
        { "high", LAB_PRINT_QUALITY_HIGH },
        { NULL, 0 },
};

static const lab_config_word_t fits[] = {
        { "fill", LAB_FIT_FILL },
        { "fit", LAB_FIT_FIT },
        { "exact", LAB_FIT_EXACT },
        { NULL, 0 },
};

static const lab_config_word_t meter_drivers[] = {
        { "modbus", LAB_METER_DRIVER_MODBUS },
        { "shelly", LAB_METER_DRIVER_SHELLY },
        { "command", LAB_METER_DRIVER_COMMAND },
        { "file", LAB_METER_DRIVER_FILE },
        { NULL, 0 },
};

static const lab_config_word_t meter_presets[] = {
        { "sdm630", LAB_METER_PRESET_SDM630 },
        { "sdm120", LAB_METER_PRESET_SDM120 },
        { NULL, 0 },
};

static const lab_config_word_t meter_components[] = {
        { "switch", LAB_METER_COMPONENT_SWITCH },
        { "em1", LAB_METER_COMPONENT_EM1 },
        { NULL, 0 },
};

#define IN(sec, field)  (offsetof(lab_config_t, sec.field) - offsetof(lab_config_t, sec))
#define IPP_ONLY        (1u << LAB_PRINTER_DRIVER_IPP)
#define HOTFOLDER_ONLY  (1u << LAB_PRINTER_DRIVER_HOTFOLDER)
#define MODBUS_ONLY     (1u << LAB_METER_DRIVER_MODBUS)
#define SHELLY_ONLY     (1u << LAB_METER_DRIVER_SHELLY)
#define FILE_ONLY       (1u << LAB_METER_DRIVER_FILE)
#define COUNTER_DRIVERS ((1u << LAB_METER_DRIVER_COMMAND) | FILE_ONLY)

static const schema_key_t lab_keys[] = {
        { .name = "id", .type = KEY_STRING, .required = true, .offset = IN(lab, id),
          .check = check_lab_id },
        { .name = "name", .type = KEY_STRING, .offset = IN(lab, name) },
};

static const schema_key_t platform_keys[] = {
        { .name = "url", .type = KEY_STRING, .required = true, .offset = IN(platform, url),
          .check = check_https_url },
        { .name = "ca_file", .type = KEY_STRING, .required = true,
          .offset = IN(platform, ca_file), .check = check_absolute_path },
        { .name = "cert_file", .type = KEY_STRING, .required = true,
          .offset = IN(platform, cert_file), .check = check_absolute_path },
        { .name = "key_file", .type = KEY_STRING, .required = true,
          .offset = IN(platform, key_file), .check = check_absolute_path },
        { .name = "poll_wait", .type = KEY_DURATION, .offset = IN(platform, poll_wait),
          .def_uint = 25 * LAB_USEC_PER_SEC,
          .min = LAB_USEC_PER_SEC, .max = 300 * LAB_USEC_PER_SEC },
        { .name = "connect_timeout", .type = KEY_DURATION, .offset = IN(platform, connect_timeout),
          .def_uint = 10 * LAB_USEC_PER_SEC,
          .min = LAB_USEC_PER_SEC, .max = 120 * LAB_USEC_PER_SEC },
        { .name = "trust_system_ca", .type = KEY_BOOL, .offset = IN(platform, trust_system_ca),
          .def_bool = false },
        { .name = "download_attempts", .type = KEY_UINT,
          .offset = IN(platform, download_attempts), .def_uint = 3, .min = 1, .max = 20 },
        { .name = "download_concurrency", .type = KEY_UINT,
          .offset = IN(platform, download_concurrency), .def_uint = 2, .min = 1, .max = 16 },
        { .name = "outbox_max_events", .type = KEY_UINT,
          .offset = IN(platform, outbox_max_events), .def_uint = 100000, .min = 1000,
          .max = 10000000 },
};

static const lab_config_word_t stock_kinds[] = {
        { "paper", LAB_STOCK_KIND_PAPER },
        { "ribbon", LAB_STOCK_KIND_RIBBON },
        { "ink", LAB_STOCK_KIND_INK },
        { "toner", LAB_STOCK_KIND_TONER },
        { "packaging", LAB_STOCK_KIND_PACKAGING },
        { "other", LAB_STOCK_KIND_OTHER },
        { NULL, 0 },
};

static const lab_config_word_t stock_units[] = {
        { "prints", LAB_STOCK_UNIT_PRINTS },
        { "sheets", LAB_STOCK_UNIT_SHEETS },
        { "metres", LAB_STOCK_UNIT_METRES },
        { NULL, 0 },
};

static const lab_config_word_t counted_empty[] = {
        { "warn", LAB_COUNTED_EMPTY_WARN },
        { "hold", LAB_COUNTED_EMPTY_HOLD },
        { NULL, 0 },
};

static const schema_key_t consumable_keys[] = {
        { .name = "name", .type = KEY_STRING, .required = true,
          .offset = offsetof(lab_config_consumable_t, name), .check = check_printer_name },
        { .name = "kind", .type = KEY_ENUM, .required = true,
          .offset = offsetof(lab_config_consumable_t, kind), .words = stock_kinds },
        { .name = "unit", .type = KEY_ENUM,
          .offset = offsetof(lab_config_consumable_t, unit), .words = stock_units,
          .def_enum = LAB_STOCK_UNIT_PRINTS },
        { .name = "capacity", .type = KEY_NUMBER, .required = true,
          .offset = offsetof(lab_config_consumable_t, capacity),
          .min_number = 0.0, .min_exclusive = true, .max_number = 1e7 },
        { .name = "uses", .type = KEY_MAP,
          .offset = offsetof(lab_config_consumable_t, uses),
          .count_offset = offsetof(lab_config_consumable_t, n_uses),
          .pair_check = check_use_pair },
        { .name = "low", .type = KEY_NUMBER,
          .offset = offsetof(lab_config_consumable_t, low), .def_number = -1.0,
          .min_number = 0.0, .max_number = 1e7 },
        { .name = "supply", .type = KEY_STRING,
          .offset = offsetof(lab_config_consumable_t, supply) },
};

static const schema_section_t consumable_section = { .keys = consumable_keys,
        .n_keys = ELEMENTSOF(consumable_keys) };

static const schema_key_t printer_keys[] = {
        { .name = "name", .type = KEY_STRING, .required = true,
          .offset = offsetof(lab_config_printer_t, name), .check = check_printer_name },
        { .name = "driver", .type = KEY_ENUM, .required = true,
          .offset = offsetof(lab_config_printer_t, driver), .words = printer_drivers },
        { .name = "uri", .type = KEY_STRING, .required = true, .only_for = IPP_ONLY,
          .offset = offsetof(lab_config_printer_t, uri), .check = check_ipp_uri },
        { .name = "folder", .type = KEY_STRING, .required = true, .only_for = HOTFOLDER_ONLY,
          .offset = offsetof(lab_config_printer_t, folder), .check = check_absolute_path },
        { .name = "format", .type = KEY_ENUM, .only_for = HOTFOLDER_ONLY,
          .offset = offsetof(lab_config_printer_t, format), .words = hotfolder_formats,
          .def_enum = LAB_HOTFOLDER_GENERIC },
        { .name = "model", .type = KEY_STRING,
          .offset = offsetof(lab_config_printer_t, model) },
        { .name = "enabled", .type = KEY_BOOL,
          .offset = offsetof(lab_config_printer_t, enabled), .def_bool = true },
        { .name = "weight", .type = KEY_NUMBER,
          .offset = offsetof(lab_config_printer_t, weight), .def_number = 1.0,
          .min_number = 0.0, .min_exclusive = true, .max_number = 1000.0 },
        { .name = "timeout", .type = KEY_DURATION,
          .offset = offsetof(lab_config_printer_t, timeout), .def_uint = 30 * LAB_USEC_PER_SEC,
          .min = LAB_USEC_PER_SEC, .max = 300 * LAB_USEC_PER_SEC },
        { .name = "stall_after", .type = KEY_DURATION,
          .offset = offsetof(lab_config_printer_t, stall_after),
          .def_uint = 10 * LAB_USEC_PER_MIN,
          .min = LAB_USEC_PER_SEC, .max = LAB_USEC_PER_DAY },
        { .name = "queue_depth", .type = KEY_UINT,
          .offset = offsetof(lab_config_printer_t, queue_depth), .def_uint = 2, .min = 1,
          .max = 64 },
        { .name = "job_history", .type = KEY_DURATION,
          .offset = offsetof(lab_config_printer_t, job_history),
          .def_uint = 60 * LAB_USEC_PER_SEC, .min = LAB_USEC_PER_SEC,
          .max = 365 * LAB_USEC_PER_DAY },
        { .name = "per_minute", .type = KEY_NUMBER,
          .offset = offsetof(lab_config_printer_t, per_minute), .def_number = 1.0,
          .min_number = 0.0, .min_exclusive = true, .max_number = 1000.0 },
        { .name = "print_quality", .type = KEY_ENUM, .only_for = IPP_ONLY,
          .offset = offsetof(lab_config_printer_t, print_quality), .words = print_qualities,
          .def_enum = LAB_PRINT_QUALITY_HIGH },
        { .name = "options", .type = KEY_MAP, .only_for = IPP_ONLY,
          .offset = offsetof(lab_config_printer_t, options),
          .count_offset = offsetof(lab_config_printer_t, n_options),
          .pair_check = lab_print_option_check },
        { .name = "media", .type = KEY_MAP, .only_for = IPP_ONLY,
          .offset = offsetof(lab_config_printer_t, media),
          .count_offset = offsetof(lab_config_printer_t, n_media),
          .pair_check = check_media_pair },
        { .name = "consumables", .type = KEY_LIST,
          .offset = offsetof(lab_config_printer_t, consumables),
          .count_offset = offsetof(lab_config_printer_t, n_consumables),
          .element_size = sizeof(lab_config_consumable_t), .section = &consumable_section,
          .unique = "name" },
};

static const schema_key_t product_keys[] = {
        { .name = "sku", .type = KEY_STRING, .required = true,
          .offset = offsetof(lab_config_product_t, sku) },
        { .name = "media", .type = KEY_STRING, .required = true,
          .offset = offsetof(lab_config_product_t, media) },
        { .name = "media_type", .type = KEY_STRING,
          .offset = offsetof(lab_config_product_t, media_type),
          .def_string = "photographic-glossy" },
        { .name = "fit", .type = KEY_ENUM,
          .offset = offsetof(lab_config_product_t, fit), .words = fits,
          .def_enum = LAB_FIT_FILL },
        { .name = "sharpen", .type = KEY_NUMBER,
          .offset = offsetof(lab_config_product_t, sharpen), .def_number = 0.0,
          .min_number = 0.0, .max_number = 5.0 },
};

static const schema_key_t profiles_keys[] = {
        { .name = "directory", .type = KEY_STRING, .offset = IN(profiles, directory),
          .def_string = "/usr/share/labagent/profiles", .check = check_absolute_path },
};

static const schema_key_t stock_keys[] = {
        { .name = "low_percent", .type = KEY_UINT, .offset = IN(stock, low_percent),
          .def_uint = 15, .min = 0, .max = 100 },
        { .name = "report_interval", .type = KEY_DURATION, .offset = IN(stock, report_interval),
          .def_uint = 5 * LAB_USEC_PER_MIN,
          .min = LAB_USEC_PER_SEC, .max = LAB_USEC_PER_DAY },
        { .name = "min_change_percent", .type = KEY_UINT, .offset = IN(stock, min_change_percent),
          .def_uint = 2, .min = 1, .max = 100 },
        { .name = "min_change_units", .type = KEY_NUMBER, .offset = IN(stock, min_change_units),
          .def_number = 5.0, .min_number = 0.0, .min_exclusive = true, .max_number = 1e6 },
        { .name = "hysteresis", .type = KEY_UINT, .offset = IN(stock, hysteresis),
          .def_uint = 5, .min = 0, .max = 50 },
        { .name = "max_events_per_hour", .type = KEY_UINT, .offset = IN(stock, max_events_per_hour),
          .def_uint = 12, .min = 1, .max = 3600 },
        { .name = "on_counted_empty", .type = KEY_ENUM, .offset = IN(stock, on_counted_empty),
          .words = counted_empty, .def_enum = LAB_COUNTED_EMPTY_WARN },
};

#define METER(field) offsetof(lab_config_meter_t, field)
#define REGS(field)  offsetof(lab_config_registers_t, field)

static const schema_key_t register_keys[] = {
        { .name = "energy", .type = KEY_UINT, .required = true, .offset = REGS(energy),
          .min = 0, .max = 365536 },
        { .name = "power", .type = KEY_UINT, .offset = REGS(power), .def_uint = 0, .min = 0,
          .max = 365536 },
        { .name = "energy_scale", .type = KEY_NUMBER, .offset = REGS(energy_scale),
          .def_number = 1000.0, .min_number = 0.0, .min_exclusive = true, .max_number = 1e9 },
        { .name = "power_scale", .type = KEY_NUMBER, .offset = REGS(power_scale),
          .def_number = 1.0, .min_number = 0.0, .min_exclusive = true, .max_number = 1e9 },
};

static const schema_section_t register_section = { .keys = register_keys,
        .n_keys = ELEMENTSOF(register_keys) };

static const schema_key_t meter_keys[] = {
        { .name = "name", .type = KEY_STRING, .required = true, .offset = METER(name),
          .check = check_printer_name },
        { .name = "driver", .type = KEY_ENUM, .required = true, .offset = METER(driver),
          .words = meter_drivers },
        { .name = "address", .type = KEY_STRING, .required = true, .offset = METER(address) },
        { .name = "printers", .type = KEY_STRINGS, .offset = METER(printers),
          .count_offset = METER(n_printers), .check = check_printer_name, .unique = "printer" },
        { .name = "interval", .type = KEY_DURATION, .offset = METER(interval),
          .def_uint = 60 * LAB_USEC_PER_SEC, .min = LAB_USEC_PER_SEC, .max = LAB_USEC_PER_DAY },
        { .name = "timeout", .type = KEY_DURATION, .offset = METER(timeout),
          .def_uint = 5 * LAB_USEC_PER_SEC, .min = 100 * LAB_USEC_PER_MSEC,
          .max = 60 * LAB_USEC_PER_SEC },
        { .name = "max_power_w", .type = KEY_NUMBER, .offset = METER(max_power_w),
          .def_number = 0.0, .min_number = 0.0, .max_number = 1e9 },
        { .name = "counter_bits", .type = KEY_UINT, .only_for = COUNTER_DRIVERS,
          .offset = METER(counter_bits), .def_uint = 0, .min = 0, .max = 53 },
        { .name = "preset", .type = KEY_ENUM, .only_for = MODBUS_ONLY, .offset = METER(preset),
          .words = meter_presets, .def_enum = LAB_METER_PRESET_NONE },
        { .name = "registers", .type = KEY_SECTION, .only_for = MODBUS_ONLY,
          .offset = METER(registers), .section = &register_section },
        { .name = "component", .type = KEY_ENUM, .only_for = SHELLY_ONLY,
          .offset = METER(component), .words = meter_components,
          .def_enum = LAB_METER_COMPONENT_SWITCH },
        { .name = "channel", .type = KEY_UINT, .only_for = SHELLY_ONLY, .offset = METER(channel),
          .def_uint = 0, .min = 0, .max = 255 },
        { .name = "username", .type = KEY_STRING, .only_for = SHELLY_ONLY,
          .offset = METER(username) },
        { .name = "password", .type = KEY_STRING, .only_for = SHELLY_ONLY,
          .offset = METER(password) },
        { .name = "scale", .type = KEY_NUMBER, .only_for = FILE_ONLY, .offset = METER(scale),
          .def_number = 1.0 / 3.6e9, .min_number = 0.0, .min_exclusive = true,
          .max_number = 1e9 },
};

static const schema_key_t energy_keys[] = {
        { .name = "grid_gco2e_per_kwh", .type = KEY_NUMBER,
          .offset = IN(energy, grid_gco2e_per_kwh), .def_number = -1.0, .min_number = 0.0,
          .max_number = 5000.0 },
        { .name = "report_interval", .type = KEY_DURATION, .offset = IN(energy, report_interval),
          .def_uint = 5 * LAB_USEC_PER_MIN, .min = LAB_USEC_PER_SEC, .max = LAB_USEC_PER_DAY },
};

static const schema_key_t metrics_keys[] = {
        { .name = "textfile", .type = KEY_STRING, .offset = IN(metrics, textfile),
          .check = check_prom_path },
};

static const schema_key_t storage_keys[] = {
        { .name = "state_dir", .type = KEY_STRING, .offset = IN(storage, state_dir),
          .def_string = "/var/lib/labagent", .check = check_absolute_path },
        { .name = "spool_max", .type = KEY_SIZE, .offset = IN(storage, spool_max),
          .def_uint = 20 * LAB_GIB, .min = LAB_MIB },
        { .name = "max_asset_size", .type = KEY_SIZE, .offset = IN(storage, max_asset_size),
          .def_uint = 200 * LAB_MIB, .min = LAB_KIB },
        { .name = "retention", .type = KEY_DURATION, .offset = IN(storage, retention),
          .def_uint = 14 * LAB_USEC_PER_DAY, .min = LAB_USEC_PER_MIN,
          .max = 3650 * LAB_USEC_PER_DAY },
};

static const schema_key_t logging_keys[] = {
        { .name = "level", .type = KEY_ENUM, .offset = IN(logging, level),
          .words = lab_config_log_levels, .def_enum = LOG_INFO },
};

static const schema_key_t render_keys[] = {
        { .name = "max_pixels", .type = KEY_UINT, .offset = IN(render, max_pixels),
          .def_uint = 100000000, .min = 1000000, .max = 1000000000 },
        { .name = "workers", .type = KEY_UINT, .offset = IN(render, workers),
          .def_uint = 0, .min = 0, .max = 64 },
        { .name = "threads", .type = KEY_UINT, .offset = IN(render, threads),
          .def_uint = 1, .min = 1, .max = 16 },
        { .name = "cache_max", .type = KEY_SIZE, .offset = IN(render, cache_max),
          .def_uint = 64 * LAB_MIB, .min = LAB_MIB },
        { .name = "gamut_warn", .type = KEY_NUMBER, .offset = IN(render, gamut_warn),
          .def_number = 0.05, .min_number = 0.0, .max_number = 1.0 },
};

static const schema_key_t jobs_keys[] = {
        { .name = "max_attempts", .type = KEY_UINT, .offset = IN(jobs, max_attempts),
          .def_uint = 3, .min = 1, .max = 20 },
        { .name = "poll_interval", .type = KEY_DURATION, .offset = IN(jobs, poll_interval),
          .def_uint = 2 * LAB_USEC_PER_SEC, .min = LAB_USEC_PER_SEC / 10,
          .max = 60 * LAB_USEC_PER_SEC },
        { .name = "backlog_max", .type = KEY_UINT, .offset = IN(jobs, backlog_max),
          .def_uint = 500, .min = 1, .max = 1000000 },
        { .name = "status_interval", .type = KEY_DURATION, .offset = IN(jobs, status_interval),
          .def_uint = 10 * LAB_USEC_PER_SEC, .min = LAB_USEC_PER_SEC,
          .max = 600 * LAB_USEC_PER_SEC },
};

static const schema_key_t control_keys[] = {
        { .name = "socket", .type = KEY_STRING, .offset = IN(control, socket),
          .def_string = "/run/labagent/control.sock", .check = check_absolute_path },
        { .name = "operators_group", .type = KEY_STRING, .offset = IN(control, operators_group),
          .def_string = "labagent-operators" },
        { .name = "viewers_group", .type = KEY_STRING, .offset = IN(control, viewers_group),
          .def_string = "labagent-viewers" },
        { .name = "stuck_after", .type = KEY_DURATION, .offset = IN(control, stuck_after),
          .def_uint = 10 * LAB_USEC_PER_MIN, .min = LAB_USEC_PER_SEC,
          .max = LAB_USEC_PER_DAY },
};

#define SECTION(k, sel) { .keys = k, .n_keys = ELEMENTSOF(k), .selector = sel }

static const schema_section_t lab_section      = SECTION(lab_keys, NULL);
static const schema_section_t platform_section = SECTION(platform_keys, NULL);
static const schema_section_t printer_section  = SECTION(printer_keys, "driver");
static const schema_section_t product_section  = SECTION(product_keys, NULL);
static const schema_section_t profiles_section = SECTION(profiles_keys, NULL);
static const schema_section_t stock_section    = SECTION(stock_keys, NULL);
static const schema_section_t meter_section    = SECTION(meter_keys, "driver");
static const schema_section_t energy_section   = SECTION(energy_keys, NULL);
static const schema_section_t metrics_section  = SECTION(metrics_keys, NULL);
static const schema_section_t storage_section  = SECTION(storage_keys, NULL);
static const schema_section_t logging_section  = SECTION(logging_keys, NULL);
static const schema_section_t render_section   = SECTION(render_keys, NULL);
static const schema_section_t jobs_section     = SECTION(jobs_keys, NULL);
static const schema_section_t control_section  = SECTION(control_keys, NULL);

static const schema_key_t root_keys[] = {
        { .name = "lab", .type = KEY_SECTION, .required = true,
          .offset = offsetof(lab_config_t, lab), .section = &lab_section },
        { .name = "platform", .type = KEY_SECTION, .required = true,
          .offset = offsetof(lab_config_t, platform), .section = &platform_section },
        { .name = "printers", .type = KEY_LIST, .offset = offsetof(lab_config_t, printers),
          .count_offset = offsetof(lab_config_t, n_printers),
          .element_size = sizeof(lab_config_printer_t), .section = &printer_section,
          .unique = "name" },
        { .name = "products", .type = KEY_LIST, .offset = offsetof(lab_config_t, products),
          .count_offset = offsetof(lab_config_t, n_products),
          .element_size = sizeof(lab_config_product_t), .section = &product_section,
          .unique = "sku" },
        { .name = "profiles", .type = KEY_SECTION, .offset = offsetof(lab_config_t, profiles),
          .section = &profiles_section },
        { .name = "stock", .type = KEY_SECTION, .offset = offsetof(lab_config_t, stock),
          .section = &stock_section },
        { .name = "meters", .type = KEY_LIST, .offset = offsetof(lab_config_t, meters),
          .count_offset = offsetof(lab_config_t, n_meters),
          .element_size = sizeof(lab_config_meter_t), .section = &meter_section,
          .unique = "name" },
        { .name = "energy", .type = KEY_SECTION, .offset = offsetof(lab_config_t, energy),
          .section = &energy_section },
        { .name = "metrics", .type = KEY_SECTION, .offset = offsetof(lab_config_t, metrics),
          .section = &metrics_section },
        { .name = "storage", .type = KEY_SECTION, .offset = offsetof(lab_config_t, storage),
          .section = &storage_section },
        { .name = "logging", .type = KEY_SECTION, .offset = offsetof(lab_config_t, logging),
          .section = &logging_section },
        { .name = "render", .type = KEY_SECTION, .offset = offsetof(lab_config_t, render),
          .section = &render_section },
        { .name = "jobs", .type = KEY_SECTION, .offset = offsetof(lab_config_t, jobs),
          .section = &jobs_section },
        { .name = "control", .type = KEY_SECTION, .offset = offsetof(lab_config_t, control),
          .section = &control_section },
};

static const schema_section_t root_section = SECTION(root_keys, NULL);

/* clang-format on */

/* ---- defaults and freeing, both driven by the table ---- */

/* Address of key k's field inside base. */
static void *field(void *base, const schema_key_t *k)
{
        return (char *)base + k->offset;
}

/* Set every default of sec inside base (lists start empty). */
static int section_defaults(const schema_section_t *sec, void *base)
{
        for (size_t i = 0; i < sec->n_keys; i++) {
                const schema_key_t *k = &sec->keys[i];
                void *p = field(base, k);

                switch (k->type) {
                case KEY_STRING:
                        if (k->def_string) {
                                char *s = strdup(k->def_string);

                                if (!s)
                                        return -ENOMEM;
                                *(char **)p = s;
                        }
                        break;
                case KEY_BOOL:
                        *(bool *)p = k->def_bool;
                        break;
                case KEY_UINT:
                        *(unsigned *)p = (unsigned)k->def_uint;
                        break;
                case KEY_NUMBER:
                        *(double *)p = k->def_number;
                        break;
                case KEY_DURATION:
                case KEY_SIZE:
                        *(uint64_t *)p = k->def_uint;
                        break;
                case KEY_ENUM:
                        memcpy(p, &k->def_enum, sizeof(int));
                        break;
                case KEY_SECTION: {
                        int r = section_defaults(k->section, p);

                        if (r < 0)
                                return r;
                        break;
                }
                case KEY_LIST:
                case KEY_MAP:
                case KEY_STRINGS:
                        break;
                }
        }
        return 0;
}

/* Free every string and list of sec inside base. */
static void section_free(const schema_section_t *sec, void *base)
{
        for (size_t i = 0; i < sec->n_keys; i++) {
                const schema_key_t *k = &sec->keys[i];
                void *p = field(base, k);

                if (k->type == KEY_STRING) {
                        free(*(char **)p);
                        *(char **)p = NULL;
                } else if (k->type == KEY_SECTION) {
                        section_free(k->section, p);
                } else if (k->type == KEY_LIST) {
                        char *v = *(char **)p;
                        size_t *n = (size_t *)((char *)base + k->count_offset);

                        for (size_t j = 0; v && j < *n; j++)
                                section_free(k->section, v + j * k->element_size);
                        free(v);
                        *(char **)p = NULL;
                        *n = 0;
                } else if (k->type == KEY_STRINGS) {
                        char **v = *(char ***)p;
                        size_t *n = (size_t *)((char *)base + k->count_offset);

                        for (size_t j = 0; v && j < *n; j++)
                                free(v[j]);
                        free(v);
                        *(char ***)p = NULL;
                        *n = 0;
                } else if (k->type == KEY_MAP) {
                        lab_config_pair_t *v = *(lab_config_pair_t **)p;
                        size_t *n = (size_t *)((char *)base + k->count_offset);

                        for (size_t j = 0; v && j < *n; j++) {
                                free(v[j].name);
                                free(v[j].value);
                        }
                        free(v);
                        *(lab_config_pair_t **)p = NULL;
                        *n = 0;
                }
        }
}

void lab_config_schema_free(lab_config_t *c)
{
        section_free(&root_section, c);
}

void lab_schema_free(const lab_schema_section_t *sec, void *base)
{
        section_free(sec, base);
}

/* ---- helpers for the walker ---- */

/* Report a problem at node n. */
#define PROBLEM(ctx, n, path, kw, ...)                                                             \
        lab_config_problem_add(ctx, (n)->line, (n)->column, path, kw, __VA_ARGS__)

/* "parent.key" ("key" at the top; a long key cut to 64 bytes), malloc'd; ENOMEM in ctx. */
static char *path_key(lab_config_ctx_t *ctx, const char *parent, const char *key)
{
        size_t len = strlen(key), cut = len;
        char *p;

        if (len > 64)
                for (cut = 64; cut > 0 && ((unsigned char)key[cut] & 0xc0) == 0x80; cut--)
                        ; /* do not split a UTF-8 sequence */
        if (asprintf(&p, "%s%s%.*s%s", parent, parent[0] ? "." : "", (int)cut, key,
                     cut < len ? "..." : "") < 0) {
                ctx->error = -ENOMEM;
                return NULL;
        }
        return p;
}

/* "parent[i]", malloc'd; sets ctx->error on failure. */
static char *path_index(lab_config_ctx_t *ctx, const char *parent, size_t i)
{
        char *p;

        if (asprintf(&p, "%s[%zu]", parent, i) < 0) {
                ctx->error = -ENOMEM;
                return NULL;
        }
        return p;
}

/* True for a plain scalar YAML reads as null: empty, ~, null. */
static bool is_null(const lab_ynode_t *n)
{
        return n->type == LAB_YNODE_SCALAR && n->plain &&
               (n->length == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
                strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0);
}

/* How a node is named in "expected X, got Y". */
static void describe(const lab_ynode_t *n, char *buf, size_t size)
{
        if (n->type == LAB_YNODE_MAPPING)
                snprintf(buf, size, "a mapping");
        else if (n->type == LAB_YNODE_SEQUENCE)
                snprintf(buf, size, "a list");
        else if (n->type == LAB_YNODE_ALIAS)
                snprintf(buf, size, "an alias");
        else if (is_null(n))
                snprintf(buf, size, "nothing (null)");
        else if (!n->plain)
                snprintf(buf, size, "a quoted string");
        else
                snprintf(buf, size, "'%.64s'", n->value);
}

/* Report wrong_type: expected what, got n. */
static void wrong_type(lab_config_ctx_t *ctx, const lab_ynode_t *n, const char *path,
                       const char *what)
{
        char got[96];

        describe(n, got, sizeof got);
        PROBLEM(ctx, n, path, "wrong_type", "expected %s, got %s", what, got);
}

/* True when n uses a YAML feature the config refuses (alias, anchor, tag). */
static bool uses_yaml_extras(const lab_ynode_t *n)
{
        return n->type == LAB_YNODE_ALIAS || n->anchored || n->tagged;
}

/* Refuse YAML features the config does not use (aliases, anchors, tags). True if n is usable. */
static bool node_usable(lab_config_ctx_t *ctx, const lab_ynode_t *n, const char *path)
{
        if (n->type == LAB_YNODE_ALIAS || n->anchored) {
                PROBLEM(ctx, n, path, "bad_value",
                        "YAML anchors and aliases are not supported; write the value out");
                return false;
        }
        if (n->tagged) {
                PROBLEM(ctx, n, path, "bad_value", "YAML tags (!tag) are not supported");
                return false;
        }
        return true;
}

/* Levenshtein distance of a and b, or SIZE_MAX when either is too long to bother. */
static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        size_t row[65], prev;

        if (la > 64 || lb > 64)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                prev = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cur = row[j];
                        size_t best = prev + (a[i - 1] == b[j - 1] ? 0 : 1);

                        if (row[j] + 1 < best)
                                best = row[j] + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        prev = cur;
                }
        }
        return row[lb];
}

/* The key of sec named name, or NULL. */
static const schema_key_t *find_key(const schema_section_t *sec, const char *name)
{
        for (size_t i = 0; i < sec->n_keys; i++)
                if (strcmp(sec->keys[i].name, name) == 0)
                        return &sec->keys[i];
        return NULL;
}

/* Report an unknown key, suggesting the nearest known one (edit distance <= 2). */
static void unknown_key(lab_config_ctx_t *ctx, const schema_section_t *sec, const lab_ynode_t *key,
                        const char *path)
{
        const char *best = NULL;
        size_t best_d = 3;
        char known[256] = "";
        size_t used = 0;

        for (size_t i = 0; i < sec->n_keys; i++) {
                size_t d = edit_distance(key->value, sec->keys[i].name);
                int n;

                if (d < best_d) {
                        best_d = d;
                        best = sec->keys[i].name;
                }
                n = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                             sec->keys[i].name);
                if (n > 0 && (size_t)n < sizeof known - used)
                        used += (size_t)n;
        }
        if (best)
                PROBLEM(ctx, key, path, "unknown_key", "unknown key; did you mean '%s'?", best);
        else
                PROBLEM(ctx, key, path, "unknown_key", "unknown key; known keys here: %s", known);
}

/* The first value node of mapping m under a scalar key named name, or NULL. */
static const lab_ynode_t *map_get(const lab_ynode_t *m, const char *name)
{
        for (size_t i = 0; i + 1 < m->n_items; i += 2) {
                const lab_ynode_t *k = m->items[i];

                if (k->type == LAB_YNODE_SCALAR && strcmp(k->value, name) == 0)
                        return m->items[i + 1];
        }
        return NULL;
}

typedef struct name_ref_s {
        const char *name;
        size_t index;
} name_ref_t;

/* Order by name, then by position, so the first of equal names sorts first. */
static int name_ref_compare(const void *a, const void *b)
{
        const name_ref_t *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        if (c != 0)
                return c;
        return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * For each of the n names, set first[i] to the index of the earlier entry with
 * the same name, or SIZE_MAX. NULL names never match. O(n log n), because a
 * hostile file can hold a mapping with a hundred thousand keys.
 */
static int find_repeats(const char **names, size_t n, size_t *first)
{
        _cleanup_free_ name_ref_t *refs = NULL;
        size_t m = 0;

        for (size_t i = 0; i < n; i++)
                first[i] = SIZE_MAX;
        if (n < 2)
                return 0;
        refs = reallocarray(NULL, n, sizeof *refs);
        if (!refs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (names[i])
                        refs[m++] = (name_ref_t){names[i], i};
        qsort(refs, m, sizeof *refs, name_ref_compare);
        for (size_t i = 1; i < m; i++)
                if (strcmp(refs[i].name, refs[i - 1].name) == 0)
                        first[refs[i].index] = first[refs[i - 1].index] == SIZE_MAX
                                                   ? refs[i - 1].index
                                                   : first[refs[i - 1].index];
        return 0;
}

/* Words of an enum key whose values are in mask, joined as "a, b". */
static void words_in_mask(const lab_config_word_t *words, unsigned mask, char *buf, size_t size)
{
        size_t used = 0;

        buf[0] = '\0';
        for (const lab_config_word_t *w = words; w->word; w++) {
                int n;

                if (!(mask & (1u << w->value)))
                        continue;
                n = snprintf(buf + used, size - used, "%s%s", used ? " or " : "", w->word);
                if (n < 0 || (size_t)n >= size - used)
                        return;
                used += (size_t)n;
        }
}

/* ---- range checks ---- */

/* Write the allowed range of an unsigned-valued key in its own units. */
static void range_text(const schema_key_t *k, char *buf, size_t size)
{
        char lo[32], hi[32];

        if (k->type == KEY_DURATION) {
                lab_format_duration(k->min, lo, sizeof lo);
                lab_format_duration(k->max, hi, sizeof hi);
        } else if (k->type == KEY_SIZE) {
                lab_format_size(k->min, lo, sizeof lo);
                lab_format_size(k->max, hi, sizeof hi);
        } else {
                snprintf(lo, sizeof lo, "%" PRIu64, k->min);
                snprintf(hi, sizeof hi, "%" PRIu64, k->max);
        }
        if (k->max == 0)
                snprintf(buf, size, "at least %s", lo);
        else
                snprintf(buf, size, "between %s and %s", lo, hi);
}

/* True when v lies in k's [min, max] (max 0: no upper limit); reports out_of_range otherwise. */
static bool check_range(lab_config_ctx_t *ctx, const schema_key_t *k, const lab_ynode_t *n,
                        const char *path, uint64_t v)
{
        char range[96];

        if (v >= k->min && (k->max == 0 || v <= k->max))
                return true;
        range_text(k, range, sizeof range);
        PROBLEM(ctx, n, path, "out_of_range", "'%.64s' is out of range; must be %s", n->value,
                range);
        return false;
}

/* ---- decoding scalars ---- */

/* True when s is -?[0-9]+. */
static bool is_integer_text(const char *s)
{
        if (*s == '-')
                s++;
        if (*s < '0' || *s > '9')
                return false;
        while (*s >= '0' && *s <= '9')
                s++;
        return *s == '\0';
}

/* True when s is -?[0-9]+(.[0-9]+)?([eE][-+]?[0-9]+)? (no hex, inf or nan). */
static bool is_number_text(const char *s)
{
        if (*s == '-')
                s++;
        if (*s < '0' || *s > '9')
                return false;
        while (*s >= '0' && *s <= '9')
                s++;
        if (*s == '.') {
                s++;
                if (*s < '0' || *s > '9')
                        return false;
                while (*s >= '0' && *s <= '9')
                        s++;
        }
        if (*s == 'e' || *s == 'E') {
                s++;
                if (*s == '-' || *s == '+')
                        s++;
                if (*s < '0' || *s > '9')
                        return false;
                while (*s >= '0' && *s <= '9')
                        s++;
        }
        return *s == '\0';
}

/* What a scalar key expects, for wrong_type messages. */
static const char *expected_text(const schema_key_t *k)
{
        switch (k->type) {
        case KEY_BOOL:
                return "true or false";
        case KEY_UINT:
                return "an integer";
        case KEY_NUMBER:
                return "a number";
        case KEY_DURATION:
                return "a duration such as 25s";
        case KEY_SIZE:
                return "a size such as 200MiB";
        case KEY_ENUM:
                return "a word";
        case KEY_SECTION:
                return "a mapping";
        case KEY_LIST:
                return "a list";
        case KEY_MAP:
                return "a mapping of names to values";
        case KEY_STRINGS:
                return "a list of strings";
        case KEY_STRING:
        default:
                return "a string";
        }
}

/* Decode the scalar n into key k's field in base. */
static void decode_scalar(lab_config_ctx_t *ctx, const schema_key_t *k, const lab_ynode_t *n,
                          void *base, const char *path)
{
        void *p = field(base, k);
        uint64_t u;
        int r;

        if (!node_usable(ctx, n, path))
                return;
        if (n->type != LAB_YNODE_SCALAR || is_null(n)) {
                wrong_type(ctx, n, path, expected_text(k));
                return;
        }
        if (strlen(n->value) != n->length) {
                PROBLEM(ctx, n, path, "bad_value", "must not contain NUL characters");
                return;
        }

        switch (k->type) {
        case KEY_STRING: {
                const char *why = n->length == 0 ? "must not be empty"
                                  : k->check     ? k->check(n->value)
                                                 : NULL;
                char *s;

                if (why) {
                        PROBLEM(ctx, n, path, "bad_value", "%s", why);
                        return;
                }
                s = strdup(n->value);
                if (!s) {
                        ctx->error = -ENOMEM;
                        return;
                }
                free(*(char **)p);
                *(char **)p = s;
                return;
        }
        case KEY_BOOL:
                if (n->plain && (strcmp(n->value, "true") == 0 || strcmp(n->value, "false") == 0))
                        *(bool *)p = n->value[0] == 't';
                else
                        wrong_type(ctx, n, path, expected_text(k));
                return;
        case KEY_UINT: {
                long long v;

                if (!n->plain || !is_integer_text(n->value)) {
                        wrong_type(ctx, n, path, expected_text(k));
                        return;
                }
                errno = 0;
                v = strtoll(n->value, NULL, 10);
                if (errno == ERANGE || v < 0 || v > UINT_MAX || (uint64_t)v < k->min ||
                    (k->max != 0 && (uint64_t)v > k->max)) {
                        char range[96];

                        range_text(k, range, sizeof range);
                        PROBLEM(ctx, n, path, "out_of_range", "'%.64s' is out of range; must be %s",
                                n->value, range);
                        return;
                }
                *(unsigned *)p = (unsigned)v;
                return;
        }
        case KEY_NUMBER: {
                double v;

                if (!n->plain || !is_number_text(n->value)) {
                        wrong_type(ctx, n, path, expected_text(k));
                        return;
                }
                v = strtod(n->value, NULL);
                if (!isfinite(v) || (k->min_exclusive ? v <= k->min_number : v < k->min_number) ||
                    v > k->max_number) {
                        PROBLEM(ctx, n, path, "out_of_range",
                                "'%.64s' is out of range; must be %s %g and at most %g", n->value,
                                k->min_exclusive ? "greater than" : "at least", k->min_number,
                                k->max_number);
                        return;
                }
                *(double *)p = v;
                return;
        }
        case KEY_DURATION:
                r = lab_parse_duration(n->value, &u);
                if (r == -ERANGE)
                        PROBLEM(ctx, n, path, "bad_duration", "duration '%.64s' is too large",
                                n->value);
                else if (r < 0)
                        PROBLEM(ctx, n, path, "bad_duration",
                                "invalid duration '%.64s'; write whole numbers with units "
                                "(ms, s, m, h, d) and no spaces, e.g. 25s or 1h30m",
                                n->value);
                else if (check_range(ctx, k, n, path, u))
                        *(uint64_t *)p = u;
                return;
        case KEY_SIZE:
                r = lab_parse_size(n->value, &u);
                if (r == -ERANGE)
                        PROBLEM(ctx, n, path, "bad_size", "size '%.64s' is too large", n->value);
                else if (r < 0)
                        PROBLEM(ctx, n, path, "bad_size",
                                "invalid size '%.64s'; write a whole number and a unit "
                                "(B, kB, MB, GB, TB, KiB, MiB, GiB, TiB) and no space, "
                                "e.g. 200MiB",
                                n->value);
                else if (check_range(ctx, k, n, path, u))
                        *(uint64_t *)p = u;
                return;
        case KEY_ENUM: {
                char allowed[128];

                r = lab_config_word_lookup(k->words, n->value);
                if (r >= 0) {
                        memcpy(p, &r, sizeof(int));
                        return;
                }
                lab_config_words_join(k->words, allowed, sizeof allowed);
                PROBLEM(ctx, n, path, "bad_value", "unknown value '%.64s'; allowed: %s", n->value,
                        allowed);
                return;
        }
        case KEY_SECTION:
        case KEY_LIST:
        case KEY_MAP:
        case KEY_STRINGS:
                return; /* not scalars */
        }
}

/* ---- walking mappings and lists ---- */

static void walk_section(lab_config_ctx_t *ctx, const schema_section_t *sec, const lab_ynode_t *m,
                         void *base, const char *path);

/* Report later elements of list whose unique key repeats an earlier element's. */
static void check_unique(lab_config_ctx_t *ctx, const schema_key_t *k, const lab_ynode_t *list,
                         const char *path)
{
        size_t n = list->n_items;
        _cleanup_free_ const char **names = NULL;
        _cleanup_free_ const lab_ynode_t **nodes = NULL;
        _cleanup_free_ size_t *first = NULL;

        if (n < 2)
                return;
        names = calloc(n, sizeof *names);
        nodes = calloc(n, sizeof *nodes);
        first = calloc(n, sizeof *first);
        if (!names || !nodes || !first) {
                ctx->error = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const lab_ynode_t *item = list->items[i], *v;

                if (item->type != LAB_YNODE_MAPPING)
                        continue;
                v = map_get(item, k->unique);
                if (v && v->type == LAB_YNODE_SCALAR && !is_null(v)) {
                        names[i] = v->value;
                        nodes[i] = v;
                }
        }
        if (find_repeats(names, n, first) < 0) {
                ctx->error = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < n && !lab_config_ctx_stopped(ctx); i++) {
                _cleanup_free_ char *ipath = NULL, *kpath = NULL;

                if (first[i] == SIZE_MAX)
                        continue;
                ipath = path_index(ctx, path, i);
                kpath = ipath ? path_key(ctx, ipath, k->unique) : NULL;
                if (!kpath)
                        return;
                PROBLEM(ctx, nodes[i], kpath, "duplicate_name",
                        "duplicate %s '%.64s'; first used at line %u", k->unique, names[i],
                        nodes[first[i]]->line);
        }
}

/* Decode the list n (of mappings) into key k's pointer and count in base. */
static void walk_list(lab_config_ctx_t *ctx, const schema_key_t *k, const lab_ynode_t *n,
                      void *base, const char *path)
{
        char *v;

        if (!node_usable(ctx, n, path))
                return;
        if (n->type != LAB_YNODE_SEQUENCE) {
                wrong_type(ctx, n, path, "a list");
                return;
        }
        if (n->n_items == 0)
                return;
        v = calloc(n->n_items, k->element_size);
        if (!v) {
                ctx->error = -ENOMEM;
                return;
        }
        /* Owned by base from here on, so freeing a half-decoded config works. */
        *(char **)field(base, k) = v;
        *(size_t *)((char *)base + k->count_offset) = n->n_items;

        for (size_t i = 0; i < n->n_items; i++) {
                void *elem = v + i * k->element_size;
                _cleanup_free_ char *ipath = NULL;

                if (section_defaults(k->section, elem) < 0) {
                        ctx->error = -ENOMEM;
                        return;
                }
                if (lab_config_ctx_stopped(ctx))
                        continue; /* keep filling defaults so every element is freeable */
                ipath = path_index(ctx, path, i);
                if (!ipath)
                        continue;
                walk_section(ctx, k->section, n->items[i], elem, ipath);
        }
        if (k->unique && !lab_config_ctx_stopped(ctx))
                check_unique(ctx, k, n, path);
}

/*
 * The key path of pair i of mapping m, once its key is checked: usable, a
 * scalar (what: how the key is named in wrong_type), not a repeat of an
 * earlier key (first[], from find_repeats). NULL when a problem was
 * reported, or out of memory (ctx->error).
 */
static char *checked_key_path(lab_config_ctx_t *ctx, const lab_ynode_t *m, size_t i,
                              const size_t *first, const char *path, const char *what)
{
        const lab_ynode_t *key = m->items[2 * i];
        char *kpath;

        if (!node_usable(ctx, key, path))
                return NULL;
        if (key->type != LAB_YNODE_SCALAR || is_null(key) || strlen(key->value) != key->length) {
                wrong_type(ctx, key, path, what);
                return NULL;
        }
        kpath = path_key(ctx, path, key->value);
        if (kpath && first[i] != SIZE_MAX) {
                PROBLEM(ctx, key, kpath, "duplicate_key", "duplicate key; first defined at line %u",
                        m->items[2 * first[i]]->line);
                free(kpath);
                return NULL;
        }
        return kpath;
}

/*
 * Decode the mapping n of names to scalar strings into key k's pairs and
 * count in base; each entry checked by k->pair_check. Duplicate names are
 * reported (the walker of sections does the same for keys).
 */
static void walk_map(lab_config_ctx_t *ctx, const schema_key_t *k, const lab_ynode_t *n, void *base,
                     const char *path)
{
        size_t n_pairs, *count = (size_t *)((char *)base + k->count_offset);
        _cleanup_free_ const char **names = NULL;
        _cleanup_free_ size_t *first = NULL;
        lab_config_pair_t *v;

        if (!node_usable(ctx, n, path))
                return;
        if (n->type != LAB_YNODE_MAPPING) {
                wrong_type(ctx, n, path, expected_text(k));
                return;
        }
        n_pairs = n->n_items / 2;
        if (n_pairs == 0)
                return;
        names = calloc(n_pairs, sizeof *names);
        first = calloc(n_pairs, sizeof *first);
        v = calloc(n_pairs, sizeof *v);
        if (!names || !first || !v) {
                free(v);
                ctx->error = -ENOMEM;
                return;
        }
        /* Owned by base from here on, so freeing a half-decoded config works. */
        *(lab_config_pair_t **)field(base, k) = v;
        for (size_t i = 0; i < n_pairs; i++)
                if (n->items[2 * i]->type == LAB_YNODE_SCALAR)
                        names[i] = n->items[2 * i]->value;
        if (find_repeats(names, n_pairs, first) < 0) {
                ctx->error = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < n_pairs && !lab_config_ctx_stopped(ctx); i++) {
                const lab_ynode_t *key = n->items[2 * i], *value = n->items[2 * i + 1];
                _cleanup_free_ char *kpath = checked_key_path(ctx, n, i, first, path, "a name");
                const char *kw;
                char why[512];

                if (!kpath || !node_usable(ctx, value, kpath))
                        continue;
                if (value->type != LAB_YNODE_SCALAR || is_null(value) || value->length == 0 ||
                    strlen(value->value) != value->length) {
                        wrong_type(ctx, value, kpath, "a value (write it in quotes if in doubt)");
                        continue;
                }
                kw =
                    k->pair_check ? k->pair_check(key->value, value->value, why, sizeof why) : NULL;
                if (kw) {
                        PROBLEM(ctx, key, kpath, kw, "%s", why);
                        continue;
                }
                v[*count].name = strdup(key->value);
                v[*count].value = strdup(value->value);
                (*count)++;
                if (!v[*count - 1].name || !v[*count - 1].value) {
                        ctx->error = -ENOMEM;
                        return;
                }
        }
}

/* Decode the list n (of strings, each checked as a KEY_STRING) into key k's array and count. */
static void walk_strings(lab_config_ctx_t *ctx, const schema_key_t *k, const lab_ynode_t *n,
                         void *base, const char *path)
{
        schema_key_t each = *k;
        _cleanup_free_ const char **names = NULL;
        _cleanup_free_ size_t *first = NULL;
        char **v;

        if (!node_usable(ctx, n, path))
                return;
        if (n->type != LAB_YNODE_SEQUENCE) {
                wrong_type(ctx, n, path, "a list of strings");
                return;
        }
        if (n->n_items == 0)
                return;
        v = calloc(n->n_items, sizeof *v);
        names = calloc(n->n_items, sizeof *names);
        first = calloc(n->n_items, sizeof *first);
        if (!v || !names || !first) {
                free(v);
                ctx->error = -ENOMEM;
                return;
        }
        /* Owned by base from here on, so freeing a half-decoded config works. */
        *(char ***)field(base, k) = v;
        *(size_t *)((char *)base + k->count_offset) = n->n_items;
        each.type = KEY_STRING;
        each.offset = 0;
        for (size_t i = 0; i < n->n_items && !lab_config_ctx_stopped(ctx); i++) {
                _cleanup_free_ char *ipath = path_index(ctx, path, i);

                if (!ipath)
                        return;
                decode_scalar(ctx, &each, n->items[i], &v[i], ipath);
                names[i] = v[i];
        }
        if (!k->unique || lab_config_ctx_stopped(ctx))
                return;
        if (find_repeats(names, n->n_items, first) < 0) {
                ctx->error = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < n->n_items && !lab_config_ctx_stopped(ctx); i++) {
                _cleanup_free_ char *ipath = NULL;

                if (first[i] == SIZE_MAX)
                        continue;
                ipath = path_index(ctx, path, i);
                if (ipath)
                        PROBLEM(ctx, n->items[i], ipath, "duplicate_name",
                                "'%.64s' is listed twice; first at line %u", names[i],
                                n->items[first[i]]->line);
        }
}

/* Decode value n of key k (any type) into base. */
static void decode_value(lab_config_ctx_t *ctx, const schema_key_t *k, const lab_ynode_t *n,
                         void *base, const char *path)
{
        if (k->type == KEY_SECTION)
                walk_section(ctx, k->section, n, field(base, k), path);
        else if (k->type == KEY_LIST)
                walk_list(ctx, k, n, base, path);
        else if (k->type == KEY_MAP)
                walk_map(ctx, k, n, base, path);
        else if (k->type == KEY_STRINGS)
                walk_strings(ctx, k, n, base, path);
        else
                decode_scalar(ctx, k, n, base, path);
}

/* The value of the selector key in mapping m, or -1 when it is absent or not a known word. */
static int selector_value(const schema_section_t *sec, const lab_ynode_t *m)
{
        const schema_key_t *k;
        const lab_ynode_t *v;
        int r;

        if (!sec->selector)
                return -1;
        k = find_key(sec, sec->selector);
        v = map_get(m, sec->selector);
        if (!k || !v || v->type != LAB_YNODE_SCALAR)
                return -1;
        r = lab_config_word_lookup(k->words, v->value);
        return r < 0 ? -1 : r;
}

/* Decode the mapping m by the keys of sec into base, reporting every problem. */
static void walk_section(lab_config_ctx_t *ctx, const schema_section_t *sec, const lab_ynode_t *m,
                         void *base, const char *path)
{
        size_t n_pairs;
        _cleanup_free_ const char **names = NULL;
        _cleanup_free_ size_t *first = NULL;
        int sel;

        if (!node_usable(ctx, m, path))
                return;
        if (m->type != LAB_YNODE_MAPPING) {
                wrong_type(ctx, m, path, "a mapping");
                return;
        }
        n_pairs = m->n_items / 2;
        names = calloc(n_pairs + 1, sizeof *names);
        first = calloc(n_pairs + 1, sizeof *first);
        if (!names || !first) {
                ctx->error = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < n_pairs; i++) {
                const lab_ynode_t *key = m->items[2 * i];

                if (key->type == LAB_YNODE_SCALAR)
                        names[i] = key->value;
        }
        if (find_repeats(names, n_pairs, first) < 0) {
                ctx->error = -ENOMEM;
                return;
        }
        sel = selector_value(sec, m);

        /* Missing keys are reported at the mapping's start, so before anything inside it. */
        for (size_t i = 0; i < sec->n_keys && !lab_config_ctx_stopped(ctx); i++) {
                const schema_key_t *k = &sec->keys[i];
                _cleanup_free_ char *kpath = NULL;

                if (!k->required || map_get(m, k->name))
                        continue;
                if (k->only_for && (sel < 0 || !(k->only_for & (1u << sel))))
                        continue; /* belongs to another variant, or the variant is unknown */
                kpath = path_key(ctx, path, k->name);
                if (kpath)
                        PROBLEM(ctx, m, kpath, "missing_key", "required key missing");
        }

        for (size_t i = 0; i < n_pairs && !lab_config_ctx_stopped(ctx); i++) {
                const lab_ynode_t *key = m->items[2 * i], *value = m->items[2 * i + 1];
                _cleanup_free_ char *kpath = checked_key_path(ctx, m, i, first, path, "a key name");
                const schema_key_t *k;

                if (!kpath)
                        continue;
                k = find_key(sec, key->value);
                if (!k) {
                        unknown_key(ctx, sec, key, kpath);
                        continue;
                }
                if (k->only_for && sel >= 0 && !(k->only_for & (1u << sel))) {
                        const schema_key_t *s = find_key(sec, sec->selector);
                        char which[64];

                        words_in_mask(s->words, k->only_for, which, sizeof which);
                        PROBLEM(ctx, key, kpath, "bad_value", "only valid when %s is %s",
                                sec->selector, which);
                        continue;
                }
                decode_value(ctx, k, value, base, kpath);
        }
}

int lab_schema_decode(lab_config_ctx_t *ctx, const lab_schema_section_t *sec,
                      const lab_ynode_t *root, void *base, const char *empty_text,
                      const char *root_text)
{
        int r;

        r = section_defaults(sec, base);
        if (r < 0)
                return r;

        if (!root || is_null(root)) {
                lab_config_problem_add(ctx, 1, 1, "", "wrong_type", "%s", empty_text);
                return ctx->error;
        }
        if (root->type != LAB_YNODE_MAPPING && !uses_yaml_extras(root)) {
                wrong_type(ctx, root, "", root_text);
                return ctx->error;
        }
        walk_section(ctx, sec, root, base, "");
        return ctx->error;
}

/* ---- what one key cannot say: a meter's keys against each other and the printers ---- */

/* Report a problem at key name of meters[i] (or at the meter's mapping when the key is absent). */
static void meter_problem(lab_config_ctx_t *ctx, const lab_ynode_t *meter, size_t i,
                          const char *name, const char *keyword, const char *sentence)
{
        const lab_ynode_t *at = lab_ynode_map_get(meter, name);
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "meters[%zu].%s", i, name) < 0) {
                ctx->error = -ENOMEM;
                return;
        }
        at = at ? at : meter;
        PROBLEM(ctx, at, path, keyword, "%s", sentence);
}

/*
 * Each meter: the keys its driver needs together (a Modbus meter's preset or
 * register map, a Shelly password with its user name, an absolute path for a
 * command or a file, a timeout shorter than the interval), and its printers:
 * each one configured, and on one meter at most (a copy's energy is shared
 * on the circuit it was printed on). Only for meters that decoded cleanly.
 */
static void check_meters(lab_config_ctx_t *ctx, const lab_ynode_t *root, const lab_config_t *c)
{
        const lab_ynode_t *list = lab_ynode_map_get(root, "meters");

        if (!list || list->type != LAB_YNODE_SEQUENCE || list->n_items != c->n_meters)
                return;
        for (size_t i = 0; i < c->n_meters && !lab_config_ctx_stopped(ctx); i++) {
                const lab_config_meter_t *m = &c->meters[i];
                const lab_ynode_t *node = list->items[i], *names;
                bool path_driver =
                    m->driver == LAB_METER_DRIVER_COMMAND || m->driver == LAB_METER_DRIVER_FILE;

                if (!m->name || !m->address)
                        continue; /* already reported */
                if (m->driver == LAB_METER_DRIVER_MODBUS && m->preset == LAB_METER_PRESET_NONE &&
                    m->registers.energy == 0)
                        meter_problem(ctx, node, i, "preset", "missing_key",
                                      "a modbus meter needs a preset (sdm630, sdm120) or a "
                                      "registers map");
                if (m->driver == LAB_METER_DRIVER_MODBUS && m->preset != LAB_METER_PRESET_NONE &&
                    m->registers.energy != 0)
                        meter_problem(ctx, node, i, "registers", "bad_value",
                                      "give a preset or a registers map, not both");
                if (path_driver && m->address[0] != '/')
                        meter_problem(ctx, node, i, "address", "bad_value",
                                      "must be an absolute path (starting with /)");
                if (!m->username != !m->password)
                        meter_problem(ctx, node, i, m->username ? "username" : "password",
                                      "missing_key",
                                      "digest authentication needs both username and password");
                if (m->timeout >= m->interval)
                        meter_problem(ctx, node, i, "timeout", "out_of_range",
                                      "must be shorter than the meter's interval");
                names = lab_ynode_map_get(node, "printers");
                for (size_t j = 0; j < m->n_printers && !lab_config_ctx_stopped(ctx); j++) {
                        const lab_ynode_t *at =
                            names && j < names->n_items ? names->items[j] : node;
                        _cleanup_free_ char *path = NULL;

                        if (!m->printers[j])
                                continue;
                        if (asprintf(&path, "meters[%zu].printers[%zu]", i, j) < 0) {
                                ctx->error = -ENOMEM;
                                return;
                        }
                        if (!lab_config_find_printer(c, m->printers[j])) {
                                PROBLEM(ctx, at, path, "unknown_printer",
                                        "no printer named '%.64s' in printers; name a printer "
                                        "of this file, or remove it from the meter",
                                        m->printers[j]);
                                continue;
                        }
                        for (size_t k = 0; k < i; k++) {
                                bool seen = false;

                                for (size_t l = 0; l < c->meters[k].n_printers; l++)
                                        seen = seen || (c->meters[k].printers[l] &&
                                                        strcmp(c->meters[k].printers[l],
                                                               m->printers[j]) == 0);
                                if (seen) {
                                        PROBLEM(ctx, at, path, "duplicate_name",
                                                "printer '%.64s' is already on meter '%.64s'; "
                                                "a printer is on one meter at most",
                                                m->printers[j], c->meters[k].name);
                                        break;
                                }
                        }
                }
        }
}

int lab_config_schema_decode(lab_config_ctx_t *ctx, const lab_ynode_t *root, lab_config_t *c)
{
        size_t before = lab_config_ctx_count(ctx);
        int r;

        r = lab_schema_decode(ctx, &root_section, root, c,
                              "the file is empty; expected a mapping with at least the "
                              "sections lab and platform",
                              "a mapping of sections (lab, platform, ...)");
        if (r >= 0 && lab_config_ctx_count(ctx) == before)
                check_meters(ctx, root, c);
        return ctx->error;
}

const lab_ynode_t *lab_ynode_map_get(const lab_ynode_t *m, const char *name)
{
        return m && m->type == LAB_YNODE_MAPPING ? map_get(m, name) : NULL;
}
