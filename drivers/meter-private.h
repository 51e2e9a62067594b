/*
 * meter-private.h - what a meter driver provides to drivers/meter.c.
 *
 * Why: meter.c dispatches the public calls of meter.h to the driver a
 * meter's settings name, and judges every figure by the same rules whatever
 * the driver. A driver embeds lab_meter_t as the FIRST member of its own
 * struct, fills it with lab_meter_init(), and implements the ops. Only
 * meter drivers include this header.
 */
#pragma once

#include "meter.h"

typedef struct lab_meter_ops_s {
        const char *driver; /* "modbus", "command", "file" */
        /* settings are checked by meter.c for what every driver shares (name, address,
           timeout, max_power_w); the driver checks its own */
        int (*open)(const lab_meter_settings_t *s, lab_meter_t **ret, lab_error_t *err);
        void (*close)(lab_meter_t *m);
        /* fill energy_wh and power_w (NAN: none); meter.c stamps mono_usec */
        int (*read)(lab_meter_t *m, lab_meter_reading_t *ret, lab_error_t *err);
} lab_meter_ops_t;

struct lab_meter_s {
        const lab_meter_ops_t *ops;
        char *name;
        char *address;
        uint64_t timeout_usec;
        double max_power_w; /* <= 0: no limit */
};

/* Fill the common part from s (copies name and address). 0 or -ENOMEM. */
int lab_meter_init(lab_meter_t *m, const lab_meter_ops_t *ops, const lab_meter_settings_t *s);

/* Free the common part (not m itself). */
void lab_meter_done(lab_meter_t *m);

/* CLOCK_MONOTONIC in usec. */
uint64_t lab_meter_now_usec(void);

/* Whether an energy figure (Wh) can be true: finite and >= 0. 0, or -ERANGE with
   meter_bad_value naming the meter and what (a register, a field). */
int lab_meter_check_energy(const lab_meter_t *m, const char *what, double wh, lab_error_t *err);

/* Whether a power figure (W) can be true: finite, >= 0 and <= max_power_w. NAN is
   refused too: a driver calls this only when the meter gave a power figure. */
int lab_meter_check_power(const lab_meter_t *m, const char *what, double w, lab_error_t *err);

/* The first bytes of untrusted text s (len bytes) for an error sentence: printable ASCII,
   anything else as '?', "..." when cut. Always NUL-terminates buf (size > 4). */
void lab_meter_excerpt(char *buf, size_t size, const char *s, size_t len);

extern const lab_meter_ops_t lab_meter_modbus_ops;
extern const lab_meter_ops_t lab_meter_command_ops;
extern const lab_meter_ops_t lab_meter_file_ops;
