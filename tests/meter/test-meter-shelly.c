/*
 * test-meter-shelly.c - the Shelly Gen2 meter driver, through the agent's
 * own HTTP transport (lab_platform_http_get, libcurl), against a real HTTP
 * peer speaking Gen2 RPC (shelly-peer.py, Python's standard library).
 *
 * Why: issue 17 wants the plug's counter to within 0.001 Wh, and every bad
 * answer (HTML from a captive portal, text, a status without aenergy, a
 * body over 64 KiB, the device's own measuring fault, figures that cannot
 * be true) to end as meter_protocol or meter_bad_value, never as a figure;
 * a hung device as meter_timeout within its timeout, a missing one as
 * meter_unreachable; digest authentication to work with the right password
 * and to say so with a wrong one. A reboot's counter back at 0 is a figure:
 * the sampler judges it. Each case drives the peer through its stdin and
 * reads through the public interface (meter.h). Loopback only; every wait
 * is bounded.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meter-fixture.h"
#include "macro.h"
#include "meter.h"
#include "platform-http-get.h"
#include "testutil.h"

#define MAX_POWER    3000.0
#define TIMEOUT_MS   2000 /* plenty for loopback, under the sanitizers too */
#define SHORT_MS     500  /* for the timeout cases */
#define MARGIN_MS    300  /* what a timed-out read may take past its timeout */
#define THREADS      4
#define THREAD_READS 25

typedef struct shelly_opts_s {
        lab_meter_shelly_component_t component;
        unsigned channel;
        const char *username, *password;
        uint64_t timeout_ms;      /* 0: TIMEOUT_MS */
        const char *address;      /* NULL: 127.0.0.1:port */
        lab_http_get_fn http_get; /* NULL: lab_platform_http_get */
} shelly_opts_t;

static void peer_start(meter_peer_t *p)
{
        char *argv[] = {"/usr/bin/python3", SHELLY_PEER, NULL};

        meter_peer_start(p, "the Shelly peer", argv, 0);
}

static lab_meter_t *open_shelly(int port, const shelly_opts_t *o)
{
        char address[64];
        lab_meter_settings_t s = {
            .name = "plug1",
            .kind = LAB_METER_SHELLY,
            .address = o->address ? o->address : address,
            .timeout_usec = (o->timeout_ms ? o->timeout_ms : TIMEOUT_MS) * 1000,
            .max_power_w = MAX_POWER,
            .component = o->component,
            .channel = o->channel,
            .username = o->username,
            .password = o->password,
            .http_get = o->http_get ? o->http_get : lab_platform_http_get,
        };
        lab_meter_t *m = NULL;
        lab_error_t err = {0};

        snprintf(address, sizeof address, "127.0.0.1:%d", port);
        if (lab_meter_open(&s, &m, &err) < 0)
                fail_msg("open: %s: %s", err.keyword, err.message);
        return m;
}

static lab_meter_t *open_switch(int port)
{
        return open_shelly(port, &(shelly_opts_t){.component = LAB_METER_SHELLY_SWITCH});
}

/* The peer's count of requests served. */
static long peer_requests(meter_peer_t *p)
{
        char answer[64];

        meter_peer_ask(p, answer, sizeof answer, "requests");
        return strtol(answer + 3, NULL, 10);
}

/* Switch.GetStatus: the figures the plug says; deltas equal the counter's to 0.001 Wh. */
static void test_switch_readings(void **state)
{
        static const double adds[] = {0.001, 0.125, 12.5, 0.333, 1234.567, 0.002, 98765.4321};
        meter_peer_t p;
        lab_meter_t *m;
        lab_meter_reading_t a, b;
        double counter = 6.532;

        peer_start(&p);
        m = open_switch(p.port);
        meter_peer_say(&p, "energy %.3f", counter);
        meter_peer_say(&p, "power 8.9");
        a = meter_read_ok(m);
        assert_near(a.energy_wh, 6.532, 1e-9);
        assert_near(a.power_w, 8.9, 1e-9);
        for (size_t i = 0; i < ELEMENTSOF(adds); i++) {
                meter_peer_say(&p, "add %.4f", adds[i]);
                counter += adds[i];
                b = meter_read_ok(m);
                assert_near(b.energy_wh - a.energy_wh, adds[i], 0.001);
                assert_near(b.energy_wh, counter, 0.001);
                assert_true(b.mono_usec > a.mono_usec);
                a = b;
        }
        /* An idle plug: 0 W is a figure, not "none". */
        meter_peer_say(&p, "power 0");
        b = meter_read_ok(m);
        assert_false(isnan(b.power_w));
        assert_near(b.power_w, 0.0, 0.0);
        assert_string_equal(lab_meter_name(m), "plug1");
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* EM1 + EM1Data: act_power and total_act_energy of the configured channel, two requests. */
static void test_em1_readings(void **state)
{
        meter_peer_t p;
        lab_meter_t *m;
        lab_meter_reading_t a, b;
        long before;

        peer_start(&p);
        meter_peer_say(&p, "energy 111.111 0");
        meter_peer_say(&p, "power 11 0");
        meter_peer_say(&p, "energy 2776.11 1");
        meter_peer_say(&p, "power 501.8 1");
        m = open_shelly(p.port, &(shelly_opts_t){.component = LAB_METER_SHELLY_EM1, .channel = 1});
        before = peer_requests(&p);
        a = meter_read_ok(m);
        assert_int_equal(peer_requests(&p) - before, 2);
        assert_near(a.energy_wh, 2776.11, 1e-9);
        assert_near(a.power_w, 501.8, 1e-9);
        meter_peer_say(&p, "add 0.499 1");
        meter_peer_say(&p, "add 50 0"); /* the other channel moves: not ours */
        b = meter_read_ok(m);
        assert_near(b.energy_wh - a.energy_wh, 0.499, 0.001);
        lab_meter_close(m);

        m = open_shelly(p.port, &(shelly_opts_t){.component = LAB_METER_SHELLY_EM1});
        a = meter_read_ok(m);
        assert_near(a.energy_wh, 161.111, 0.001);
        assert_near(a.power_w, 11.0, 1e-9);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* A plug that rebooted counts from 0 again: the driver returns the new small figure. */
static void test_reboot(void **state)
{
        meter_peer_t p;
        lab_meter_t *m;

        peer_start(&p);
        m = open_switch(p.port);
        meter_peer_say(&p, "energy 5000.5");
        assert_near(meter_read_ok(m).energy_wh, 5000.5, 1e-9);
        meter_peer_say(&p, "reboot");
        meter_peer_say(&p, "add 0.25");
        assert_near(meter_read_ok(m).energy_wh, 0.25, 1e-9);
        meter_peer_say(&p, "add 1.5");
        assert_near(meter_read_ok(m).energy_wh, 1.75, 1e-9);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* Digest authentication (SHA-256, as Gen2 devices ask): the right password reads. */
static void test_auth_right(void **state)
{
        meter_peer_t p;
        lab_meter_t *m;

        peer_start(&p);
        meter_peer_say(&p, "energy 42.042");
        meter_peer_say(&p, "auth admin s3cret:x");
        m = open_shelly(p.port, &(shelly_opts_t){.username = "admin", .password = "s3cret:x"});
        assert_near(meter_read_ok(m).energy_wh, 42.042, 1e-9);
        assert_near(meter_read_ok(m).energy_wh, 42.042, 1e-9);
        lab_meter_close(m);
        /* A password alone is admin's, the one user a Shelly has; EM1 reads twice with it. */
        m = open_shelly(
            p.port, &(shelly_opts_t){.component = LAB_METER_SHELLY_EM1, .password = "s3cret:x"});
        assert_near(meter_read_ok(m).energy_wh, 42.042, 1e-9);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* A wrong password, or none where the device asks for one: meter_protocol, and it says so. */
static void test_auth_wrong(void **state)
{
        meter_peer_t p;
        lab_meter_t *m;

        peer_start(&p);
        meter_peer_say(&p, "energy 42");
        meter_peer_say(&p, "auth admin s3cret");
        m = open_shelly(p.port, &(shelly_opts_t){.username = "admin", .password = "wrong"});
        meter_read_fails_saying(m, "meter_protocol", "authentication failed");
        lab_meter_close(m);
        m = open_shelly(p.port, &(shelly_opts_t){.username = "root", .password = "s3cret"});
        meter_read_fails_saying(m, "meter_protocol", "authentication failed");
        lab_meter_close(m);
        m = open_switch(p.port);
        meter_read_fails_saying(m, "meter_protocol", "asks for a password");
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* Run one bad answer: mode on the peer, the read fails with keyword and needle. */
static void expect_mode(const char *mode, lab_meter_shelly_component_t component,
                        const char *keyword, const char *needle)
{
        meter_peer_t p;
        lab_meter_t *m;

        peer_start(&p);
        meter_peer_say(&p, "energy 10");
        meter_peer_say(&p, "power 100");
        m = open_shelly(p.port, &(shelly_opts_t){.component = component});
        meter_read_ok(m);
        meter_peer_say(&p, "mode %s", mode);
        meter_read_fails_saying(m, keyword, needle);
        meter_peer_say(&p, "mode normal");
        assert_near(meter_read_ok(m).energy_wh, 10.0, 1e-9);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* A captive portal's or another device's HTML page. */
static void test_html(void **state)
{
        expect_mode("html", LAB_METER_SHELLY_SWITCH, "meter_protocol", "HTML");
}

/* Text, and JSON with NaN in it (not JSON). */
static void test_not_json(void **state)
{
        expect_mode("text", LAB_METER_SHELLY_SWITCH, "meter_protocol", "not a JSON object");
        expect_mode("nan", LAB_METER_SHELLY_SWITCH, "meter_protocol", "not a JSON object");
        expect_mode("nan", LAB_METER_SHELLY_EM1, "meter_protocol", "not a JSON object");
}

/* A status with no energy counter (a switch without metering, a wrong component). */
static void test_no_aenergy(void **state)
{
        expect_mode("noenergy", LAB_METER_SHELLY_SWITCH, "meter_protocol", "aenergy.total");
        expect_mode("noenergy", LAB_METER_SHELLY_EM1, "meter_protocol", "total_act_energy");
}

/* A body over 64 KiB, with a Content-Length and chunked (refused while it arrives). */
static void test_too_large(void **state)
{
        expect_mode("big", LAB_METER_SHELLY_SWITCH, "meter_protocol", "65536 bytes");
        expect_mode("bigchunked", LAB_METER_SHELLY_SWITCH, "meter_protocol", "65536 bytes");
}

/* Run one "errors" entry: the read fails with keyword, or (NULL) gives the figure. */
static void expect_errors(const char *errors, lab_meter_shelly_component_t component,
                          const char *keyword)
{
        meter_peer_t p;
        lab_meter_t *m;

        peer_start(&p);
        meter_peer_say(&p, "energy 10");
        meter_peer_say(&p, "power 100");
        meter_peer_say(&p, "errors %s", errors);
        m = open_shelly(p.port, &(shelly_opts_t){.component = component});
        if (keyword)
                meter_read_fails_saying(m, keyword, "measuring fault");
        else
                assert_near(meter_read_ok(m).energy_wh, 10.0, 1e-9);
        meter_peer_say(&p, "errors -");
        assert_near(meter_read_ok(m).energy_wh, 10.0, 1e-9);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* The device's own measuring fault. */
static void test_errors_power_meter_failure(void **state)
{
        expect_errors("power_meter_failure", LAB_METER_SHELLY_SWITCH, "meter_bad_value");
        expect_errors("power_meter_failure", LAB_METER_SHELLY_EM1, "meter_bad_value");
}

/* A measurement out of the device's range. */
static void test_errors_out_of_range(void **state)
{
        expect_errors("out_of_range:current", LAB_METER_SHELLY_SWITCH, "meter_bad_value");
        expect_errors("overtemp,out_of_range:active_power", LAB_METER_SHELLY_EM1,
                      "meter_bad_value");
        /* A relay's protections stop the load, not the meter: the figure stands. */
        expect_errors("overtemp,overpower", LAB_METER_SHELLY_SWITCH, NULL);
}

/* Negative figures (NaN cannot be in JSON: see test_not_json). */
static void test_negative(void **state)
{
        meter_peer_t p;
        lab_meter_t *m;

        peer_start(&p);
        m = open_switch(p.port);
        meter_peer_say(&p, "power 10");
        meter_peer_say(&p, "energy -0.5");
        meter_read_fails_saying(m, "meter_bad_value", "negative energy");
        meter_peer_say(&p, "energy 5");
        meter_peer_say(&p, "power -3");
        meter_read_fails_saying(m, "meter_bad_value", "negative power");
        lab_meter_close(m);
        m = open_shelly(p.port, &(shelly_opts_t){.component = LAB_METER_SHELLY_EM1});
        meter_read_fails_saying(m, "meter_bad_value", "act_power");
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* Power above max_power_w; at the limit is fine. */
static void test_power_over_max(void **state)
{
        meter_peer_t p;
        lab_meter_t *m;

        peer_start(&p);
        m = open_switch(p.port);
        meter_peer_say(&p, "energy 5");
        meter_peer_say(&p, "power %.1f", MAX_POWER + 0.5);
        meter_read_fails_saying(m, "meter_bad_value", "max_power_w");
        meter_peer_say(&p, "power %.1f", MAX_POWER);
        assert_near(meter_read_ok(m).power_w, MAX_POWER, 0.0);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* A device slower than the timeout: meter_timeout within it; an EM1 read's two requests
   share one timeout. */
static void test_timeout(void **state)
{
        meter_peer_t p;
        lab_meter_t *m;
        long long took;

        peer_start(&p);
        meter_peer_say(&p, "energy 3");
        m = open_shelly(p.port, &(shelly_opts_t){.timeout_ms = SHORT_MS});
        meter_read_ok(m);
        meter_peer_say(&p, "slow 3");
        took = meter_read_fails(m, "meter_timeout");
        print_message("    slow: %lld ms (timeout %d ms)\n", took, SHORT_MS);
        assert_true(took >= SHORT_MS - 20);
        assert_true(took <= SHORT_MS + MARGIN_MS);

        /* 300 ms an answer: one fits, two do not. */
        meter_peer_say(&p, "slow 0.3");
        assert_near(meter_read_ok(m).energy_wh, 3.0, 1e-9);
        lab_meter_close(m);
        m = open_shelly(
            p.port, &(shelly_opts_t){.component = LAB_METER_SHELLY_EM1, .timeout_ms = SHORT_MS});
        took = meter_read_fails(m, "meter_timeout");
        assert_true(took <= SHORT_MS + MARGIN_MS);
        meter_peer_say(&p, "slow 0");
        assert_near(meter_read_ok(m).energy_wh, 3.0, 1e-9);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* Nothing listening: meter_unreachable, at once. */
static void test_unreachable(void **state)
{
        lab_meter_t *m = open_switch(meter_free_port());
        long long took = meter_read_fails_saying(m, "meter_unreachable", "check the address");

        assert_true(took < 1000);
        lab_meter_close(m);
}

/* A device that accepts and hangs up without answering: meter_unreachable. */
static void test_closed(void **state)
{
        expect_mode("close", LAB_METER_SHELLY_SWITCH, "meter_unreachable", "without an answer");
}

/* HTTP statuses but 200: a channel the device does not have, a redirect (not followed). */
static void test_status(void **state)
{
        meter_peer_t p;
        lab_meter_t *m;
        long before;

        peer_start(&p);
        meter_peer_say(&p, "energy 1");
        m = open_shelly(p.port, &(shelly_opts_t){.channel = 5});
        meter_read_fails_saying(m, "meter_protocol", "HTTP 500");
        lab_meter_close(m);
        m = open_switch(p.port);
        meter_peer_say(&p, "mode redirect");
        before = peer_requests(&p);
        meter_read_fails_saying(m, "meter_protocol", "HTTP 302");
        assert_int_equal(peer_requests(&p) - before, 1);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* No proxy from the environment: the device is on the lab's network, not behind it. */
static void test_no_proxy(void **state)
{
        static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "ALL_PROXY",
                                           "all_proxy"};
        meter_peer_t p;
        lab_meter_t *m;

        peer_start(&p);
        meter_peer_say(&p, "energy 7.5");
        for (size_t i = 0; i < ELEMENTSOF(vars); i++)
                setenv(vars[i], "http://127.0.0.1:1", 1);
        m = open_switch(p.port);
        assert_near(meter_read_ok(m).energy_wh, 7.5, 1e-9);
        lab_meter_close(m);
        for (size_t i = 0; i < ELEMENTSOF(vars); i++)
                unsetenv(vars[i]);
        meter_peer_stop(&p);
}

typedef struct thread_arg_s {
        int port;
        int good;
} thread_arg_t;

static void *thread_reads(void *userdata)
{
        thread_arg_t *a = userdata;
        lab_meter_settings_t s = {.name = "t",
                                  .kind = LAB_METER_SHELLY,
                                  .timeout_usec = 5000000,
                                  .http_get = lab_platform_http_get};
        char address[32];
        lab_meter_t *m = NULL;
        lab_error_t err = {0};

        snprintf(address, sizeof address, "127.0.0.1:%d", a->port);
        s.address = address;
        if (lab_meter_open(&s, &m, &err) < 0)
                return NULL;
        for (int i = 0; i < THREAD_READS; i++) {
                lab_meter_reading_t r;

                if (lab_meter_read(m, &r, &err) == 0 && fabs(r.energy_wh - 77.7) < 1e-9)
                        a->good++;
        }
        lab_meter_close(m);
        return NULL;
}

/* Worker threads read their own meters at once through the one transport. */
static void test_threads(void **state)
{
        pthread_t t[THREADS];
        thread_arg_t a[THREADS];
        meter_peer_t p;

        peer_start(&p);
        meter_peer_say(&p, "energy 77.7");
        for (int i = 0; i < THREADS; i++) {
                a[i] = (thread_arg_t){.port = p.port};
                assert_int_equal(pthread_create(&t[i], NULL, thread_reads, &a[i]), 0);
        }
        for (int i = 0; i < THREADS; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(a[i].good, THREAD_READS);
        }
        meter_peer_stop(&p);
}

/* A transport of the test's own: records the requests, answers what it is told. */
static struct {
        char urls[2][256];
        int n;
        lab_http_request_t req;
        int fail; /* negative errno to fail with */
        const char *keyword;
} fake;

static int fake_get(const lab_http_request_t *req, lab_http_reply_t *ret, lab_error_t *err)
{
        const char *body = strstr(req->url, "EM1.")
                               ? "{\"id\":0,\"act_power\":12.5}"
                               : "{\"id\":0,\"apower\":1,\"aenergy\":{\"total\":2.5},"
                                 "\"total_act_energy\":2.5}";

        if (fake.n < 2)
                snprintf(fake.urls[fake.n], sizeof fake.urls[0], "%s", req->url);
        fake.n++;
        fake.req = *req;
        *ret = (lab_http_reply_t){0};
        if (fake.fail)
                return fake.keyword
                           ? lab_error_set(err, -fake.fail, fake.keyword, "GET %s: fake", req->url)
                           : fake.fail;
        ret->body = strdup(body);
        ret->len = strlen(body);
        ret->status = 200;
        return ret->body ? 0 : -ENOMEM;
}

/* The URLs the driver asks for, and what it asks of the transport. */
static void test_urls(void **state)
{
        static const struct {
                const char *address;
                lab_meter_shelly_component_t component;
                unsigned channel;
                const char *url0, *url1;
        } cases[] = {
            {"192.0.2.7", LAB_METER_SHELLY_SWITCH, 0,
             "http://192.0.2.7:80/rpc/Switch.GetStatus?id=0", NULL},
            {"http://plug-3.lab:8080/", LAB_METER_SHELLY_SWITCH, 2,
             "http://plug-3.lab:8080/rpc/Switch.GetStatus?id=2", NULL},
            {"HTTPS://em.lab", LAB_METER_SHELLY_EM1, 1, "https://em.lab:443/rpc/EM1.GetStatus?id=1",
             "https://em.lab:443/rpc/EM1Data.GetStatus?id=1"},
            {"[fd00::7]:81", LAB_METER_SHELLY_EM1, 255,
             "http://[fd00::7]:81/rpc/EM1.GetStatus?id=255",
             "http://[fd00::7]:81/rpc/EM1Data.GetStatus?id=255"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                lab_meter_t *m;
                lab_meter_reading_t r;

                memset(&fake, 0, sizeof fake);
                m = open_shelly(0, &(shelly_opts_t){.address = cases[i].address,
                                                    .component = cases[i].component,
                                                    .channel = cases[i].channel,
                                                    .username = "admin",
                                                    .password = "pw",
                                                    .http_get = fake_get});
                r = meter_read_ok(m);
                assert_int_equal(fake.n, cases[i].url1 ? 2 : 1);
                assert_string_equal(fake.urls[0], cases[i].url0);
                if (cases[i].url1)
                        assert_string_equal(fake.urls[1], cases[i].url1);
                assert_near(r.energy_wh, 2.5, 0.0);
                assert_near(r.power_w, cases[i].component == LAB_METER_SHELLY_EM1 ? 12.5 : 1.0,
                            0.0);
                assert_string_equal(fake.req.username, "admin");
                assert_string_equal(fake.req.password, "pw");
                assert_int_equal(fake.req.max_body, LAB_METER_OUTPUT_MAX);
                assert_true(fake.req.timeout_usec > 0 &&
                            fake.req.timeout_usec <= TIMEOUT_MS * 1000);
                lab_meter_close(m);
        }
}

/* Each transport failure becomes the meter keyword a person acts on. */
static void test_transport_errors(void **state)
{
        static const struct {
                int fail;
                const char *keyword, *want;
        } cases[] = {
            {-ECONNREFUSED, "http_unreachable", "meter_unreachable"},
            {-ETIMEDOUT, "http_timeout", "meter_timeout"},
            {-EFBIG, "http_too_large", "meter_protocol"},
            {-ECONNABORTED, "http_tls", "meter_unreachable"},
            {-EPROTO, "http_protocol", "meter_protocol"},
            {-EINVAL, "http_config", "meter_unreachable"},
            {-ENOMEM, NULL, "meter_protocol"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                lab_meter_t *m;

                memset(&fake, 0, sizeof fake);
                fake.fail = cases[i].fail;
                fake.keyword = cases[i].keyword;
                m = open_shelly(0, &(shelly_opts_t){.address = "192.0.2.7", .http_get = fake_get});
                print_message("  %s\n", cases[i].keyword ? cases[i].keyword : "ENOMEM");
                meter_read_fails(m, cases[i].want);
                lab_meter_close(m);
        }
}

/* Settings that cannot work are meter_config at open, before any request. */
static void test_config(void **state)
{
        static const char *const bad_addresses[] = {
            "",
            "http://",
            "ftp://192.0.2.7",
            "192.0.2.7/rpc",
            "http://192.0.2.7/rpc/Switch.GetStatus",
            "admin:pw@192.0.2.7",
            "http://admin@192.0.2.7",
            "192.0.2.7:0",
            "192.0.2.7:65536",
            "192.0.2.7:",
            "fd00::7",
            "[fd00::7",
            "[fd00::7]x",
            "[fd00::g]",
            "192.0.2.7?x=1",
            "192.0.2.7#x",
            "plug lab",
            "//192.0.2.7",
        };
        static const char *const good_addresses[] = {
            "192.0.2.7",  "192.0.2.7:8080",   "http://192.0.2.7",    "https://plug.lab:8443/",
            "[::1]:8080", "http://[fd00::7]", "shellyplug-s_01.lab", "HTTP://192.0.2.7/",
        };
        lab_meter_settings_t s = {.name = "m",
                                  .kind = LAB_METER_SHELLY,
                                  .timeout_usec = 1000000,
                                  .http_get = lab_platform_http_get};
        lab_meter_t *m;
        lab_error_t err;

        for (size_t i = 0; i < ELEMENTSOF(bad_addresses); i++) {
                s.address = bad_addresses[i];
                meter_expect_config(&s, bad_addresses[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(good_addresses); i++) {
                s.address = good_addresses[i];
                if (lab_meter_open(&s, &m, &err) < 0)
                        fail_msg("%s: %s", good_addresses[i], err.message);
                lab_meter_close(m);
        }
        s.address = "192.0.2.7";
        s.channel = 256;
        meter_expect_config(&s, "channel 256");
        s.channel = 0;
        s.component = (lab_meter_shelly_component_t)7;
        meter_expect_config(&s, "component 7");
        s.component = LAB_METER_SHELLY_EM1;
        s.http_get = NULL;
        meter_expect_config(&s, "no transport");
        s.http_get = lab_platform_http_get;
        s.timeout_usec = 0;
        meter_expect_config(&s, "timeout 0");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_switch_readings),
            cmocka_unit_test(test_em1_readings),
            cmocka_unit_test(test_reboot),
            cmocka_unit_test(test_auth_right),
            cmocka_unit_test(test_auth_wrong),
            cmocka_unit_test(test_html),
            cmocka_unit_test(test_not_json),
            cmocka_unit_test(test_no_aenergy),
            cmocka_unit_test(test_too_large),
            cmocka_unit_test(test_errors_power_meter_failure),
            cmocka_unit_test(test_errors_out_of_range),
            cmocka_unit_test(test_negative),
            cmocka_unit_test(test_power_over_max),
            cmocka_unit_test(test_timeout),
            cmocka_unit_test(test_unreachable),
            cmocka_unit_test(test_closed),
            cmocka_unit_test(test_status),
            cmocka_unit_test(test_no_proxy),
            cmocka_unit_test(test_threads),
            cmocka_unit_test(test_urls),
            cmocka_unit_test(test_transport_errors),
            cmocka_unit_test(test_config),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
