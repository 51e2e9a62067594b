/*
 * printer-ipp.c - the IPP printer driver: CUPS queues and IPP Everywhere
 * printers, spoken to with libcups.
 *
 * Why: most of a lab's printers are reached over IPP, either directly
 * (ipp:// or ipps:// to the printer) or through a local cupsd queue. This
 * file is the only one that talks to them; what the answers mean is decided
 * by the pure functions of ipp-attrs.c.
 *
 * The one idea: every call has a deadline (now + printers[].timeout). Each
 * handle owns its own http_t whose timeout callback checks that deadline, so
 * a printer that stops answering (SIGSTOPped, cable pulled mid-request) makes
 * the call fail with printer_timeout instead of hanging, and one stuck
 * printer never delays another handle. Nothing here is process-global: no
 * cupsSetServer(), no signal handlers; libcups' per-thread settings (password
 * callback) are set at the start of each call.
 *
 * SIGPIPE: libcups writes with send(..., 0), so a printer that closes the
 * connection while we upload would raise SIGPIPE. Each call blocks SIGPIPE in
 * the calling thread and discards one that became pending before restoring
 * the mask (the libpq technique), so the daemon need not ignore SIGPIPE.
 *
 * Must never: retry a Print-Job that may have reached the printer (the caller
 * uses lab_printer_find_job() for that), or block past the deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cups/cups.h>

#include "backoff.h"
#include "ipp-attrs.h"
#include "io-util.h"
#include "ipp-ppd.h"
#include "macro.h"
#include "printer-private.h"

/* Busy retries: full jitter from 250 ms doubling up to 2 s, at least 50 ms apart. */
#define BUSY_BASE_USEC  (250ULL * 1000ULL)
#define BUSY_CAP_USEC   (2000ULL * 1000ULL)
#define BUSY_FLOOR_USEC (50ULL * 1000ULL)
/* How often libcups polls our deadline while it waits for the printer. */
#define POLL_SECONDS 0.2
#define UPLOAD_CHUNK (64 * 1024)

typedef struct ipp_printer_s {
        lab_printer_t base; /* must be first */
        char *uri;          /* printers[].uri, also sent as printer-uri */
        char host[256];
        int port;
        char resource[1024];
        http_encryption_t encryption;
        lab_print_quality_t quality;
        http_t *http;       /* NULL while not connected */
        uint64_t deadline;  /* CLOCK_MONOTONIC usec at which the current call gives up */
        bool timed_out;     /* the current call hit its deadline inside libcups */
        lab_error_t no_err; /* the current call's error when its caller passed none */
} ipp_printer_t;

/* One driver call: the deadline is armed and SIGPIPE blocked in this thread until it ends. */
typedef struct ipp_call_s {
        ipp_printer_t *p;
        sigset_t old_mask;
        bool pipe_was_pending;
} ipp_call_t;

/* Monotonic clock in microseconds. */
static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

/* Microseconds left before the current call's deadline (0 when past). */
static uint64_t remaining_usec(const ipp_printer_t *p)
{
        uint64_t now = now_usec();

        return p->deadline > now ? p->deadline - now : 0;
}

/* libcups timeout callback: keep waiting until the call's deadline, then give up. */
static int deadline_cb(http_t *http, void *data)
{
        ipp_printer_t *p = data;

        if (now_usec() < p->deadline)
                return 1;
        p->timed_out = true;
        return 0;
}

/* libcups password callback: a daemon never prompts, so never offer a password. */
static const char *no_password_cb(const char *prompt, http_t *http, const char *method,
                                  const char *resource, void *data)
{
        return NULL;
}

/*
 * Start a call: arm the deadline, block SIGPIPE in this thread, disable
 * password prompts, and point a NULL *err at the handle's own (one call at
 * a time per handle), so the call can always read back what failed.
 */
static ipp_call_t call_begin(ipp_printer_t *p, lab_error_t **err)
{
        ipp_call_t c = {.p = p};
        sigset_t pipe_set, pending;

        if (!*err)
                *err = &p->no_err;

        p->deadline = now_usec() + p->base.timeout;
        p->timed_out = false;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending);
        (void)sigpending(&pending);
        c.pipe_was_pending = sigismember(&pending, SIGPIPE) == 1;
        (void)pthread_sigmask(SIG_BLOCK, &pipe_set, &c.old_mask);
        cupsSetPasswordCB2(no_password_cb, NULL);
        return c;
}

/* End a call: discard a SIGPIPE our writes raised, restore the signal mask. */
static void call_end(ipp_call_t *c)
{
        sigset_t pipe_set, pending;
        int saved = errno;

        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending);
        if (!c->pipe_was_pending && sigpending(&pending) == 0 &&
            sigismember(&pending, SIGPIPE) == 1) {
                const struct timespec zero = {0, 0};
                (void)sigtimedwait(&pipe_set, NULL, &zero);
        }
        (void)pthread_sigmask(SIG_SETMASK, &c->old_mask, NULL);
        errno = saved;
}

/* Drop the connection (after any failure its state is unknown). */
static void disconnect(ipp_printer_t *p)
{
        if (p->http) {
                httpClose(p->http);
                p->http = NULL;
        }
}

/* The failure of the last exchange as printer_timeout or printer_unreachable. */
static int transport_error(ipp_printer_t *p, const char *what, lab_error_t *err)
{
        const char *why = cupsLastErrorString();
        int e = p->http ? httpError(p->http) : 0;
        bool timed_out = p->timed_out || e == ETIMEDOUT;

        disconnect(p);
        if (timed_out)
                return lab_error_set(err, ETIMEDOUT, "printer_timeout",
                                     "printer %s at %s did not answer %s within %llu s; check "
                                     "that it is not hung or paused, or raise printers[].timeout",
                                     p->base.name, p->uri, what,
                                     (unsigned long long)(p->base.timeout / 1000000ULL));
        return lab_error_set(err, e > 0 ? e : ECONNRESET, "printer_unreachable",
                             "lost the connection to %s at %s during %s (%s); check that it is "
                             "on and on the network",
                             p->base.name, p->uri, what,
                             e > 0 && e != ETIMEDOUT ? strerror(e)
                             : why && why[0] && strcmp(why, "Success") != 0
                                 ? why
                                 : "the connection was closed");
}

/* Connect if not connected, within the call's deadline. */
static int ensure_connected(ipp_printer_t *p, lab_error_t *err)
{
        uint64_t left;
        int msec;

        if (p->http)
                return 0;
        left = remaining_usec(p);
        if (left == 0)
                return lab_error_set(err, ETIMEDOUT, "printer_timeout",
                                     "printer %s at %s: no time left to connect within %llu s",
                                     p->base.name, p->uri,
                                     (unsigned long long)(p->base.timeout / 1000000ULL));
        msec = left / 1000 > 0 ? (int)(left / 1000) : 1;
        /* msec 0: create without connecting, so the deadline callback also covers TLS. */
        p->http = httpConnect2(p->host, p->port, NULL, AF_UNSPEC, p->encryption, 1, 0, NULL);
        if (!p->http)
                return lab_error_set(err, EHOSTUNREACH, "printer_unreachable",
                                     "cannot resolve %s for printer %s (%s); check printers[].uri "
                                     "and the name service",
                                     p->host, p->base.name, cupsLastErrorString());
        httpSetTimeout(p->http, POLL_SECONDS, deadline_cb, p);
        if (httpReconnect2(p->http, msec, NULL) != 0) {
                int e = httpError(p->http);
                const char *why = e > 0 ? strerror(e) : cupsLastErrorString();

                if (p->timed_out || e == ETIMEDOUT || remaining_usec(p) == 0) {
                        p->timed_out = true;
                        return transport_error(p, "the connection", err);
                }
                disconnect(p);
                /* libcups reports a refused connection as EHOSTDOWN: name both. */
                return lab_error_set(err, e > 0 ? e : ECONNREFUSED, "printer_unreachable",
                                     "cannot connect to %s at %s (%s%s); check that it is on and "
                                     "on the network, and the port in printers[].uri",
                                     p->base.name, p->uri,
                                     e == EHOSTDOWN ? "connection refused or host down: " : "",
                                     why);
        }
        return 0;
}

/*
 * Open a request for op on this printer with the operation attributes every
 * call starts with, in this order: printer-uri, requesting-user-name, then
 * job-id when job_id > 0. 0 with *ret, or printer_protocol (out of memory).
 */
static int open_request(ipp_printer_t *p, ipp_op_t op, int job_id, ipp_t **ret, lab_error_t *err)
{
        ipp_t *req = ippNewRequest(op);

        if (!req)
                return lab_error_set(err, ENOMEM, "printer_protocol", "out of memory");
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, p->uri);
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL,
                     cupsUser());
        if (job_id > 0)
                ippAddInteger(req, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", job_id);
        *ret = req;
        return 0;
}

/* Add requested-attributes: the n attributes the answer is to hold. */
static void add_requested(ipp_t *req, const char *const *attrs, size_t n)
{
        ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", (int)n, NULL,
                      attrs);
}

LAB_DEFINE_CLEANUP(ipp_t *, ippDelete)

/*
 * One exchange: send req (and the file fd, if >= 0, of size bytes) and read
 * the response. Returns 0 with *ret_resp (which may hold an IPP error status),
 * or a transport error. Nothing is retried here.
 */
static int exchange(ipp_printer_t *p, ipp_t *req, int fd, off_t size, const char *what,
                    ipp_t **ret_resp, lab_error_t *err)
{
        http_status_t st;
        ipp_t *resp;
        int r;

        *ret_resp = NULL;
        r = ensure_connected(p, err);
        if (r < 0)
                return r;
        /* The length is the whole HTTP body: the IPP message plus the document. */
        st = cupsSendRequest(p->http, req, p->resource,
                             ippLength(req) + (fd >= 0 ? (size_t)size : 0));
        if (fd >= 0) {
                _cleanup_free_ char *buf = malloc(UPLOAD_CHUNK);

                if (!buf) {
                        disconnect(p);
                        return lab_error_set(err, ENOMEM, "printer_file_error", "out of memory");
                }
                if (lseek(fd, 0, SEEK_SET) < 0) {
                        disconnect(p);
                        return lab_error_set(err, errno, "printer_file_error",
                                             "cannot rewind the print file for %s: %m",
                                             p->base.name);
                }
                while (st == HTTP_STATUS_CONTINUE) {
                        ssize_t n = read(fd, buf, UPLOAD_CHUNK);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0) {
                                disconnect(p);
                                return lab_error_set(err, errno, "printer_file_error",
                                                     "cannot read the print file for %s: %m",
                                                     p->base.name);
                        }
                        if (n == 0)
                                break;
                        st = cupsWriteRequestData(p->http, buf, (size_t)n);
                }
        }
        /* Also after an early answer (st not CONTINUE): read what the printer said. */
        resp = cupsGetResponse(p->http, p->resource);
        if (!resp)
                return transport_error(p, what, err);
        if (p->timed_out) {
                ippDelete(resp);
                return transport_error(p, what, err);
        }
        *ret_resp = resp;
        return 0;
}

/*
 * Send req until it is not answered busy, within the call's deadline.
 * idempotent: the request may be sent twice, so a failure on a kept-alive
 * connection (the printer may have restarted) is retried once on a new one.
 */
static int request(ipp_printer_t *p, ipp_t *req, int fd, off_t size, bool idempotent,
                   const char *what, ipp_t **ret_resp, lab_error_t *err)
{
        lab_backoff_t backoff = {0};
        bool retried_fresh = false;

        for (unsigned round = 0; round < 1000; round++) {
                bool reused = p->http != NULL;
                ipp_t *resp = NULL;
                ipp_status_t status;
                uint64_t delay, left;
                int r;

                r = exchange(p, req, fd, size, what, &resp, err);
                if (r < 0) {
                        if (idempotent && reused && !retried_fresh && !p->timed_out &&
                            strcmp(err->keyword, "printer_unreachable") == 0) {
                                retried_fresh = true;
                                continue;
                        }
                        return r;
                }
                status = ippGetStatusCode(resp);
                if (status != IPP_STATUS_ERROR_BUSY && status != IPP_STATUS_ERROR_TEMPORARY) {
                        if (fd >= 0 && status > IPP_STATUS_OK_EVENTS_COMPLETE)
                                disconnect(p); /* the printer may not have read the document */
                        *ret_resp = resp;
                        return 0;
                }
                ippDelete(resp);
                if (fd >= 0)
                        disconnect(p);
                /* Use the whole budget: the last wait is cut short to leave time for one try. */
                left = remaining_usec(p);
                if (left <= 2 * BUSY_FLOOR_USEC)
                        break;
                delay = lab_backoff_next(&backoff, BUSY_BASE_USEC, BUSY_CAP_USEC, arc4random());
                if (delay < BUSY_FLOOR_USEC)
                        delay = BUSY_FLOOR_USEC;
                if (delay > left - 2 * BUSY_FLOOR_USEC)
                        delay = left - 2 * BUSY_FLOOR_USEC;
                struct timespec ts = {.tv_sec = (time_t)(delay / 1000000ULL),
                                      .tv_nsec = (long)(delay % 1000000ULL) * 1000L};
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
        return lab_error_set(err, EBUSY, "printer_busy",
                             "printer %s at %s stayed busy for %llu s (%s); it is working on "
                             "other jobs, try again later",
                             p->base.name, p->uri,
                             (unsigned long long)(p->base.timeout / 1000000ULL), what);
}

/* The IPP status of resp as an error for a printer-level operation. */
static int status_error(ipp_printer_t *p, ipp_t *resp, const char *what, lab_error_t *err)
{
        ipp_status_t st = ippGetStatusCode(resp);
        const char *msg = cupsLastErrorString();

        if (st == IPP_STATUS_ERROR_NOT_ACCEPTING_JOBS)
                return lab_error_set(err, EBUSY, "printer_busy",
                                     "printer %s is not accepting jobs (%s); enable it at the "
                                     "printer or in CUPS, or try later",
                                     p->base.name, msg);
        if (st == IPP_STATUS_ERROR_NOT_AUTHORIZED || st == IPP_STATUS_ERROR_FORBIDDEN ||
            st == IPP_STATUS_ERROR_NOT_AUTHENTICATED)
                return lab_error_set(err, EACCES, "printer_refused",
                                     "printer %s at %s refused %s: %s (%s); allow this host "
                                     "without authentication",
                                     p->base.name, p->uri, what, ippErrorString(st), msg);
        if (st == IPP_STATUS_ERROR_NOT_FOUND)
                return lab_error_set(err, ENOENT, "printer_refused",
                                     "printer %s: %s has no such printer or queue (%s); check "
                                     "printers[].uri",
                                     p->base.name, p->uri, msg);
        if (st >= IPP_STATUS_ERROR_BAD_REQUEST && st < IPP_STATUS_ERROR_INTERNAL)
                return lab_error_set(err, EINVAL, "printer_refused",
                                     "printer %s refused %s: %s (%s)", p->base.name, what,
                                     ippErrorString(st), msg);
        return lab_error_set(err, EPROTO, "printer_protocol", "printer %s failed %s: %s (%s)",
                             p->base.name, what, ippErrorString(st), msg);
}

/* Whether an IPP status is a success. */
static bool status_ok(ipp_t *resp)
{
        return ippGetStatusCode(resp) <= IPP_STATUS_OK_EVENTS_COMPLETE;
}

/* The job-id of a handle made by submit; -EINVAL for anything else. */
static int parse_handle(ipp_printer_t *p, const char *handle, int *ret, lab_error_t *err)
{
        char *end = NULL;
        long v;

        errno = 0;
        v = handle ? strtol(handle, &end, 10) : 0;
        if (!handle || errno || end == handle || *end || v <= 0 || v > INT32_MAX)
                return lab_error_set(err, EINVAL, "printer_job_unknown",
                                     "printer %s: \"%s\" is not an IPP job handle", p->base.name,
                                     handle ? handle : "(null)");
        *ret = (int)v;
        return 0;
}

static const char *const caps_attrs[] = {
    "media-supported",
    "media-type-supported",
    "document-format-supported",
    "printer-resolution-supported",
    "print-color-mode-supported",
    "color-supported",
    "printer-make-and-model",
    "print-scaling-supported",
};

/* Get-Printer-Attributes for the n attributes named: 0 with *ret_resp, or the error. */
static int get_printer_attributes(ipp_printer_t *p, const char *const *attrs, size_t n,
                                  ipp_t **ret_resp, lab_error_t *err)
{
        _cleanup_(ippDeletep) ipp_t *req = NULL, *resp = NULL;
        int r;

        r = open_request(p, IPP_OP_GET_PRINTER_ATTRIBUTES, 0, &req, err);
        if (r < 0)
                return r;
        add_requested(req, attrs, n);
        r = request(p, req, -1, 0, true, "Get-Printer-Attributes", &resp, err);
        if (r < 0)
                return r;
        if (!status_ok(resp))
                return status_error(p, resp, "Get-Printer-Attributes", err);
        *ret_resp = TAKE_PTR(resp);
        return 0;
}

/* Whether the URI names a cupsd queue, which serves its PPD (if it has one) beside it. */
static bool is_cups_queue(const ipp_printer_t *p)
{
        return strncmp(p->resource, "/printers/", 10) == 0;
}

/*
 * GET path into fd, at most max bytes: the HTTP status, HTTP_STATUS_ERROR
 * for a transport failure (retried once on a fresh connection when a kept
 * connection failed before an answer), HTTP_STATUS_REQUEST_TOO_LARGE (and
 * the connection dropped) past max. Waits are under the call's deadline.
 */
static http_status_t get_bounded(ipp_printer_t *p, const char *path, int fd, size_t max)
{
        http_status_t hs = HTTP_STATUS_ERROR;
        char buf[16 * 1024];
        size_t total = 0;
        ssize_t n;

        for (int attempt = 0; attempt < 2; attempt++) {
                bool reused = attempt == 0;
                lab_error_t ignored = {0};

                if (!p->http && ensure_connected(p, &ignored) < 0)
                        return HTTP_STATUS_ERROR;
                httpClearFields(p->http);
                hs = httpGet(p->http, path) == 0 ? HTTP_STATUS_CONTINUE : HTTP_STATUS_ERROR;
                while (hs == HTTP_STATUS_CONTINUE)
                        hs = httpUpdate(p->http);
                if (hs != HTTP_STATUS_ERROR || !reused || p->timed_out)
                        break;
                disconnect(p); /* a kept connection the server had closed */
        }
        if (hs != HTTP_STATUS_OK) {
                if (hs != HTTP_STATUS_ERROR)
                        httpFlush(p->http);
                return hs;
        }
        while ((n = httpRead2(p->http, buf, sizeof buf)) > 0) {
                total += (size_t)n;
                if (total > max) {
                        disconnect(p);
                        return HTTP_STATUS_REQUEST_TOO_LARGE;
                }
                if (lab_write_all(fd, buf, (size_t)n) < 0)
                        return HTTP_STATUS_ERROR;
        }
        return n < 0 ? HTTP_STATUS_ERROR : HTTP_STATUS_OK;
}

/*
 * A CUPS queue's PPD (GET /printers/NAME.ppd) read into caps (its sizes)
 * and/or st (its colour defaults). 0 also for a printer without one (not a
 * cupsd queue, or a raw or driverless queue: 404).
 */
static int fetch_ppd(ipp_printer_t *p, lab_printer_caps_t *caps, lab_printer_status_t *st,
                     lab_error_t *err)
{
        char path[sizeof p->resource + 8];
        _cleanup_close_ int fd = -1;
        http_status_t hs;
        int r;

        if (!is_cups_queue(p))
                return 0;
        snprintf(path, sizeof path, "%s.ppd", p->resource);
        r = ensure_connected(p, err);
        if (r < 0)
                return r;
        fd = memfd_create("labagent-ppd", MFD_CLOEXEC);
        if (fd < 0)
                return lab_error_set(err, errno, "printer_protocol",
                                     "cannot hold the PPD of printer %s: %m", p->base.name);
        hs = get_bounded(p, path, fd, LAB_PPD_MAX_BYTES);
        if (hs == HTTP_STATUS_REQUEST_TOO_LARGE)
                return lab_error_set(err, EFBIG, "printer_protocol",
                                     "printer %s: %s is over %d MiB, no PPD is that large",
                                     p->base.name, path, LAB_PPD_MAX_BYTES >> 20);
        if (p->timed_out || hs == HTTP_STATUS_ERROR)
                return transport_error(p, "the PPD download", err);
        if (hs == HTTP_STATUS_NOT_FOUND)
                return 0;
        if (hs != HTTP_STATUS_OK)
                return lab_error_set(err, EPROTO, "printer_protocol",
                                     "printer %s: GET %s answered HTTP %d (%s)", p->base.name, path,
                                     (int)hs, httpStatus(hs));
        r = lab_ipp_ppd_read(fd, caps, st);
        if (r == -ENOMEM)
                return lab_error_set(err, ENOMEM, "printer_protocol", "out of memory");
        /* Anything else that is not a PPD: a printer that is no cupsd; it has none. */
        return 0;
}

/* Get-Printer-Attributes for the capabilities (and a CUPS queue's PPD sizes), into *ret. */
static int fetch_caps(ipp_printer_t *p, lab_printer_caps_t *ret, lab_error_t *err)
{
        _cleanup_(ippDeletep) ipp_t *resp = NULL;
        int r;

        r = get_printer_attributes(p, caps_attrs, ELEMENTSOF(caps_attrs), &resp, err);
        if (r < 0)
                return r;
        r = lab_ipp_caps_from(resp, ret);
        if (r < 0)
                return lab_error_set(err, -r, "printer_protocol", "out of memory");
        r = fetch_ppd(p, ret, NULL, err);
        if (r < 0)
                lab_printer_caps_done(ret);
        return r;
}

/* Open: parse and copy the URI; no connection yet. */
static int ipp_open(const lab_config_printer_t *cfg, lab_printer_t **ret, lab_error_t *err)
{
        _cleanup_free_ ipp_printer_t *p = NULL;
        char scheme[32], user[256];
        http_uri_status_t us;
        int r;

        if (!cfg->uri || !cfg->uri[0])
                return lab_error_set(err, EINVAL, "printer_config",
                                     "printer %s: printers[].uri is missing", cfg->name);
        p = calloc(1, sizeof *p);
        if (!p)
                return lab_error_set(err, ENOMEM, "printer_config", "out of memory");
        us =
            httpSeparateURI(HTTP_URI_CODING_ALL, cfg->uri, scheme, sizeof scheme, user, sizeof user,
                            p->host, sizeof p->host, &p->port, p->resource, sizeof p->resource);
        if (us < HTTP_URI_STATUS_OK || !p->host[0])
                return lab_error_set(err, EINVAL, "printer_config",
                                     "printer %s: printers[].uri %s is not a valid URI (%s)",
                                     cfg->name, cfg->uri, httpURIStatusString(us));
        if (strcmp(scheme, "ipp") == 0)
                p->encryption = HTTP_ENCRYPTION_IF_REQUESTED;
        else if (strcmp(scheme, "ipps") == 0)
                p->encryption = HTTP_ENCRYPTION_ALWAYS;
        else
                return lab_error_set(err, EINVAL, "printer_config",
                                     "printer %s: printers[].uri %s must start with ipp:// or "
                                     "ipps://",
                                     cfg->name, cfg->uri);
        if (user[0])
                return lab_error_set(err, EINVAL, "printer_config",
                                     "printer %s: printers[].uri must not hold a user name",
                                     cfg->name);
        p->uri = strdup(cfg->uri);
        if (!p->uri)
                return lab_error_set(err, ENOMEM, "printer_config", "out of memory");
        r = lab_printer_init(&p->base, &lab_printer_ipp_ops, cfg);
        if (r < 0) {
                free(p->uri);
                lab_printer_done(&p->base);
                return lab_error_set(err, -r, "printer_config", "out of memory");
        }
        p->quality = cfg->print_quality;
        *ret = &TAKE_PTR(p)->base;
        return 0;
}

/* Close the connection and free the handle. */
static void ipp_close(lab_printer_t *base)
{
        ipp_printer_t *p = (ipp_printer_t *)base;

        disconnect(p);
        free(p->uri);
        lab_printer_done(&p->base);
        free(p);
}

/* Capabilities from Get-Printer-Attributes. */
static int ipp_capabilities(lab_printer_t *base, lab_printer_caps_t *ret, lab_error_t *err)
{
        ipp_printer_t *p = (ipp_printer_t *)base;
        _cleanup_(call_end) _unused_ ipp_call_t call = call_begin(p, &err);

        return fetch_caps(p, ret, err);
}

/* Add media selection: media-col with media-type when supported, else the media keyword. */
static int add_media(ipp_printer_t *p, ipp_t *req, const lab_print_request_t *rq,
                     const lab_printer_caps_t *caps, lab_error_t *err)
{
        bool type_ok = rq->media_type && rq->media_type[0] &&
                       lab_printer_caps_has(caps->media_types, caps->n_media_types, rq->media_type);
        pwg_media_t *pwg;

        if (caps->n_media > 0 && !lab_printer_caps_has(caps->media, caps->n_media, rq->media))
                return lab_error_set(err, EINVAL, "printer_refused",
                                     "printer %s does not list media %s in media-supported; load "
                                     "it or route the product to another printer",
                                     p->base.name, rq->media);
        if (rq->media_type && rq->media_type[0] && caps->n_media_types > 0 && !type_ok)
                return lab_error_set(err, EINVAL, "printer_refused",
                                     "printer %s does not list media type %s in "
                                     "media-type-supported",
                                     p->base.name, rq->media_type);
        pwg = type_ok ? pwgMediaForPWG(rq->media) : NULL;
        if (!pwg) {
                ippAddString(req, IPP_TAG_JOB, IPP_TAG_KEYWORD, "media", NULL, rq->media);
                return 0;
        }
        _cleanup_(ippDeletep) ipp_t *col = ippNew(), *size = ippNew();
        if (!col || !size)
                return lab_error_set(err, ENOMEM, "printer_protocol", "out of memory");
        ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", pwg->width);
        ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", pwg->length);
        ippAddCollection(col, IPP_TAG_ZERO, "media-size", size);
        ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-size-name", NULL, rq->media);
        ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-type", NULL, rq->media_type);
        ippAddCollection(req, IPP_TAG_JOB, "media-col", col);
        return 0;
}

/*
 * The page size: printers[].media's name, the PWG name the printer lists, or
 * the one PPD size that is the product's (lab_printer_media_choose). A PPD
 * size goes as PageSize, the name the driver behind the queue knows (and as
 * media, which cupsd maps to the same PageSize); never a guess.
 */
static int add_size(ipp_printer_t *p, ipp_t *req, const lab_print_request_t *rq,
                    const lab_printer_caps_t *caps, lab_error_t *err)
{
        const lab_printer_size_t *size = NULL;
        char why[LAB_ERROR_MESSAGE_MAX];
        const char *kw;
        int r;

        r = lab_printer_media_choose(caps, p->base.name, rq->media, rq->queue_media, &size, why,
                                     sizeof why);
        if (r < 0) {
                kw = strstr(why, ": ");
                return lab_error_set(err, EINVAL, "printer_refused", "%s", kw ? kw + 2 : why);
        }
        if (size) {
                ippAddString(req, IPP_TAG_JOB, IPP_TAG_KEYWORD, "media", NULL, size->name);
                if (caps->ppd)
                        ippAddString(req, IPP_TAG_JOB, IPP_TAG_KEYWORD, "PageSize", NULL,
                                     size->name);
                return 0;
        }
        if (rq->queue_media) {
                ippAddString(req, IPP_TAG_JOB, IPP_TAG_KEYWORD, "media", NULL, rq->queue_media);
                return 0;
        }
        return add_media(p, req, rq, caps, err);
}

/* printers[].options as job attributes, typed the way lp -o types them (cupsEncodeOptions2). */
static int add_options(ipp_printer_t *p, ipp_t *req, const lab_print_request_t *rq,
                       lab_error_t *err)
{
        cups_option_t *opts = NULL;
        int n = 0;

        for (size_t i = 0; i < rq->n_options; i++)
                n = cupsAddOption(rq->options[i].name, rq->options[i].value, n, &opts);
        if (n != (int)rq->n_options) {
                cupsFreeOptions(n, opts);
                return lab_error_set(err, ENOMEM, "printer_protocol", "out of memory");
        }
        if (n > 0)
                cupsEncodeOptions2(req, n, opts, IPP_TAG_JOB);
        cupsFreeOptions(n, opts);
        return 0;
}

/* Print-Job with the file streamed; the job-id becomes the handle. */
static int ipp_submit(lab_printer_t *base, const lab_print_request_t *rq, char **ret_handle,
                      lab_error_t *err)
{
        ipp_printer_t *p = (ipp_printer_t *)base;
        _cleanup_(call_end) _unused_ ipp_call_t call = call_begin(p, &err);
        _cleanup_(lab_printer_caps_done) lab_printer_caps_t caps = {0};
        _cleanup_(ippDeletep) ipp_t *req = NULL, *resp = NULL;
        _cleanup_close_ int fd = -1;
        ipp_attribute_t *id;
        struct stat st;
        int r;

        fd = open(rq->file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return lab_error_set(err, errno, "printer_file_error",
                                     "cannot open print file %s for %s: %m", rq->file,
                                     p->base.name);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return lab_error_set(err, EINVAL, "printer_file_error",
                                     "print file %s for %s is not a regular file", rq->file,
                                     p->base.name);

        r = fetch_caps(p, &caps, err);
        if (r < 0)
                return r;
        if (!lab_printer_caps_has(caps.formats, caps.n_formats, rq->format))
                return lab_error_set(err, ENOTSUP, "printer_refused",
                                     "printer %s does not accept %s (it is not in "
                                     "document-format-supported)",
                                     p->base.name, rq->format);

        r = open_request(p, IPP_OP_PRINT_JOB, 0, &req, err);
        if (r < 0)
                return r;
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", NULL, rq->job_name);
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", NULL, rq->format);
        if (rq->copies > 1)
                ippAddInteger(req, IPP_TAG_JOB, IPP_TAG_INTEGER, "copies", (int)rq->copies);
        r = add_size(p, req, rq, &caps, err);
        if (r < 0)
                return r;
        ippAddInteger(req, IPP_TAG_JOB, IPP_TAG_ENUM, "print-quality", (int)p->quality);
        ippAddString(req, IPP_TAG_JOB, IPP_TAG_KEYWORD, "print-color-mode", NULL, "color");
        /* The file is rendered at the printable area: never scaled or cropped again. */
        if (caps.scaling_none)
                ippAddString(req, IPP_TAG_JOB, IPP_TAG_KEYWORD, "print-scaling", NULL, "none");
        r = add_options(p, req, rq, err);
        if (r < 0)
                return r;

        r = request(p, req, fd, st.st_size, false, "Print-Job", &resp, err);
        if (r < 0) {
                if (strcmp(err->keyword, "printer_busy") != 0)
                        snprintf(err->message + strlen(err->message),
                                 sizeof err->message - strlen(err->message),
                                 "; the job may have reached the printer: look for %s before "
                                 "resubmitting",
                                 rq->job_name);
                return r;
        }
        if (!status_ok(resp))
                return status_error(p, resp, "the job", err);
        id = ippFindAttribute(resp, "job-id", IPP_TAG_INTEGER);
        if (!id || ippGetInteger(id, 0) <= 0)
                return lab_error_set(err, EPROTO, "printer_protocol",
                                     "printer %s accepted job %s without a job-id", p->base.name,
                                     rq->job_name);
        if (asprintf(ret_handle, "%d", ippGetInteger(id, 0)) < 0) {
                *ret_handle = NULL;
                return lab_error_set(err, ENOMEM, "printer_protocol", "out of memory");
        }
        return 0;
}

static const char *const job_attrs[] = {
    "job-id",
    "job-name",
    "job-state",
    "job-state-reasons",
    "job-state-message",
    "job-impressions-completed",
    "time-at-completed",
    "job-printer-state-message",
    "job-printer-state-reasons",
};

/*
 * A job that ended badly on a printer that does not say why in the job
 * (ippeveprinter has no job-printer-state-reasons): its reasons now, read at
 * once, so the copy's failure names the fault (a jam) before the next health
 * check. Best effort: a failed read leaves the fault unknown.
 */
static void job_fault_now(ipp_printer_t *p, lab_pjob_status_t *ret)
{
        static const char *const attrs[] = {"printer-state-reasons"};
        _cleanup_(ippDeletep) ipp_t *req = NULL, *resp = NULL;
        lab_error_t err = {0};

        if (open_request(p, IPP_OP_GET_PRINTER_ATTRIBUTES, 0, &req, &err) < 0)
                return;
        add_requested(req, attrs, ELEMENTSOF(attrs));
        if (request(p, req, -1, 0, true, "Get-Printer-Attributes", &resp, &err) < 0 ||
            !status_ok(resp))
                return;
        lab_ipp_job_fault_from(ippFindAttribute(resp, "printer-state-reasons", IPP_TAG_KEYWORD),
                               ret);
}

/* Get-Job-Attributes. */
static int ipp_job_status(lab_printer_t *base, const char *handle, lab_pjob_status_t *ret,
                          lab_error_t *err)
{
        ipp_printer_t *p = (ipp_printer_t *)base;
        _cleanup_(call_end) _unused_ ipp_call_t call = call_begin(p, &err);
        _cleanup_(ippDeletep) ipp_t *req = NULL, *resp = NULL;
        int id = 0, r;

        r = parse_handle(p, handle, &id, err);
        if (r < 0)
                return r;
        r = open_request(p, IPP_OP_GET_JOB_ATTRIBUTES, id, &req, err);
        if (r < 0)
                return r;
        add_requested(req, job_attrs, ELEMENTSOF(job_attrs));
        r = request(p, req, -1, 0, true, "Get-Job-Attributes", &resp, err);
        if (r < 0)
                return r;
        if (ippGetStatusCode(resp) == IPP_STATUS_ERROR_NOT_FOUND)
                return lab_error_set(err, ENOENT, "printer_job_unknown",
                                     "printer %s no longer knows job %d (it may have purged it)",
                                     p->base.name, id);
        if (!status_ok(resp))
                return status_error(p, resp, "Get-Job-Attributes", err);
        lab_ipp_job_status_from(resp, ret);
        if ((ret->state == LAB_PJOB_ABORTED || ret->state == LAB_PJOB_CANCELED || ret->stopped) &&
            !ret->printer_reasons[0])
                job_fault_now(p, ret);
        return 0;
}

/* Cancel-Job; a job already finished is not an error. */
static int ipp_cancel(lab_printer_t *base, const char *handle, lab_error_t *err)
{
        ipp_printer_t *p = (ipp_printer_t *)base;
        _cleanup_(call_end) _unused_ ipp_call_t call = call_begin(p, &err);
        _cleanup_(ippDeletep) ipp_t *req = NULL, *resp = NULL;
        ipp_status_t st;
        int id = 0, r;

        r = parse_handle(p, handle, &id, err);
        if (r < 0)
                return r;
        r = open_request(p, IPP_OP_CANCEL_JOB, id, &req, err);
        if (r < 0)
                return r;
        r = request(p, req, -1, 0, true, "Cancel-Job", &resp, err);
        if (r < 0)
                return r;
        st = ippGetStatusCode(resp);
        if (status_ok(resp) || st == IPP_STATUS_ERROR_NOT_POSSIBLE)
                return 0; /* not-possible: already completed, canceled or aborted */
        if (st == IPP_STATUS_ERROR_NOT_FOUND)
                return lab_error_set(err, ENOENT, "printer_job_unknown",
                                     "printer %s no longer knows job %d", p->base.name, id);
        return status_error(p, resp, "Cancel-Job", err);
}

static const char *const status_attrs[] = {
    "printer-state",         "printer-state-reasons",
    "printer-state-message", "printer-is-accepting-jobs",
    "printer-supply",        "printer-supply-description",
    "marker-names",          "marker-levels",
    "marker-types",          "marker-colors",
    "marker-message",        "media-ready",
    "media-col-ready",       "printer-up-time",
    "printer-current-time",  "marker-low-levels",
    "marker-high-levels",    "marker-change-time",
    "printer-input-tray",    "printer-impressions-completed",
};

/* CLOCK_REALTIME seconds. */
static int64_t now_realtime(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec;
}

/* When the printer started, on our clock, from a response holding printer-up-time; 0 unknown. */
static int64_t boot_of(ipp_t *resp, int64_t now)
{
        int64_t up;
        bool is_uptime;

        if (lab_ipp_up_time(resp, &up, &is_uptime) < 0 || !is_uptime)
                return 0;
        return now - up;
}

/* Get-Printer-Attributes for state, reasons, supplies and media; unreachable is not an error. */
static int ipp_status(lab_printer_t *base, lab_printer_status_t *ret, lab_error_t *err)
{
        ipp_printer_t *p = (ipp_printer_t *)base;
        _cleanup_(call_end) _unused_ ipp_call_t call = call_begin(p, &err);
        _cleanup_(ippDeletep) ipp_t *req = NULL, *resp = NULL;
        int r;

        r = open_request(p, IPP_OP_GET_PRINTER_ATTRIBUTES, 0, &req, err);
        if (r < 0)
                return r;
        add_requested(req, status_attrs, ELEMENTSOF(status_attrs));
        r = request(p, req, -1, 0, true, "Get-Printer-Attributes", &resp, err);
        if (r < 0) {
                ret->state = LAB_PRINTER_UNREACHABLE;
                snprintf(ret->message, sizeof ret->message, "%s: %.200s", err->keyword,
                         err->message);
                if (r == -EBUSY || r == -ENOMEM)
                        return r;
                return 0;
        }
        if (!status_ok(resp)) {
                ret->state = LAB_PRINTER_UNREACHABLE;
                r = status_error(p, resp, "Get-Printer-Attributes", err);
                snprintf(ret->message, sizeof ret->message, "%s: %.200s", err->keyword,
                         err->message);
                return r;
        }
        lab_ipp_printer_status_from(resp, ret);
        ret->boot = boot_of(resp, now_realtime());
        /* A CUPS queue's defaults (its PPD): a PPD that cannot be read leaves them unknown. */
        r = fetch_ppd(p, NULL, ret, err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                lab_error_clear(err);
        return 0;
}

static const char *const clock_attrs[] = {"printer-up-time", "printer-current-time"};

/*
 * The printer's up-time clock, read just before its job list: *ret_up and
 * *ret_at (our CLOCK_REALTIME then); memory->boot. -ENOENT (not an error of
 * the call) when the printer gives no printer-up-time.
 */
static int read_clock(ipp_printer_t *p, int64_t *ret_up, int64_t *ret_at,
                      lab_printer_memory_t *memory, lab_error_t *err)
{
        _cleanup_(ippDeletep) ipp_t *resp = NULL;
        bool is_uptime;
        int r;

        r = get_printer_attributes(p, clock_attrs, ELEMENTSOF(clock_attrs), &resp, err);
        if (r < 0)
                return r;
        *ret_at = now_realtime();
        if (lab_ipp_up_time(resp, ret_up, &is_uptime) < 0)
                return -ENOENT;
        memory->boot = is_uptime ? *ret_at - *ret_up : 0;
        return 0;
}

/* Get-Jobs which-jobs=all, matched on job-name. */
static int ipp_find_job(lab_printer_t *base, const char *job_name, char **ret_handle,
                        lab_pjob_status_t *ret_status, lab_printer_memory_t *ret_memory,
                        lab_error_t *err)
{
        ipp_printer_t *p = (ipp_printer_t *)base;
        _cleanup_(call_end) _unused_ ipp_call_t call = call_begin(p, &err);
        _cleanup_(ippDeletep) ipp_t *req = NULL, *resp = NULL;
        int64_t up = 0, at = 0, oldest_end = -1;
        bool clock_known;
        int id = 0, r;

        /* The clock first: the jobs' times are on it, and it says whether it restarted. */
        r = read_clock(p, &up, &at, ret_memory, err);
        if (r < 0 && r != -ENOENT)
                return r;
        clock_known = r >= 0;
        r = open_request(p, IPP_OP_GET_JOBS, 0, &req, err);
        if (r < 0)
                return r;
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "which-jobs", NULL, "all");
        add_requested(req, job_attrs, ELEMENTSOF(job_attrs));
        r = request(p, req, -1, 0, true, "Get-Jobs", &resp, err);
        if (r < 0)
                return r;
        if (!status_ok(resp))
                return status_error(p, resp, "Get-Jobs", err);
        r = lab_ipp_find_job(resp, job_name, &id, ret_status, &oldest_end);
        /* Finished jobs are purged oldest first: every job that ended after this one is listed. */
        if (clock_known && oldest_end >= 0 && oldest_end <= up)
                ret_memory->complete_since = at - (up - oldest_end);
        if (r < 0)
                return lab_error_set(err, ENOENT, "printer_job_unknown",
                                     "printer %s has no job named %s (never submitted, or "
                                     "already purged)",
                                     p->base.name, job_name);
        if (asprintf(ret_handle, "%d", id) < 0) {
                *ret_handle = NULL;
                return lab_error_set(err, ENOMEM, "printer_protocol", "out of memory");
        }
        return 0;
}

const lab_printer_ops_t lab_printer_ipp_ops = {
    .driver = "ipp",
    .open = ipp_open,
    .close = ipp_close,
    .capabilities = ipp_capabilities,
    .submit = ipp_submit,
    .job_status = ipp_job_status,
    .cancel = ipp_cancel,
    .status = ipp_status,
    .find_job = ipp_find_job,
};
