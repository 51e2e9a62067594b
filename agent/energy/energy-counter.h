/*
 * energy-counter.h - one meter's cumulative readings as energy intervals (pure).
 *
 * Why: meters count energy cumulatively (issue 17), so a missed sample loses
 * nothing as long as the next good reading is measured against the last
 * good one. What makes that hard is everything else a counter does: it
 * restarts at 0 when a Shelly plug reboots, a 32-bit register wraps, a
 * meter answers NaN, and the agent itself restarts and forgets its
 * monotonic clock. This module turns successive readings of one meter into
 * intervals [from, to] on CLOCK_MONOTONIC with the energy counted in them;
 * it does no I/O, no logging and reads no clock (the caller passes the
 * reading's mono_usec), so every case is unit-tested (tests/unit/test-energy.c).
 *
 * The rules:
 *   - Energy is kept in whole milliwatt-hours: each reading's cumulative
 *     count is rounded to the mWh once, and a delta is the difference of
 *     two rounded counts, so the deltas over any window add up to the
 *     counter's own difference to within 1 mWh (they telescope; a wrap may
 *     add 1 mWh of rounding), never an error per interval.
 *   - A refused reading (meter_bad_value: energy or power NaN, Inf or
 *     negative, power above max_power_w, energy above LAB_ENERGY_MAX_WH or
 *     outside the counter's bits, a time before the last good reading)
 *     changes no baseline, gives no interval (never a zero delta) and counts
 *     as a failed sample. A NaN power is no figure, not a bad one.
 *   - gap: one or more failed samples (lab_energy_counter_failed, or refused
 *     readings) since the last good reading; the delta covers them, nothing
 *     is lost. Also the first interval after a re-seed (the agent was not
 *     sampling while it was down).
 *   - meter_reset: the counter went backwards and is no wrap. A new
 *     baseline, never a negative delta. The new reading is counted as the
 *     energy since the meter's restart (its counter restarted at 0), unless
 *     max_power_w and the elapsed time show it cannot be (a meter swapped
 *     for one with a large count): then the delta is 0. The energy between
 *     the last good reading and the meter's restart is unknowable and lost.
 *     meter_reset wins over gap.
 *   - A counter of counter_bits bits (in raw steps of unit_wh Wh each) that
 *     goes backwards wraps modulo 2^bits when the wrapped step is plausible:
 *     less than half the range, and no more than max_power_w over the
 *     elapsed time (plus one raw step) where both are known. Otherwise it
 *     is a meter_reset. A wrap is normal counting: ok, or gap after failed
 *     samples.
 *   - A forward step is never refused, however large: this module cannot
 *     tell a big one from a swapped meter, and refusing it would refuse
 *     every reading after it.
 *
 * Restarts: monotonic clocks do not survive one, so what the caller
 * persists is the last good reading's energy alone (lab_energy_counter_saved,
 * written in the same transaction as the interval it closed). After a
 * restart, lab_energy_counter_seed() takes it back: the first reading is
 * measured against it (gap, or a reset or wrap as above) and its interval
 * has no start on this clock (from_known false, from_usec == to_usec).
 * If the agent dies after an interval was computed but before it was
 * stored, neither the interval nor the new baseline is stored, and the next
 * interval covers both: nothing lost, nothing doubled.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* No meter counts more (10^15 Wh, about a gigawatt for a century): above it a reading is
   meter_bad_value, and every count fits in an int64_t of mWh. */
#define LAB_ENERGY_MAX_WH 1e15

typedef enum lab_energy_quality_e {
        LAB_ENERGY_OK,    /* "ok": the previous sample was good */
        LAB_ENERGY_GAP,   /* "gap": failed samples since the last good one, the delta covers them */
        LAB_ENERGY_RESET, /* "meter_reset": the counter went backwards, a new baseline */
} lab_energy_quality_t;

/* What a meter's counter is (the config's counter_bits, max_power_w). */
typedef struct lab_energy_counter_settings_s {
        unsigned counter_bits; /* 0: no wrap; 1..53: wraps modulo 2^bits raw steps */
        double unit_wh;        /* Wh per raw step when counter_bits > 0 (0.01 kWh steps: 10) */
        double max_power_w;    /* a power above this is meter_bad_value; <= 0: no limit */
} lab_energy_counter_settings_t;

/* One reading of the meter (drivers' lab_meter_reading_t, copied field by field). */
typedef struct lab_energy_sample_s {
        double energy_wh;   /* cumulative, as the meter counts it: raw count × unit_wh */
        double power_w;     /* instant power, NAN where the meter has none */
        uint64_t mono_usec; /* CLOCK_MONOTONIC when the answer came */
} lab_energy_sample_t;

/* What a restart needs: the last good reading's cumulative energy. */
typedef struct lab_energy_saved_s {
        bool valid;       /* false: no good reading yet */
        double energy_wh; /* the last good reading's energy_wh, as read */
} lab_energy_saved_t;

/* The energy between two good readings. */
typedef struct lab_energy_interval_s {
        uint64_t from_usec; /* CLOCK_MONOTONIC of the previous good reading; to_usec if unknown */
        uint64_t to_usec;   /* CLOCK_MONOTONIC of this reading */
        bool from_known;    /* false: the first interval after a re-seed */
        int64_t delta_mwh;  /* >= 0: the energy counted in it, in mWh (authoritative) */
        double delta_wh;    /* delta_mwh / 1000 */
        lab_energy_quality_t quality;
        unsigned missed; /* failed samples it bridges */
        double total_wh; /* the meter's cumulative count at to, as read */
        double power_w;  /* as read at to, NAN none */
} lab_energy_interval_t;

/* One meter's counter state. Fields are the module's: read them, change them only through
   the functions below. */
typedef struct lab_energy_counter_s {
        lab_energy_counter_settings_t settings;
        bool has_base;      /* a good reading (or a re-seed) to measure against */
        bool has_mono;      /* base_usec is on this clock (false after a re-seed) */
        double base_wh;     /* the last good reading's energy_wh */
        int64_t base_mwh;   /* base_wh rounded to the mWh */
        uint64_t base_usec; /* its CLOCK_MONOTONIC, when has_mono */
        unsigned missed;    /* failed samples since the last good reading */
} lab_energy_counter_t;

/* Keywords: "ok", "gap", "meter_reset". NULL (to) or -1 (from) for none of them. */
const char *lab_energy_quality_to_string(lab_energy_quality_t q);
int lab_energy_quality_from_string(const char *s);

/*
 * Start a counter with no baseline: the first good reading becomes it.
 * -EINVAL (with e: meter_config) for counter_bits over 53, a counter_bits
 * without a finite unit_wh > 0, a counter range (2^bits × unit_wh) over
 * LAB_ENERGY_MAX_WH, or a max_power_w that is not finite.
 */
int lab_energy_counter_init(lab_energy_counter_t *c, const lab_energy_counter_settings_t *s,
                            lab_error_t *e);

/*
 * After a restart: measure the next reading against the saved energy (see
 * "Restarts" above). A saved state that is not valid leaves the counter
 * with no baseline. -EINVAL (with e: meter_bad_value) for a saved energy
 * that no reading could have had (not finite, negative, outside the
 * counter's bits), the counter unchanged.
 */
int lab_energy_counter_seed(lab_energy_counter_t *c, const lab_energy_saved_t *saved,
                            lab_error_t *e);

/* The state to persist after each accepted reading, with the interval it closed. */
lab_energy_saved_t lab_energy_counter_saved(const lab_energy_counter_t *c);

/* A sample failed (the meter did not answer, or answered what its driver could not use):
   the next good reading's interval is a gap that covers it. */
void lab_energy_counter_failed(lab_energy_counter_t *c);

/*
 * Take one reading. 1 with *ret filled: an interval closed. 0: the reading
 * became the first baseline, no interval. -EINVAL with e's keyword
 * meter_bad_value and a sentence naming the figure: the reading is refused,
 * the baseline unchanged, and it counts as a failed sample.
 */
int lab_energy_counter_add(lab_energy_counter_t *c, const lab_energy_sample_t *r,
                           lab_energy_interval_t *ret, lab_error_t *e);

/* Wh as whole mWh, rounded half away from zero (what the counter does to each reading). */
int64_t lab_energy_mwh(double wh);
