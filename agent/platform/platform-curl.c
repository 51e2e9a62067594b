/*
 * platform-curl.c - drive a CURLM from sd-event (see platform-curl.h).
 *
 * The one idea: libcurl asks (CURLMOPT_SOCKETFUNCTION) to watch a socket for
 * reading and/or writing, and (CURLMOPT_TIMERFUNCTION) to call it back after
 * a timeout; we keep one sd-event I/O source per socket and one timer source,
 * and on every wake-up call curl_multi_socket_action and then collect the
 * finished transfers. Completion callbacks run from the loop, after the
 * transfer has been removed from the multi handle, so a callback may start
 * new transfers or free the easy handle.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "platform-curl.h"
#include "log.h"
#include "macro.h"
#include "platform-tls.h"

struct lab_curl_loop_s {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        struct transfer_s *transfers; /* in flight, newest first */
};

/* What we remember per transfer (CURLOPT_PRIVATE), on the loop's list. */
typedef struct transfer_s {
        CURL *easy;
        lab_curl_done_fn done;
        void *userdata;
        struct transfer_s *prev, *next;
} transfer_t;

/* Take t off the loop's list and out of the multi handle, and free it. */
static void transfer_forget(lab_curl_loop_t *l, transfer_t *t)
{
        curl_multi_remove_handle(l->multi, t->easy);
        curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
        LAB_LIST_REMOVE(l->transfers, t);
        free(t);
}

/* Collect finished transfers and call their callbacks. */
static void check_done(lab_curl_loop_t *l)
{
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(l->multi, &left))) {
                CURL *easy = msg->easy_handle;
                CURLcode result = msg->data.result;
                transfer_t *t = NULL;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
                if (t) {
                        lab_curl_done_fn done = t->done;
                        void *userdata = t->userdata;

                        transfer_forget(l, t);
                        done(easy, result, userdata);
                } else {
                        curl_multi_remove_handle(l->multi, easy);
                }
        }
}

/* Tell curl what happened on a socket (or CURL_SOCKET_TIMEOUT) and reap finished transfers. */
static void socket_action(lab_curl_loop_t *l, curl_socket_t fd, int ev)
{
        int running;
        CURLMcode mc;

        mc = curl_multi_socket_action(l->multi, fd, ev, &running);
        if (mc != CURLM_OK)
                log_error("curl: socket action failed: %s", curl_multi_strerror(mc));
        check_done(l);
}

/* sd-event: a watched socket is readable/writable. */
static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        lab_curl_loop_t *l = userdata;
        int ev = 0;

        if (revents & EPOLLIN)
                ev |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                ev |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                ev |= CURL_CSELECT_ERR;
        socket_action(l, fd, ev);
        return 0;
}

/* sd-event: curl's timeout expired. */
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        socket_action(userdata, CURL_SOCKET_TIMEOUT, 0);
        return 0;
}

/* curl: start, change or stop watching a socket. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
        lab_curl_loop_t *l = userp;
        sd_event_source *source = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                if (source) {
                        sd_event_source_disable_unref(source);
                        curl_multi_assign(l->multi, fd, NULL);
                }
                return 0;
        }

        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;

        if (source) {
                r = sd_event_source_set_io_events(source, events);
                if (r >= 0)
                        r = sd_event_source_set_enabled(source, SD_EVENT_ON);
        } else {
                r = sd_event_add_io(l->event, &source, fd, events, on_io, l);
                if (r >= 0) {
                        sd_event_source_set_description(source, "curl-socket");
                        curl_multi_assign(l->multi, fd, source);
                }
        }
        if (r < 0) {
                log_error_errno(r, "curl: cannot watch socket %d: %m", (int)fd);
                return -1;
        }
        return 0;
}

/* curl: call me back in timeout_ms (-1: never). */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
        lab_curl_loop_t *l = userp;
        uint64_t now;
        int r;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(l->timer, SD_EVENT_OFF) < 0 ? -1 : 0;

        r = sd_event_now(l->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return -1;
        r = sd_event_source_set_time(l->timer, now + (uint64_t)timeout_ms * 1000ULL);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
        return r < 0 ? -1 : 0;
}

int lab_curl_loop_new(lab_curl_loop_t **ret, sd_event *e)
{
        _cleanup_free_ lab_curl_loop_t *l = calloc(1, sizeof *l);
        int r;

        if (!l)
                return -ENOMEM;
        l->event = sd_event_ref(e);
        l->multi = curl_multi_init();
        if (!l->multi) {
                sd_event_unref(l->event);
                return -ENOMEM;
        }
        r = sd_event_add_time(e, &l->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_timer, l);
        if (r < 0) {
                curl_multi_cleanup(l->multi);
                sd_event_unref(l->event);
                return r;
        }
        sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
        sd_event_source_set_description(l->timer, "curl-timer");

        curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
        curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
        curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
        curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
        /* Keep a few connections to the platform open for reuse. */
        curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 8L);

        *ret = TAKE_PTR(l);
        return 0;
}

void lab_curl_loop_remove(lab_curl_loop_t *l, CURL *easy)
{
        transfer_t *t = NULL;

        if (!l || !easy)
                return;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        if (t)
                transfer_forget(l, t); /* else: not ours, or already finished */
}

int lab_curl_loop_add(lab_curl_loop_t *l, CURL *easy, lab_curl_done_fn done, void *userdata)
{
        transfer_t *t = calloc(1, sizeof *t);
        CURLMcode mc;

        if (!t)
                return -ENOMEM;
        t->easy = easy;
        t->done = done;
        t->userdata = userdata;
        curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
        mc = curl_multi_add_handle(l->multi, easy);
        if (mc != CURLM_OK) {
                curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                free(t);
                log_error("curl: cannot start transfer: %s", curl_multi_strerror(mc));
                return -EIO;
        }
        LAB_LIST_PREPEND(l->transfers, t);
        return 0;
}

void lab_curl_loop_free(lab_curl_loop_t *l)
{
        if (!l)
                return;
        /* Forget whatever is still running; the callers own the easy handles. */
        while (l->transfers)
                transfer_forget(l, l->transfers);
        curl_multi_cleanup(l->multi);
        sd_event_source_disable_unref(l->timer);
        sd_event_unref(l->event);
        free(l);
}

/* CURLOPT_SSL_CTX_FUNCTION: before the handshake, pin the host of the URL being fetched. */
static CURLcode check_host_cb(CURL *easy, void *ssl_ctx, void *userdata)
{
        const char *url = NULL;
        char *host = NULL; /* libcurl's: curl_free */
        CURLU *u = NULL;
        CURLUcode uc;
        int r;

        if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK || !url)
                return CURLE_SSL_CONNECT_ERROR;
        u = curl_url();
        if (!u)
                return CURLE_OUT_OF_MEMORY;
        uc = curl_url_set(u, CURLUPART_URL, url, 0);
        if (uc == CURLUE_OK)
                uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
        curl_url_cleanup(u);
        if (uc != CURLUE_OK)
                return uc == CURLUE_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_SSL_CONNECT_ERROR;
        r = lab_tls_ctx_expect_host(ssl_ctx, host);
        if (r < 0)
                log_error("TLS: cannot set the expected server name %s: %s", host, strerror(-r));
        curl_free(host);
        if (r < 0)
                return r == -ENOMEM ? CURLE_OUT_OF_MEMORY : CURLE_SSL_CONNECT_ERROR;
        return CURLE_OK;
}

void lab_curl_easy_check_host_in_handshake(CURL *easy)
{
        curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, check_host_cb);
        curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, NULL);
}
