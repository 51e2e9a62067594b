/*
 * devices-link.c - the platform link alone on an sd-event loop, driven line by
 * line from stdin, for test_devices_link.py: the device list PUT
 * (lab_platform_set_devices) against the sandbox, before the daemon calls it.
 *
 *   devices-link CONFIG STATE_DIR
 *
 * stdin, one command a line:
 *   set JSON      lab_platform_set_devices(JSON)  (JSON: the rest of the line)
 *   reload        load CONFIG again and lab_platform_reload() with it
 *   status        print lab_platform_status() on stdout
 * End of file stops the loop. "ready" is printed once the link started, and
 * "ok" after each command, so the test knows it was taken. Logs go to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "log.h"
#include "platform.h"
#include "store.h"

/* A command line may hold a device list of up to 1 MiB and then some. */
#define LINE_MAX_BYTES (2u * 1024u * 1024u)

typedef struct {
        sd_event *event;
        lab_platform_t *platform;
        lab_config_t *config;
        const char *config_path;
        char *buf;
        size_t len;
} driver_t;

/* Load CONFIG; NULL (and the problems on stderr) if it is unusable. */
static lab_config_t *load_config(const char *path)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = NULL;

        if (lab_config_load_file(path, &c, &problems) < 0) {
                lab_config_problems_print(&problems, stderr);
                lab_config_problems_clear(&problems);
                return NULL;
        }
        lab_config_problems_clear(&problems);
        return c;
}

/* Run one command line (NUL-terminated, without its newline). */
static void run_command(driver_t *d, char *line)
{
        if (strncmp(line, "set ", 4) == 0) {
                lab_platform_set_devices(d->platform, line + 4);
        } else if (strcmp(line, "reload") == 0) {
                lab_config_t *fresh = load_config(d->config_path);

                if (fresh) {
                        lab_platform_reload(d->platform, fresh);
                        lab_config_free(d->config);
                        d->config = fresh;
                }
        } else if (strcmp(line, "status") == 0) {
                printf("%s\n", lab_platform_status(d->platform));
        } else {
                fprintf(stderr, "devices-link: unknown command: %.40s\n", line);
        }
        printf("ok\n");
        fflush(stdout);
}

/* stdin is readable: take every complete line. */
static int on_stdin(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        driver_t *d = userdata;
        char chunk[65536];
        ssize_t n;
        size_t start = 0;

        n = read(fd, chunk, sizeof chunk);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : sd_event_exit(d->event, 1);
        if (n == 0)
                return sd_event_exit(d->event, 0);
        if (d->len + (size_t)n > LINE_MAX_BYTES) {
                fprintf(stderr, "devices-link: a line over %u bytes\n", LINE_MAX_BYTES);
                return sd_event_exit(d->event, 1);
        }
        memcpy(d->buf + d->len, chunk, (size_t)n);
        d->len += (size_t)n;
        for (size_t i = 0; i < d->len; i++) {
                if (d->buf[i] != '\n')
                        continue;
                d->buf[i] = '\0';
                run_command(d, d->buf + start);
                start = i + 1;
        }
        memmove(d->buf, d->buf + start, d->len - start);
        d->len -= start;
        return 0;
}

int main(int argc, char **argv)
{
        driver_t d = {.config_path = argc == 3 ? argv[1] : NULL};
        sd_event_source *in = NULL;
        lab_store_t *store = NULL;
        lab_error_t err = {0};
        char *db = NULL;
        int r, rc = 1;

        if (argc != 3) {
                fprintf(stderr, "usage: devices-link CONFIG STATE_DIR\n");
                return 2;
        }
        lab_log_open(LAB_LOG_TARGET_STDERR);
        lab_log_set_max_level(LOG_DEBUG);
        d.buf = malloc(LINE_MAX_BYTES + 1);
        d.config = load_config(argv[1]);
        if (!d.buf || !d.config || asprintf(&db, "%s/labagent.db", argv[2]) < 0)
                goto out;
        r = lab_store_open(&store, db, &err);
        if (r >= 0)
                r = sd_event_default(&d.event);
        if (r >= 0)
                r = lab_platform_new(&d.platform, d.event, store, d.config, argv[2], &err);
        if (r >= 0)
                r = sd_event_add_io(d.event, &in, STDIN_FILENO, EPOLLIN, on_stdin, &d);
        if (r < 0) {
                fprintf(stderr, "devices-link: %s: %s\n", err.keyword[0] ? err.keyword : "setup",
                        err.message[0] ? err.message : strerror(-r));
                goto out;
        }
        lab_platform_start(d.platform);
        printf("ready\n");
        fflush(stdout);
        r = sd_event_loop(d.event);
        rc = r < 0 ? 1 : r;
out:
        sd_event_source_disable_unref(in);
        lab_platform_free(d.platform);
        sd_event_unref(d.event);
        lab_store_close(store);
        lab_config_free(d.config);
        free(db);
        free(d.buf);
        return rc;
}
