/*
 * meter-fixture.c - one good read and one failed read, checked alike for every meter
 * driver, and the test peers' plumbing (see meter-fixture.h).
 */
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "meter-fixture.h"
#include "testutil.h"

#define PEER_WAIT_MS 5000 /* for a peer to start, answer a command, exit */

lab_meter_reading_t meter_read_ok(lab_meter_t *m)
{
        lab_meter_reading_t r;
        lab_error_t err = {0};

        if (lab_meter_read(m, &r, &err) < 0)
                fail_msg("read: %s: %s", err.keyword, err.message);
        assert_false(lab_error_isset(&err));
        assert_true(r.mono_usec > 0);
        return r;
}

long long meter_read_fails_saying(lab_meter_t *m, const char *keyword, const char *needle)
{
        lab_meter_reading_t r;
        lab_error_t err = {0};
        long long t0 = lab_test_now_ms();
        int k = lab_meter_read(m, &r, &err);
        long long took = lab_test_now_ms() - t0;

        if (k >= 0)
                fail_msg("read gave %.3f Wh, %.1f W; expected %s", r.energy_wh, r.power_w, keyword);
        if (strcmp(err.keyword, keyword) != 0)
                fail_msg("read failed with %s (%s); expected %s", err.keyword, err.message,
                         keyword);
        assert_true(err.message[0] != '\0');
        if (needle && !strstr(err.message, needle))
                fail_msg("read failed with %s (%s); expected a sentence with \"%s\"", err.keyword,
                         err.message, needle);
        /* A failed read never hands back a figure. */
        assert_true(isnan(r.energy_wh));
        assert_true(isnan(r.power_w));
        assert_int_equal(r.mono_usec, 0);
        print_message("    %s: %s\n", err.keyword, err.message);
        return took;
}

long long meter_read_fails(lab_meter_t *m, const char *keyword)
{
        return meter_read_fails_saying(m, keyword, NULL);
}

void meter_expect_config(const lab_meter_settings_t *s, const char *why)
{
        lab_meter_t *m = (lab_meter_t *)s; /* not NULL: open must clear it */
        lab_error_t err = {0};

        print_message("  %s\n", why);
        assert_true(lab_meter_open(s, &m, &err) < 0);
        assert_null(m);
        assert_string_equal(err.keyword, "meter_config");
        assert_true(err.message[0] != '\0');
        print_message("    %s\n", err.message);
}

void meter_assert_near_at(double a, double b, double eps, const char *what, const char *file,
                          int line)
{
        if (!(fabs(a - b) <= eps))
                fail_msg("%s:%d: %s is %.6f, expected %.6f within %g", file, line, what, a, b, eps);
}

/* Read one line from the peer within PEER_WAIT_MS; aborts the test on timeout or end. */
static void read_line(meter_peer_t *p, char *buf, size_t size)
{
        long long end = lab_test_now_ms() + PEER_WAIT_MS;
        size_t n = 0;

        for (int i = 0; i < 4096 && n + 1 < size; i++) {
                struct pollfd pfd = {.fd = p->out, .events = POLLIN};
                long long left = end - lab_test_now_ms();
                ssize_t k;

                if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
                        fail_msg("%s did not answer within %d ms", p->what, PEER_WAIT_MS);
                k = read(p->out, buf + n, 1);
                if (k <= 0)
                        fail_msg("%s closed its stdout", p->what);
                if (buf[n] == '\n') {
                        buf[n] = '\0';
                        return;
                }
                n++;
        }
        fail_msg("%s's line is too long", p->what);
}

void meter_peer_start(meter_peer_t *p, const char *what, char *const argv[], int port)
{
        int in[2], out[2];
        char line[64];

        p->what = what;
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        p->pid = fork();
        assert_true(p->pid >= 0);
        if (p->pid == 0) {
                if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execv(argv[0], argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        p->in = in[1];
        p->out = out[0];
        read_line(p, line, sizeof line);
        p->port = atoi(line);
        assert_true(p->port > 0 && p->port < 65536);
        if (port)
                assert_int_equal(p->port, port);
}

void meter_peer_ask(meter_peer_t *p, char *answer, size_t size, const char *fmt, ...)
{
        char cmd[128], line[128];
        va_list ap;
        size_t len;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd - 1, fmt, ap);
        va_end(ap);
        len = strlen(cmd);
        cmd[len++] = '\n';
        assert_int_equal(write(p->in, cmd, len), (ssize_t)len);
        read_line(p, line, sizeof line);
        if (strcmp(line, "ok") != 0 && strncmp(line, "ok ", 3) != 0)
                fail_msg("%s answered \"%s\" to %.*s", p->what, line, (int)len - 1, cmd);
        if (answer)
                snprintf(answer, size, "%s", line);
}

void meter_peer_stop(meter_peer_t *p)
{
        long long end = lab_test_now_ms() + PEER_WAIT_MS;
        int status;

        if (p->pid <= 0)
                return;
        close(p->in);
        for (int i = 0; i < 1000; i++) {
                if (waitpid(p->pid, &status, WNOHANG) == p->pid)
                        goto done;
                if (lab_test_now_ms() > end)
                        break;
                usleep(10000);
        }
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &status, 0);
done:
        close(p->out);
        p->pid = 0;
}

int meter_free_port(void)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        close(fd);
        return ntohs(sa.sin_port);
}
