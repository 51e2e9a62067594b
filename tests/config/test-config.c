/*
 * test-config.c - the strict config loader, file by file.
 *
 * Why: lab IT's only feedback on a hand-edited labagent.yaml is the list of
 * problems the loader prints. Each test here feeds one class of mistake and
 * asserts the exact lines ("file:line:col: key.path: message [keyword]"),
 * the return code and that no config escapes; the good files assert every
 * decoded field, so a dropped default or a misplaced offset fails too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include <cmocka.h>

#include "config.h"
#include "problems.h"
#include "testutil.h"

#define SEC  UINT64_C(1000000)
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
#define KIB  UINT64_C(1024)
#define MIB  (1024 * KIB)
#define GIB  (1024 * MIB)

#define NAME "labagent.yaml"

/* The two required sections, valid; 7 lines, so bad parts appended start at line 8. */
#define HEADER                                                                                     \
        "lab:\n"                                                                                   \
        "  id: berlin-01\n"                                                                        \
        "platform:\n"                                                                              \
        "  url: https://labs.example.com/api\n"                                                    \
        "  ca_file: /etc/labagent/ca.pem\n"                                                        \
        "  cert_file: /etc/labagent/lab.crt\n"                                                     \
        "  key_file: /etc/labagent/lab.key\n"

/* Load yaml as NAME and assert it fails with -EINVAL and exactly the lines in want. */
static void expect_bad(const char *yaml, const char *const *want, size_t n)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = (lab_config_t *)&problems; /* must be reset to NULL */
        int r;

        r = lab_config_load_buffer(NAME, yaml, strlen(yaml), &c, &problems);
        if (r != -EINVAL)
                lab_test_dump_problems(&problems);
        assert_int_equal(r, -EINVAL);
        assert_null(c);
        lab_test_assert_problems(&problems, want, n);
        lab_config_problems_clear(&problems);
        assert_int_equal(problems.n, 0);
        assert_null(problems.v);
}

#define EXPECT_BAD(yaml, ...)                                                                      \
        do {                                                                                       \
                const char *const _want[] = {__VA_ARGS__};                                         \
                expect_bad(yaml, _want, sizeof _want / sizeof _want[0]);                           \
        } while (0)

/* Load yaml as NAME and assert it succeeds without problems. */
static lab_config_t *expect_good(const char *yaml)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = NULL;
        int r;

        r = lab_config_load_buffer(NAME, yaml, strlen(yaml), &c, &problems);
        if (r != 0 || problems.n != 0)
                lab_test_dump_problems(&problems);
        assert_int_equal(r, 0);
        assert_int_equal(problems.n, 0);
        assert_non_null(c);
        return c;
}

static const char full_yaml[] =
    "# every key set to a value other than its default\n"
    "lab:\n"
    "  id: berlin-01\n"
    "  name: Berlin Kreuzberg\n"
    "platform:\n"
    "  url: https://labs.example.com/api/v1\n"
    "  ca_file: /etc/labagent/tls/ca.pem\n"
    "  cert_file: /etc/labagent/tls/lab.crt\n"
    "  key_file: /etc/labagent/tls/lab.key\n"
    "  poll_wait: 1m30s\n"
    "  connect_timeout: 2500ms\n"
    "  trust_system_ca: true\n"
    "  download_attempts: 5\n"
    "  download_concurrency: 4\n"
    "  outbox_max_events: 5000\n"
    "printers:\n"
    "  - name: ds620\n"
    "    driver: ipp\n"
    "    uri: ipp://localhost:631/printers/ds620\n"
    "    model: dnp-ds620\n"
    "    enabled: false\n"
    "    weight: 2.5\n"
    "  - name: Noritsu_QSS.1\n"
    "    driver: hotfolder\n"
    "    folder: /srv/hot/qss\n"
    "    format: noritsu\n"
    "  - name: dnp-folder\n"
    "    driver: hotfolder\n"
    "    folder: \"/srv/hot/dnp\"\n"
    "    format: dnp\n"
    "    weight: 1000\n"
    "  - {name: everywhere, driver: ipp, uri: 'ipps://printer.lab:631/ipp/print', "
    "weight: 1e-3}\n"
    "products:\n"
    "  - sku: 4x6-glossy\n"
    "    media: na_index-4x6_4x6in\n"
    "  - sku: 5x7-matte\n"
    "    media: na_5x7_5x7in\n"
    "    media_type: photographic-matte\n"
    "    fit: exact\n"
    "    sharpen: 1.5\n"
    "  - sku: 8x10\n"
    "    media: na_govt-letter_8x10in\n"
    "    fit: fit\n"
    "profiles:\n"
    "  directory: /opt/profiles\n"
    "stock:\n"
    "  low_percent: 0\n"
    "  report_interval: 1d\n"
    "meters:\n"
    "  - name: panel\n"
    "    driver: modbus\n"
    "    address: 192.168.10.40:502/1\n"
    "    preset: sdm630\n"
    "    printers: [ds620, dnp-folder]\n"
    "    max_power_w: 3600\n"
    "  - name: plug\n"
    "    driver: shelly\n"
    "    address: http://plug.lab\n"
    "    printers: [Noritsu_QSS.1]\n"
    "    component: em1\n"
    "    channel: 2\n"
    "    username: admin\n"
    "    password: secret\n"
    "    interval: 2s\n"
    "    timeout: 1500ms\n"
    "energy:\n"
    "  grid_gco2e_per_kwh: 380.5\n"
    "  report_interval: 1m\n"
    "metrics:\n"
    "  textfile: /var/lib/prometheus/node-exporter/labagent.prom\n"
    "storage:\n"
    "  state_dir: /srv/labagent\n"
    "  spool_max: 1MiB\n"
    "  max_asset_size: 1KiB\n"
    "logging:\n"
    "  level: debug\n"
    "render:\n"
    "  max_pixels: 50000000\n"
    "  threads: 4\n"
    "  cache_max: 256MiB\n"
    "  gamut_warn: 0.2\n";

/* A file setting every key decodes into exactly those values; defaults fill the rest. */
static void test_full(void **state)
{
        lab_config_t *c;
        const lab_config_printer_t *p;
        const lab_config_product_t *pr;
        const lab_config_meter_t *m;

        (void)state;
        c = expect_good(full_yaml);
        assert_string_equal(c->path, NAME);
        assert_string_equal(c->lab.id, "berlin-01");
        assert_string_equal(c->lab.name, "Berlin Kreuzberg");
        assert_string_equal(c->platform.url, "https://labs.example.com/api/v1");
        assert_string_equal(c->platform.ca_file, "/etc/labagent/tls/ca.pem");
        assert_string_equal(c->platform.cert_file, "/etc/labagent/tls/lab.crt");
        assert_string_equal(c->platform.key_file, "/etc/labagent/tls/lab.key");
        assert_int_equal(c->platform.poll_wait, 90 * SEC);
        assert_int_equal(c->platform.connect_timeout, 2500 * UINT64_C(1000));
        assert_true(c->platform.trust_system_ca);
        assert_int_equal(c->platform.download_attempts, 5);
        assert_int_equal(c->platform.download_concurrency, 4);
        assert_int_equal(c->platform.outbox_max_events, 5000);

        assert_int_equal(c->n_printers, 4);
        p = &c->printers[0];
        assert_string_equal(p->name, "ds620");
        assert_int_equal(p->driver, LAB_PRINTER_DRIVER_IPP);
        assert_string_equal(p->uri, "ipp://localhost:631/printers/ds620");
        assert_null(p->folder);
        assert_int_equal(p->format, LAB_HOTFOLDER_GENERIC);
        assert_string_equal(p->model, "dnp-ds620");
        assert_false(p->enabled);
        assert_true(p->weight == 2.5);
        p = &c->printers[1];
        assert_string_equal(p->name, "Noritsu_QSS.1");
        assert_int_equal(p->driver, LAB_PRINTER_DRIVER_HOTFOLDER);
        assert_null(p->uri);
        assert_string_equal(p->folder, "/srv/hot/qss");
        assert_int_equal(p->format, LAB_HOTFOLDER_NORITSU);
        assert_null(p->model);
        assert_true(p->enabled);
        assert_true(p->weight == 1.0);
        p = &c->printers[2];
        assert_string_equal(p->name, "dnp-folder");
        assert_string_equal(p->folder, "/srv/hot/dnp");
        assert_int_equal(p->format, LAB_HOTFOLDER_DNP);
        assert_true(p->weight == 1000.0);
        p = &c->printers[3];
        assert_string_equal(p->name, "everywhere");
        assert_int_equal(p->driver, LAB_PRINTER_DRIVER_IPP);
        assert_string_equal(p->uri, "ipps://printer.lab:631/ipp/print");
        assert_true(p->enabled);
        assert_true(p->weight == 0.001);

        assert_int_equal(c->n_products, 3);
        pr = &c->products[0];
        assert_string_equal(pr->sku, "4x6-glossy");
        assert_string_equal(pr->media, "na_index-4x6_4x6in");
        assert_string_equal(pr->media_type, "photographic-glossy");
        assert_int_equal(pr->fit, LAB_FIT_FILL);
        assert_true(pr->sharpen == 0.0);
        pr = &c->products[1];
        assert_string_equal(pr->sku, "5x7-matte");
        assert_string_equal(pr->media, "na_5x7_5x7in");
        assert_string_equal(pr->media_type, "photographic-matte");
        assert_int_equal(pr->fit, LAB_FIT_EXACT);
        assert_true(pr->sharpen == 1.5);
        pr = &c->products[2];
        assert_string_equal(pr->sku, "8x10");
        assert_int_equal(pr->fit, LAB_FIT_FIT);

        assert_string_equal(c->profiles.directory, "/opt/profiles");
        assert_int_equal(c->stock.low_percent, 0);
        assert_int_equal(c->stock.report_interval, DAY);

        assert_int_equal(c->n_meters, 2);
        m = &c->meters[0];
        assert_string_equal(m->name, "panel");
        assert_int_equal(m->driver, LAB_METER_DRIVER_MODBUS);
        assert_string_equal(m->address, "192.168.10.40:502/1");
        assert_int_equal(m->interval, 60 * SEC);
        assert_int_equal(m->timeout, 5 * SEC);
        assert_int_equal(m->preset, LAB_METER_PRESET_SDM630);
        assert_int_equal(m->registers.energy, 0);
        assert_int_equal(m->n_printers, 2);
        assert_string_equal(m->printers[0], "ds620");
        assert_string_equal(m->printers[1], "dnp-folder");
        assert_true(m->max_power_w == 3600.0);
        assert_int_equal(m->counter_bits, 0);
        m = &c->meters[1];
        assert_string_equal(m->name, "plug");
        assert_int_equal(m->driver, LAB_METER_DRIVER_SHELLY);
        assert_string_equal(m->address, "http://plug.lab");
        assert_int_equal(m->interval, 2 * SEC);
        assert_int_equal(m->timeout, 1500 * (SEC / 1000));
        assert_int_equal(m->component, LAB_METER_COMPONENT_EM1);
        assert_int_equal(m->channel, 2);
        assert_string_equal(m->username, "admin");
        assert_string_equal(m->password, "secret");
        assert_true(m->max_power_w == 0.0);
        assert_true(c->energy.grid_gco2e_per_kwh == 380.5);
        assert_int_equal(c->energy.report_interval, MIN);
        assert_string_equal(c->metrics.textfile, "/var/lib/prometheus/node-exporter/labagent.prom");

        assert_string_equal(c->storage.state_dir, "/srv/labagent");
        assert_int_equal(c->storage.spool_max, MIB);
        assert_int_equal(c->storage.max_asset_size, KIB);
        assert_int_equal(c->logging.level, LOG_DEBUG);
        assert_int_equal(c->render.max_pixels, 50000000);
        assert_int_equal(c->render.threads, 4);
        assert_int_equal(c->render.cache_max, 256 * MIB);
        assert_true(c->render.gamut_warn == 0.2);

        assert_ptr_equal(lab_config_find_printer(c, "dnp-folder"), &c->printers[2]);
        assert_ptr_equal(lab_config_find_printer(c, "ds620"), &c->printers[0]);
        assert_null(lab_config_find_printer(c, "DS620"));
        assert_null(lab_config_find_printer(c, NULL));
        assert_null(lab_config_find_printer(NULL, "ds620"));
        lab_config_free(c);
}

/* Only the required keys: every optional key takes its documented default. */
static void test_defaults(void **state)
{
        lab_config_t *c;

        (void)state;
        c = expect_good(HEADER);
        assert_string_equal(c->lab.id, "berlin-01");
        assert_null(c->lab.name);
        assert_string_equal(c->platform.url, "https://labs.example.com/api");
        assert_int_equal(c->platform.poll_wait, 25 * SEC);
        assert_int_equal(c->platform.connect_timeout, 10 * SEC);
        assert_false(c->platform.trust_system_ca);
        assert_int_equal(c->platform.download_attempts, 3);
        assert_int_equal(c->platform.download_concurrency, 2);
        assert_int_equal(c->platform.outbox_max_events, 100000);
        assert_int_equal(c->n_printers, 0);
        assert_null(c->printers);
        assert_int_equal(c->n_products, 0);
        assert_null(c->products);
        assert_int_equal(c->n_meters, 0);
        assert_null(c->meters);
        assert_string_equal(c->profiles.directory, "/usr/share/labagent/profiles");
        assert_int_equal(c->stock.low_percent, 15);
        assert_int_equal(c->stock.report_interval, 5 * MIN);
        assert_string_equal(c->storage.state_dir, "/var/lib/labagent");
        assert_int_equal(c->storage.spool_max, 20 * GIB);
        assert_int_equal(c->render.max_pixels, 100000000);
        assert_int_equal(c->render.threads, 1);
        assert_int_equal(c->render.cache_max, 64 * MIB);
        assert_true(c->render.gamut_warn == 0.05);
        assert_int_equal(c->storage.max_asset_size, 200 * MIB);
        assert_int_equal(c->logging.level, LOG_INFO);
        assert_null(lab_config_find_printer(c, "ds620"));
        lab_config_free(c);
        lab_config_free(NULL);

        /* Empty lists and a list element with only its required keys. */
        c = expect_good(HEADER "printers: []\n"
                               "products:\n"
                               "  - sku: a\n"
                               "    media: na_index-4x6_4x6in\n"
                               "meters:\n"
                               "  - {name: m, driver: shelly, address: 'm'}\n");
        assert_int_equal(c->n_printers, 0);
        assert_int_equal(c->n_products, 1);
        assert_string_equal(c->products[0].media_type, "photographic-glossy");
        assert_int_equal(c->products[0].fit, LAB_FIT_FILL);
        assert_int_equal(c->n_meters, 1);
        assert_int_equal(c->meters[0].interval, 60 * SEC);
        assert_int_equal(c->meters[0].component, LAB_METER_COMPONENT_SWITCH);
        assert_null(c->meters[0].username);
        assert_true(c->energy.grid_gco2e_per_kwh < 0);
        assert_int_equal(c->energy.report_interval, 5 * MIN);
        assert_null(c->metrics.textfile);
        lab_config_free(c);
}

/* Unknown keys, with a did-you-mean within edit distance 2 and the known keys otherwise. */
static void test_unknown_key(void **state)
{
        (void)state;
        EXPECT_BAD(
            HEADER "  poll_wiat: 30s\n"
                   "  Connect_Timeout: 5s\n"
                   "printer: []\n"
                   "colour: srgb\n"
                   "stock:\n"
                   "  low: 5\n",
            NAME ":8:3: platform.poll_wiat: unknown key; did you mean 'poll_wait'? "
                 "[unknown_key]",
            NAME ":9:3: platform.Connect_Timeout: unknown key; did you mean "
                 "'connect_timeout'? [unknown_key]",
            NAME ":10:1: printer: unknown key; did you mean 'printers'? [unknown_key]",
            NAME
            ":11:1: colour: unknown key; known keys here: lab, platform, printers, "
            "products, profiles, stock, meters, energy, metrics, storage, logging, render, jobs, "
            "control [unknown_key]",
            NAME ":13:3: stock.low: unknown key; known keys here: low_percent, "
                 "report_interval, min_change_percent, min_change_units, hysteresis, "
                 "max_events_per_hour, on_counted_empty [unknown_key]");
}

/* Required keys and sections, reported at the start of the mapping that lacks them. */
static void test_missing_key(void **state)
{
        (void)state;
        EXPECT_BAD("# no lab section\n"
                   "platform:\n"
                   "  url: https://labs.example.com\n",
                   NAME ":2:1: lab: required key missing [missing_key]",
                   NAME ":3:3: platform.ca_file: required key missing [missing_key]",
                   NAME ":3:3: platform.cert_file: required key missing [missing_key]",
                   NAME ":3:3: platform.key_file: required key missing [missing_key]");
        EXPECT_BAD(HEADER "printers:\n"
                          "  - driver: ipp\n"
                          "    uri: ipp://localhost/printers/a\n"
                          "products:\n"
                          "  - sku: a\n"
                          "meters:\n"
                          "  - name: m\n",
                   NAME ":9:5: printers[0].name: required key missing [missing_key]",
                   NAME ":12:5: products[0].media: required key missing [missing_key]",
                   NAME ":14:5: meters[0].driver: required key missing [missing_key]",
                   NAME ":14:5: meters[0].address: required key missing [missing_key]");
}

/* uri only and always for ipp, folder and format only and folder always for hotfolder. */
static void test_conditional(void **state)
{
        (void)state;
        EXPECT_BAD(HEADER "printers:\n"
                          "  - name: a\n"
                          "    driver: ipp\n"
                          "  - name: b\n"
                          "    driver: hotfolder\n"
                          "  - name: c\n"
                          "    driver: ipp\n"
                          "    uri: ipp://localhost/printers/c\n"
                          "    folder: /srv/hot/c\n"
                          "    format: dnp\n"
                          "  - name: d\n"
                          "    driver: hotfolder\n"
                          "    folder: /srv/hot/d\n"
                          "    uri: ipp://localhost/printers/d\n",
                   NAME ":9:5: printers[0].uri: required key missing [missing_key]",
                   NAME ":11:5: printers[1].folder: required key missing [missing_key]",
                   NAME ":16:5: printers[2].folder: only valid when driver is hotfolder "
                        "[bad_value]",
                   NAME ":17:5: printers[2].format: only valid when driver is hotfolder "
                        "[bad_value]",
                   NAME ":21:5: printers[3].uri: only valid when driver is ipp [bad_value]");

        /* Without a (valid) driver the driver is the problem; uri/folder are not demanded. */
        EXPECT_BAD(HEADER "printers:\n"
                          "  - name: a\n"
                          "  - name: b\n"
                          "    driver: cups\n"
                          "    folder: /srv/hot/b\n",
                   NAME ":9:5: printers[0].driver: required key missing [missing_key]",
                   NAME ":11:13: printers[1].driver: unknown value 'cups'; allowed: ipp, "
                        "hotfolder [bad_value]");
}

/* Mappings, lists, nulls and quoted strings where something else is expected. */
static void test_wrong_type(void **state)
{
        (void)state;
        EXPECT_BAD("lab:\n"
                   "  - id: berlin-01\n"
                   "platform:\n"
                   "  url: {host: labs.example.com}\n"
                   "  ca_file: [/etc/a.pem]\n"
                   "  cert_file:\n"
                   "  key_file: ~\n"
                   "  poll_wait: [25s]\n"
                   "printers:\n"
                   "  name: a\n"
                   "products:\n"
                   "  - 4x6\n"
                   "  - sku: a\n"
                   "    media: {name: {deeper: [x]}}\n"
                   "stock:\n"
                   "  low_percent: 1.5\n"
                   "meters: {}\n"
                   "logging: info\n",
                   NAME ":2:3: lab: expected a mapping, got a list [wrong_type]",
                   NAME ":4:8: platform.url: expected a string, got a mapping [wrong_type]",
                   NAME ":5:12: platform.ca_file: expected a string, got a list [wrong_type]",
                   NAME ":6:13: platform.cert_file: expected a string, got nothing (null) "
                        "[wrong_type]",
                   NAME ":7:13: platform.key_file: expected a string, got nothing (null) "
                        "[wrong_type]",
                   NAME ":8:14: platform.poll_wait: expected a duration such as 25s, got a list "
                        "[wrong_type]",
                   NAME ":10:3: printers: expected a list, got a mapping [wrong_type]",
                   NAME ":12:5: products[0]: expected a mapping, got '4x6' [wrong_type]",
                   NAME ":14:12: products[1].media: expected a string, got a mapping "
                        "[wrong_type]",
                   NAME ":16:16: stock.low_percent: expected an integer, got '1.5' [wrong_type]",
                   NAME ":17:9: meters: expected a list, got a mapping [wrong_type]",
                   NAME ":18:10: logging: expected a mapping, got 'info' [wrong_type]");

        /* Booleans are plain true/false only; numbers are plain, not quoted. */
        EXPECT_BAD(HEADER "printers:\n"
                          "  - name: a\n"
                          "    driver: ipp\n"
                          "    uri: ipp://localhost/printers/a\n"
                          "    enabled: yes\n"
                          "  - name: b\n"
                          "    driver: ipp\n"
                          "    uri: ipp://localhost/printers/b\n"
                          "    enabled: \"true\"\n"
                          "    weight: \"2\"\n"
                          "  - name: c\n"
                          "    driver: ipp\n"
                          "    uri: ipp://localhost/printers/c\n"
                          "    enabled: True\n"
                          "    weight: 0x10\n"
                          "stock:\n"
                          "  low_percent: '15'\n",
                   NAME ":12:14: printers[0].enabled: expected true or false, got 'yes' "
                        "[wrong_type]",
                   NAME ":16:14: printers[1].enabled: expected true or false, got a quoted "
                        "string [wrong_type]",
                   NAME ":17:13: printers[1].weight: expected a number, got a quoted string "
                        "[wrong_type]",
                   NAME ":21:14: printers[2].enabled: expected true or false, got 'True' "
                        "[wrong_type]",
                   NAME ":22:13: printers[2].weight: expected a number, got '0x10' [wrong_type]",
                   NAME ":24:16: stock.low_percent: expected an integer, got a quoted string "
                        "[wrong_type]");
}

/* A key given twice in one mapping: the second is reported, naming the first's line. */
static void test_duplicate_key(void **state)
{
        (void)state;
        EXPECT_BAD(HEADER "  url: https://other.example.com\n"
                          "lab:\n"
                          "  id: other\n"
                          "printers:\n"
                          "  - name: a\n"
                          "    driver: ipp\n"
                          "    uri: ipp://localhost/printers/a\n"
                          "    driver: hotfolder\n"
                          "    driver: ipp\n",
                   NAME ":8:3: platform.url: duplicate key; first defined at line 4 "
                        "[duplicate_key]",
                   NAME ":9:1: lab: duplicate key; first defined at line 1 [duplicate_key]",
                   NAME ":15:5: printers[0].driver: duplicate key; first defined at line 13 "
                        "[duplicate_key]",
                   NAME ":16:5: printers[0].driver: duplicate key; first defined at line 13 "
                        "[duplicate_key]");
}

/* Printer and meter names and product skus are unique; the later ones are reported. */
static void test_duplicate_name(void **state)
{
        (void)state;
        EXPECT_BAD(HEADER "printers:\n"
                          "  - name: ds620\n"
                          "    driver: ipp\n"
                          "    uri: ipp://localhost/printers/ds620\n"
                          "  - name: other\n"
                          "    driver: ipp\n"
                          "    uri: ipp://localhost/printers/other\n"
                          "  - name: ds620\n"
                          "    driver: hotfolder\n"
                          "    folder: /srv/hot\n"
                          "  - {name: ds620, driver: ipp, uri: 'ipp://x/y'}\n"
                          "products:\n"
                          "  - {sku: 4x6, media: a}\n"
                          "  - {sku: 4x6, media: b}\n"
                          "meters:\n"
                          "  - {name: m, driver: shelly, address: 'm'}\n"
                          "  - {name: m, driver: shelly, address: 'm'}\n",
                   NAME ":15:11: printers[2].name: duplicate name 'ds620'; first used at line 9 "
                        "[duplicate_name]",
                   NAME ":18:12: printers[3].name: duplicate name 'ds620'; first used at line 9 "
                        "[duplicate_name]",
                   NAME ":21:11: products[1].sku: duplicate sku '4x6'; first used at line 20 "
                        "[duplicate_name]",
                   NAME ":24:12: meters[1].name: duplicate name 'm'; first used at line 23 "
                        "[duplicate_name]");
}

/*
 * Printer names are ids (docs/protocol.md, "Ids"): [A-Za-z0-9._:-]{1,128},
 * not "." or "..": a dot segment, a '/' or a '%' is refused, 128 characters
 * and every allowed punctuation pass.
 */
static void test_printer_id(void **state)
{
        char yaml[2048];
        lab_config_t *c;

        (void)state;
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BAD_NAME(line, col, i)                                                                     \
        NAME ":" #line ":" #col ": printers[" #i "].name: must be 1 to 128 characters from A-Z, "  \
             "a-z, 0-9, '.', '_', ':' and '-', and not '.' or '..' [bad_value]"
        EXPECT_BAD(HEADER "printers:\n"
                          "  - {name: '..', driver: ipp, uri: 'ipp://x/a'}\n"
                          "  - {name: '.', driver: ipp, uri: 'ipp://x/b'}\n"
                          "  - {name: 'a/b', driver: ipp, uri: 'ipp://x/c'}\n"
                          "  - {name: 'a%2Fb', driver: ipp, uri: 'ipp://x/d'}\n"
                          "  - {name: 'a?b', driver: ipp, uri: 'ipp://x/e'}\n"
                          "  - {name: 'caf\xc3\xa9', driver: ipp, uri: 'ipp://x/f'}\n"
                          "  - {name: '" A64 A64 "a', "
                          "driver: ipp, uri: 'ipp://x/g'}\n",
                   BAD_NAME(9, 12, 0), BAD_NAME(10, 12, 1), BAD_NAME(11, 12, 2),
                   BAD_NAME(12, 12, 3), BAD_NAME(13, 12, 4), BAD_NAME(14, 12, 5),
                   BAD_NAME(15, 12, 6));
#undef BAD_NAME
#undef A64
        snprintf(yaml, sizeof yaml,
                 HEADER "printers:\n"
                        "  - {name: 'Lab.ds620_2:left-A', driver: ipp, uri: 'ipp://x/a'}\n"
                        "  - {name: '...', driver: ipp, uri: 'ipp://x/b'}\n"
                        "  - {name: '%s', driver: ipp, uri: 'ipp://x/c'}\n",
                 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        c = expect_good(yaml);
        assert_int_equal(c->n_printers, 3);
        assert_string_equal(c->printers[0].name, "Lab.ds620_2:left-A");
        assert_int_equal(strlen(c->printers[2].name), 128);
        lab_config_free(c);
}

/* Meters: their printers exist and are metered once; the keys a driver needs together. */
static void test_meters(void **state)
{
        lab_config_t *c;

        (void)state;
        c = expect_good(HEADER "printers:\n"
                               "  - {name: a, driver: hotfolder, folder: /srv/a}\n"
                               "meters:\n"
                               "  - name: rapl\n"
                               "    driver: file\n"
                               "    address: /sys/class/powercap/intel-rapl:0/energy_uj\n"
                               "    counter_bits: 32\n"
                               "    scale: 0.000001\n"
                               "    printers: [a]\n"
                               "  - name: custom\n"
                               "    driver: modbus\n"
                               "    address: '[::1]:1502/3'\n"
                               "    registers: {energy: 30343, power: 0, energy_scale: 1}\n");
        assert_int_equal(c->meters[0].counter_bits, 32);
        assert_true(c->meters[0].scale == 0.000001);
        assert_int_equal(c->meters[1].registers.energy, 30343);
        assert_int_equal(c->meters[1].registers.power, 0);
        assert_true(c->meters[1].registers.energy_scale == 1.0);
        assert_true(c->meters[1].registers.power_scale == 1.0);
        assert_int_equal(c->meters[1].n_printers, 0);
        lab_config_free(c);

        EXPECT_BAD(HEADER "printers:\n"
                          "  - {name: a, driver: hotfolder, folder: /srv/a}\n"
                          "  - {name: b, driver: hotfolder, folder: /srv/b}\n"
                          "meters:\n"
                          "  - {name: m1, driver: modbus, address: x, preset: sdm120, printers: "
                          "[a, nope]}\n"
                          "  - {name: m2, driver: command, address: x, printers: [b, a]}\n"
                          "  - {name: m3, driver: modbus, address: x}\n"
                          "  - {name: m4, driver: modbus, address: x, preset: sdm630, registers: "
                          "{energy: 72}}\n"
                          "  - {name: m5, driver: shelly, address: x, username: u, interval: 1s, "
                          "timeout: 1s}\n",
                   NAME ":12:74: meters[0].printers[1]: no printer named 'nope' in printers; "
                        "name a printer of this file, or remove it from the meter "
                        "[unknown_printer]",
                   NAME ":13:42: meters[1].address: must be an absolute path (starting with /) "
                        "[bad_value]",
                   NAME ":13:59: meters[1].printers[1]: printer 'a' is already on meter 'm1'; a "
                        "printer is on one meter at most [duplicate_name]",
                   NAME ":14:5: meters[2].preset: a modbus meter needs a preset (sdm630, sdm120) "
                        "or a registers map [missing_key]",
                   NAME ":15:71: meters[3].registers: give a preset or a registers map, not "
                        "both [bad_value]",
                   NAME ":16:54: meters[4].username: digest authentication needs both username "
                        "and password [missing_key]",
                   NAME ":16:80: meters[4].timeout: must be shorter than the meter's interval "
                        "[out_of_range]");
        EXPECT_BAD(HEADER "meters:\n"
                          "  - {name: m, driver: shelly, address: x, preset: sdm630, "
                          "printers: [p, p], counter_bits: 8}\n"
                          "metrics:\n"
                          "  textfile: /var/lib/x/labagent.txt\n",
                   NAME ":9:43: meters[0].preset: only valid when driver is modbus [bad_value]",
                   NAME ":9:73: meters[0].printers[1]: 'p' is listed twice; first at line 9 "
                        "[duplicate_name]",
                   NAME ":9:77: meters[0].counter_bits: only valid when driver is command or file "
                        "[bad_value]",
                   NAME ":11:13: metrics.textfile: must name a file ending in .prom "
                        "(node_exporter's textfile collector reads only those) [bad_value]");
}

/* Durations without unit, with words, fractions, overflow, and out of range. */
static void test_bad_duration(void **state)
{
        (void)state;
        EXPECT_BAD(HEADER "  poll_wait: 25\n"
                          "  connect_timeout: 5 minutes\n"
                          "stock:\n"
                          "  report_interval: 1.5h\n"
                          "meters:\n"
                          "  - name: m\n"
                          "    driver: modbus\n"
                          "    address: 10.0.0.1:502/1\n"
                          "    interval: 99999999999d\n",
                   NAME ":8:14: platform.poll_wait: invalid duration '25'; write whole numbers "
                        "with units (ms, s, m, h, d) and no spaces, e.g. 25s or 1h30m "
                        "[bad_duration]",
                   NAME ":9:20: platform.connect_timeout: invalid duration '5 minutes'; write "
                        "whole numbers with units (ms, s, m, h, d) and no spaces, e.g. 25s or "
                        "1h30m [bad_duration]",
                   NAME ":11:20: stock.report_interval: invalid duration '1.5h'; write whole "
                        "numbers with units (ms, s, m, h, d) and no spaces, e.g. 25s or 1h30m "
                        "[bad_duration]",
                   NAME ":16:15: meters[0].interval: duration '99999999999d' is too large "
                        "[bad_duration]");
        EXPECT_BAD(HEADER "  poll_wait: 301s\n"
                          "  connect_timeout: 999ms\n"
                          "stock:\n"
                          "  report_interval: 1d1ms\n",
                   NAME ":8:14: platform.poll_wait: '301s' is out of range; must be between 1s "
                        "and 5m [out_of_range]",
                   NAME ":9:20: platform.connect_timeout: '999ms' is out of range; must be "
                        "between 1s and 2m [out_of_range]",
                   NAME ":11:20: stock.report_interval: '1d1ms' is out of range; must be "
                        "between 1s and 1d [out_of_range]");
}

/* Sizes: lower-case or missing units, overflow, below the minimum. */
static void test_bad_size(void **state)
{
        (void)state;
        EXPECT_BAD(HEADER "storage:\n"
                          "  spool_max: 200mb\n"
                          "  max_asset_size: 200\n",
                   NAME ":9:14: storage.spool_max: invalid size '200mb'; write a whole number "
                        "and a unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB) and no space, e.g. "
                        "200MiB [bad_size]",
                   NAME ":10:19: storage.max_asset_size: invalid size '200'; write a whole number "
                        "and a unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB) and no space, e.g. "
                        "200MiB [bad_size]");
        EXPECT_BAD(HEADER "storage:\n"
                          "  spool_max: 1023KiB\n"
                          "  max_asset_size: 16777216TiB\n",
                   NAME ":9:14: storage.spool_max: '1023KiB' is out of range; must be at least "
                        "1MiB [out_of_range]",
                   NAME ":10:19: storage.max_asset_size: size '16777216TiB' is too large "
                        "[bad_size]");
}

/* Enumerated words: the message lists the allowed ones. */
static void test_bad_enum(void **state)
{
        (void)state;
        EXPECT_BAD(HEADER "printers:\n"
                          "  - name: a\n"
                          "    driver: hotfolder\n"
                          "    folder: /srv/hot\n"
                          "    format: fuji\n"
                          "products:\n"
                          "  - sku: a\n"
                          "    media: b\n"
                          "    fit: stretch\n"
                          "meters:\n"
                          "  - {name: m, driver: MODBUS, address: x}\n"
                          "logging:\n"
                          "  level: warn\n",
                   NAME ":12:13: printers[0].format: unknown value 'fuji'; allowed: generic, "
                        "noritsu, dnp [bad_value]",
                   NAME ":16:10: products[0].fit: unknown value 'stretch'; allowed: fill, fit, "
                        "exact [bad_value]",
                   NAME ":18:23: meters[0].driver: unknown value 'MODBUS'; allowed: modbus, "
                        "shelly, command, file [bad_value]",
                   NAME ":20:10: logging.level: unknown value 'warn'; allowed: error, warning, "
                        "notice, info, debug [bad_value]");
}

/* Validated strings and numeric ranges. */
/* printers[].options and printers[].media: name -> string maps; colour-altering options refused. */
static void test_printer_options(void **state)
{
        static const char head[] = "lab:\n"
                                   "  id: berlin-01\n"
                                   "platform:\n"
                                   "  url: https://labs.example.com\n"
                                   "  ca_file: /etc/ca.pem\n"
                                   "  cert_file: /etc/lab.crt\n"
                                   "  key_file: /etc/lab.key\n"
                                   "printers:\n"
                                   "  - name: ds620\n"
                                   "    driver: ipp\n"
                                   "    uri: ipp://localhost:631/printers/ds620\n";
        char yaml[2048];
        lab_config_t *c;

        (void)state;
        snprintf(yaml, sizeof yaml,
                 "%s    options: {StpColorCorrection: Raw, StpUseLUT: \"False\", StpSharpen: 0}\n"
                 "    media:\n"
                 "      na_index-4x6_4x6in: w288h432\n"
                 "      na_5x7_5x7in: w360h504\n",
                 head);
        c = expect_good(yaml);
        assert_int_equal(c->printers[0].n_options, 3);
        assert_string_equal(c->printers[0].options[1].name, "StpUseLUT");
        assert_string_equal(c->printers[0].options[1].value, "False");
        assert_string_equal(lab_config_pair_get(c->printers[0].options, 3, "StpSharpen"), "0");
        assert_null(lab_config_pair_get(c->printers[0].options, 3, "StpGamma"));
        assert_int_equal(c->printers[0].n_media, 2);
        assert_string_equal(lab_config_pair_get(c->printers[0].media, 2, "na_5x7_5x7in"),
                            "w360h504");
        lab_config_free(c);

        snprintf(yaml, sizeof yaml,
                 "%s    options:\n"
                 "      saturation: 150\n"
                 "      StpColorCorrection: Accurate\n"
                 "      StpGamma: 1500\n"
                 "      gamma: 1000\n"
                 "      print-color-mode: monochrome\n"
                 "      PageSize: w288h432\n"
                 "      StpUseLUT: [True]\n"
                 "      StpUseLUT: \"True\"\n"
                 "      bad name: x\n"
                 "    media: [w288h432]\n",
                 head);
        EXPECT_BAD(yaml,
                   NAME ":13:7: printers[0].options.saturation: colour would be managed twice: "
                        "saturation=150 makes the CUPS image filter change every pixel after "
                        "the agent's ICC profile (neutral: 100); the agent already applies the "
                        "paper's ICC profile, so remove the option or set it to neutral "
                        "[colour_managed_twice]",
                   NAME ":14:7: printers[0].options.StpColorCorrection: colour would be managed "
                        "twice: StpColorCorrection=Accurate makes Gutenprint correct colour "
                        "again (neutral: Raw, which passes the agent's pixels through "
                        "unchanged); the agent already applies the paper's ICC profile, so "
                        "remove the option or set it to neutral [colour_managed_twice]",
                   NAME ":15:7: printers[0].options.StpGamma: colour would be managed twice: "
                        "StpGamma=1500 makes Gutenprint apply an adjustment curve (neutral: "
                        "None); the agent already applies the paper's ICC profile, so remove "
                        "the option or set it to neutral [colour_managed_twice]",
                   NAME ":17:7: printers[0].options.print-color-mode: colour would be managed "
                        "twice: print-color-mode=monochrome prints in grey, dropping the colour "
                        "the agent rendered (neutral: color / RGB); the agent already applies "
                        "the paper's ICC profile, so remove the option or set it to neutral "
                        "[colour_managed_twice]",
                   NAME ":18:7: printers[0].options.PageSize: PageSize is set by the agent on "
                        "every job (from the product and the printer's media); remove it from "
                        "printers[].options [option_reserved]",
                   NAME ":19:18: printers[0].options.StpUseLUT: expected a value (write it in "
                        "quotes if in doubt), got a list [wrong_type]",
                   NAME ":20:7: printers[0].options.StpUseLUT: duplicate key; first defined at "
                        "line 19 [duplicate_key]",
                   NAME ":21:7: printers[0].options.bad name: 'bad name: x': an option is a "
                        "name of up to 64 and a value of up to 128 printable characters, "
                        "without spaces or quotes (as lpoptions -p QUEUE -l lists them) "
                        "[bad_value]",
                   NAME ":22:12: printers[0].media: expected a mapping of names to values, got "
                        "a list [wrong_type]");
}

static void test_bad_value(void **state)
{
        (void)state;
        EXPECT_BAD("lab:\n"
                   "  id: Berlin_01\n"
                   "  name: ''\n"
                   "platform:\n"
                   "  url: http://labs.example.com\n"
                   "  ca_file: etc/ca.pem\n"
                   "  cert_file: /etc/lab.crt\n"
                   "  key_file: \"/etc/lab\\0.key\"\n"
                   "printers:\n"
                   "  - name: my printer\n"
                   "    driver: ipp\n"
                   "    uri: http://localhost:631/printers/a\n"
                   "    weight: 0\n"
                   "  - name: b\n"
                   "    driver: hotfolder\n"
                   "    folder: srv/hot\n"
                   "    weight: 1000.5\n"
                   "profiles:\n"
                   "  directory: profiles\n"
                   "stock:\n"
                   "  low_percent: 101\n"
                   "storage:\n"
                   "  state_dir: ./state\n",
                   NAME ":2:7: lab.id: must be 1 to 64 characters from a-z, 0-9 and '-' "
                        "[bad_value]",
                   NAME ":3:9: lab.name: must not be empty [bad_value]",
                   NAME ":5:8: platform.url: must be an https:// URL [bad_value]",
                   NAME ":6:12: platform.ca_file: must be an absolute path (starting with /) "
                        "[bad_value]",
                   NAME ":8:13: platform.key_file: must not contain NUL characters [bad_value]",
                   NAME ":10:11: printers[0].name: must be 1 to 128 characters from A-Z, a-z, "
                        "0-9, '.', '_', ':' and '-', and not '.' or '..' [bad_value]",
                   NAME ":12:10: printers[0].uri: must be an ipp:// or ipps:// URI [bad_value]",
                   NAME ":13:13: printers[0].weight: '0' is out of range; must be greater than 0 "
                        "and at most 1000 [out_of_range]",
                   NAME ":16:13: printers[1].folder: must be an absolute path (starting with /) "
                        "[bad_value]",
                   NAME ":17:13: printers[1].weight: '1000.5' is out of range; must be greater "
                        "than 0 and at most 1000 [out_of_range]",
                   NAME ":19:14: profiles.directory: must be an absolute path (starting with /) "
                        "[bad_value]",
                   NAME ":21:16: stock.low_percent: '101' is out of range; must be between 0 "
                        "and 100 [out_of_range]",
                   NAME ":23:14: storage.state_dir: must be an absolute path (starting with /) "
                        "[bad_value]");
        EXPECT_BAD(HEADER "stock:\n"
                          "  low_percent: -1\n",
                   NAME ":9:16: stock.low_percent: '-1' is out of range; must be between 0 and "
                        "100 [out_of_range]");
}

/* libyaml's own error, with its position, and nothing decoded after it. */
static void test_yaml_syntax(void **state)
{
        (void)state;
        EXPECT_BAD(HEADER "printers: [a, b\n"
                          "stock:\n",
                   NAME ":9:6: did not find expected ',' or ']' (while parsing a flow sequence "
                        "at line 8, column 11) [yaml_syntax]");
        EXPECT_BAD("lab:\n"
                   "  id: x\n"
                   "    name: y\n",
                   NAME ":3:9: mapping values are not allowed in this context [yaml_syntax]");
        EXPECT_BAD("lab:\n"
                   "  id: \"berlin\n",
                   NAME ":3:1: found unexpected end of stream (while scanning a quoted scalar "
                        "at line 2, column 7) [yaml_syntax]");
        EXPECT_BAD("lab:\n"
                   "\tid: x\n",
                   NAME ":2:1: found character that cannot start any token (while scanning for "
                        "the next token at line 2, column 1) [yaml_syntax]");
        EXPECT_BAD("lab:\n  id: \xff\n", NAME ":2:7: invalid leading UTF-8 octet [yaml_syntax]");
}

/* An empty file or a document that is not a mapping. */
static void test_not_mapping(void **state)
{
        (void)state;
        EXPECT_BAD("", NAME ":1:1: the file is empty; expected a mapping with at least the "
                            "sections lab and platform [wrong_type]");
        EXPECT_BAD("# just a comment\n\n",
                   NAME ":1:1: the file is empty; expected a mapping with at least the sections "
                        "lab and platform [wrong_type]");
        EXPECT_BAD("---\n", NAME ":1:1: the file is empty; expected a mapping with at least the "
                                 "sections lab and platform [wrong_type]");
        EXPECT_BAD("- lab\n- platform\n",
                   NAME ":1:1: expected a mapping of sections (lab, platform, ...), got a list "
                        "[wrong_type]");
        EXPECT_BAD("labagent\n", NAME ":1:1: expected a mapping of sections (lab, platform, ...), "
                                      "got 'labagent' [wrong_type]");
}

/* A second document is refused; the first one is still checked. */
static void test_multiple_documents(void **state)
{
        (void)state;
        EXPECT_BAD(HEADER "---\n"
                          "lab:\n"
                          "  id: second\n",
                   NAME ":8:1: a second YAML document starts here; the configuration must be one "
                        "document [multiple_documents]");
        EXPECT_BAD("lab: {}\n"
                   "...\n"
                   "---\n"
                   "x: 1\n",
                   NAME ":1:1: platform: required key missing [missing_key]",
                   NAME ":1:6: lab.id: required key missing [missing_key]",
                   NAME ":3:1: a second YAML document starts here; the configuration must be one "
                        "document [multiple_documents]");
}

/* Anchors, aliases and explicit tags are refused, not resolved. */
static void test_alias_anchor_tag(void **state)
{
        (void)state;
        EXPECT_BAD(HEADER "printers:\n"
                          "  - &base\n"
                          "    name: a\n"
                          "    driver: ipp\n"
                          "    uri: ipp://localhost/printers/a\n"
                          "  - *base\n"
                          "products:\n"
                          "  - sku: !!str 4x6\n"
                          "    media: !media a\n",
                   NAME ":9:5: printers[0]: YAML anchors and aliases are not supported; write the "
                        "value out [bad_value]",
                   NAME ":13:5: printers[1]: YAML anchors and aliases are not supported; write "
                        "the value out [bad_value]",
                   NAME ":15:10: products[0].sku: YAML tags (!tag) are not supported [bad_value]",
                   NAME ":16:12: products[0].media: YAML tags (!tag) are not supported "
                        "[bad_value]");
}

/* Problems from all over the file come out in document order. */
static void test_document_order(void **state)
{
        (void)state;
        EXPECT_BAD(
            "platform:\n"
            "  url: ftp://x\n"
            "  poll_wait: 25\n"
            "printers:\n"
            "  - name: a\n"
            "    driver: ipp\n"
            "    uri: ipp://localhost/printers/a\n"
            "  - name: a\n"
            "    driver: ipp\n"
            "    colour: true\n"
            "logging:\n"
            "  level: loud\n",
            NAME ":1:1: lab: required key missing [missing_key]",
            NAME ":2:3: platform.ca_file: required key missing [missing_key]",
            NAME ":2:3: platform.cert_file: required key missing [missing_key]",
            NAME ":2:3: platform.key_file: required key missing [missing_key]",
            NAME ":2:8: platform.url: must be an https:// URL [bad_value]",
            NAME ":3:14: platform.poll_wait: invalid duration '25'; write whole numbers "
                 "with units (ms, s, m, h, d) and no spaces, e.g. 25s or 1h30m "
                 "[bad_duration]",
            NAME ":8:5: printers[1].uri: required key missing [missing_key]",
            NAME ":8:11: printers[1].name: duplicate name 'a'; first used at line 5 "
                 "[duplicate_name]",
            NAME ":10:5: printers[1].colour: unknown key; known keys here: name, driver, "
                 "uri, folder, format, model, enabled, weight, timeout, stall_after, "
                 "queue_depth, job_history, per_minute, print_quality, options, media, consumables "
                 "[unknown_key]",
            NAME ":12:10: logging.level: unknown value 'loud'; allowed: error, warning, "
                 "notice, info, debug [bad_value]");
}

/* Past 100 problems the loader stops and says so in one final entry. */
static void test_too_many_problems(void **state)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = NULL;
        char *yaml = NULL, *line;
        size_t size = 0;
        FILE *f;
        int r;

        (void)state;
        f = open_memstream(&yaml, &size);
        assert_non_null(f);
        fputs(HEADER, f);
        for (int i = 0; i < 150; i++)
                fprintf(f, "unknown_%03d: x\n", i);
        assert_int_equal(fclose(f), 0);

        r = lab_config_load_buffer(NAME, yaml, size, &c, &problems);
        assert_int_equal(r, -EINVAL);
        assert_null(c);
        assert_int_equal(problems.n, 101);
        line = lab_config_problem_format(&problems.v[0]);
        assert_string_equal(
            line, NAME ":8:1: unknown_000: unknown key; known keys here: lab, "
                       "platform, printers, products, profiles, stock, meters, "
                       "energy, metrics, storage, logging, render, jobs, control [unknown_key]");
        free(line);
        line = lab_config_problem_format(&problems.v[99]);
        assert_string_equal(
            line, NAME ":107:1: unknown_099: unknown key; known keys here: lab, "
                       "platform, printers, products, profiles, stock, meters, "
                       "energy, metrics, storage, logging, render, jobs, control [unknown_key]");
        free(line);
        line = lab_config_problem_format(&problems.v[100]);
        assert_string_equal(line, NAME ": more than 100 problems; fix these and check again "
                                       "[too_many_problems]");
        free(line);
        lab_config_problems_clear(&problems);
        free(yaml);
}

/* Hostile shapes: deep nesting, a huge mapping of duplicate keys. Bounded, never a crash. */
static void test_hostile(void **state)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = NULL;
        char *yaml = NULL, *line;
        size_t size = 0;
        FILE *f;
        int r;

        (void)state;
        /* Nearly 1 MiB of nested flow lists: stopped at 32 levels, in linear time. */
        f = open_memstream(&yaml, &size);
        assert_non_null(f);
        fputs("lab: ", f);
        for (int i = 0; i < 500000; i++)
                fputc('[', f);
        for (int i = 0; i < 500000; i++)
                fputc(']', f);
        fputs("\nplatform: {url: 'https://x', ca_file: /a, cert_file: /b, key_file: /c}\n", f);
        assert_int_equal(fclose(f), 0);
        r = lab_config_load_buffer(NAME, yaml, size, &c, &problems);
        assert_int_equal(r, -EINVAL);
        assert_null(c);
        assert_int_equal(problems.n, 1);
        line = lab_config_problem_format(&problems.v[0]);
        assert_string_equal(line, NAME ":1:37: nested more than 32 levels deep; the "
                                       "configuration never nests more than 3 [wrong_type]");
        free(line);
        lab_config_problems_clear(&problems);
        free(yaml);

        /* Nesting deeper than the schema inside a printer: wrong_type at the first level too deep.
         */
        EXPECT_BAD(HEADER "printers:\n"
                          "  - name: a\n"
                          "    driver: ipp\n"
                          "    uri: ipp://localhost/printers/a\n"
                          "    model: {a: {b: {c: {d: {e: {f: {g: {h: {i: j}}}}}}}}}\n",
                   NAME ":12:12: printers[0].model: expected a string, got a mapping "
                        "[wrong_type]");

        /* 60000 copies of one key in one mapping: duplicate detection is not quadratic. */
        yaml = NULL;
        f = open_memstream(&yaml, &size);
        assert_non_null(f);
        fputs(HEADER "stock:\n", f);
        for (int i = 0; i < 60000; i++)
                fputs("  low_percent: 1\n", f);
        assert_int_equal(fclose(f), 0);
        r = lab_config_load_buffer(NAME, yaml, size, &c, &problems);
        assert_int_equal(r, -EINVAL);
        assert_int_equal(problems.n, 101);
        line = lab_config_problem_format(&problems.v[0]);
        assert_string_equal(line, NAME ":10:3: stock.low_percent: duplicate key; first defined at "
                                       "line 9 [duplicate_key]");
        free(line);
        assert_string_equal(problems.v[100].keyword, "too_many_problems");
        lab_config_problems_clear(&problems);
        free(yaml);

        /* A very long key is cut in the key path. */
        EXPECT_BAD(
            HEADER "stock:\n"
                   "  "
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaa: 1\n",
            NAME ":9:3: stock.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: "
                 "unknown key; known keys here: low_percent, report_interval, min_change_percent, "
                 "min_change_units, hysteresis, max_events_per_hour, on_counted_empty "
                 "[unknown_key]");

        /* A control character in a key cannot forge a second output line. */
        EXPECT_BAD(
            HEADER "\"bad\\nkey\": 1\n", NAME
            ":8:1: bad?key: unknown key; known keys here: lab, platform, printers, "
            "products, profiles, stock, meters, energy, metrics, storage, logging, render, jobs, "
            "control [unknown_key]");
}

/* Files over 1 MiB are refused before parsing; exactly 1 MiB is still read. */
static void test_file_too_large(void **state)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = (lab_config_t *)&problems;
        char *dir = lab_test_mkdtemp("config"), *path = lab_test_path(dir, "big.yaml"), *line;
        char *buf, *want;
        size_t limit = 1024 * 1024, header = strlen(HEADER);
        int r;

        (void)state;
        /* HEADER, then comment lines up to exactly 1 MiB. */
        buf = malloc(limit + 1);
        assert_non_null(buf);
        memcpy(buf, HEADER, header);
        memset(buf + header, '#', limit - header);
        for (size_t i = header + 99; i < limit; i += 100)
                buf[i] = '\n';
        buf[limit - 1] = '\n';
        lab_test_write_file(path, buf, limit);
        r = lab_config_load_file(path, &c, &problems);
        if (r != 0)
                lab_test_dump_problems(&problems);
        assert_int_equal(r, 0);
        assert_int_equal(problems.n, 0);
        assert_string_equal(c->lab.id, "berlin-01");
        lab_config_free(c);

        /* One byte more. */
        buf[limit] = '\n';
        lab_test_write_file(path, buf, limit + 1);
        c = (lab_config_t *)&problems;
        r = lab_config_load_file(path, &c, &problems);
        assert_int_equal(r, -EFBIG);
        assert_null(c);
        assert_int_equal(problems.n, 1);
        line = lab_config_problem_format(&problems.v[0]);
        assert_int_equal(asprintf(&want,
                                  "%s: file is larger than 1048576 bytes (1 MiB); this is "
                                  "not a labagent configuration [file_too_large]",
                                  path) > 0,
                         1);
        assert_string_equal(line, want);
        assert_int_equal(problems.v[0].line, 0);
        free(line);
        free(want);
        lab_config_problems_clear(&problems);

        /* The same from memory. */
        c = (lab_config_t *)&problems;
        r = lab_config_load_buffer(NAME, buf, limit + 1, &c, &problems);
        assert_int_equal(r, -EFBIG);
        assert_null(c);
        assert_int_equal(problems.n, 1);
        assert_string_equal(problems.v[0].keyword, "file_too_large");
        lab_config_problems_clear(&problems);

        free(buf);
        lab_test_rm_rf(dir);
        free(path);
        free(dir);
}

/* A missing file or a directory: one config_unreadable problem at line 0 and the errno. */
static void test_unreadable(void **state)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = (lab_config_t *)&problems;
        char *dir = lab_test_mkdtemp("config"), *path = lab_test_path(dir, "missing.yaml"), *line;
        char *want;
        int r;

        (void)state;
        r = lab_config_load_file(path, &c, &problems);
        assert_int_equal(r, -ENOENT);
        assert_null(c);
        assert_int_equal(problems.n, 1);
        assert_int_equal(problems.v[0].line, 0);
        assert_string_equal(problems.v[0].keyword, "config_unreadable");
        line = lab_config_problem_format(&problems.v[0]);
        assert_true(asprintf(&want, "%s: No such file or directory [config_unreadable]", path) > 0);
        assert_string_equal(line, want);
        free(line);
        free(want);

        /* Problems are appended to what the list already holds. */
        c = (lab_config_t *)&problems;
        r = lab_config_load_file(dir, &c, &problems);
        assert_int_equal(r, -EISDIR);
        assert_null(c);
        assert_int_equal(problems.n, 2);
        line = lab_config_problem_format(&problems.v[1]);
        assert_true(asprintf(&want, "%s: Is a directory [config_unreadable]", dir) > 0);
        assert_string_equal(line, want);
        free(line);
        free(want);
        lab_config_problems_clear(&problems);
        assert_int_equal(problems.n, 0);

        lab_test_rm_rf(dir);
        free(path);
        free(dir);
}

/* A second load appends after earlier problems and sorts only its own. */
static void test_append(void **state)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = NULL;
        const char *first = "lab: {id: x}\nplatform: 1\n";
        const char *second = "lab: 1\n";
        int r;

        (void)state;
        r = lab_config_load_buffer("a.yaml", first, strlen(first), &c, &problems);
        assert_int_equal(r, -EINVAL);
        r = lab_config_load_buffer("b.yaml", second, strlen(second), &c, &problems);
        assert_int_equal(r, -EINVAL);
        assert_null(c);
        {
                const char *const want[] = {
                    "a.yaml:2:11: platform: expected a mapping, got '1' [wrong_type]",
                    "b.yaml:1:1: platform: required key missing [missing_key]",
                    "b.yaml:1:6: lab: expected a mapping, got '1' [wrong_type]",
                };
                char *printed = NULL;
                size_t size = 0;
                FILE *f;

                lab_test_assert_problems(&problems, want, 3);
                f = open_memstream(&printed, &size);
                assert_non_null(f);
                lab_config_problems_print(&problems, f);
                assert_int_equal(fclose(f), 0);
                assert_string_equal(
                    printed, "a.yaml:2:11: platform: expected a mapping, got '1' [wrong_type]\n"
                             "b.yaml:1:1: platform: required key missing [missing_key]\n"
                             "b.yaml:1:6: lab: expected a mapping, got '1' [wrong_type]\n");
                free(printed);
        }
        lab_config_problems_clear(&problems);
        lab_config_problems_clear(&problems); /* twice is fine */
}

/* The format of a problem without a position or a key path. */
static void test_format(void **state)
{
        lab_config_problem_t p = {
            .file = (char *)"/etc/labagent/labagent.yaml",
            .line = 14,
            .column = 5,
            .key_path = (char *)"printers[1].uri",
            .keyword = (char *)"missing_key",
            .message = (char *)"required key missing",
        };
        char *s;

        (void)state;
        s = lab_config_problem_format(&p);
        assert_string_equal(
            s, "/etc/labagent/labagent.yaml:14:5: printers[1].uri: required key missing "
               "[missing_key]");
        free(s);
        p.key_path = (char *)"";
        s = lab_config_problem_format(&p);
        assert_string_equal(s, "/etc/labagent/labagent.yaml:14:5: required key missing "
                               "[missing_key]");
        free(s);
        p.line = 0;
        s = lab_config_problem_format(&p);
        assert_string_equal(s, "/etc/labagent/labagent.yaml: required key missing [missing_key]");
        free(s);
}

/* The shipped example loads with no problem and holds what its comments promise. */
static void test_packaging_example(void **state)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = NULL;
        int r;

        (void)state;
        r = lab_config_load_file(LAB_SOURCE_DIR "/packaging/labagent.yaml", &c, &problems);
        if (r != 0)
                lab_test_dump_problems(&problems);
        assert_int_equal(r, 0);
        assert_int_equal(problems.n, 0);
        assert_string_equal(c->path, LAB_SOURCE_DIR "/packaging/labagent.yaml");
        assert_string_equal(c->lab.id, "berlin-01");
        assert_int_equal(c->n_printers, 3);
        assert_string_equal(c->printers[0].uri, "ipp://localhost:631/printers/ds620");
        assert_int_equal(c->printers[2].driver, LAB_PRINTER_DRIVER_HOTFOLDER);
        assert_int_equal(c->printers[2].format, LAB_HOTFOLDER_NORITSU);
        assert_int_equal(c->n_products, 4);
        assert_int_equal(c->n_meters, 1);
        assert_int_equal(c->platform.poll_wait, 25 * SEC);
        assert_int_equal(c->storage.spool_max, 20 * GIB);
        assert_int_equal(c->logging.level, LOG_INFO);
        lab_config_free(c);
}

/* The fixture the CLI test uses reports the same lines through the library. */
static void test_fixture_bad_printer(void **state)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = NULL;
        const char *path = LAB_SOURCE_DIR "/tests/config/fixtures/bad-printer.yaml";
        const char *const want[] = {
            LAB_SOURCE_DIR "/tests/config/fixtures/bad-printer.yaml:12:3: platform.poll_wiat: "
                           "unknown key; did you mean 'poll_wait'? [unknown_key]",
            LAB_SOURCE_DIR "/tests/config/fixtures/bad-printer.yaml:21:5: printers[1].uri: "
                           "required key missing [missing_key]",
            LAB_SOURCE_DIR "/tests/config/fixtures/bad-printer.yaml:23:5: printers[1].folder: "
                           "only valid when driver is hotfolder [bad_value]",
            LAB_SOURCE_DIR "/tests/config/fixtures/bad-printer.yaml:24:14: "
                           "printers[1].enabled: expected true or false, got 'yes' "
                           "[wrong_type]",
        };
        int r;

        (void)state;
        r = lab_config_load_file(path, &c, &problems);
        assert_int_equal(r, -EINVAL);
        assert_null(c);
        lab_test_assert_problems(&problems, want, sizeof want / sizeof want[0]);
        lab_config_problems_clear(&problems);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_full),
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_unknown_key),
            cmocka_unit_test(test_missing_key),
            cmocka_unit_test(test_conditional),
            cmocka_unit_test(test_wrong_type),
            cmocka_unit_test(test_duplicate_key),
            cmocka_unit_test(test_duplicate_name),
            cmocka_unit_test(test_meters),
            cmocka_unit_test(test_bad_duration),
            cmocka_unit_test(test_bad_size),
            cmocka_unit_test(test_bad_enum),
            cmocka_unit_test(test_bad_value),
            cmocka_unit_test(test_printer_id),
            cmocka_unit_test(test_printer_options),
            cmocka_unit_test(test_yaml_syntax),
            cmocka_unit_test(test_not_mapping),
            cmocka_unit_test(test_multiple_documents),
            cmocka_unit_test(test_alias_anchor_tag),
            cmocka_unit_test(test_document_order),
            cmocka_unit_test(test_too_many_problems),
            cmocka_unit_test(test_hostile),
            cmocka_unit_test(test_file_too_large),
            cmocka_unit_test(test_unreadable),
            cmocka_unit_test(test_append),
            cmocka_unit_test(test_format),
            cmocka_unit_test(test_packaging_example),
            cmocka_unit_test(test_fixture_bad_printer),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
