/*
 * test-meter-modbus.c - the Modbus TCP meter driver against a real Modbus
 * peer (modbus-peer.c, libmodbus's server side, SDM630 register map).
 *
 * Why: issue 17 wants every driver to give the meter's own counter to
 * within 0.001 Wh, and every bad answer to end as meter_protocol or
 * meter_bad_value, never as 0: a meter fault reported as zero energy would
 * hand the platform a false footprint. Each case drives the peer through its
 * control channel, reads through the public interface (meter.h), and checks
 * the keyword. Loopback only; every wait is bounded.
 */
#include <errno.h>
#include <math.h>
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
#include "testutil.h"

#define MAX_POWER  3000.0
#define TIMEOUT_MS 500

typedef meter_peer_t peer_t;

/* Start the Modbus peer (on port, or one it picks when 0). */
static void peer_start(peer_t *p, int port)
{
        char arg[16];
        char *argv[] = {MODBUS_PEER, arg, NULL};

        snprintf(arg, sizeof arg, "%d", port);
        meter_peer_start(p, "the Modbus peer", argv, port);
}

static lab_meter_t *open_meter(const char *preset, int port, uint64_t timeout_ms,
                               lab_meter_settings_t *tweak)
{
        char address[64];
        lab_meter_settings_t s = {
            .name = "m1",
            .kind = LAB_METER_MODBUS,
            .address = address,
            .timeout_usec = timeout_ms * 1000,
            .max_power_w = MAX_POWER,
        };
        lab_meter_t *m = NULL;
        lab_error_t err = {0};

        snprintf(address, sizeof address, "127.0.0.1:%d/1", port);
        if (preset)
                assert_int_equal(lab_meter_preset(preset, &s.energy, &s.power), 0);
        if (tweak) {
                s.energy = tweak->energy.address ? tweak->energy : s.energy;
                s.power = tweak->power.address ? tweak->power : s.power;
                s.address = tweak->address ? tweak->address : s.address;
        }
        if (lab_meter_open(&s, &m, &err) < 0)
                fail_msg("open: %s: %s", err.keyword, err.message);
        return m;
}

/* The float32 a register holds for v, in the unit after scale. */
static double as_float(double v, double scale)
{
        return (double)(float)v * scale;
}

/* Readings equal the registers; deltas equal the counter's to within 0.001 Wh. */
static void test_readings(void **state)
{
        peer_t p;
        lab_meter_t *m;
        lab_meter_reading_t a, b, c;
        const double kwh[] = {1234.5, 1234.625, 9876.543, 9876.602, 0.001};

        peer_start(&p, 0);
        m = open_meter("sdm630", p.port, TIMEOUT_MS, NULL);
        meter_peer_say(&p, "power 250.5");
        meter_peer_say(&p, "energy %.6f", kwh[0]);
        a = meter_read_ok(m);
        assert_near(a.energy_wh, 1234500.0, 0.001);
        assert_near(a.power_w, 250.5, 0.0001);

        meter_peer_say(&p, "energy %.6f", kwh[1]);
        b = meter_read_ok(m);
        assert_near(b.energy_wh - a.energy_wh, 125.0, 0.001);
        assert_true(b.mono_usec > a.mono_usec);

        /* Values a float32 cannot hold exactly: the driver gives what the register holds. */
        meter_peer_say(&p, "energy %.6f", kwh[2]);
        b = meter_read_ok(m);
        assert_near(b.energy_wh, as_float(kwh[2], 1000), 0.001);
        meter_peer_say(&p, "energy %.6f", kwh[3]);
        c = meter_read_ok(m);
        assert_near(c.energy_wh - b.energy_wh, as_float(kwh[3], 1000) - as_float(kwh[2], 1000),
                    0.001);
        assert_near(c.energy_wh - b.energy_wh, 59.0, 1.0); /* ~1 Wh steps up there */

        /* A counter that restarted is still a reading: resets are the sampler's call. */
        meter_peer_say(&p, "energy %.6f", kwh[4]);
        meter_peer_say(&p, "power 0");
        c = meter_read_ok(m);
        assert_near(c.energy_wh, as_float(kwh[4], 1000), 0.001);
        assert_near(c.power_w, 0.0, 0.0);

        assert_string_equal(lab_meter_name(m), "m1");
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* Registers given by number, 6-digit number and 0-based address; no power register. */
static void test_register_forms(void **state)
{
        peer_t p;
        lab_meter_t *m;
        lab_meter_reading_t r;
        lab_meter_settings_t t = {0};

        peer_start(&p, 0);
        meter_peer_say(&p, "energy 42.25");
        meter_peer_say(&p, "reg 30053 1500");

        t.energy = (lab_meter_register_t){300073, 1000.0};
        t.power = (lab_meter_register_t){52, 1.0};
        m = open_meter(NULL, p.port, TIMEOUT_MS, &t);
        r = meter_read_ok(m);
        assert_near(r.energy_wh, 42250.0, 0.001);
        assert_near(r.power_w, 1500.0, 0.0001);
        lab_meter_close(m);

        /* No power register: power NAN, never 0. */
        t.energy = (lab_meter_register_t){72, 1000.0};
        t.power = (lab_meter_register_t){0, 0};
        m = open_meter(NULL, p.port, TIMEOUT_MS, &t);
        r = meter_read_ok(m);
        assert_near(r.energy_wh, 42250.0, 0.001);
        assert_true(isnan(r.power_w));
        lab_meter_close(m);

        /* A register the meter does not have: its own exception 2, meter_protocol. */
        t.energy = (lab_meter_register_t){30201, 1000.0};
        m = open_meter(NULL, p.port, TIMEOUT_MS, &t);
        meter_read_fails(m, "meter_protocol");
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* The presets read the registers Eastron's manuals give. */
static void test_presets(void **state)
{
        lab_meter_register_t e, w;
        peer_t p;
        lab_meter_t *m;
        lab_meter_reading_t r;

        assert_int_equal(lab_meter_preset("sdm630", &e, &w), 0);
        assert_int_equal(e.address, 30073);
        assert_near(e.scale, 1000.0, 0.0);
        assert_int_equal(w.address, 30053);
        assert_near(w.scale, 1.0, 0.0);
        assert_int_equal(lab_meter_preset("sdm120", &e, &w), 0);
        assert_int_equal(e.address, 30073);
        assert_near(e.scale, 1000.0, 0.0);
        assert_int_equal(w.address, 30013);
        assert_near(w.scale, 1.0, 0.0);
        assert_int_equal(lab_meter_preset("sdm72", &e, &w), -ENOENT);
        assert_int_equal(lab_meter_preset("SDM630", &e, &w), -ENOENT);
        assert_int_equal(lab_meter_preset("", &e, &w), -ENOENT);
        assert_int_equal(lab_meter_preset(NULL, &e, &w), -ENOENT);

        /* Against the peer: each preset reads its own power register. */
        peer_start(&p, 0);
        meter_peer_say(&p, "energy 10");
        meter_peer_say(&p, "reg 30013 111");
        meter_peer_say(&p, "reg 30053 222");
        m = open_meter("sdm120", p.port, TIMEOUT_MS, NULL);
        r = meter_read_ok(m);
        assert_near(r.power_w, 111.0, 0.0);
        assert_near(r.energy_wh, 10000.0, 0.001);
        lab_meter_close(m);
        m = open_meter("sdm630", p.port, TIMEOUT_MS, NULL);
        r = meter_read_ok(m);
        assert_near(r.power_w, 222.0, 0.0);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* A Modbus exception is meter_protocol; the connection survives it. */
static void test_exception(void **state)
{
        peer_t p;
        lab_meter_t *m;
        const int codes[] = {1, 2, 4, 6, 11};

        peer_start(&p, 0);
        meter_peer_say(&p, "energy 5");
        m = open_meter("sdm630", p.port, TIMEOUT_MS, NULL);
        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                meter_peer_say(&p, "exception %d", codes[i]);
                meter_read_fails(m, "meter_protocol");
        }
        meter_peer_say(&p, "answer");
        assert_near(meter_read_ok(m).energy_wh, 5000.0, 0.001);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* NaN, Inf, negative values and power over max_power_w are meter_bad_value, never 0. */
static void test_bad_values(void **state)
{
        static const char *const cmds[] = {"nan",       "inf",       "neg",          "nan power",
                                           "inf power", "neg power", "power 3000.5", "power -0.5"};
        peer_t p;
        lab_meter_t *m;

        peer_start(&p, 0);
        m = open_meter("sdm630", p.port, TIMEOUT_MS, NULL);
        for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
                meter_peer_say(&p, "energy 7");
                meter_peer_say(&p, "power 100");
                print_message("  %s\n", cmds[i]);
                meter_peer_say(&p, "%s", cmds[i]);
                meter_read_fails(m, "meter_bad_value");
        }
        /* At the limit is fine. */
        meter_peer_say(&p, "energy 7");
        meter_peer_say(&p, "power %.1f", MAX_POWER);
        assert_near(meter_read_ok(m).power_w, MAX_POWER, 0.0);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* A peer that stops answering is meter_timeout within the timeout; it reads again after. */
static void test_timeout(void **state)
{
        peer_t p;
        lab_meter_t *m;
        long long took;

        peer_start(&p, 0);
        meter_peer_say(&p, "energy 3");
        m = open_meter("sdm630", p.port, TIMEOUT_MS, NULL);
        meter_read_ok(m);

        meter_peer_say(&p, "silent");
        took = meter_read_fails(m, "meter_timeout");
        print_message("    silent: %lld ms (timeout %d ms)\n", took, TIMEOUT_MS);
        assert_true(took >= TIMEOUT_MS - 20);
        assert_true(took <= TIMEOUT_MS + 250);

        /* Each answer late by 300 ms: the two requests of a read share one timeout. */
        meter_peer_say(&p, "answer");
        meter_peer_say(&p, "slow 300");
        took = meter_read_fails(m, "meter_timeout");
        assert_true(took <= TIMEOUT_MS + 250);

        meter_peer_say(&p, "slow 50");
        assert_near(meter_read_ok(m).energy_wh, 3000.0, 0.001);
        meter_peer_say(&p, "answer");
        assert_near(meter_read_ok(m).energy_wh, 3000.0, 0.001);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* Nothing listening: meter_unreachable, at once. */
static void test_unreachable(void **state)
{
        lab_meter_t *m = open_meter("sdm630", meter_free_port(), 2000, NULL);
        long long took = meter_read_fails(m, "meter_unreachable");

        assert_true(took < 1000);
        lab_meter_close(m);
}

/* A meter restarted on the same port reads again: after a failed read, and also with no
   read in between (the kept connection is dead: one reconnect, no fault). */
static void test_restart(void **state)
{
        peer_t p;
        lab_meter_t *m;
        int port;

        peer_start(&p, 0);
        port = p.port;
        meter_peer_say(&p, "energy 100");
        m = open_meter("sdm630", port, TIMEOUT_MS, NULL);
        assert_near(meter_read_ok(m).energy_wh, 100000.0, 0.001);

        meter_peer_stop(&p);
        meter_read_fails(m, "meter_unreachable");
        meter_read_fails(m, "meter_unreachable");
        peer_start(&p, port);
        meter_peer_say(&p, "energy 100.5");
        assert_near(meter_read_ok(m).energy_wh, 100500.0, 0.001);

        meter_peer_stop(&p);
        peer_start(&p, port);
        meter_peer_say(&p, "energy 101");
        assert_near(meter_read_ok(m).energy_wh, 101000.0, 0.001);
        lab_meter_close(m);
        meter_peer_stop(&p);
}

/* Settings that cannot work are meter_config at open, before any connection. */
static void test_config(void **state)
{
        static const char *const bad_addresses[] = {
            "",
            ":502",
            "127.0.0.1:",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "127.0.0.1:x",
            "127.0.0.1/0",
            "127.0.0.1/248",
            "127.0.0.1/1x",
            "127.0.0.1:502/",
            "::1:502",
            "[::1",
            "[::1]x",
            "h:1:2",
        };
        static const char *const good_addresses[] = {
            "127.0.0.1",          "127.0.0.1:1502", "127.0.0.1/3",
            "127.0.0.1:1502/247", "[::1]:502/255",  "meter.example:502",
        };
        lab_meter_settings_t s = {.name = "m", .kind = LAB_METER_MODBUS, .timeout_usec = 1000000};
        lab_meter_t *m;
        lab_error_t err;

        assert_int_equal(lab_meter_preset("sdm630", &s.energy, &s.power), 0);
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
        s.address = "127.0.0.1";
        s.energy = (lab_meter_register_t){40001, 1000};
        meter_expect_config(&s, "a holding register");
        s.energy = (lab_meter_register_t){0, 1000};
        meter_expect_config(&s, "no energy register");
        s.energy = (lab_meter_register_t){30073, 0};
        meter_expect_config(&s, "scale 0");
        s.energy = (lab_meter_register_t){30073, NAN};
        meter_expect_config(&s, "scale NaN");
        s.energy = (lab_meter_register_t){365536, 1};
        meter_expect_config(&s, "a float past the last register");
        s.energy = (lab_meter_register_t){30073, 1000};
        s.power = (lab_meter_register_t){30053, -1};
        meter_expect_config(&s, "power scale negative");
        s.power = (lab_meter_register_t){30053, 1};
        s.timeout_usec = 0;
        meter_expect_config(&s, "timeout 0");
        s.timeout_usec = 1000000;
        s.name = NULL;
        meter_expect_config(&s, "no name");
        s.name = "m";
        s.max_power_w = NAN;
        meter_expect_config(&s, "max_power_w NaN");
        lab_meter_close(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_readings),    cmocka_unit_test(test_register_forms),
            cmocka_unit_test(test_presets),     cmocka_unit_test(test_exception),
            cmocka_unit_test(test_bad_values),  cmocka_unit_test(test_timeout),
            cmocka_unit_test(test_unreachable), cmocka_unit_test(test_restart),
            cmocka_unit_test(test_config),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
