/*
 * meter.c - dispatch the meter interface to the configured driver, the
 * presets of the Modbus meters labs buy, and the one rule for figures that
 * cannot be true.
 *
 * Why: the sampler must judge every meter the same way, whatever speaks to
 * it: a NaN, a negative energy or a power over the circuit's limit is a
 * meter_bad_value from a Modbus register, a command's JSON or a counter
 * file alike, and a failed read never hands back a figure.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "meter-private.h"

typedef struct meter_preset_s {
        const char *name;
        lab_meter_register_t energy;
        lab_meter_register_t power;
} meter_preset_t;

/* Eastron's input registers (float32, ABCD): 30073 import active energy in kWh on both;
   total system power on the three-phase SDM630 (30053), active power on the SDM120
   (30013), in W. */
static const meter_preset_t presets[] = {
    {"sdm630", {30073, 1000.0}, {30053, 1.0}},
    {"sdm120", {30073, 1000.0}, {30013, 1.0}},
};

int lab_meter_preset(const char *name, lab_meter_register_t *energy, lab_meter_register_t *power)
{
        for (size_t i = 0; name && i < ELEMENTSOF(presets); i++)
                if (strcmp(presets[i].name, name) == 0) {
                        *energy = presets[i].energy;
                        *power = presets[i].power;
                        return 0;
                }
        return -ENOENT;
}

uint64_t lab_meter_now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int lab_meter_init(lab_meter_t *m, const lab_meter_ops_t *ops, const lab_meter_settings_t *s)
{
        m->ops = ops;
        m->timeout_usec = s->timeout_usec;
        m->max_power_w = s->max_power_w;
        m->name = strdup(s->name);
        m->address = strdup(s->address);
        return m->name && m->address ? 0 : -ENOMEM;
}

void lab_meter_done(lab_meter_t *m)
{
        free(m->name);
        free(m->address);
        m->name = m->address = NULL;
}

int lab_meter_check_energy(const lab_meter_t *m, const char *what, double wh, lab_error_t *err)
{
        if (!isfinite(wh))
                return lab_error_set(err, ERANGE, "meter_bad_value",
                                     "meter %s: %s is %s, not an energy: the meter is not "
                                     "measuring; check it",
                                     m->name, what, isnan(wh) ? "NaN" : "infinite");
        if (wh < 0)
                return lab_error_set(err, ERANGE, "meter_bad_value",
                                     "meter %s: %s is a negative energy (%.3f Wh): check the "
                                     "meter's wiring and the register or scale in the config",
                                     m->name, what, wh);
        return 0;
}

int lab_meter_check_power(const lab_meter_t *m, const char *what, double w, lab_error_t *err)
{
        if (!isfinite(w))
                return lab_error_set(err, ERANGE, "meter_bad_value",
                                     "meter %s: %s is %s, not a power: the meter is not "
                                     "measuring; check it",
                                     m->name, what, isnan(w) ? "NaN" : "infinite");
        if (w < 0)
                return lab_error_set(err, ERANGE, "meter_bad_value",
                                     "meter %s: %s is a negative power (%.1f W): check the "
                                     "meter's wiring and the register or scale in the config",
                                     m->name, what, w);
        if (m->max_power_w > 0 && w > m->max_power_w)
                return lab_error_set(err, ERANGE, "meter_bad_value",
                                     "meter %s: %s is %.1f W, over max_power_w %.1f W: a reading "
                                     "this circuit cannot carry; check the register or scale",
                                     m->name, what, w, m->max_power_w);
        return 0;
}

int lab_meter_take(const lab_meter_t *m, const char *energy_what, double energy_wh,
                   const char *power_what, double power_w, lab_meter_reading_t *ret,
                   lab_error_t *err)
{
        int r = 0;

        if (energy_what)
                r = lab_meter_check_energy(m, energy_what, energy_wh, err);
        if (r >= 0 && power_what && !isnan(power_w))
                r = lab_meter_check_power(m, power_what, power_w, err);
        if (r < 0)
                return r;
        if (energy_what)
                ret->energy_wh = energy_wh;
        if (power_what)
                ret->power_w = power_w;
        return 0;
}

void lab_meter_excerpt(char *buf, size_t size, const char *s, size_t len)
{
        size_t n = 0;

        for (; n < len && n + 1 < size; n++)
                buf[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
        if (n < len && size > 4) {
                n = n > size - 4 ? size - 4 : n;
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        buf[n] = '\0';
}

int lab_meter_split_host(const char *address, char *host, size_t size, unsigned *port,
                         const char **rest)
{
        const char *h = address, *h_end, *p;

        if (address[0] == '[') {
                h = address + 1;
                h_end = strchr(h, ']');
                if (!h_end)
                        return -EINVAL;
                p = h_end + 1;
        } else {
                h_end = address + strcspn(address, ":/");
                p = h_end;
                if (*p == ':' && strchr(p + 1, ':'))
                        return -EDOM;
        }
        if (h_end == h || (size_t)(h_end - h) >= size)
                return -EINVAL;
        memcpy(host, h, h_end - h);
        host[h_end - h] = '\0';
        *port = 0;
        if (*p == ':') {
                unsigned long v;
                char *end;

                errno = 0;
                v = strtoul(p + 1, &end, 10);
                if (errno || p[1] < '0' || p[1] > '9' || v < 1 || v > 65535 ||
                    (*end != '\0' && *end != '/'))
                        return -EINVAL;
                *port = (unsigned)v;
                p = end;
        } else if (*p != '\0' && *p != '/') {
                return -EINVAL;
        }
        *rest = p;
        return 0;
}

int lab_meter_open(const lab_meter_settings_t *s, lab_meter_t **ret, lab_error_t *err)
{
        const lab_meter_ops_t *ops = NULL;
        const char *name = s->name ? s->name : "(unnamed)";

        *ret = NULL;
        if (!s->name || !s->name[0])
                return lab_error_set(err, EINVAL, "meter_config", "a meter has no name");
        if (!s->address || !s->address[0])
                return lab_error_set(err, EINVAL, "meter_config", "meter %s: no address", name);
        if (s->timeout_usec == 0)
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: the timeout must be more than 0", name);
        if (isnan(s->max_power_w))
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: max_power_w is not a number", name);
        switch (s->kind) {
        case LAB_METER_MODBUS:
                ops = &lab_meter_modbus_ops;
                break;
        case LAB_METER_COMMAND:
                ops = &lab_meter_command_ops;
                break;
        case LAB_METER_FILE:
                ops = &lab_meter_file_ops;
                break;
        case LAB_METER_SHELLY:
                ops = &lab_meter_shelly_ops;
                break;
        }
        if (!ops)
                return lab_error_set(err, EINVAL, "meter_config", "meter %s: unknown driver", name);
        return ops->open(s, ret, err);
}

int lab_meter_read(lab_meter_t *m, lab_meter_reading_t *ret, lab_error_t *err)
{
        lab_meter_reading_t r = {.energy_wh = NAN, .power_w = NAN};
        int k;

        *ret = (lab_meter_reading_t){.energy_wh = NAN, .power_w = NAN};
        lab_error_clear(err);
        k = m->ops->read(m, &r, err);
        /* The rule holds whatever a driver let through: a figure is true or not returned. */
        if (k >= 0)
                k = lab_meter_check_energy(m, "the energy", r.energy_wh, err);
        if (k >= 0 && !isnan(r.power_w))
                k = lab_meter_check_power(m, "the power", r.power_w, err);
        if (k < 0) {
                if (!lab_error_isset(err))
                        lab_error_set(err, -k, "meter_protocol", "meter %s: read failed: %s",
                                      m->name, strerror(-k));
                return k;
        }
        r.mono_usec = lab_meter_now_usec();
        *ret = r;
        return 0;
}

const char *lab_meter_name(const lab_meter_t *m)
{
        return m->name;
}

void lab_meter_close(lab_meter_t *m)
{
        if (m)
                m->ops->close(m);
}
