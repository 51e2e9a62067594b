/*
 * meter-fixture.c - one good read and one failed read, checked alike for every meter
 * driver (see meter-fixture.h).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "meter-fixture.h"
#include "testutil.h"

lab_meter_reading_t meter_read_ok(lab_meter_t *m)
{
        lab_meter_reading_t r;
        lab_error_t err = {0};

        if (lab_meter_read(m, &r, &err) < 0)
                fail_msg("read: %s: %s", err.keyword, err.message);
        assert_false(lab_error_isset(&err));
        assert_true(r.mono_usec > 0);
        return r;
}

long long meter_read_fails(lab_meter_t *m, const char *keyword)
{
        lab_meter_reading_t r;
        lab_error_t err = {0};
        long long t0 = lab_test_now_ms();
        int k = lab_meter_read(m, &r, &err);
        long long took = lab_test_now_ms() - t0;

        if (k >= 0)
                fail_msg("read gave %.3f Wh, %.1f W; expected %s", r.energy_wh, r.power_w, keyword);
        if (strcmp(err.keyword, keyword) != 0)
                fail_msg("read failed with %s (%s); expected %s", err.keyword, err.message,
                         keyword);
        assert_true(err.message[0] != '\0');
        /* A failed read never hands back a figure. */
        assert_true(isnan(r.energy_wh));
        assert_true(isnan(r.power_w));
        assert_int_equal(r.mono_usec, 0);
        print_message("    %s: %s\n", err.keyword, err.message);
        return took;
}
