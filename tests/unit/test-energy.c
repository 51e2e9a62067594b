/*
 * test-energy.c - the meters' pure logic of agent/energy (issue 17, parts 2
 * and 3): cumulative readings into intervals (deltas, gaps, resets, wraps,
 * bad values, restarts) and an interval's energy shared by media area.
 *
 * Why: the platform bills emissions per order from these figures, and the
 * issue promises that nothing is lost or counted twice and that the jobs'
 * energy plus the idle energy is the metered total. Each promise is a case
 * here with exact inputs and exact mWh; the random run checks the sum over
 * thousands of intervals. Pure: no meter, no store, no clock.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "energy-counter.h"
#include "energy-media.h"
#include "energy-share.h"

#define SEC   1000000ull      /* µs */
#define T0    (1000 * SEC)    /* CLOCK_MONOTONIC of the first reading: any */
#define A4X6  (101.6 * 152.4) /* mm²: 4x6 in */
#define A8X12 (203.2 * 304.8) /* mm²: 8x12 in, four 4x6 */

/* A counter with these settings; fails the test if they are refused. */
static lab_energy_counter_t counter(unsigned bits, double unit_wh, double max_power_w)
{
        lab_energy_counter_settings_t s = {
            .counter_bits = bits, .unit_wh = unit_wh, .max_power_w = max_power_w};
        lab_energy_counter_t c;
        lab_error_t e = {0};

        assert_int_equal(lab_energy_counter_init(&c, &s, &e), 0);
        assert_false(lab_error_isset(&e));
        return c;
}

/* A reading of energy_wh and power_w at t µs. */
static lab_energy_sample_t sample(double energy_wh, double power_w, uint64_t t)
{
        return (lab_energy_sample_t){.energy_wh = energy_wh, .power_w = power_w, .mono_usec = t};
}

/* Take a reading that must close an interval; returns it. */
static lab_energy_interval_t take(lab_energy_counter_t *c, double energy_wh, uint64_t t)
{
        lab_energy_sample_t r = sample(energy_wh, NAN, t);
        lab_energy_interval_t iv;
        lab_error_t e = {0};
        int k = lab_energy_counter_add(c, &r, &iv, &e);

        if (k != 1)
                fail_msg("reading %.6f Wh at %llu: %d (%s: %s), want an interval", energy_wh,
                         (unsigned long long)t, k, e.keyword, e.message);
        assert_true(iv.delta_mwh >= 0);
        assert_true(iv.delta_wh == (double)iv.delta_mwh / 1000.0);
        assert_true(iv.total_wh == energy_wh);
        assert_int_equal(iv.to_usec, t);
        return iv;
}

/* Take the first reading: the baseline, no interval. */
static void baseline(lab_energy_counter_t *c, double energy_wh, uint64_t t)
{
        lab_energy_sample_t r = sample(energy_wh, NAN, t);
        lab_energy_interval_t iv = {.delta_mwh = -7};

        assert_int_equal(lab_energy_counter_add(c, &r, &iv, NULL), 0);
        assert_int_equal(iv.delta_mwh, -7); /* untouched */
        assert_true(c->has_base);
}

/* |got - want| <= 0.001 Wh */
static void assert_wh_near(double got, double want)
{
        if (!(fabs(got - want) <= 0.001))
                fail_msg("%.6f Wh, want %.6f Wh to within 0.001", got, want);
}

/* A deterministic PRNG (xorshift64*), so a failure is repeatable. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, n). */
static unsigned rng_below(unsigned n)
{
        return (unsigned)(rng() % n);
}

/* ---- names and settings ---- */

static void test_quality_keywords(void **state)
{
        assert_string_equal(lab_energy_quality_to_string(LAB_ENERGY_OK), "ok");
        assert_string_equal(lab_energy_quality_to_string(LAB_ENERGY_GAP), "gap");
        assert_string_equal(lab_energy_quality_to_string(LAB_ENERGY_RESET), "meter_reset");
        assert_null(lab_energy_quality_to_string((lab_energy_quality_t)3));
        for (int q = LAB_ENERGY_OK; q <= LAB_ENERGY_RESET; q++)
                assert_int_equal(lab_energy_quality_from_string(lab_energy_quality_to_string(q)),
                                 q);
        assert_int_equal(lab_energy_quality_from_string("reset"), -1);
        assert_int_equal(lab_energy_quality_from_string(NULL), -1);
}

static void test_settings_refused(void **state)
{
        const lab_energy_counter_settings_t bad[] = {
            {.counter_bits = 54, .unit_wh = 1},
            {.counter_bits = 32, .unit_wh = 0},
            {.counter_bits = 32, .unit_wh = NAN},
            {.counter_bits = 32, .unit_wh = -10},
            {.counter_bits = 53, .unit_wh = 1000}, /* a range over LAB_ENERGY_MAX_WH */
            {.max_power_w = NAN},
            {.max_power_w = INFINITY},
        };
        lab_energy_counter_t c;

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                lab_error_t e = {0};

                assert_int_equal(lab_energy_counter_init(&c, &bad[i], &e), -EINVAL);
                assert_string_equal(e.keyword, "meter_config");
        }
        /* No limit, a 32-bit counter of 0.01 kWh steps: fine. */
        c = counter(0, 0, 0);
        c = counter(0, 0, -1);
        assert_true(c.settings.max_power_w == 0);
        c = counter(32, 10, 3000);
        assert_false(c.has_base);
}

/* ---- deltas ---- */

/* Deltas equal the counter's deltas to within 0.001 Wh, and add up exactly in mWh. */
static void test_deltas_follow_counter(void **state)
{
        const double counts[] = {1234.5678, 1234.5678, 1240.0004, 1240.0006,    1300.1,
                                 1300.1005, 1999.9999, 2000.0,    35000.123456, 35000.124};
        lab_energy_counter_t c = counter(0, 0, 0);
        int64_t sum = 0;

        baseline(&c, counts[0], T0);
        for (size_t i = 1; i < sizeof counts / sizeof counts[0]; i++) {
                lab_energy_interval_t iv = take(&c, counts[i], T0 + i * 60 * SEC);

                assert_wh_near(iv.delta_wh, counts[i] - counts[i - 1]);
                assert_int_equal(iv.quality, LAB_ENERGY_OK);
                assert_int_equal(iv.missed, 0);
                assert_true(iv.from_known);
                assert_int_equal(iv.from_usec, T0 + (i - 1) * 60 * SEC);
                sum += iv.delta_mwh;
        }
        /* The deltas telescope: no rounding error per interval. */
        assert_int_equal(sum, lab_energy_mwh(35000.124) - lab_energy_mwh(1234.5678));
        assert_wh_near((double)sum / 1000.0, 35000.124 - 1234.5678);
}

/* Many small steps that are no whole mWh: the sum is still the counter's difference. */
static void test_deltas_telescope(void **state)
{
        lab_energy_counter_t c = counter(0, 0, 0);
        double count = 100.0;
        int64_t sum = 0;

        baseline(&c, count, T0);
        for (unsigned i = 1; i <= 20000; i++) {
                double before = count;
                lab_energy_interval_t iv;

                count += (double)rng_below(1000000) / 3e6; /* 0 to 0.33 Wh, never whole mWh */
                iv = take(&c, count, T0 + i * SEC);
                assert_wh_near(iv.delta_wh, count - before);
                sum += iv.delta_mwh;
        }
        assert_int_equal(sum, lab_energy_mwh(count) - lab_energy_mwh(100.0));
        assert_wh_near((double)sum / 1000.0, count - 100.0);
}

static void test_first_reading_is_baseline(void **state)
{
        lab_energy_counter_t c = counter(0, 0, 0);
        lab_energy_interval_t iv;
        lab_energy_saved_t saved = lab_energy_counter_saved(&c);

        assert_false(saved.valid);
        lab_energy_counter_failed(&c); /* failures before any reading bridge nothing */
        baseline(&c, 42.0, T0);
        assert_int_equal(c.missed, 0);
        saved = lab_energy_counter_saved(&c);
        assert_true(saved.valid);
        assert_true(saved.energy_wh == 42.0);
        iv = take(&c, 42.0, T0 + 60 * SEC); /* no energy: a 0 delta, quality ok */
        assert_int_equal(iv.delta_mwh, 0);
        assert_int_equal(iv.quality, LAB_ENERGY_OK);
}

/* ---- gaps ---- */

/* Three failed samples: the next good reading covers them, marked gap; then ok again. */
static void test_gap_after_failed_samples(void **state)
{
        lab_energy_counter_t c = counter(0, 0, 2000);
        lab_energy_interval_t iv;

        baseline(&c, 500.0, T0);
        iv = take(&c, 510.0, T0 + 60 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_OK);
        for (int i = 0; i < 3; i++)
                lab_energy_counter_failed(&c);
        iv = take(&c, 550.25, T0 + 240 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_GAP);
        assert_int_equal(iv.missed, 3);
        assert_int_equal(iv.from_usec, T0 + 60 * SEC); /* from the last good reading */
        assert_true(iv.from_known);
        assert_int_equal(iv.delta_mwh, 40250); /* all of it: nothing lost */
        iv = take(&c, 551.0, T0 + 300 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_OK);
        assert_int_equal(iv.missed, 0);
        assert_int_equal(iv.delta_mwh, 750);
}

/* ---- resets ---- */

/* A Shelly plug reboots: its counter restarts at 0. meter_reset, and the deltas are right. */
static void test_reset_shelly_restarts_at_zero(void **state)
{
        lab_energy_counter_t c = counter(0, 0, 2500);
        lab_energy_interval_t iv;
        int64_t sum = 0;

        baseline(&c, 8123.456, T0);
        iv = take(&c, 8130.0, T0 + 60 * SEC);
        sum += iv.delta_mwh;
        assert_int_equal(iv.delta_mwh, 6544);
        /* Rebooted within the minute; counted 3.5 Wh since. */
        iv = take(&c, 3.5, T0 + 120 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_RESET);
        assert_int_equal(iv.delta_mwh, 3500); /* the energy since the restart */
        sum += iv.delta_mwh;
        iv = take(&c, 10.25, T0 + 180 * SEC); /* a new baseline: deltas from it */
        assert_int_equal(iv.quality, LAB_ENERGY_OK);
        assert_int_equal(iv.delta_mwh, 6750);
        sum += iv.delta_mwh;
        assert_int_equal(sum, 6544 + 3500 + 6750);

        /* A reboot right at 0, and a reset after failed samples: meter_reset wins over gap. */
        iv = take(&c, 0.0, T0 + 240 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_RESET);
        assert_int_equal(iv.delta_mwh, 0);
        iv = take(&c, 2.0, T0 + 300 * SEC);
        lab_energy_counter_failed(&c);
        iv = take(&c, 1.0, T0 + 420 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_RESET);
        assert_int_equal(iv.missed, 1);
        assert_int_equal(iv.delta_mwh, 1000);
}

/* Backwards by more than the meter can have counted since: a new baseline, 0 counted. */
static void test_reset_implausible_count(void **state)
{
        lab_energy_counter_t c = counter(0, 0, 120); /* 2 Wh a minute at most */
        lab_energy_interval_t iv;

        baseline(&c, 5000.0, T0);
        iv = take(&c, 4000.0, T0 + 60 * SEC); /* a meter swapped for one at 4000 Wh */
        assert_int_equal(iv.quality, LAB_ENERGY_RESET);
        assert_int_equal(iv.delta_mwh, 0);
        iv = take(&c, 4001.5, T0 + 120 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_OK);
        assert_int_equal(iv.delta_mwh, 1500);
        /* 1.9 Wh counted since a reboot within the minute: plausible, counted. */
        iv = take(&c, 1.9, T0 + 180 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_RESET);
        assert_int_equal(iv.delta_mwh, 1900);

        /* Without max_power_w nothing says it cannot be: the reading is counted. */
        c = counter(0, 0, 0);
        baseline(&c, 5000.0, T0);
        iv = take(&c, 4000.0, T0 + 60 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_RESET);
        assert_int_equal(iv.delta_mwh, 4000000);
}

/* ---- wraps ---- */

/* A 32-bit counter of 0.01 kWh steps wraps: the delta is taken modulo 2^32 steps. */
static void test_wrap_32_bits(void **state)
{
        const double step = 10.0; /* Wh */
        const double top = 4294967296.0;
        lab_energy_counter_t c = counter(32, step, 0);
        lab_energy_interval_t iv;
        int64_t sum = 0;

        baseline(&c, (top - 3) * step, T0);
        iv = take(&c, (top - 1) * step, T0 + 60 * SEC);
        assert_int_equal(iv.delta_mwh, 20000);
        sum += iv.delta_mwh;
        iv = take(&c, 2 * step, T0 + 120 * SEC); /* top - 1 → 2: 3 steps */
        assert_int_equal(iv.quality, LAB_ENERGY_OK);
        assert_int_equal(iv.delta_mwh, 30000);
        assert_wh_near(iv.delta_wh, 30.0);
        sum += iv.delta_mwh;
        iv = take(&c, 7 * step, T0 + 180 * SEC);
        assert_int_equal(iv.delta_mwh, 50000);
        sum += iv.delta_mwh;
        assert_int_equal(sum, 100000); /* (top - 3) → top + 7: 10 steps */

        /* Wrapping to exactly 0, after a failed sample: a gap, still the right delta. */
        c = counter(32, step, 0);
        baseline(&c, (top - 1) * step, T0);
        lab_energy_counter_failed(&c);
        iv = take(&c, 0.0, T0 + 120 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_GAP);
        assert_int_equal(iv.delta_mwh, 10000);
}

/* A wrap with the max_power_w limit: plausible steps wrap, others are a reset. */
static void test_wrap_or_reset(void **state)
{
        const double top = 4294967296.0;
        lab_energy_counter_t c;
        lab_energy_interval_t iv;

        /* Back from 1000 steps to 5: a wrap of nearly 2^32 steps cannot be, a reboot. */
        c = counter(32, 10.0, 0);
        baseline(&c, 1000 * 10.0, T0);
        iv = take(&c, 5 * 10.0, T0 + 60 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_RESET);
        assert_int_equal(iv.delta_mwh, 50000);

        /* A 16-bit counter of Wh: 65530 → 4 is 10 steps. */
        c = counter(16, 1.0, 0);
        baseline(&c, 65530, T0);
        iv = take(&c, 4, T0 + 60 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_OK);
        assert_int_equal(iv.delta_mwh, 10000);

        /* 3000 W at most is 50 Wh a minute: a wrap of 40 Wh is one, of 1000 Wh is not. */
        c = counter(32, 10.0, 3000);
        baseline(&c, (top - 2) * 10.0, T0);
        iv = take(&c, 2 * 10.0, T0 + 60 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_OK);
        assert_int_equal(iv.delta_mwh, 40000);
        c = counter(32, 10.0, 3000);
        baseline(&c, (top - 2) * 10.0, T0);
        iv = take(&c, 98 * 10.0, T0 + 60 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_RESET);
        assert_int_equal(iv.delta_mwh, 0); /* 980 Wh since a reboot a minute ago cannot be */
}

/* ---- bad values ---- */

/* A reading that must be refused as meter_bad_value, leaving the baseline as it was. */
static void assert_refused(double max_power_w, unsigned bits, double unit, double energy_wh,
                           double power_w)
{
        lab_energy_counter_t c = counter(bits, unit, max_power_w);
        lab_energy_counter_t before;
        lab_energy_sample_t r = sample(energy_wh, power_w, T0 + 60 * SEC);
        lab_energy_interval_t iv = {.delta_mwh = -7};
        lab_error_t e = {0};

        baseline(&c, 100.0, T0);
        before = c;
        assert_int_equal(lab_energy_counter_add(&c, &r, &iv, &e), -EINVAL);
        assert_string_equal(e.keyword, "meter_bad_value");
        assert_true(e.message[0] != '\0');
        assert_int_equal(iv.delta_mwh, -7); /* no interval, never a zero delta */
        /* No baseline change; one more failed sample. */
        assert_true(c.has_base && c.has_mono);
        assert_true(c.base_wh == before.base_wh);
        assert_int_equal(c.base_mwh, before.base_mwh);
        assert_int_equal(c.base_usec, before.base_usec);
        assert_int_equal(c.missed, before.missed + 1);
        /* The next good reading is measured from the old baseline, as a gap. */
        iv = take(&c, 103.0, T0 + 120 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_GAP);
        assert_int_equal(iv.missed, 1);
        assert_int_equal(iv.from_usec, T0);
        assert_int_equal(iv.delta_mwh, 3000);
}

static void test_bad_energy_nan(void **state)
{
        assert_refused(0, 0, 0, NAN, 100);
}

static void test_bad_energy_inf(void **state)
{
        assert_refused(0, 0, 0, INFINITY, 100);
        assert_refused(0, 0, 0, -INFINITY, 100);
}

static void test_bad_energy_negative(void **state)
{
        assert_refused(0, 0, 0, -1.0, 100);
        assert_refused(0, 0, 0, -0.001, NAN);
}

static void test_bad_energy_too_large(void **state)
{
        assert_refused(0, 0, 0, 2e15, NAN);
        /* A count outside the 32-bit counter's range is no reading of it. */
        assert_refused(0, 32, 1.0, 4294967296.0, NAN);
}

static void test_bad_power_nan_is_none(void **state)
{
        lab_energy_counter_t c = counter(0, 0, 2000);
        lab_energy_sample_t r = sample(101.0, NAN, T0 + 60 * SEC);
        lab_energy_interval_t iv;

        baseline(&c, 100.0, T0);
        assert_int_equal(lab_energy_counter_add(&c, &r, &iv, NULL), 1);
        assert_true(isnan(iv.power_w));
        assert_int_equal(iv.delta_mwh, 1000);
}

static void test_bad_power_inf(void **state)
{
        assert_refused(0, 0, 0, 101.0, INFINITY);
        assert_refused(2000, 0, 0, 101.0, -INFINITY);
}

static void test_bad_power_negative(void **state)
{
        assert_refused(0, 0, 0, 101.0, -5.0);
}

static void test_bad_power_above_max(void **state)
{
        lab_energy_counter_t c = counter(0, 0, 2000);
        lab_energy_sample_t r = sample(101.0, 2000.0, T0 + 60 * SEC);
        lab_energy_interval_t iv;

        assert_refused(2000, 0, 0, 101.0, 2000.5);
        /* At the limit is fine. */
        baseline(&c, 100.0, T0);
        assert_int_equal(lab_energy_counter_add(&c, &r, &iv, NULL), 1);
        assert_true(iv.power_w == 2000.0);
}

static void test_bad_time_before_baseline(void **state)
{
        lab_energy_counter_t c = counter(0, 0, 0);
        lab_energy_sample_t r = sample(101.0, NAN, T0 - 1);
        lab_energy_interval_t iv;
        lab_error_t e = {0};

        baseline(&c, 100.0, T0);
        assert_int_equal(lab_energy_counter_add(&c, &r, &iv, &e), -EINVAL);
        assert_string_equal(e.keyword, "meter_bad_value");
        assert_int_equal(c.base_usec, T0);
}

/* ---- restarts ---- */

/*
 * A run of readings with the agent killed at every point: before the
 * interval was stored (the saved state is the one before it) and after. The
 * intervals stored before the kill plus those after the restart add up to the
 * counter's difference exactly: nothing lost, nothing doubled.
 */
static void test_restart_reseed(void **state)
{
        double counts[40];
        int64_t want;

        counts[0] = 700.0;
        for (size_t i = 1; i < 40; i++)
                counts[i] = counts[i - 1] + (double)rng_below(50000) / 997.0;
        want = lab_energy_mwh(counts[39]) - lab_energy_mwh(counts[0]);

        for (size_t kill = 1; kill < 39; kill++)
                for (int stored = 0; stored <= 1; stored++) {
                        lab_energy_counter_t c = counter(0, 0, 0);
                        lab_energy_saved_t saved;
                        lab_error_t e = {0};
                        int64_t sum = 0;

                        baseline(&c, counts[0], T0);
                        saved = lab_energy_counter_saved(&c);
                        for (size_t i = 1; i <= kill; i++) {
                                lab_energy_interval_t iv = take(&c, counts[i], T0 + i * SEC);

                                /* The interval and the state are stored together, or neither. */
                                if (i < kill || stored) {
                                        sum += iv.delta_mwh;
                                        saved = lab_energy_counter_saved(&c);
                                }
                        }
                        /* Restarted: a new counter, a new monotonic clock starting low. */
                        c = counter(0, 0, 0);
                        assert_int_equal(lab_energy_counter_seed(&c, &saved, &e), 0);
                        assert_true(c.has_base);
                        assert_false(c.has_mono);
                        for (size_t i = kill + 1; i < 40; i++) {
                                lab_energy_interval_t iv = take(&c, counts[i], 5 * SEC + i * SEC);

                                if (i == kill + 1) {
                                        assert_false(iv.from_known);
                                        assert_int_equal(iv.from_usec, iv.to_usec);
                                        assert_int_equal(iv.quality, LAB_ENERGY_GAP);
                                        assert_int_equal(iv.missed, 0);
                                } else {
                                        assert_true(iv.from_known);
                                        assert_int_equal(iv.quality, LAB_ENERGY_OK);
                                }
                                sum += iv.delta_mwh;
                        }
                        if (sum != want)
                                fail_msg("killed after reading %zu (%s): %lld mWh, want %lld", kill,
                                         stored ? "stored" : "not stored", (long long)sum,
                                         (long long)want);
                }
}

/* The plug rebooted while the agent was down: the first reading is a reset, counted. */
static void test_restart_meter_reset_meanwhile(void **state)
{
        lab_energy_counter_t c = counter(0, 0, 2500);
        lab_energy_saved_t saved = {.valid = true, .energy_wh = 9000.0};
        lab_energy_interval_t iv;

        assert_int_equal(lab_energy_counter_seed(&c, &saved, NULL), 0);
        /* No elapsed time is known after a restart, so no limit applies. */
        iv = take(&c, 12.5, 3 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_RESET);
        assert_false(iv.from_known);
        assert_int_equal(iv.delta_mwh, 12500);

        /* A 32-bit counter that wrapped while the agent was down. */
        c = counter(32, 10.0, 3000);
        saved = (lab_energy_saved_t){.valid = true, .energy_wh = 4294967290.0 * 10.0};
        assert_int_equal(lab_energy_counter_seed(&c, &saved, NULL), 0);
        iv = take(&c, 4 * 10.0, 3 * SEC);
        assert_int_equal(iv.quality, LAB_ENERGY_GAP);
        assert_int_equal(iv.delta_mwh, 100000);
}

static void test_restart_seed_states(void **state)
{
        lab_energy_counter_t c = counter(32, 10.0, 0);
        lab_energy_saved_t none = {.valid = false};
        const lab_energy_saved_t bad[] = {
            {.valid = true, .energy_wh = NAN},
            {.valid = true, .energy_wh = -1},
            {.valid = true, .energy_wh = 4294967296.0 * 10.0},
        };

        /* Nothing saved: the first reading is the baseline. */
        assert_int_equal(lab_energy_counter_seed(&c, &none, NULL), 0);
        assert_false(c.has_base);
        baseline(&c, 10.0, T0);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                lab_energy_counter_t before = c;
                lab_error_t e = {0};

                assert_int_equal(lab_energy_counter_seed(&c, &bad[i], &e), -EINVAL);
                assert_string_equal(e.keyword, "meter_bad_value");
                /* Unchanged. */
                assert_true(c.has_base && c.has_mono);
                assert_true(c.base_wh == before.base_wh);
                assert_int_equal(c.base_mwh, before.base_mwh);
                assert_int_equal(c.base_usec, before.base_usec);
        }
}

/* ---- attribution ---- */

/* Three 4x6 and one 8x12 in one 100 Wh interval: 7 units of area, 14.286 Wh a 4x6. */
static void test_share_by_area(void **state)
{
        const lab_energy_copy_t copies[] = {
            {.job = "job-a", .copy = 1, .area = A4X6},
            {.job = "job-a", .copy = 2, .area = A4X6},
            {.job = "job-b", .copy = 1, .area = A8X12},
            {.job = "job-c", .copy = 1, .area = A4X6},
        };
        int64_t share[4], idle = -1, sum = 0;
        lab_energy_job_total_t totals[4];
        size_t n = 0;

        assert_int_equal(lab_energy_share(100000, copies, 4, share, &idle), 0);
        assert_int_equal(idle, 0);
        for (size_t i = 0; i < 4; i++) {
                assert_wh_near((double)share[i] / 1000.0,
                               copies[i].area == A4X6 ? 100.0 / 7 : 400.0 / 7);
                sum += share[i];
        }
        assert_int_equal(sum, 100000);
        /* 57142.857: the largest remainder gets the first mWh left, the two 4x6 of the
           smaller keys the other two. */
        assert_int_equal(share[2], 57143);
        assert_int_equal(share[0], 14286);
        assert_int_equal(share[1], 14286);
        assert_int_equal(share[3], 14285);

        /* Per job. */
        assert_int_equal(lab_energy_jobs_add(totals, &n, 4, copies, share, 4, LAB_ENERGY_OK), 0);
        assert_int_equal(n, 3);
        assert_string_equal(totals[0].job, "job-a");
        assert_int_equal(totals[0].mwh, 28572);
        assert_int_equal(totals[0].copies, 2);
        assert_string_equal(totals[1].job, "job-b");
        assert_int_equal(totals[1].mwh, 57143);
        assert_string_equal(totals[2].job, "job-c");
        assert_int_equal(totals[2].mwh, 14285);
}

/* The order of the copies does not change who gets what. */
static void test_share_order_free(void **state)
{
        const lab_energy_copy_t fwd[] = {
            {.job = "a", .copy = 1, .area = A4X6},        {.job = "a", .copy = 2, .area = A4X6},
            {.job = "b", .copy = 1, .area = A4X6},        {.job = "c", .copy = 3, .area = A8X12},
            {.job = "c", .copy = 4, .area = 127 * 178.0},
        };
        lab_energy_copy_t rev[5];
        int64_t a[5], b[5], idle;

        for (size_t i = 0; i < 5; i++)
                rev[i] = fwd[4 - i];
        for (int64_t e = 0; e < 3000; e += 7) {
                assert_int_equal(lab_energy_share(e, fwd, 5, a, &idle), 0);
                assert_int_equal(lab_energy_share(e, rev, 5, b, &idle), 0);
                for (size_t i = 0; i < 5; i++)
                        assert_int_equal(a[i], b[4 - i]);
                assert_int_equal(a[0] + a[1] + a[2] + a[3] + a[4], e);
        }
}

static void test_share_idle(void **state)
{
        int64_t idle = -1;
        const lab_energy_copy_t one = {.job = "j", .copy = 1, .area = A4X6};
        int64_t share = -1;

        assert_int_equal(lab_energy_share(12345, NULL, 0, NULL, &idle), 0);
        assert_int_equal(idle, 12345);
        /* One copy takes all; an interval with no energy shares 0. */
        assert_int_equal(lab_energy_share(12345, &one, 1, &share, &idle), 0);
        assert_int_equal(share, 12345);
        assert_int_equal(idle, 0);
        assert_int_equal(lab_energy_share(0, &one, 1, &share, &idle), 0);
        assert_int_equal(share, 0);
}

static void test_share_refused(void **state)
{
        const lab_energy_copy_t bad[][2] = {
            {{.job = "j", .area = A4X6}, {.job = "j", .copy = 2, .area = 0}},
            {{.job = "j", .area = A4X6}, {.job = "j", .copy = 2, .area = -A4X6}},
            {{.job = "j", .area = A4X6}, {.job = "j", .copy = 2, .area = NAN}},
            {{.job = "j", .area = A4X6}, {.job = "j", .copy = 2, .area = INFINITY}},
            {{.job = "j", .area = A4X6}, {.job = NULL, .copy = 2, .area = A4X6}},
        };
        int64_t share[2] = {-7, -7}, idle = -7;

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_int_equal(lab_energy_share(1000, bad[i], 2, share, &idle), -EINVAL);
        assert_int_equal(lab_energy_share(-1, bad[0], 1, share, &idle), -EINVAL);
        assert_int_equal(lab_energy_share(1000, bad[0], LAB_ENERGY_SHARE_MAX + 1, share, &idle),
                         -E2BIG);
        assert_int_equal(share[0], -7);
        assert_int_equal(share[1], -7);
        assert_int_equal(idle, -7);
}

/* Tiny against huge areas, huge energies: still exact. */
static void test_share_extremes(void **state)
{
        const lab_energy_copy_t copies[] = {
            {.job = "banner", .copy = 1, .area = 1.5e6 * 5e4}, /* 1.5 km × 50 m */
            {.job = "stamp", .copy = 1, .area = 1e-6},
            {.job = "stamp", .copy = 2, .area = 1e-6},
            {.job = "photo", .copy = 1, .area = A4X6},
        };
        int64_t share[4], idle, e = INT64_C(1000000000000000000); /* 10^15 Wh */

        assert_int_equal(lab_energy_share(e, copies, 4, share, &idle), 0);
        assert_true(share[0] + share[1] + share[2] + share[3] == e);
        assert_true(share[1] >= 0 && share[2] >= 0 && share[3] >= 0);
}

static void test_jobs_add(void **state)
{
        const lab_energy_copy_t first[] = {
            {.job = "j1", .copy = 1, .area = 1},
            {.job = "j2", .copy = 1, .area = 1},
        };
        const lab_energy_copy_t second[] = {
            {.job = "j2", .copy = 2, .area = 1},
            {.job = "j3", .copy = 1, .area = 1},
            {.job = "j3", .copy = 2, .area = 1},
        };
        const int64_t s1[] = {10, 20}, s2[] = {5, 6, 7};
        char long_id[LAB_ENERGY_JOB_MAX + 1];
        lab_energy_copy_t too_long = {.job = long_id, .copy = 1, .area = 1};
        lab_energy_job_total_t totals[3], before[3];
        size_t n = 0;

        assert_int_equal(lab_energy_jobs_add(totals, &n, 3, first, s1, 2, LAB_ENERGY_OK), 0);
        /* A job that does not fit: nothing of the interval added. */
        memcpy(before, totals, sizeof totals);
        assert_int_equal(lab_energy_jobs_add(totals, &n, 2, second, s2, 3, LAB_ENERGY_GAP),
                         -ENOSPC);
        assert_int_equal(n, 2);
        assert_memory_equal(totals, before, 2 * sizeof totals[0]);
        assert_int_equal(lab_energy_jobs_add(totals, &n, 3, second, s2, 3, LAB_ENERGY_GAP), 0);
        assert_int_equal(n, 3);
        assert_int_equal(totals[0].mwh, 10);
        assert_int_equal(totals[0].quality, LAB_ENERGY_OK);
        assert_int_equal(totals[1].mwh, 25);
        assert_int_equal(totals[1].copies, 2);
        assert_int_equal(totals[1].quality, LAB_ENERGY_GAP); /* the worst of its intervals */
        assert_int_equal(totals[2].mwh, 13);
        assert_int_equal(totals[2].copies, 2);
        /* Quality only worsens. */
        assert_int_equal(lab_energy_jobs_add(totals, &n, 3, first, s1, 2, LAB_ENERGY_RESET), 0);
        assert_int_equal(totals[0].quality, LAB_ENERGY_RESET);
        assert_int_equal(lab_energy_jobs_add(totals, &n, 3, first, s1, 2, LAB_ENERGY_OK), 0);
        assert_int_equal(totals[0].quality, LAB_ENERGY_RESET);
        assert_int_equal(totals[0].mwh, 30);

        memset(long_id, 'x', LAB_ENERGY_JOB_MAX);
        long_id[LAB_ENERGY_JOB_MAX] = '\0';
        assert_int_equal(lab_energy_jobs_add(totals, &n, 3, &too_long, s1, 1, LAB_ENERGY_OK),
                         -ENAMETOOLONG);
        long_id[LAB_ENERGY_JOB_MAX - 1] = '\0'; /* 128 characters: a valid id */
        n = 0;
        assert_int_equal(lab_energy_jobs_add(totals, &n, 3, &too_long, s1, 1, LAB_ENERGY_OK), 0);
        assert_string_equal(totals[0].job, long_id);
}

/*
 * A whole run: a meter read every minute with failed and bad samples, copies
 * of random sizes and jobs printed in random intervals. The jobs' energy
 * plus the idle energy equals the metered total exactly in mWh, and the
 * metered total equals the counter's difference to within 0.001 Wh.
 */
static void test_run_sums_exactly(void **state)
{
        static const double sizes[] = {A4X6,        A8X12,       127 * 178.0,
                                       203.2 * 254, 254 * 381.0, 89 * 127.0};
        enum { INTERVALS = 5000, JOBS = 300 };
        static lab_energy_job_total_t totals[JOBS];
        char names[JOBS][16];
        lab_energy_counter_t c = counter(0, 0, 3000);
        double count = 123456.789;
        const double first = count;
        double last = count; /* the last count read */
        int64_t metered = 0, idle_sum = 0, jobs_sum = 0;
        unsigned copy_no[JOBS] = {0}, intervals = 0, gaps = 0;
        size_t n_totals = 0, copies_total = 0;
        uint64_t t = T0;

        for (size_t j = 0; j < JOBS; j++)
                snprintf(names[j], sizeof names[j], "job-%zu", j);
        baseline(&c, count, t);
        for (unsigned i = 0; i < INTERVALS; i++) {
                lab_energy_copy_t copies[8];
                int64_t share[8], idle;
                size_t n = rng_below(9) == 0 ? 0 : rng_below(9);
                lab_energy_interval_t iv;
                lab_energy_sample_t r;

                t += 60 * SEC + rng_below(5 * SEC);
                count += (double)rng_below(40000000) / 1e6; /* up to 40 Wh a minute */
                switch (rng_below(10)) {
                case 0: /* the meter did not answer */
                        lab_energy_counter_failed(&c);
                        continue;
                case 1: /* it answered nonsense */
                        r = sample(NAN, 100, t);
                        assert_int_equal(lab_energy_counter_add(&c, &r, &iv, NULL), -EINVAL);
                        continue;
                default:
                        break;
                }
                iv = take(&c, count, t);
                last = count;
                intervals++;
                gaps += iv.quality == LAB_ENERGY_GAP;
                assert_true(iv.quality != LAB_ENERGY_RESET);
                metered += iv.delta_mwh;

                for (size_t k = 0; k < n; k++) {
                        unsigned j = rng_below(JOBS);

                        copies[k] = (lab_energy_copy_t){
                            .job = names[j],
                            .copy = ++copy_no[j],
                            .area = sizes[rng_below(sizeof sizes / sizeof sizes[0])]};
                }
                assert_int_equal(lab_energy_share(iv.delta_mwh, copies, n, share, &idle), 0);
                idle_sum += idle;
                copies_total += n;
                assert_int_equal(
                    lab_energy_jobs_add(totals, &n_totals, JOBS, copies, share, n, iv.quality), 0);
        }
        for (size_t j = 0; j < n_totals; j++)
                jobs_sum += totals[j].mwh;
        assert_true(intervals > INTERVALS / 2 && gaps > 0 && copies_total > 1000);
        if (jobs_sum + idle_sum != metered)
                fail_msg("jobs %lld + idle %lld mWh != metered %lld mWh", (long long)jobs_sum,
                         (long long)idle_sum, (long long)metered);
        assert_int_equal(metered, lab_energy_mwh(last) - lab_energy_mwh(first));
        assert_wh_near((double)metered / 1000.0, last - first);
}

/* A PWG 5101.1 self-describing name's area; names without a usable size are refused. */
static void test_media_area(void **state)
{
        static const char *const bad[] = {
            "",
            "a4",
            "iso_a4",
            "iso_a4_210x297",
            "iso_a4_210x297cm",
            "na_x_4x6in_",
            "na_x_x6in",
            "na_x_4xin",
            "na_x_0x6in",
            "na_x_4x6.5.1in",
            "na_x_4x-6in",
            "na_x_4 x6in",
            "na_x_99999999x6in",
            "custom_big_20000x10mm",
            "na_x_.x6in",
        };
        double a = 0, b = 0;

        (void)state;
        assert_int_equal(lab_energy_media_area("na_index-4x6_4x6in", &a), 0);
        assert_true(fabs(a - 101.6 * 152.4) < 1e-6);
        assert_int_equal(lab_energy_media_area("na_govt-letter_8x10in", &b), 0);
        assert_true(fabs(b - 203.2 * 254.0) < 1e-6);
        assert_int_equal(lab_energy_media_area("oe_photo-l_3.5x5in", &a), 0);
        assert_true(fabs(a - 88.9 * 127.0) < 1e-6);
        assert_int_equal(lab_energy_media_area("iso_a4_210x297mm", &a), 0);
        assert_true(fabs(a - 210.0 * 297.0) < 1e-9);
        /* an 8x12 is exactly four 4x6 */
        assert_int_equal(lab_energy_media_area("oe_8x12_8x12in", &a), 0);
        assert_int_equal(lab_energy_media_area("na_index-4x6_4x6in", &b), 0);
        assert_true(fabs(a / b - 4.0) < 1e-12);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                a = -1;
                if (lab_energy_media_area(bad[i], &a) != -EINVAL)
                        fail_msg("'%s' was read as %g mm²", bad[i], a);
                assert_true(a == -1);
        }
        assert_int_equal(lab_energy_media_area(NULL, &a), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_quality_keywords),
            cmocka_unit_test(test_settings_refused),
            cmocka_unit_test(test_deltas_follow_counter),
            cmocka_unit_test(test_deltas_telescope),
            cmocka_unit_test(test_first_reading_is_baseline),
            cmocka_unit_test(test_gap_after_failed_samples),
            cmocka_unit_test(test_reset_shelly_restarts_at_zero),
            cmocka_unit_test(test_reset_implausible_count),
            cmocka_unit_test(test_wrap_32_bits),
            cmocka_unit_test(test_wrap_or_reset),
            cmocka_unit_test(test_bad_energy_nan),
            cmocka_unit_test(test_bad_energy_inf),
            cmocka_unit_test(test_bad_energy_negative),
            cmocka_unit_test(test_bad_energy_too_large),
            cmocka_unit_test(test_bad_power_nan_is_none),
            cmocka_unit_test(test_bad_power_inf),
            cmocka_unit_test(test_bad_power_negative),
            cmocka_unit_test(test_bad_power_above_max),
            cmocka_unit_test(test_bad_time_before_baseline),
            cmocka_unit_test(test_restart_reseed),
            cmocka_unit_test(test_restart_meter_reset_meanwhile),
            cmocka_unit_test(test_restart_seed_states),
            cmocka_unit_test(test_share_by_area),
            cmocka_unit_test(test_share_order_free),
            cmocka_unit_test(test_share_idle),
            cmocka_unit_test(test_share_refused),
            cmocka_unit_test(test_share_extremes),
            cmocka_unit_test(test_jobs_add),
            cmocka_unit_test(test_run_sums_exactly),
            cmocka_unit_test(test_media_area),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
