/*
 * meter-modbus.c - energy meters over Modbus TCP (libmodbus).
 *
 * Why: the DIN-rail meters labs put on a printer circuit (Eastron SDM630,
 * SDM120, and most others) speak Modbus; libmodbus speaks it for us. A read
 * is two requests for input registers (function 04), each an IEEE 754
 * float32 high word first: the power (optional), then the cumulative energy.
 *
 * The one idea: a read never outlives the meter's timeout. The connection
 * and each request get only what is left of it (libmodbus's response timeout
 * set before each step, its byte timeout off so the whole answer counts
 * against the response timeout). The connection is kept between reads, as a
 * meter or gateway expects; a gateway that dropped it while idle, or a meter
 * restarted since, costs one reconnect within the same read, not a fault.
 * After a timeout or a garbled answer the connection is closed, so a late
 * answer is never taken for the next request's; a Modbus exception leaves
 * it open (the framing held).
 *
 * Only TCP: the service runs with PrivateDevices=yes, so a serial (RTU)
 * meter is reached through a Modbus TCP gateway. A host name is resolved
 * at each connect with getaddrinfo(), which the timeout does not bound:
 * give meters an IP address. A float32 register carries 24 bits: a kWh
 * counter moves in steps of about 1 Wh from 8,192 kWh on, 2 Wh from 16,384
 * kWh, which the sampler's deltas inherit.
 *
 * Never: a serial port, a write to the meter, a figure from a failed read.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modbus.h>

#include "macro.h"
#include "meter-private.h"

#define MODBUS_DEFAULT_PORT  "502"
#define MODBUS_DEFAULT_UNIT  1
#define MODBUS_MIN_WAIT_USEC 1000

typedef struct modbus_meter_s {
        lab_meter_t base; /* first */
        modbus_t *ctx;
        bool connected;
        char host[256];
        char port[8];
        int unit;
        int energy_addr; /* 0-based protocol address; -1: none */
        double energy_scale;
        int energy_number; /* as configured, for errors */
        int power_addr;
        double power_scale;
        int power_number;
} modbus_meter_t;

/* The 0-based protocol address of a register number (see lab_meter_register_t), -1 none,
   -2 not an input register this driver can read. */
static int register_address(int number)
{
        int a;

        if (number == 0)
                return -1;
        if (number > 0 && number < 30000)
                a = number;
        else if (number >= 30001 && number <= 39999)
                a = number - 30001;
        else if (number >= 300001 && number <= 365536)
                a = number - 300001;
        else
                return -2;
        /* a float32 takes two registers */
        return a <= 65534 ? a : -2;
}

static int parse_address(modbus_meter_t *mm, const char *address, lab_error_t *err)
{
        const char *name = mm->base.name;
        const char *rest;
        unsigned port;
        int r;

        r = lab_meter_split_host(address, mm->host, sizeof mm->host, &port, &rest);
        if (r == -EDOM)
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: address %s: put an IPv6 address in brackets, as "
                                     "in [::1]:502/1",
                                     name, address);
        if (r < 0)
                goto bad;
        if (port)
                snprintf(mm->port, sizeof mm->port, "%hu", (unsigned short)port);
        else
                snprintf(mm->port, sizeof mm->port, "%s", MODBUS_DEFAULT_PORT);
        mm->unit = MODBUS_DEFAULT_UNIT;
        if (*rest == '/') {
                char *end;
                long unit;

                errno = 0;
                unit = strtol(rest + 1, &end, 10);
                if (errno || end == rest + 1 || rest[1] < '0' || rest[1] > '9' || *end ||
                    !((unit >= 1 && unit <= 247) || unit == 255))
                        return lab_error_set(err, EINVAL, "meter_config",
                                             "meter %s: address %s: the unit id after '/' must "
                                             "be 1..247 or 255",
                                             name, address);
                mm->unit = (int)unit;
        }
        return 0;
bad:
        return lab_error_set(err, EINVAL, "meter_config",
                             "meter %s: address %s is not host[:port][/unit] (as in "
                             "192.0.2.10:502/1)",
                             name, address);
}

static int check_register(const lab_meter_t *m, const char *what, const lab_meter_register_t *r,
                          bool required, int *ret, lab_error_t *err)
{
        *ret = register_address(r->address);
        if (*ret == -1 && required)
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: no %s register: give a preset or registers",
                                     m->name, what);
        if (*ret == -2)
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: %s register %d is not an input register "
                                     "(30001..39999, 300001..365536, or a 0-based address below "
                                     "30000); holding registers are not read",
                                     m->name, what, r->address);
        if (*ret >= 0 && !(isfinite(r->scale) && r->scale > 0))
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: the scale of %s register %d must be a number "
                                     "above 0",
                                     m->name, what, r->address);
        return 0;
}

static void modbus_meter_disconnect(modbus_meter_t *mm)
{
        if (mm->connected)
                modbus_close(mm->ctx);
        mm->connected = false;
}

static void modbus_meter_close(lab_meter_t *m)
{
        modbus_meter_t *mm = (modbus_meter_t *)m;

        if (mm->ctx) {
                modbus_meter_disconnect(mm);
                modbus_free(mm->ctx);
        }
        lab_meter_done(&mm->base);
        free(mm);
}

static int modbus_meter_open(const lab_meter_settings_t *s, lab_meter_t **ret, lab_error_t *err)
{
        modbus_meter_t *mm = calloc(1, sizeof *mm);
        int r;

        if (!mm)
                return -ENOMEM;
        r = lab_meter_init(&mm->base, &lab_meter_modbus_ops, s);
        if (r < 0)
                goto fail;
        r = parse_address(mm, s->address, err);
        if (r < 0)
                goto fail;
        r = check_register(&mm->base, "energy", &s->energy, true, &mm->energy_addr, err);
        if (r < 0)
                goto fail;
        r = check_register(&mm->base, "power", &s->power, false, &mm->power_addr, err);
        if (r < 0)
                goto fail;
        mm->energy_scale = s->energy.scale;
        mm->energy_number = s->energy.address;
        mm->power_scale = s->power.scale;
        mm->power_number = s->power.address;

        mm->ctx = modbus_new_tcp_pi(mm->host, mm->port);
        if (!mm->ctx) {
                r = errno == ENOMEM ? -ENOMEM
                                    : lab_error_set(err, EINVAL, "meter_config",
                                                    "meter %s: address %s: libmodbus refused it "
                                                    "(%s)",
                                                    s->name, s->address, modbus_strerror(errno));
                goto fail;
        }
        if (modbus_set_slave(mm->ctx, mm->unit) < 0) {
                r = lab_error_set(err, EINVAL, "meter_config", "meter %s: unit id %d refused (%s)",
                                  s->name, mm->unit, modbus_strerror(errno));
                goto fail;
        }
        /* Off: the whole answer must come within the response timeout (see the top). */
        modbus_set_byte_timeout(mm->ctx, 0, 0);
        *ret = &mm->base;
        return 0;
fail:
        modbus_meter_close(&mm->base);
        return r;
}

/* Give libmodbus what is left of the read's time; -ETIMEDOUT when nothing is. */
static int set_budget(modbus_meter_t *mm, uint64_t deadline)
{
        uint64_t now = lab_meter_now_usec(), left;

        if (now >= deadline)
                return -ETIMEDOUT;
        left = deadline - now;
        if (left < MODBUS_MIN_WAIT_USEC)
                left = MODBUS_MIN_WAIT_USEC;
        return modbus_set_response_timeout(mm->ctx, (uint32_t)(left / 1000000u),
                                           (uint32_t)(left % 1000000u)) < 0
                   ? -errno
                   : 0;
}

static bool is_exception(int e)
{
        return e >= EMBXILFUN && e <= EMBXGTAR;
}

static bool is_link_error(int e)
{
        return e == ECONNREFUSED || e == ECONNRESET || e == ECONNABORTED || e == EPIPE ||
               e == ENOTCONN || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN ||
               e == ENETDOWN || e == EBADF;
}

/* The keyword for errno e (libmodbus's or the system's) after step what. */
static int modbus_error(modbus_meter_t *mm, int e, const char *what, lab_error_t *err)
{
        const lab_meter_t *m = &mm->base;
        unsigned long long secs = (unsigned long long)(m->timeout_usec / 1000000u);
        unsigned long long msecs = (unsigned long long)(m->timeout_usec % 1000000u / 1000u);

        if (!is_exception(e))
                modbus_meter_disconnect(mm);
        if (e == ETIMEDOUT)
                return lab_error_set(err, ETIMEDOUT, "meter_timeout",
                                     "meter %s at %s: no answer to %s within %llu.%03llu s; check "
                                     "that the meter or its gateway is not hung, or raise the "
                                     "meter's timeout",
                                     m->name, m->address, what, secs, msecs);
        if (is_exception(e))
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s at %s: Modbus exception %d to %s (%s); check the "
                                     "unit id and the registers (preset) in the config",
                                     m->name, m->address, e - MODBUS_ENOBASE, what,
                                     modbus_strerror(e));
        if (is_link_error(e))
                return lab_error_set(err, e, "meter_unreachable",
                                     "meter %s at %s: %s failed (%s); check that the meter or its "
                                     "gateway is on, on the network, and the port in the address",
                                     m->name, m->address, what, strerror(e));
        return lab_error_set(err, EPROTO, "meter_protocol",
                             "meter %s at %s: %s failed (%s): the answer is not Modbus TCP as "
                             "this driver expects",
                             m->name, m->address, what, modbus_strerror(e));
}

static int modbus_meter_connect(modbus_meter_t *mm, uint64_t deadline, lab_error_t *err)
{
        int r = set_budget(mm, deadline);

        if (r < 0)
                return modbus_error(mm, -r, "the connection", err);
        if (modbus_connect(mm->ctx) < 0) {
                int e = errno;

                /* libmodbus closed the socket. Its connect leaves EINPROGRESS when the
                   handshake timed out, and reports the name service's failures and any
                   refusal (SO_ERROR) as ECONNREFUSED. */
                if (e == EINPROGRESS || e == EALREADY || e == 0)
                        e = ETIMEDOUT;
                return modbus_error(mm, e, "the connection", err);
        }
        mm->connected = true;
        return 0;
}

/* One float32 at 0-based address addr. On a link error *link is set (for one retry). */
static int read_float(modbus_meter_t *mm, int addr, int number, uint64_t deadline, float *ret,
                      bool *link, lab_error_t *err)
{
        uint16_t regs[2] = {0, 0};
        char what[64];
        int r, n;

        snprintf(what, sizeof what, "the read of input register %d", number);
        *link = false;
        r = set_budget(mm, deadline);
        if (r < 0)
                return modbus_error(mm, -r, what, err);
        n = modbus_read_input_registers(mm->ctx, addr, 2, regs);
        if (n < 0) {
                int e = errno;

                *link = is_link_error(e);
                return modbus_error(mm, e, what, err);
        }
        if (n != 2)
                return modbus_error(mm, EMBBADDATA, what, err);
        *ret = modbus_get_float_abcd(regs);
        return 0;
}

/* Read one register on a connection, reconnecting once if a kept connection was dead. */
static int read_register(modbus_meter_t *mm, int addr, int number, uint64_t deadline, bool *fresh,
                         float *ret, lab_error_t *err)
{
        bool link;
        int r;

        if (!mm->connected) {
                r = modbus_meter_connect(mm, deadline, err);
                if (r < 0)
                        return r;
                *fresh = true;
        }
        r = read_float(mm, addr, number, deadline, ret, &link, err);
        if (r < 0 && link && !*fresh) {
                /* a kept connection the peer dropped while idle (a gateway's idle timeout,
                   a meter restarted): connect again once */
                lab_error_clear(err);
                r = modbus_meter_connect(mm, deadline, err);
                if (r < 0)
                        return r;
                *fresh = true;
                r = read_float(mm, addr, number, deadline, ret, &link, err);
        }
        return r;
}

static int modbus_meter_read(lab_meter_t *m, lab_meter_reading_t *ret, lab_error_t *err)
{
        modbus_meter_t *mm = (modbus_meter_t *)m;
        uint64_t deadline = lab_meter_now_usec() + m->timeout_usec;
        bool fresh = false;
        char what[64];
        float f;
        int r;

        if (mm->power_addr >= 0) {
                r = read_register(mm, mm->power_addr, mm->power_number, deadline, &fresh, &f, err);
                if (r < 0)
                        return r;
                snprintf(what, sizeof what, "input register %d (power)", mm->power_number);
                ret->power_w = (double)f * mm->power_scale;
                r = lab_meter_check_power(m, what, ret->power_w, err);
                if (r < 0)
                        return r;
        }
        r = read_register(mm, mm->energy_addr, mm->energy_number, deadline, &fresh, &f, err);
        if (r < 0)
                return r;
        snprintf(what, sizeof what, "input register %d (energy)", mm->energy_number);
        ret->energy_wh = (double)f * mm->energy_scale;
        return lab_meter_check_energy(m, what, ret->energy_wh, err);
}

const lab_meter_ops_t lab_meter_modbus_ops = {
    .driver = "modbus",
    .open = modbus_meter_open,
    .close = modbus_meter_close,
    .read = modbus_meter_read,
};
