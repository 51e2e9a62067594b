/*
 * energy-counter.c - one meter's readings as intervals (see energy-counter.h):
 * bad values refused, gaps bridged, a wrap told from a restart. Pure.
 *
 * The one idea: every count becomes whole mWh once, the same way each time
 * (count_mwh), and a delta is a difference of two such counts, so deltas add
 * up over any window without a rounding error per interval.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "energy-counter.h"
#include "macro.h"

#define USEC_PER_HOUR 3.6e9

static const char *const quality_names[] = {
    [LAB_ENERGY_OK] = "ok",
    [LAB_ENERGY_GAP] = "gap",
    [LAB_ENERGY_RESET] = "meter_reset",
};

const char *lab_energy_quality_to_string(lab_energy_quality_t q)
{
        if ((unsigned)q >= ELEMENTSOF(quality_names))
                return NULL;
        return quality_names[q];
}

int lab_energy_quality_from_string(const char *s)
{
        for (size_t i = 0; s && i < ELEMENTSOF(quality_names); i++)
                if (strcmp(quality_names[i], s) == 0)
                        return (int)i;
        return -1;
}

int64_t lab_energy_mwh(double wh)
{
        /* Out of range only for figures the counter refuses first; clamped, never undefined. */
        if (isnan(wh))
                return 0;
        if (wh > LAB_ENERGY_MAX_WH)
                wh = LAB_ENERGY_MAX_WH;
        if (wh < -LAB_ENERGY_MAX_WH)
                wh = -LAB_ENERGY_MAX_WH;
        return (int64_t)llround(wh * 1000.0);
}

/* The counter's range in raw steps, 2^bits (bits > 0). */
static double range_raw(const lab_energy_counter_settings_t *s)
{
        return ldexp(1.0, (int)s->counter_bits);
}

/* A count in Wh as raw steps (bits > 0), rounded; the caller checked the range. */
static uint64_t raw_of(const lab_energy_counter_settings_t *s, double wh)
{
        return (uint64_t)llround(wh / s->unit_wh);
}

/* A count as whole mWh: of the raw steps for a counter with bits (so a count that is not
   a whole number of steps weighs as the step it rounds to), of the Wh otherwise. */
static int64_t count_mwh(const lab_energy_counter_settings_t *s, double wh)
{
        if (s->counter_bits == 0)
                return lab_energy_mwh(wh);
        return lab_energy_mwh((double)raw_of(s, wh) * s->unit_wh);
}

/* 0 when wh could be the meter's count; else meter_bad_value naming what, as `what`. */
static int check_count(const lab_energy_counter_settings_t *s, const char *what, double wh,
                       lab_error_t *e)
{
        if (!isfinite(wh))
                return lab_error_set(e, EINVAL, "meter_bad_value",
                                     "%s %f Wh is not a count: the reading is refused, the next "
                                     "good one covers the interval",
                                     what, wh);
        if (wh < 0)
                return lab_error_set(e, EINVAL, "meter_bad_value",
                                     "%s %.3f Wh is negative: the reading is refused, the next "
                                     "good one covers the interval",
                                     what, wh);
        if (wh > LAB_ENERGY_MAX_WH)
                return lab_error_set(e, EINVAL, "meter_bad_value",
                                     "%s %.0f Wh is more than any meter counts (%.0f): the "
                                     "reading is refused, the next good one covers the interval",
                                     what, wh, LAB_ENERGY_MAX_WH);
        if (s->counter_bits > 0 && round(wh / s->unit_wh) >= range_raw(s))
                return lab_error_set(e, EINVAL, "meter_bad_value",
                                     "%s %.3f Wh is outside the %u-bit counter's range (%.0f "
                                     "steps of %g Wh): the reading is refused, check counter_bits",
                                     what, wh, s->counter_bits, range_raw(s), s->unit_wh);
        return 0;
}

int lab_energy_counter_init(lab_energy_counter_t *c, const lab_energy_counter_settings_t *s,
                            lab_error_t *e)
{
        if (s->counter_bits > 53)
                return lab_error_set(e, EINVAL, "meter_config",
                                     "counter_bits %u: at most 53 (0 for a counter that does not "
                                     "wrap)",
                                     s->counter_bits);
        if (s->counter_bits > 0 && !(isfinite(s->unit_wh) && s->unit_wh > 0))
                return lab_error_set(e, EINVAL, "meter_config",
                                     "a %u-bit counter needs the Wh of one of its steps (> 0), "
                                     "not %g",
                                     s->counter_bits, s->unit_wh);
        if (s->counter_bits > 0 && range_raw(s) * s->unit_wh > LAB_ENERGY_MAX_WH)
                return lab_error_set(e, EINVAL, "meter_config",
                                     "a %u-bit counter of %g Wh steps counts up to %g Wh, more "
                                     "than any meter (%.0f): check counter_bits",
                                     s->counter_bits, s->unit_wh, range_raw(s) * s->unit_wh,
                                     LAB_ENERGY_MAX_WH);
        if (!isfinite(s->max_power_w))
                return lab_error_set(e, EINVAL, "meter_config",
                                     "max_power_w %f: a number of W, or 0 for no limit",
                                     s->max_power_w);
        *c = (lab_energy_counter_t){.settings = *s};
        c->settings.max_power_w = s->max_power_w > 0 ? s->max_power_w : 0;
        return 0;
}

int lab_energy_counter_seed(lab_energy_counter_t *c, const lab_energy_saved_t *saved,
                            lab_error_t *e)
{
        int r;

        if (!saved->valid) {
                c->has_base = false;
                c->has_mono = false;
                c->missed = 0;
                return 0;
        }
        r = check_count(&c->settings, "saved energy", saved->energy_wh, e);
        if (r < 0)
                return r;
        c->has_base = true;
        c->has_mono = false; /* CLOCK_MONOTONIC of the saved reading means nothing now */
        c->base_wh = saved->energy_wh;
        c->base_mwh = count_mwh(&c->settings, saved->energy_wh);
        c->base_usec = 0;
        c->missed = 0;
        return 0;
}

lab_energy_saved_t lab_energy_counter_saved(const lab_energy_counter_t *c)
{
        return (lab_energy_saved_t){.valid = c->has_base,
                                    .energy_wh = c->has_base ? c->base_wh : 0};
}

void lab_energy_counter_failed(lab_energy_counter_t *c)
{
        if (c->missed < UINT_MAX)
                c->missed++;
}

/* 0 when r can be taken; else meter_bad_value with the figure at fault. */
static int check_sample(const lab_energy_counter_t *c, const lab_energy_sample_t *r, lab_error_t *e)
{
        int k;

        k = check_count(&c->settings, "energy_wh", r->energy_wh, e);
        if (k < 0)
                return k;
        /* NaN is "this meter has no power figure"; anything else must be a power. */
        if (isinf(r->power_w) || r->power_w < 0)
                return lab_error_set(e, EINVAL, "meter_bad_value",
                                     "power_w %f W is not a power: the reading is refused, the "
                                     "next good one covers the interval",
                                     r->power_w);
        if (c->settings.max_power_w > 0 && r->power_w > c->settings.max_power_w)
                return lab_error_set(e, EINVAL, "meter_bad_value",
                                     "power_w %.1f W is above max_power_w %.1f W: the reading is "
                                     "refused, the next good one covers the interval",
                                     r->power_w, c->settings.max_power_w);
        if (c->has_base && c->has_mono && r->mono_usec < c->base_usec)
                return lab_error_set(e, EINVAL, "meter_bad_value",
                                     "read at %" PRIu64 " usec, before the last good reading at "
                                     "%" PRIu64 " usec on the monotonic clock: the reading is "
                                     "refused",
                                     r->mono_usec, c->base_usec);
        return 0;
}

/*
 * The delta of a counter that went backwards: a wrap (quality unchanged) when the
 * counter has bits and the wrapped step is plausible, else a reset. limit_wh: the most
 * the meter can have counted since the baseline (max_power_w × elapsed), < 0 unknown.
 */
static int64_t backwards(const lab_energy_counter_t *c, const lab_energy_sample_t *r,
                         double limit_wh, lab_energy_quality_t *quality)
{
        const lab_energy_counter_settings_t *s = &c->settings;
        double resolution = s->counter_bits > 0 ? s->unit_wh : 0.001;

        if (s->counter_bits > 0) {
                uint64_t mask = (UINT64_C(1) << s->counter_bits) - 1;
                uint64_t step = (raw_of(s, r->energy_wh) - raw_of(s, c->base_wh)) & mask;

                if ((double)step < range_raw(s) / 2 &&
                    (limit_wh < 0 || (double)step * s->unit_wh <= limit_wh + resolution))
                        return lab_energy_mwh(((double)raw_of(s, r->energy_wh) + range_raw(s)) *
                                              s->unit_wh) -
                               c->base_mwh;
        }
        /* A restart: the counter began again at 0, so the reading is what it counted since,
           unless it cannot have counted that much in the time. */
        *quality = LAB_ENERGY_RESET;
        if (limit_wh >= 0 && r->energy_wh > limit_wh + resolution)
                return 0;
        return count_mwh(s, r->energy_wh);
}

int lab_energy_counter_add(lab_energy_counter_t *c, const lab_energy_sample_t *r,
                           lab_energy_interval_t *ret, lab_error_t *e)
{
        lab_energy_interval_t iv;
        int64_t mwh;
        double limit_wh = -1;
        int k;

        k = check_sample(c, r, e);
        if (k < 0) {
                lab_energy_counter_failed(c);
                return k;
        }
        mwh = count_mwh(&c->settings, r->energy_wh);
        if (!c->has_base) {
                c->has_base = true;
                c->has_mono = true;
                c->base_wh = r->energy_wh;
                c->base_mwh = mwh;
                c->base_usec = r->mono_usec;
                c->missed = 0;
                return 0;
        }

        iv = (lab_energy_interval_t){
            .from_usec = c->has_mono ? c->base_usec : r->mono_usec,
            .to_usec = r->mono_usec,
            .from_known = c->has_mono,
            .quality = c->missed > 0 || !c->has_mono ? LAB_ENERGY_GAP : LAB_ENERGY_OK,
            .missed = c->missed,
            .total_wh = r->energy_wh,
            .power_w = r->power_w,
        };
        if (c->has_mono && c->settings.max_power_w > 0)
                limit_wh =
                    c->settings.max_power_w * (double)(iv.to_usec - iv.from_usec) / USEC_PER_HOUR;
        if (mwh >= c->base_mwh)
                iv.delta_mwh = mwh - c->base_mwh;
        else
                iv.delta_mwh = backwards(c, r, limit_wh, &iv.quality);
        iv.delta_wh = (double)iv.delta_mwh / 1000.0;

        c->has_mono = true;
        c->base_wh = r->energy_wh;
        c->base_mwh = mwh;
        c->base_usec = r->mono_usec;
        c->missed = 0;
        if (ret)
                *ret = iv;
        return 1;
}
