/*
 * meter-fixture.h - what the meter drivers' tests share: one read that must
 * succeed, one that must fail with a given keyword (and hand back no figure).
 */
#pragma once

#include "meter.h"

/* Read m; fail the test unless it succeeds with no error set and a time. */
lab_meter_reading_t meter_read_ok(lab_meter_t *m);

/*
 * Read m; fail the test unless it fails with keyword and a sentence, and
 * hands back no figure (NaN energy and power, time 0). Returns how long the
 * read took (ms).
 */
long long meter_read_fails(lab_meter_t *m, const char *keyword);
