/*
 * meter.h - the one interface every energy meter driver implements.
 *
 * Why: the platform routes work by cost and footprint and reports emissions
 * per order, so the agent reads the lab's energy meters (issue 17): Modbus
 * TCP meters (Eastron SDM630/SDM120 presets, or a register map), Shelly
 * Gen2 plugs and energy meters (RPC over HTTP, through the transport the
 * settings hand over: drivers own no HTTP client), a command that prints
 * JSON, a counter file. The sampler above sees only this interface: open a meter from its
 * settings, read it, close it. Counters are cumulative; turning two readings
 * into energy (gaps, resets, wraps) is the sampler's pure logic, not the
 * driver's. A driver only refuses figures that cannot be true.
 *
 * Threading: lab_meter_read() blocks for up to the meter's timeout (the
 * file driver: for as long as the kernel's read of the file). Call it from
 * a worker thread, never from the event loop. One handle is used by one
 * thread at a time; different handles are independent of each other.
 *
 * Errors: negative errno plus a lab_error_t whose keyword is one of
 *   meter_unreachable  cannot connect (refused, reset, no route, name unknown,
 *                      an HTTP server that closed without answering, TLS),
 *                      the command cannot be run, the file cannot be read
 *   meter_timeout      no whole answer within the timeout: the connection or
 *                      a request (as the printer drivers' printer_timeout),
 *                      a command still running (it is killed)
 *   meter_protocol     an answer this driver cannot use (a Modbus exception,
 *                      not the protocol's framing, not JSON, a field missing,
 *                      output or an HTTP body over 64 KiB, an HTTP status
 *                      but 200 (401: the user name or password is refused),
 *                      a command that failed, a file that holds no number)
 *   meter_bad_value    an answer whose figures cannot be true (NaN or Inf,
 *                      a negative energy or power, power over max_power_w,
 *                      a meter that reports its own measuring fault)
 *   meter_config       the settings cannot work (bad address, unknown preset,
 *                      a scale that is not a positive number): lab_meter_open only
 * A failed read never returns a figure: never 0 for "unknown".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "http-get.h"

typedef struct lab_meter_s lab_meter_t;

/* The most a command may print, and what a file may hold, in bytes. */
#define LAB_METER_OUTPUT_MAX (64 * 1024)

typedef enum lab_meter_kind_e {
        LAB_METER_MODBUS,  /* Modbus TCP (libmodbus): host[:port][/unit] */
        LAB_METER_COMMAND, /* an executable printing {"energy_wh": ..., "power_w": ...} */
        LAB_METER_FILE,    /* a counter file (hwmon energy1_input in µJ), with a scale */
        LAB_METER_SHELLY,  /* a Shelly Gen2 device, RPC over HTTP (digest authentication) */
} lab_meter_kind_t;

/* Which Shelly Gen2 component a shelly meter reads (its id is the settings' channel). */
typedef enum lab_meter_shelly_component_e {
        LAB_METER_SHELLY_SWITCH, /* plugs, relays with metering: Switch.GetStatus?id=N
                                    (apower W, aenergy.total Wh) */
        LAB_METER_SHELLY_EM1,    /* energy meters (Pro EM, EM Gen3): EM1.GetStatus?id=N
                                    (act_power W) + EM1Data.GetStatus?id=N (total_act_energy Wh) */
} lab_meter_shelly_component_t;

/*
 * One Modbus input register pair (function 04) holding an IEEE 754 float32,
 * high word first (ABCD, as Eastron meters send it). address is the
 * register's number as the meter's manual gives it: 30001..39999 (5 digits)
 * or 300001..365536 (6 digits), both the first register at protocol address
 * 0; or, below 30000, the protocol (0-based) address itself: 30073 and 72
 * are the same register. 0 means "no register" (use 30001 for the first).
 */
typedef struct lab_meter_register_s {
        int address;
        double scale; /* multiply the float by this to get the unit (kWh → Wh: 1000); > 0 */
} lab_meter_register_t;

/* What a driver needs to open a meter (the sampler copies it from the config). */
typedef struct lab_meter_settings_s {
        const char *name; /* for errors */
        lab_meter_kind_t kind;
        /* modbus: host[:port][/unit], port 502 and unit 1 by default, an IPv6 host in
           brackets ([::1]:502/3), unit 1..247 or 255; shelly: host[:port] or
           http://host[:port] (https too; a trailing '/' is fine), port 80 (443) by default;
           command: an absolute path, run with no arguments and no shell; file: an
           absolute path */
        const char *address;
        uint64_t timeout_usec; /* one read, > 0 */
        double max_power_w;    /* a power above this is meter_bad_value; <= 0: no limit */
        /* modbus */
        lab_meter_register_t energy; /* cumulative energy register (Wh after scale) */
        lab_meter_register_t power;  /* instant power register (W after scale); address 0:
                                        the meter has none (power_w NAN) */
        /* file */
        double file_scale; /* multiply the file's number by this to get Wh (µJ: 1/3.6e9); > 0 */
        /* shelly: address is host[:port] or http://host[:port] (https too) */
        lab_meter_shelly_component_t component; /* LAB_METER_SHELLY_SWITCH: Switch.GetStatus?id=N
                                                   (apower, aenergy.total in Wh);
                                                   LAB_METER_SHELLY_EM1: EM1.GetStatus?id=N
                                                   (act_power) + EM1Data.GetStatus?id=N
                                                   (total_act_energy, Wh) */
        unsigned channel;                       /* N, 0..255 */
        const char *username; /* digest auth (a Shelly's user is "admin"), NULL: none */
        const char *password;
        lab_http_get_fn http_get; /* the transport (the daemon passes lab_platform_http_get);
                                     required for shelly: meter_config without it */
} lab_meter_settings_t;

/* One good reading. */
typedef struct lab_meter_reading_s {
        double energy_wh;   /* cumulative, as the meter counts it (it may restart or wrap) */
        double power_w;     /* instant power, NAN where the meter has none */
        uint64_t mono_usec; /* CLOCK_MONOTONIC when the answer came */
} lab_meter_reading_t;

/* The presets: "sdm630" (30053 total W, 30073 import kWh), "sdm120" (30013, 30073).
   0 with the registers filled in (energy scaled to Wh); -ENOENT for an unknown name. */
int lab_meter_preset(const char *name, lab_meter_register_t *energy, lab_meter_register_t *power);

/* Open a meter (copies what it needs; does not talk to it yet). meter_config on bad
   settings, -ENOMEM. */
int lab_meter_open(const lab_meter_settings_t *settings, lab_meter_t **ret, lab_error_t *err);

/* Read it: 0 and *ret, or a negative errno with err (keywords above) and *ret all NAN
   (mono_usec 0). Blocks. */
int lab_meter_read(lab_meter_t *m, lab_meter_reading_t *ret, lab_error_t *err);

/* The meter's name, as its settings gave it. */
const char *lab_meter_name(const lab_meter_t *m);

/* Close and free (NULL is fine). A modbus meter's connection is closed. */
void lab_meter_close(lab_meter_t *m);
