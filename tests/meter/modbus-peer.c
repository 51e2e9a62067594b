/*
 * modbus-peer.c - a Modbus TCP energy meter for the tests: an Eastron SDM630
 * register map served on loopback with libmodbus's own server API.
 *
 * Why: Debian 12 packages no Modbus server program, and the Modbus meter
 * driver must be shown against a real peer speaking real Modbus TCP, one
 * whose counter and faults the test drives. libmodbus's server side
 * (modbus_tcp_listen, modbus_receive, modbus_reply, modbus_reply_exception)
 * is that peer: the same framing code as the driver's, from the other end.
 *
 *   modbus-peer [PORT]     listen on 127.0.0.1:PORT (0 or none: any free port),
 *                          print the port on stdout, then serve one client at a
 *                          time (a newer connection replaces the older one)
 *
 * The map: input registers 30001..30080 (protocol addresses 0..79), float32
 * high word first (ABCD, see set_reg), all 0 but 30013 and 30053 (power, W: the SDM120's and the
 * SDM630's) and 30073 (import energy, kWh). A request outside the map gets
 * libmodbus's own exception 2 (illegal data address).
 *
 * Control: one command a line on stdin, each answered "ok" (or "error ...")
 * on stdout once it holds, so the test knows the next request sees it:
 *   energy KWH        set 30073            power W     set 30013 and 30053
 *   reg N VALUE       set register N (30001..30079) to the float VALUE
 *   nan [power]       NaN in the energy (or the power) registers
 *   inf [power]       +Inf, likewise      neg [power]  -1 (kWh or W), likewise
 *   exception N       answer every request with Modbus exception N (1..11)
 *   silent            read requests, answer none
 *   slow MS           answer each request MS ms late (at most 30000)
 *   answer            back to answering at once (ends exception, silent, slow)
 *   quit              exit 0
 * End of stdin exits too, and so does reaching PEER_MAX_SECONDS: the peer
 * never outlives a test that forgot it. Everything is bounded: each wait is
 * at most a second, the main loop at most PEER_MAX_PASSES passes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#define PEER_MAX_SECONDS 300
#define PEER_MAX_PASSES  1000000
#define PEER_REGISTERS   80
#define REG_POWER_SDM120 12 /* 30013 */
#define REG_POWER_SDM630 52 /* 30053 */
#define REG_ENERGY       72 /* 30073 */

typedef struct peer_s {
        modbus_t *ctx;
        modbus_mapping_t *map;
        int listen_fd;
        int client_fd;
        int exception; /* 0: none */
        int silent;
        int slow_ms;
        char line[256];
        size_t line_len;
} peer_t;

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A float32 into two registers, high word first, each word big-endian on the wire: the
   bytes 43 7A 80 00 for 250.5, as an Eastron meter sends them. Written by hand, not with
   modbus_set_float_abcd(): in Debian 12's libmodbus 3.1.6 that one writes 7A 43 00 80
   (BADC) and is not the inverse of modbus_get_float_abcd(), which the driver uses. */
static void set_reg(peer_t *p, int addr, float v)
{
        uint32_t bits;

        memcpy(&bits, &v, sizeof bits);
        p->map->tab_input_registers[addr] = (uint16_t)(bits >> 16);
        p->map->tab_input_registers[addr + 1] = (uint16_t)(bits & 0xffffu);
}

static void say(const char *s)
{
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
}

/* The bad values "nan", "inf", "neg", into the energy or (arg "power") power registers. */
static void set_bad(peer_t *p, float v, const char *arg)
{
        if (strcmp(arg, "power") == 0) {
                set_reg(p, REG_POWER_SDM120, v);
                set_reg(p, REG_POWER_SDM630, v);
        } else
                set_reg(p, REG_ENERGY, v);
}

/* One control line; returns 1 to quit. */
static int command(peer_t *p, const char *line)
{
        char word[32] = "", arg[64] = "";
        double v;
        int n;

        if (sscanf(line, "%31s %63s", word, arg) < 1) {
                say("error empty line");
                return 0;
        }
        if (strcmp(word, "energy") == 0 && sscanf(arg, "%lf", &v) == 1)
                set_reg(p, REG_ENERGY, (float)v);
        else if (strcmp(word, "power") == 0 && sscanf(arg, "%lf", &v) == 1) {
                set_reg(p, REG_POWER_SDM120, (float)v);
                set_reg(p, REG_POWER_SDM630, (float)v);
        } else if (strcmp(word, "reg") == 0 && sscanf(line, "reg %d %lf", &n, &v) == 2 &&
                   n >= 30001 && n - 30001 + 1 < PEER_REGISTERS)
                set_reg(p, n - 30001, (float)v);
        else if (strcmp(word, "nan") == 0)
                set_bad(p, NAN, arg);
        else if (strcmp(word, "inf") == 0)
                set_bad(p, INFINITY, arg);
        else if (strcmp(word, "neg") == 0)
                set_bad(p, -1.0f, arg);
        else if (strcmp(word, "exception") == 0 && sscanf(arg, "%d", &n) == 1 && n >= 1 && n <= 11)
                p->exception = n;
        else if (strcmp(word, "silent") == 0)
                p->silent = 1;
        else if (strcmp(word, "slow") == 0 && sscanf(arg, "%d", &n) == 1 && n >= 0 && n <= 30000)
                p->slow_ms = n;
        else if (strcmp(word, "answer") == 0)
                p->exception = p->silent = p->slow_ms = 0;
        else if (strcmp(word, "quit") == 0) {
                say("ok");
                return 1;
        } else {
                say("error unknown command");
                return 0;
        }
        say("ok");
        return 0;
}

/* Read what stdin has; run each whole line. Returns 1 to quit (quit, end of stdin). */
static int read_control(peer_t *p)
{
        char buf[256];
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);

        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : 1;
        if (n == 0)
                return 1;
        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] != '\n') {
                        if (p->line_len + 1 < sizeof p->line)
                                p->line[p->line_len++] = buf[i];
                        continue;
                }
                p->line[p->line_len] = '\0';
                p->line_len = 0;
                if (command(p, p->line))
                        return 1;
        }
        return 0;
}

static void drop_client(peer_t *p)
{
        if (p->client_fd >= 0)
                close(p->client_fd);
        p->client_fd = -1;
        modbus_set_socket(p->ctx, -1);
}

/* One request from the client, answered as the mode says. */
static void serve(peer_t *p)
{
        uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
        int n;

        modbus_set_socket(p->ctx, p->client_fd);
        n = modbus_receive(p->ctx, query);
        if (n < 0) {
                drop_client(p); /* closed, reset, or a request cut short */
                return;
        }
        if (n == 0 || p->silent)
                return;
        if (p->slow_ms > 0) {
                struct timespec ts = {p->slow_ms / 1000, (long)(p->slow_ms % 1000) * 1000000};

                nanosleep(&ts, NULL);
        }
        if (p->exception)
                n = modbus_reply_exception(p->ctx, query, p->exception);
        else
                n = modbus_reply(p->ctx, query, n, p->map);
        if (n < 0)
                drop_client(p);
}

int main(int argc, char **argv)
{
        peer_t p = {.listen_fd = -1, .client_fd = -1};
        struct sockaddr_in sa;
        socklen_t sa_len = sizeof sa;
        long long end = now_ms() + PEER_MAX_SECONDS * 1000LL;
        int port = argc > 1 ? atoi(argv[1]) : 0;

        p.ctx = modbus_new_tcp("127.0.0.1", port);
        p.map = modbus_mapping_new_start_address(0, 0, 0, 0, 0, 0, 0, PEER_REGISTERS);
        if (!p.ctx || !p.map) {
                fprintf(stderr, "modbus-peer: %s\n", modbus_strerror(errno));
                return 1;
        }
        /* A request cut short is dropped after a second, not waited for. */
        modbus_set_indication_timeout(p.ctx, 1, 0);
        p.listen_fd = modbus_tcp_listen(p.ctx, 4);
        if (p.listen_fd < 0 || getsockname(p.listen_fd, (struct sockaddr *)&sa, &sa_len) < 0) {
                fprintf(stderr, "modbus-peer: listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
                return 1;
        }
        set_reg(&p, REG_ENERGY, 0.0f);
        set_reg(&p, REG_POWER_SDM120, 0.0f);
        set_reg(&p, REG_POWER_SDM630, 0.0f);
        printf("%d\n", ntohs(sa.sin_port));
        fflush(stdout);

        for (long pass = 0; pass < PEER_MAX_PASSES && now_ms() < end; pass++) {
                struct pollfd fds[3] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                        {.fd = p.listen_fd, .events = POLLIN},
                                        {.fd = p.client_fd, .events = POLLIN}};

                if (poll(fds, 3, 1000) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                /* Control first: a command the test saw answered holds for what comes next. */
                if (fds[0].revents && read_control(&p))
                        break;
                if (fds[1].revents & POLLIN) {
                        int fd = accept(p.listen_fd, NULL, NULL);

                        if (fd >= 0) {
                                drop_client(&p);
                                p.client_fd = fd;
                        }
                        continue; /* fds[2] was the old client's */
                }
                if (p.client_fd >= 0 && fds[2].revents)
                        serve(&p);
        }
        drop_client(&p);
        close(p.listen_fd);
        modbus_mapping_free(p.map);
        modbus_free(p.ctx);
        return 0;
}
