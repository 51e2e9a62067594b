/*
 * meter-command.c - energy from a command that prints one JSON object.
 *
 * Why: a meter no other driver speaks (a vendor CLI, a PDU's SNMP, a smart
 * plug's own tool) is read by a small executable the lab writes, inside the
 * unit's ExecPaths, that prints {"energy_wh": N, "power_w": N} and exits 0.
 * energy_wh is required; power_w may be absent or null (no power figure).
 *
 * The one idea: the command is a guest with a deadline. It runs with no
 * shell and no arguments (fork and execve of the configured absolute path,
 * stdin /dev/null, stdout a pipe, stderr the agent's: the journal), in a
 * process group of its own, with the signal mask and SIGPIPE reset, and the
 * agent's environment but systemd's notify, watchdog and socket variables. The
 * read polls the pipe until it closes and the command has exited, all
 * within the meter's timeout; then, or when it prints more than 64 KiB, the
 * whole group is killed (SIGKILL) and reaped. A helper that leaves a child
 * holding stdout open is still running as far as the read can tell. Its
 * output is then read by lab_meter_command_parse (pure, fuzzed).
 *
 * Never: a shell, a figure from a command that failed (exit status not 0,
 * a signal), output that is not one JSON object, a child left behind by a
 * read that ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "macro.h"
#include "meter-private.h"

extern char **environ;

#define REAP_SLEEP_MAX_USEC 10000

typedef struct command_meter_s {
        lab_meter_t base; /* first */
} command_meter_t;

static void command_meter_close(lab_meter_t *m)
{
        lab_meter_done(m);
        free(m);
}

static int command_meter_open(const lab_meter_settings_t *s, lab_meter_t **ret, lab_error_t *err)
{
        command_meter_t *cm;
        int r;

        if (s->address[0] != '/')
                return lab_error_set(err, EINVAL, "meter_config",
                                     "meter %s: the command %s must be an absolute path (it is "
                                     "run without a shell)",
                                     s->name, s->address);
        cm = calloc(1, sizeof *cm);
        if (!cm)
                return -ENOMEM;
        r = lab_meter_init(&cm->base, &lab_meter_command_ops, s);
        if (r < 0) {
                command_meter_close(&cm->base);
                return r;
        }
        *ret = &cm->base;
        return 0;
}

/* The agent's environment but what systemd hands the service itself (its notify socket,
   watchdog, socket activation): a malloc'd array of pointers into environ, made before
   fork. */
static char **command_env(void)
{
        static const char *const drop[] = {"NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC=",
                                           "LISTEN_PID=",    "LISTEN_FDS=",   "LISTEN_FDNAMES="};
        size_t n = 0, k = 0;
        char **env;

        while (environ && environ[n])
                n++;
        env = calloc(n + 1, sizeof *env);
        if (!env)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                bool keep = true;

                for (size_t j = 0; j < ELEMENTSOF(drop) && keep; j++)
                        keep = strncmp(environ[i], drop[j], strlen(drop[j])) != 0;
                if (keep)
                        env[k++] = environ[i];
        }
        return env;
}

/* In the child, between fork and execve: async-signal-safe calls only. */
_Noreturn static void child_exec(const char *path, char **env, int out_fd, int err_fd)
{
        char *argv[] = {(char *)path, NULL};
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;
        int fd, e;

        (void)setpgid(0, 0);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        (void)sigaction(SIGPIPE, &dfl, NULL);
        fd = open("/dev/null", O_RDONLY | O_NOCTTY);
        if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0)
                goto fail;
#ifdef CLOSE_RANGE_CLOEXEC
        /* No descriptor of the agent's but 0, 1 and 2 crosses the exec, whoever opened it
           without O_CLOEXEC (kernels before 5.11: ignored). */
        (void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
        execve(path, argv, env);
fail:
        e = errno;
        (void)!write(err_fd, &e, sizeof e);
        _exit(127);
}

/* Kill the command's process group (and the command, should setpgid have lost a race). */
static void kill_command(pid_t pid)
{
        (void)kill(-pid, SIGKILL);
        (void)kill(pid, SIGKILL);
}

/* Reap pid, blocking (after SIGKILL: as long as the kernel takes). */
static int reap(pid_t pid)
{
        int status = 0;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return status;
}

static void sleep_usec(uint64_t usec)
{
        struct timespec ts = {.tv_sec = (time_t)(usec / 1000000u),
                              .tv_nsec = (long)(usec % 1000000u) * 1000};

        (void)nanosleep(&ts, NULL);
}

static int timed_out(lab_meter_t *m, pid_t pid, lab_error_t *err)
{
        kill_command(pid);
        (void)reap(pid);
        return lab_error_set(err, ETIMEDOUT, "meter_timeout",
                             "meter %s: the command %s did not print its reading and exit within "
                             "%llu.%03llu s, and was killed; check it, or raise the meter's "
                             "timeout",
                             m->name, m->address, (unsigned long long)(m->timeout_usec / 1000000u),
                             (unsigned long long)(m->timeout_usec % 1000000u / 1000u));
}

/* Run the command: 0 with its output (len bytes, NUL-terminated), or an error. */
static int run_command(lab_meter_t *m, char *out, size_t *ret_len, lab_error_t *err)
{
        uint64_t deadline = lab_meter_now_usec() + m->timeout_usec;
        _cleanup_close_ int out_r = -1, out_w = -1, err_r = -1, err_w = -1;
        _cleanup_free_ char **env = NULL;
        int fds[2], exec_errno = 0, status = 0;
        size_t len = 0, exec_len = 0;
        bool out_open = true, err_open = true;
        uint64_t nap = 500;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return lab_error_set(err, errno, "meter_unreachable",
                                     "meter %s: cannot make a pipe for the command (%s)", m->name,
                                     strerror(errno));
        out_r = fds[0], out_w = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return lab_error_set(err, errno, "meter_unreachable",
                                     "meter %s: cannot make a pipe for the command (%s)", m->name,
                                     strerror(errno));
        err_r = fds[0], err_w = fds[1];

        env = command_env();
        if (!env)
                return -ENOMEM;
        pid = fork();
        if (pid < 0)
                return lab_error_set(err, errno, "meter_unreachable",
                                     "meter %s: cannot start the command %s (%s)", m->name,
                                     m->address, strerror(errno));
        if (pid == 0)
                child_exec(m->address, env, out_w, err_w);
        (void)setpgid(pid, pid); /* also here: kill_command() must find the group at once */
        close(TAKE_FD(out_w));
        close(TAKE_FD(err_w));

        /* Bounded by the deadline: every pass reads something, closes a pipe, or waits for
           what is left of the time. */
        while (out_open || err_open) {
                struct pollfd p[2] = {{.fd = out_open ? out_r : -1, .events = POLLIN},
                                      {.fd = err_open ? err_r : -1, .events = POLLIN}};
                uint64_t now = lab_meter_now_usec();
                int n;

                if (now >= deadline)
                        return timed_out(m, pid, err);
                n = poll(p, 2, (int)((deadline - now + 999) / 1000));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;

                        kill_command(pid);
                        (void)reap(pid);
                        return lab_error_set(err, e, "meter_unreachable",
                                             "meter %s: cannot wait for the command (%s)", m->name,
                                             strerror(e));
                }
                if (p[0].revents) {
                        ssize_t k = read(out_r, out + len, LAB_METER_OUTPUT_MAX + 1 - len);

                        if (k < 0 && errno != EINTR && errno != EAGAIN)
                                out_open = false;
                        if (k == 0)
                                out_open = false;
                        if (k > 0)
                                len += (size_t)k;
                        if (len > LAB_METER_OUTPUT_MAX) {
                                kill_command(pid);
                                (void)reap(pid);
                                return lab_error_set(err, EPROTO, "meter_protocol",
                                                     "meter %s: the command %s printed more "
                                                     "than %d bytes, and was killed: a reading "
                                                     "is one small JSON object",
                                                     m->name, m->address, LAB_METER_OUTPUT_MAX);
                        }
                }
                if (p[1].revents) {
                        ssize_t k = read(err_r, (char *)&exec_errno + exec_len,
                                         sizeof exec_errno - exec_len);

                        if (k > 0)
                                exec_len += (size_t)k;
                        if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN) ||
                            exec_len == sizeof exec_errno)
                                err_open = false;
                }
        }
        if (exec_len == sizeof exec_errno) {
                (void)reap(pid);
                return lab_error_set(err, exec_errno, "meter_unreachable",
                                     "meter %s: cannot run the command %s (%s); check the path, "
                                     "that it is executable and inside the unit's ExecPaths",
                                     m->name, m->address, strerror(exec_errno));
        }

        /* Output closed: wait for the exit, still within the deadline, without reaping yet
           (WNOWAIT): while the command is a zombie its pid, the group's id, is not reused. */
        for (;;) {
                siginfo_t info = {.si_pid = 0};
                uint64_t now = lab_meter_now_usec();

                if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
                        int e = errno;

                        if (e == EINTR)
                                continue;
                        kill_command(pid);
                        (void)reap(pid);
                        return lab_error_set(err, e, "meter_protocol",
                                             "meter %s: cannot learn how the command %s ended "
                                             "(%s)",
                                             m->name, m->address, strerror(e));
                }
                if (info.si_pid == pid)
                        break;
                if (now >= deadline)
                        return timed_out(m, pid, err);
                sleep_usec(nap < deadline - now ? nap : deadline - now);
                if (nap < REAP_SLEEP_MAX_USEC)
                        nap *= 2;
        }
        /* What it started in its group goes with it. */
        (void)kill(-pid, SIGKILL);
        status = reap(pid);
        if (status < 0)
                return lab_error_set(err, errno, "meter_protocol",
                                     "meter %s: cannot learn how the command %s ended (%s)",
                                     m->name, m->address, strerror(errno));
        if (WIFSIGNALED(status))
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s: the command %s was killed by signal %d (%s)",
                                     m->name, m->address, WTERMSIG(status),
                                     strsignal(WTERMSIG(status)));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s: the command %s failed (exit status %d); its "
                                     "reading is not used",
                                     m->name, m->address,
                                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        out[len] = '\0';
        *ret_len = len;
        return 0;
}

int lab_meter_command_parse(const lab_meter_t *m, const char *out, size_t len,
                            lab_meter_reading_t *ret, lab_error_t *err)
{
        json_t *root, *energy, *power;
        json_error_t jerr;
        double energy_wh, power_w;
        int r;

        root = json_loadb(out, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root || !json_is_object(root)) {
                char text[40];

                json_decref(root);
                while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
                        len--;
                lab_meter_excerpt(text, sizeof text, out, len);
                return lab_error_set(err, EPROTO, "meter_protocol",
                                     "meter %s: the command %s printed \"%s\", not a JSON object "
                                     "(%s)",
                                     m->name, m->address, text,
                                     root ? "another JSON value" : jerr.text);
        }
        energy = json_object_get(root, "energy_wh");
        power = json_object_get(root, "power_w");
        if (!json_is_number(energy) || (power && !json_is_null(power) && !json_is_number(power))) {
                const char *field = !json_is_number(energy) ? "energy_wh" : "power_w";

                r = lab_error_set(
                    err, EPROTO, "meter_protocol",
                    "meter %s: the command %s printed no number in %s%s", m->name, m->address,
                    field, energy ? "" : " (it must print {\"energy_wh\": N, \"power_w\": N})");
                json_decref(root);
                return r;
        }
        energy_wh = json_number_value(energy);
        power_w = json_is_number(power) ? json_number_value(power) : NAN;
        json_decref(root);
        return lab_meter_take(m, "the command's energy_wh", energy_wh, "the command's power_w",
                              power_w, ret, err);
}

static int command_meter_read(lab_meter_t *m, lab_meter_reading_t *ret, lab_error_t *err)
{
        _cleanup_free_ char *out = malloc(LAB_METER_OUTPUT_MAX + 1);
        size_t len = 0;
        int r;

        if (!out)
                return -ENOMEM;
        r = run_command(m, out, &len, err);
        if (r < 0)
                return r;
        return lab_meter_command_parse(m, out, len, ret, err);
}

const lab_meter_ops_t lab_meter_command_ops = {
    .driver = "command",
    .open = command_meter_open,
    .close = command_meter_close,
    .read = command_meter_read,
};
