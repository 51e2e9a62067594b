/*
 * meter-shelly.c - energy from Shelly Gen2 devices, RPC over HTTP.
 *
 * Why: the smart plug under a printer (Shelly Plus Plug S, Plus 1PM, Pro
 * 4PM: the Switch component) or the clamp meter on its circuit (Pro EM, EM
 * Gen3: EM1 and EM1Data) is the cheapest meter a lab can add, and Gen2
 * firmware answers plain HTTP GETs with JSON:
 *   Switch.GetStatus?id=N   apower (W), aenergy.total (Wh)
 *   EM1.GetStatus?id=N      act_power (W)
 *   EM1Data.GetStatus?id=N  total_act_energy (Wh)
 * The device may ask for HTTP digest authentication (RFC 7616, SHA-256,
 * the realm its device id, the user always "admin").
 *
 * The one idea: this driver owns no HTTP client. libcurl is
 * agent/platform's, so the settings hand over a transport (lab_http_get_fn,
 * base/http-get.h; the daemon's is lab_platform_http_get) and the driver
 * only builds the URLs, words the failures for a person and parses the
 * answers. The parse is a pure function (lab_meter_shelly_parse, fuzzed):
 * HTML, text, a missing field or a body over 64 KiB is meter_protocol; an
 * "errors" array naming a measuring fault (power_meter_failure,
 * out_of_range:*) is meter_bad_value, as are figures that cannot be true.
 * An EM1 read is two requests sharing the one timeout.
 *
 * A plug's counter restarts at 0 when it reboots: this driver returns the
 * figure it reads, and the sampler's pure logic calls it a meter_reset.
 *
 * Never: a figure from a failed or refused answer, a password in an error
 * sentence or a URL, a redirect followed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "macro.h"
#include "meter-private.h"
#include "url-path.h"

#define SHELLY_CHANNEL_MAX 255
#define SHELLY_USER        "admin" /* the only user a Gen2 device has */

typedef struct shelly_meter_s {
        lab_meter_t base; /* first */
        lab_meter_shelly_component_t component;
        unsigned channel;
        char *username; /* NULL: no authentication */
        char *password;
        lab_http_get_fn http_get;
        char *url_status; /* Switch.GetStatus or EM1.GetStatus */
        char *url_data;   /* EM1Data.GetStatus; NULL for a switch */
} shelly_meter_t;

/* What each answer is called and holds. */
static const struct {
        const char *method;
        const char *energy; /* NULL: not in this answer */
        const char *power;
} shelly_answers[] = {
    [LAB_METER_SHELLY_SWITCH_STATUS] = {"Switch.GetStatus", "aenergy.total", "apower"},
    [LAB_METER_SHELLY_EM1_STATUS] = {"EM1.GetStatus", NULL, "act_power"},
    [LAB_METER_SHELLY_EM1DATA_STATUS] = {"EM1Data.GetStatus", "total_act_energy", NULL},
};

/* Whether an entry of a status's "errors" says the meter is not measuring. */
static bool is_measuring_fault(const char *e)
{
        return strcmp(e, "power_meter_failure") == 0 || strncmp(e, "out_of_range:", 13) == 0;
}

/* The number at a dotted path ("aenergy.total") of obj; NULL when a step is missing. */
static json_t *field_at(json_t *obj, const char *path)
{
        const char *dot = strchr(path, '.');
        char first[32];

        if (!dot)
                return json_object_get(obj, path);
        snprintf(first, sizeof first, "%.*s", (int)(dot - path), path);
        return json_object_get(json_object_get(obj, first), dot + 1);
}

int lab_meter_shelly_parse(const lab_meter_t *m, lab_meter_shelly_answer_t answer, const char *body,
                           size_t len, lab_meter_reading_t *ret, lab_error_t *err)
{
        const char *method = shelly_answers[answer].method;
        const char *ename = shelly_answers[answer].energy, *pname = shelly_answers[answer].power;
        json_t *root, *errors, *e, *p;
        double energy_wh = NAN, power_w = NAN;
        json_error_t jerr;
        char ewhat[64], pwhat[64];
        int r = 0;

        root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root || !json_is_object(root)) {
                size_t skip = 0, end = len;
                char text[48];

                json_decref(root);
                while (skip < end && body[skip] && strchr(" \t\r\n", body[skip]))
                        skip++;
                while (end > skip && body[end - 1] && strchr(" \t\r\n", body[end - 1]))
                        end--;
                lab_meter_excerpt(text, sizeof text, body + skip, end - skip);
                if (skip < len && body[skip] == '<')
                        return lab_error_set(err, EPROTO, "meter_protocol",
                                             "meter %s at %s: %s answered HTML (\"%s\"), not "
                                             "Gen2 RPC JSON; check that the address is a Shelly "
                                             "Gen2 device's (a Gen1 device has no /rpc)",
                                             m->name, m->address, method, text);
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s at %s: %s answered \"%s\", not a JSON object (%s); "
                                     "check that the address is a Shelly Gen2 device's",
                                     m->name, m->address, method, text,
                                     root ? "another JSON value" : jerr.text);
        }
        /* The device's own word first: a meter that says it is not measuring. */
        errors = json_object_get(root, "errors");
        for (size_t i = 0; json_is_array(errors) && i < json_array_size(errors); i++) {
                const char *s = json_string_value(json_array_get(errors, i));

                if (s && is_measuring_fault(s)) {
                        char text[48];

                        lab_meter_excerpt(text, sizeof text, s, strlen(s));
                        r = lab_error_set(err, ERANGE, "meter_bad_value",
                                          "meter %s at %s: the device reports a measuring fault "
                                          "(%s: \"%s\"), so its figures are not used; check its "
                                          "wiring and current clamp, and restart it",
                                          m->name, m->address, method, text);
                        goto out;
                }
        }
        if (ename) {
                e = field_at(root, ename);
                if (!json_is_number(e)) {
                        r = lab_error_set(err, EPROTO, "meter_protocol",
                                          "meter %s at %s: %s holds no number in %s: the "
                                          "component does not meter energy, or it is the wrong "
                                          "one; check the meter's component (switch, em1) and "
                                          "channel",
                                          m->name, m->address, method, ename);
                        goto out;
                }
                energy_wh = json_number_value(e);
        }
        if (pname) {
                p = json_object_get(root, pname);
                /* A switch without power metering has no apower; EM1 always has act_power. */
                if (!json_is_number(p) &&
                    (answer != LAB_METER_SHELLY_SWITCH_STATUS || (p && !json_is_null(p)))) {
                        r = lab_error_set(err, EPROTO, "meter_protocol",
                                          "meter %s at %s: %s holds no number in %s; check the "
                                          "meter's component (switch, em1) and channel",
                                          m->name, m->address, method, pname);
                        goto out;
                }
                power_w = json_is_number(p) ? json_number_value(p) : NAN;
        }
        snprintf(ewhat, sizeof ewhat, "%s's %s", method, ename ? ename : "");
        snprintf(pwhat, sizeof pwhat, "%s's %s", method, pname ? pname : "");
        r = lab_meter_take(m, ename ? ewhat : NULL, energy_wh, pname ? pwhat : NULL, power_w, ret,
                           err);
out:
        json_decref(root);
        return r;
}

static void shelly_meter_close(lab_meter_t *m)
{
        shelly_meter_t *sm = (shelly_meter_t *)m;

        free(sm->username);
        if (sm->password)
                explicit_bzero(sm->password, strlen(sm->password));
        free(sm->password);
        free(sm->url_status);
        free(sm->url_data);
        lab_meter_done(m);
        free(sm);
}

/* Whether host (no brackets) is a plain host name or IPv4 address, or (bracketed) IPv6. */
static bool host_ok(const char *host, bool bracketed)
{
        for (const char *c = host; *c; c++) {
                bool ok = bracketed
                              ? (strchr("0123456789abcdefABCDEF:.", *c) != NULL)
                              : ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                                 (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_');

                if (!ok)
                        return false;
        }
        return true;
}

/* address → "http[s]://host:port"; meter_config when it is not host[:port] with an optional
   http:// or https:// and an optional trailing '/'. */
static int shelly_base_url(const lab_meter_settings_t *s, char *base, size_t size, lab_error_t *err)
{
        const char *a = s->address, *rest;
        char host[256];
        bool https = false;
        unsigned port;
        int r;

        if (strncasecmp(a, "http://", 7) == 0)
                a += 7;
        else if (strncasecmp(a, "https://", 8) == 0)
                a += 8, https = true;
        r = lab_meter_split_host(a, host, sizeof host, &port, &rest);
        if (r == -EDOM)
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: address %s: put an IPv6 address in brackets, as "
                                     "in [fd00::7]:80",
                                     s->name, s->address);
        if (r < 0 || !(rest[0] == '\0' || (rest[0] == '/' && rest[1] == '\0')) ||
            !host_ok(host, a[0] == '['))
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: address %s is not host[:port] or "
                                     "http://host[:port] (as in 192.0.2.7 or "
                                     "http://192.0.2.7:80): no path, no user name in it",
                                     s->name, s->address);
        snprintf(base, size, "%s://%s%s%s:%u", https ? "https" : "http", a[0] == '[' ? "[" : "",
                 host, a[0] == '[' ? "]" : "",
                 port    ? port
                 : https ? 443u
                         : 80u);
        return 0;
}

/* base + "/rpc/METHOD?id=N", into *ret. */
static int shelly_url(const char *base, const char *method, unsigned channel, char **ret)
{
        const char *segment[] = {method};
        char query[16];

        snprintf(query, sizeof query, "id=%u", channel);
        return lab_url_build(base, "/rpc/{}", segment, 1, query, ret);
}

static int shelly_meter_open(const lab_meter_settings_t *s, lab_meter_t **ret, lab_error_t *err)
{
        shelly_meter_t *sm;
        char base[320];
        int r;

        if (!s->http_get)
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: no HTTP transport was given to the shelly driver "
                                     "(the agent passes its own: report this as a bug)",
                                     s->name);
        if (s->component != LAB_METER_SHELLY_SWITCH && s->component != LAB_METER_SHELLY_EM1)
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: unknown Shelly component: switch or em1", s->name);
        if (s->channel > SHELLY_CHANNEL_MAX)
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: channel %u: a Shelly component's id is 0..%d",
                                     s->name, s->channel, SHELLY_CHANNEL_MAX);
        r = shelly_base_url(s, base, sizeof base, err);
        if (r < 0)
                return r;
        sm = calloc(1, sizeof *sm);
        if (!sm)
                return -ENOMEM;
        r = lab_meter_init(&sm->base, &lab_meter_shelly_ops, s);
        sm->component = s->component;
        sm->channel = s->channel;
        sm->http_get = s->http_get;
        if (r >= 0 && (s->username || s->password)) {
                /* a password alone is for the one user a Shelly has */
                sm->username = strdup(s->username ? s->username : SHELLY_USER);
                sm->password = strdup(s->password ? s->password : "");
                if (!sm->username || !sm->password)
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = shelly_url(base,
                               s->component == LAB_METER_SHELLY_EM1 ? "EM1.GetStatus"
                                                                    : "Switch.GetStatus",
                               s->channel, &sm->url_status);
        if (r >= 0 && s->component == LAB_METER_SHELLY_EM1)
                r = shelly_url(base, "EM1Data.GetStatus", s->channel, &sm->url_data);
        if (r < 0) {
                shelly_meter_close(&sm->base);
                return r == -EINVAL
                           ? lab_error_set(err, EINVAL, "meter_config",
                                           "meter %s: address %s makes no URL", s->name, s->address)
                           : r;
        }
        *ret = &sm->base;
        return 0;
}

/* A transport failure, worded for a person. */
static int shelly_transport_error(const shelly_meter_t *sm, const char *method, int r,
                                  const lab_error_t *herr, lab_error_t *err)
{
        const lab_meter_t *m = &sm->base;
        const char *kw = herr->keyword;

        if (!lab_error_isset(herr))
                return r; /* -ENOMEM */
        if (strcmp(kw, "http_timeout") == 0)
                return lab_error_set(err, ETIMEDOUT, "meter_timeout",
                                     "meter %s at %s: no answer to %s within %llu.%03llu s; check "
                                     "that the device is on and its Wi-Fi is good, or raise the "
                                     "meter's timeout",
                                     m->name, m->address, method,
                                     (unsigned long long)(m->timeout_usec / 1000000u),
                                     (unsigned long long)(m->timeout_usec % 1000000u / 1000u));
        if (strcmp(kw, "http_too_large") == 0)
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s at %s: the answer to %s is over %d bytes, which no "
                                     "Shelly status is; check that the address is the device's",
                                     m->name, m->address, method, LAB_METER_OUTPUT_MAX);
        if (strcmp(kw, "http_protocol") == 0)
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s at %s: %s: %s; check that the address is a Shelly "
                                     "Gen2 device's",
                                     m->name, m->address, method, herr->message);
        return lab_error_set(err, -r, "meter_unreachable",
                             "meter %s at %s: %s; check the address, that the device is powered "
                             "and on the network%s",
                             m->name, m->address, herr->message,
                             strcmp(kw, "http_tls") == 0
                                 ? " and that its certificate is one this host trusts (or use "
                                   "http://)"
                                 : "");
}

/* An answer with a status other than 200, worded for a person. */
static int shelly_status_error(const shelly_meter_t *sm, const char *method,
                               const lab_http_reply_t *reply, lab_error_t *err)
{
        const lab_meter_t *m = &sm->base;
        const char *msg = NULL;
        char text[96];
        json_t *root;

        if (reply->status == 401)
                return lab_error_set(
                    err, EACCES, "meter_protocol",
                    sm->username ? "meter %s at %s: authentication failed: the device refused the "
                                   "user name and password (HTTP 401 to %s); check the meter's "
                                   "password (the user is admin) against the device's"
                                 : "meter %s at %s: authentication failed: the device asks for a "
                                   "password (HTTP 401 to %s); give the meter's password in the "
                                   "config",
                    m->name, m->address, method);
        if (reply->status >= 300 && reply->status < 400)
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s at %s: %s answered a redirect (HTTP %ld), which is "
                                     "not followed: a Shelly does not redirect its RPC; check "
                                     "that the address is the device's own",
                                     m->name, m->address, method, reply->status);
        /* A Gen2 RPC error is {"code": N, "message": "..."}. */
        root = json_loadb(reply->body, reply->len, 0, NULL);
        msg = json_string_value(json_object_get(root, "message"));
        if (msg)
                lab_meter_excerpt(text, sizeof text, msg, strlen(msg));
        else
                lab_meter_excerpt(text, sizeof text, reply->body, reply->len);
        json_decref(root);
        return lab_error_set(err, EPROTO, "meter_protocol",
                             "meter %s at %s: %s?id=%u answered HTTP %ld (\"%s\"); check the "
                             "meter's component (switch for plugs and relays, em1 for energy "
                             "meters) and channel",
                             m->name, m->address, method, sm->channel, reply->status, text);
}

/* GET url within what is left before deadline, then parse its answer into ret. */
static int shelly_call(shelly_meter_t *sm, const char *url, lab_meter_shelly_answer_t answer,
                       uint64_t deadline, lab_meter_reading_t *ret, lab_error_t *err)
{
        const char *method = shelly_answers[answer].method;
        lab_http_reply_t reply = {0};
        lab_error_t herr = {0};
        uint64_t now = lab_meter_now_usec();
        lab_http_request_t req = {
            .url = url,
            .username = sm->username,
            .password = sm->password,
            .max_body = LAB_METER_OUTPUT_MAX,
        };
        int r;

        if (now >= deadline)
                return shelly_transport_error(
                    sm, method, -ETIMEDOUT,
                    &(lab_error_t){.keyword = "http_timeout", .message = "no time left"}, err);
        req.timeout_usec = deadline - now;
        r = sm->http_get(&req, &reply, &herr);
        if (r < 0)
                return shelly_transport_error(sm, method, r, &herr, err);
        if (reply.status != 200)
                r = shelly_status_error(sm, method, &reply, err);
        else
                r = lab_meter_shelly_parse(&sm->base, answer, reply.body, reply.len, ret, err);
        lab_http_reply_done(&reply);
        return r;
}

static int shelly_meter_read(lab_meter_t *m, lab_meter_reading_t *ret, lab_error_t *err)
{
        shelly_meter_t *sm = (shelly_meter_t *)m;
        uint64_t deadline = lab_meter_now_usec() + m->timeout_usec;
        int r;

        if (sm->component == LAB_METER_SHELLY_SWITCH)
                return shelly_call(sm, sm->url_status, LAB_METER_SHELLY_SWITCH_STATUS, deadline,
                                   ret, err);
        r = shelly_call(sm, sm->url_status, LAB_METER_SHELLY_EM1_STATUS, deadline, ret, err);
        if (r < 0)
                return r;
        return shelly_call(sm, sm->url_data, LAB_METER_SHELLY_EM1DATA_STATUS, deadline, ret, err);
}

const lab_meter_ops_t lab_meter_shelly_ops = {
    .driver = "shelly",
    .open = shelly_meter_open,
    .close = shelly_meter_close,
    .read = shelly_meter_read,
};
