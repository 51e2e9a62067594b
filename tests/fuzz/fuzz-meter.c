/*
 * fuzz-meter.c - fuzz target for the parsers of what an energy meter sends
 * (drivers/meter-private.h): a Shelly Gen2 RPC answer (Switch.GetStatus,
 * EM1.GetStatus, EM1Data.GetStatus), a meter command's output, a counter
 * file's bytes. A device on the lab's network, a lab's script or a file
 * another program writes controls them.
 *
 * Whatever the bytes, a parse either gives figures that can be true (finite,
 * not negative, power within max_power_w) or fails as meter_protocol or
 * meter_bad_value with a one-line sentence and no figure touched. Anything
 * else aborts.
 *
 * Input: the first byte picks the parser (its value modulo 5: 'A' Switch,
 * 'B' EM1, 'C' EM1Data, 'D' command, 'E' file), the rest is the text.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meter-private.h"

#define MAX_POWER 3000.0

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed parse: the documented keywords, a one-line sentence, no figure. */
static void check_failure(const lab_error_t *err, const lab_meter_reading_t *r)
{
        if (strcmp(err->keyword, "meter_protocol") != 0 &&
            strcmp(err->keyword, "meter_bad_value") != 0)
                abort();
        if (!err->message[0] || strchr(err->message, '\n'))
                abort();
        if (!isnan(r->energy_wh) || !isnan(r->power_w))
                abort();
}

/* A good parse: what it filled can be true. */
static void check_figures(const lab_meter_reading_t *r, bool energy, bool power)
{
        if (energy && !(isfinite(r->energy_wh) && r->energy_wh >= 0))
                abort();
        if (!energy && !isnan(r->energy_wh))
                abort();
        if (power && !isnan(r->power_w) && !(r->power_w >= 0 && r->power_w <= MAX_POWER))
                abort();
        if (!power && !isnan(r->power_w))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char name[] = "fuzz", address[] = "192.0.2.7";
        lab_meter_t m = {
            .name = name, .address = address, .timeout_usec = 1, .max_power_w = MAX_POWER};
        lab_meter_reading_t r = {.energy_wh = NAN, .power_w = NAN};
        lab_error_t err = {0};
        const char *text = (const char *)data + 1;
        size_t len = size - 1;
        bool energy, power;
        char *copy;
        int k;

        if (size < 1)
                return 0;
        /* NUL-terminated, as a reply body and a file's buffer are. */
        copy = malloc(len + 1);
        if (!copy)
                return 0;
        memcpy(copy, text, len);
        copy[len] = '\0';
        switch (data[0] % 5) {
        case 0:
        case 1:
        case 2: {
                static const lab_meter_shelly_answer_t answers[] = {
                    LAB_METER_SHELLY_SWITCH_STATUS,
                    LAB_METER_SHELLY_EM1_STATUS,
                    LAB_METER_SHELLY_EM1DATA_STATUS,
                };
                lab_meter_shelly_answer_t a = answers[data[0] % 5];

                k = lab_meter_shelly_parse(&m, a, copy, len, &r, &err);
                energy = a != LAB_METER_SHELLY_EM1_STATUS;
                power = a != LAB_METER_SHELLY_EM1DATA_STATUS;
                break;
        }
        case 3:
                k = lab_meter_command_parse(&m, copy, len, &r, &err);
                energy = power = true;
                break;
        default:
                k = lab_meter_file_parse(&m, copy, len, 1.0 / 3.6e9, &r, &err);
                energy = true;
                power = false;
                break;
        }
        if (k < 0)
                check_failure(&err, &r);
        else if (lab_error_isset(&err))
                abort();
        else
                check_figures(&r, energy, power);
        free(copy);
        return 0;
}
