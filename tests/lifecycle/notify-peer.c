/*
 * notify-peer.c - the NOTIFY_SOCKET end of a Type=notify service (see notify-peer.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notify-peer.h"
#include "testutil.h"

void notify_peer_init(notify_peer_t *p, const char *dir)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        memset(p, 0, sizeof *p);
        p->dir = strdup(dir);
        p->socket_path = lab_test_path(dir, "notify.sock");
        p->stderr_path = lab_test_path(dir, "daemon.stderr");
        p->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (p->fd < 0 || strlen(p->socket_path) >= sizeof sa.sun_path)
                abort();
        strcpy(sa.sun_path, p->socket_path);
        unlink(p->socket_path);
        if (bind(p->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                perror("bind notify socket");
                abort();
        }
}

void notify_peer_spawn(notify_peer_t *p, const char *const *args, const char *const *env)
{
        const char *argv[32];
        size_t n = 0;
        pid_t pid;

        argv[n++] = "labagent";
        for (size_t i = 0; args && args[i] && n < sizeof argv / sizeof argv[0] - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;

        pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                int fd = open(p->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                setenv("NOTIFY_SOCKET", p->socket_path, 1);
                unsetenv("WATCHDOG_USEC");
                unsetenv("WATCHDOG_PID");
                unsetenv("JOURNAL_STREAM");
                for (size_t i = 0; env && env[i]; i++)
                        putenv((char *)env[i]);
                execv(LABAGENT_BIN, (char *const *)argv);
                _exit(127);
        }
        p->pid = pid;
}

/* Read every datagram waiting on the socket. */
static void drain(notify_peer_t *p)
{
        char buf[4096];

        for (;;) {
                ssize_t n = recv(p->fd, buf, sizeof buf - 1, 0);
                if (n < 0)
                        return;
                buf[n] = '\0';
                if (p->n_msgs < NOTIFY_MAX_MESSAGES) {
                        p->msgs[p->n_msgs].at_ms = lab_test_now_ms();
                        p->msgs[p->n_msgs].text = strdup(buf);
                        p->n_msgs++;
                }
        }
}

/* Poll the socket once for at most timeout_ms and drain it. */
static void receive(notify_peer_t *p, int timeout_ms)
{
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};

        if (timeout_ms < 0)
                timeout_ms = 0;
        if (poll(&pfd, 1, timeout_ms) > 0)
                drain(p);
}

bool notify_msg_has_line(const notify_msg_t *m, const char *line)
{
        size_t len = strlen(line);
        bool prefix = len > 0 && line[len - 1] == '=';
        const char *s = m->text;

        while (s && *s) {
                const char *eol = strchrnul(s, '\n');
                size_t l = (size_t)(eol - s);
                if (prefix ? (l >= len && strncmp(s, line, len) == 0)
                           : (l == len && strncmp(s, line, len) == 0))
                        return true;
                s = *eol ? eol + 1 : eol;
        }
        return false;
}

const char *notify_msg_value(const notify_msg_t *m, const char *key)
{
        static char value[4096];
        size_t klen = strlen(key);
        const char *s = m->text;

        while (s && *s) {
                const char *eol = strchrnul(s, '\n');
                if (strncmp(s, key, klen) == 0 && s[klen] == '=') {
                        snprintf(value, sizeof value, "%.*s", (int)(eol - s - (long)klen - 1),
                                 s + klen + 1);
                        return value;
                }
                s = *eol ? eol + 1 : eol;
        }
        return NULL;
}

int notify_peer_wait_for(notify_peer_t *p, size_t from, const char *line, int timeout_ms)
{
        long long deadline = lab_test_now_ms() + timeout_ms;

        for (int rounds = 0; rounds < 100000; rounds++) {
                for (size_t i = from; i < p->n_msgs; i++)
                        if (notify_msg_has_line(&p->msgs[i], line))
                                return (int)i;
                long long left = deadline - lab_test_now_ms();
                if (left <= 0)
                        return -1;
                receive(p, left > 100 ? 100 : (int)left);
        }
        return -1;
}

void notify_peer_collect(notify_peer_t *p, int duration_ms)
{
        long long deadline = lab_test_now_ms() + duration_ms;

        for (int rounds = 0; rounds < 100000; rounds++) {
                long long left = deadline - lab_test_now_ms();
                if (left <= 0)
                        break;
                receive(p, left > 100 ? 100 : (int)left);
        }
}

int notify_peer_wait_exit(notify_peer_t *p, int timeout_ms)
{
        long long deadline = lab_test_now_ms() + timeout_ms;
        int status;

        if (p->pid <= 0)
                return -1;
        for (int rounds = 0; rounds < 100000; rounds++) {
                pid_t r = waitpid(p->pid, &status, WNOHANG);
                if (r == p->pid) {
                        p->pid = 0;
                        receive(p, 0);
                        return status;
                }
                if (lab_test_now_ms() >= deadline)
                        return -1;
                receive(p, 20);
        }
        return -1;
}

bool notify_peer_alive(notify_peer_t *p)
{
        int status;

        return p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == 0;
}

char *notify_peer_stderr(notify_peer_t *p)
{
        char *s = lab_test_read_file(p->stderr_path, NULL);
        return s ? s : strdup("");
}

void notify_peer_done(notify_peer_t *p)
{
        if (p->pid > 0) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, NULL, 0);
                p->pid = 0;
        }
        if (p->fd >= 0)
                close(p->fd);
        unlink(p->socket_path);
        for (size_t i = 0; i < p->n_msgs; i++)
                free(p->msgs[i].text);
        free(p->socket_path);
        free(p->stderr_path);
        free(p->dir);
        memset(p, 0, sizeof *p);
        p->fd = -1;
}
