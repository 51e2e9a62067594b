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
        const char *driver; /* "modbus", "command", "file", "shelly" */
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

/* A parser's last step: check energy_wh (when energy_what is not NULL) and power_w (when
   power_what is not NULL and it is not NAN, the meter having none), each named by its what
   in a sentence; then store the checked ones in *ret. 0, or -ERANGE with meter_bad_value
   and *ret as it was. */
int lab_meter_take(const lab_meter_t *m, const char *energy_what, double energy_wh,
                   const char *power_what, double power_w, lab_meter_reading_t *ret,
                   lab_error_t *err);

/* The first bytes of untrusted text s (len bytes) for an error sentence: printable ASCII,
   anything else as '?', "..." when cut. Always NUL-terminates buf (size > 4). */
void lab_meter_excerpt(char *buf, size_t size, const char *s, size_t len);

/*
 * Split "host[:port]" at the start of address, an IPv6 host in brackets ([::1]:502). 0 with
 * host (without brackets, NUL-terminated, fits size), *port (1..65535; 0: none given) and
 * *rest (what follows the port: "" or from a '/'); -EDOM for an IPv6 host without brackets,
 * -EINVAL for anything else that is not this form. Pure.
 */
int lab_meter_split_host(const char *address, char *host, size_t size, unsigned *port,
                         const char **rest);

/*
 * The parsers of what a meter sends: untrusted text in, a figure or a keyword out. Pure
 * (no I/O, fuzzed by tests/fuzz/fuzz-meter.c); m gives the name and max_power_w for the
 * sentences and the checks (lab_meter_check_energy/power). On failure: a negative errno
 * with meter_protocol or meter_bad_value, and *ret as it was.
 */

/* A command's output (len bytes): one JSON object {"energy_wh": N, "power_w": N|null}
   (power_w may be absent). Fills energy_wh and power_w (NAN: none). */
int lab_meter_command_parse(const lab_meter_t *m, const char *out, size_t len,
                            lab_meter_reading_t *ret, lab_error_t *err);

/* A counter file's bytes: text[0..len) with text[len] == '\0'; trimmed in place. One decimal
   number (blanks and a newline around it), times scale (> 0) gives energy_wh; power_w NAN. */
int lab_meter_file_parse(const lab_meter_t *m, char *text, size_t len, double scale,
                         lab_meter_reading_t *ret, lab_error_t *err);

/* The Shelly Gen2 RPC answers a read parses. */
typedef enum lab_meter_shelly_answer_e {
        LAB_METER_SHELLY_SWITCH_STATUS,  /* Switch.GetStatus: aenergy.total (Wh), apower (W) */
        LAB_METER_SHELLY_EM1_STATUS,     /* EM1.GetStatus: act_power (W) */
        LAB_METER_SHELLY_EM1DATA_STATUS, /* EM1Data.GetStatus: total_act_energy (Wh) */
} lab_meter_shelly_answer_t;

/* One Shelly RPC answer's body (len bytes, a 200's). Fills what that answer holds: energy_wh
   (Switch, EM1Data), power_w (EM1; Switch: NAN when it has no apower); leaves the rest. An
   "errors" array naming a measuring fault (power_meter_failure, out_of_range:*) is
   meter_bad_value; the others (overtemp, overpower, ...) stop a relay, not the meter. */
int lab_meter_shelly_parse(const lab_meter_t *m, lab_meter_shelly_answer_t answer, const char *body,
                           size_t len, lab_meter_reading_t *ret, lab_error_t *err);

extern const lab_meter_ops_t lab_meter_modbus_ops;
extern const lab_meter_ops_t lab_meter_command_ops;
extern const lab_meter_ops_t lab_meter_file_ops;
extern const lab_meter_ops_t lab_meter_shelly_ops;
