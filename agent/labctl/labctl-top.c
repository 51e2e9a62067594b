/*
 * labctl-top.c - `labctl top`: the live view of the lab (see labctl-top.h).
 *
 * Why: the text of every section is what labctl-format.c writes for
 * `labctl status` and `labctl jobs` (captured in memory and drawn line by
 * line), so the live view, the batch frames and the one-shot commands can
 * never disagree. This file adds only what a screen needs: the refresh
 * timer, one kept connection that is opened again when the daemon comes
 * back, a selected printer, the p/r keys, the bottom line.
 *
 * Must never exit on a daemon that went away (it shows "agent not reachable
 * — retrying" and tries again every interval), never leave the terminal in
 * curses mode (every way out goes through endwin()), and never treat a
 * refused pause or resume as fatal: the refusal is shown on the bottom line.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curses.h>
#include <jansson.h>

#include "labctl-client.h"
#include "labctl-format.h"
#include "labctl-top.h"
#include "macro.h"

/* The most active jobs asked for (the screen shows what fits). */
#define TOP_JOBS_LIMIT 100
/* The longest wait in getch(), so that a signal is noticed quickly. */
#define TOP_KEY_WAIT_MS 250
/* docs/control.md: a pause reason is at most 200 characters. */
#define TOP_REASON_MAX 200

typedef struct top_s {
        const lab_ctl_top_args_t *args;
        lab_ctl_client_t *client; /* the kept connection, NULL when there is none */
        json_t *status, *jobs;    /* the last good answers, NULL when there are none */
        char problem[1024];       /* why there are none ("" when there are) */
        int exit_status;          /* what the last failure calls for */
        bool fatal;               /* the daemon refused `status` to this user: stop */
        char message[1024];       /* the bottom line: outcome of the last key ("": key help) */
        char *selected;           /* the selected printer's name */
        size_t sel;               /* and its index in status.printers */
        bool utf8;                /* the screen takes UTF-8 */
} top_t;

static volatile sig_atomic_t top_signal;

/* Remember the signal; the loop ends the view and re-raises it. */
static void on_signal(int sig)
{
        top_signal = sig;
}

/* Milliseconds on the monotonic clock. */
static long long top_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The dash of "agent not reachable — retrying". */
static const char *top_dash(const top_t *t)
{
        return t->utf8 ? "\xe2\x80\x94" : "-";
}

/*
 * One exchange on the kept connection, connecting first when there is none.
 * 0 with *answer; or -1 with t->problem and t->exit_status set and the
 * connection dropped (the next call connects again).
 */
static int top_call(top_t *t, const json_t *req, json_t **answer)
{
        bool connecting = !t->client;
        int r;

        if (!t->client) {
                r = lab_ctl_client_connect(t->args->socket, LAB_CTL_TIMEOUT_MS, &t->client);
                if (r < 0)
                        t->client = NULL;
        } else
                r = 0;
        if (r >= 0)
                r = lab_ctl_client_call(t->client, req, LAB_CTL_TIMEOUT_MS, answer);
        if (r < 0) {
                t->exit_status = lab_ctl_client_describe(r, connecting, t->args->socket, t->problem,
                                                         sizeof t->problem);
                lab_ctl_client_freep(&t->client);
                return -1;
        }
        return 0;
}

/* The text f-writer fn makes of answer, in memory (NULL when out of memory). */
static char *top_capture(void (*fn)(FILE *, const json_t *, const lab_ctl_fmt_t *),
                         const json_t *answer, const lab_ctl_fmt_t *o)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fn(f, answer, o);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* A refused answer as "keyword: message" into buf. */
static void top_refusal(const top_t *t, const json_t *answer, char *buf, size_t size)
{
        lab_ctl_fmt_t o = {.utf8 = t->utf8};
        _cleanup_free_ char *s = top_capture(lab_ctl_format_refusal, answer, &o);

        snprintf(buf, size, "%s", s ? s : "refused");
}

/* Keep the selection on the same printer by name (or the same row when it is gone). */
static void top_select(top_t *t)
{
        json_t *printers = json_object_get(t->status, "printers");
        size_t n = json_is_array(printers) ? json_array_size(printers) : 0;
        const char *name;

        for (size_t i = 0; t->selected && i < n; i++) {
                name = json_string_value(json_object_get(json_array_get(printers, i), "name"));
                if (name && strcmp(name, t->selected) == 0) {
                        t->sel = i;
                        return;
                }
        }
        if (t->sel >= n)
                t->sel = n ? n - 1 : 0;
        free(t->selected);
        t->selected = NULL;
        name = json_string_value(json_object_get(json_array_get(printers, t->sel), "name"));
        if (name)
                t->selected = strdup(name);
}

/* Ask for status and the active jobs; 0, or -1 with t->problem (and maybe t->fatal) set. */
static int top_refresh(top_t *t)
{
        json_t *req_status = json_pack("{s:s}", "cmd", "status");
        json_t *req_jobs = json_pack("{s:s, s:i}", "cmd", "jobs", "limit", TOP_JOBS_LIMIT);
        json_t *answers[2] = {NULL, NULL}, *reqs[2] = {req_status, req_jobs};
        int r = 0;

        for (size_t i = 0; i < 2 && r == 0; i++) {
                const char *error;

                if (!reqs[i] || top_call(t, reqs[i], &answers[i]) < 0) {
                        if (!reqs[i]) {
                                snprintf(t->problem, sizeof t->problem, "out of memory");
                                t->exit_status = LAB_CTL_EXIT_REFUSED;
                        }
                        r = -1;
                        break;
                }
                if (json_is_true(json_object_get(answers[i], "ok")))
                        continue;
                top_refusal(t, answers[i], t->problem, sizeof t->problem);
                error = json_string_value(json_object_get(answers[i], "error"));
                t->fatal = error && strcmp(error, "not_authorized") == 0;
                t->exit_status = t->fatal ? LAB_CTL_EXIT_NOPERM : LAB_CTL_EXIT_REFUSED;
                r = -1;
        }
        json_decref(req_status);
        json_decref(req_jobs);
        json_decref(t->status);
        json_decref(t->jobs);
        t->status = t->jobs = NULL;
        if (r < 0) {
                json_decref(answers[0]);
                json_decref(answers[1]);
                return r;
        }
        t->status = answers[0];
        t->jobs = answers[1];
        t->problem[0] = '\0';
        top_select(t);
        return 0;
}

/* Free what the view holds. */
static void top_done(top_t *t)
{
        lab_ctl_client_freep(&t->client);
        json_decref(t->status);
        json_decref(t->jobs);
        free(t->selected);
}

/* ---- --batch ---- */

/* Print args->batch frames as plain text, separated by a line of dashes. */
static int top_batch(top_t *t)
{
        const lab_ctl_top_args_t *a = t->args;
        const struct timespec every = {
            .tv_sec = (time_t)a->interval,
            .tv_nsec = (long)((a->interval - (double)(time_t)a->interval) * 1e9)};

        for (unsigned i = 0; i < a->batch; i++) {
                lab_ctl_fmt_t fmt = a->fmt;

                if (i > 0) {
                        struct timespec left = every;
                        unsigned w = fmt.width ? fmt.width : 72;

                        while (nanosleep(&left, &left) < 0 && errno == EINTR)
                                ;
                        for (unsigned k = 0; k < w; k++)
                                putchar('-');
                        putchar('\n');
                }
                if (top_refresh(t) < 0) {
                        /* Nothing to show at all, or refused: say so the way the commands do. */
                        if (i == 0 || t->fatal) {
                                fprintf(stderr, "labctl: %s\n", t->problem);
                                return t->exit_status;
                        }
                        printf("agent not reachable %s retrying: %s\n", top_dash(t), t->problem);
                } else {
                        fmt.now = lab_ctl_answer_now(t->status, time(NULL));
                        lab_ctl_format_frame(stdout, t->status, t->jobs, &fmt);
                }
                fflush(stdout);
        }
        return LAB_CTL_EXIT_OK;
}

/* ---- the screen ---- */

/* Bytes of s that fill at most cols screen columns (one per UTF-8 character). */
static size_t top_fit(const char *s, size_t len, int cols)
{
        size_t i = 0;

        for (int c = 0; i < len && c < cols; c++) {
                i++;
                while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
                        i++;
        }
        return i;
}

/* Draw one line of text (len bytes) at row, cut to the screen, with attr. */
static void top_line(int row, const char *s, size_t len, attr_t attr, int cols)
{
        if (row < 0 || row >= LINES - 1)
                return; /* the bottom line is the key help's */
        attron(attr);
        mvaddnstr(row, 0, s, (int)top_fit(s, len, cols));
        attroff(attr);
}

/*
 * Draw the lines of text from *row on: the first `bold` lines in bold, line
 * `highlight` (-1: none) in reverse video. Advances *row past them.
 */
static void top_text(int *row, const char *text, int bold, int highlight)
{
        int i = 0;

        for (const char *p = text; p && *p; i++) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                attr_t attr = i < bold ? A_BOLD : A_NORMAL;

                top_line(*row, p, len, attr, COLS);
                if (i == highlight && *row < LINES - 1)
                        mvchgat(*row, 0, -1, A_REVERSE, 0, NULL); /* the whole row */
                (*row)++;
                p = nl ? nl + 1 : p + len;
        }
}

/* The status answer's printers table (without the driver column). */
static void top_format_printers(FILE *f, const json_t *status, const lab_ctl_fmt_t *o)
{
        lab_ctl_format_printer_table(f, json_object_get(status, "printers"), false, o);
}

/* The bottom line: the last outcome, else the keys. */
static void top_bottom(const top_t *t)
{
        const char *help = t->utf8 ? "q quit  p pause  r resume  \xe2\x86\x91/\xe2\x86\x93 select"
                                   : "q quit  p pause  r resume  up/down select";
        const char *s = t->message[0] ? t->message : help;

        move(LINES - 1, 0);
        clrtoeol();
        attron(t->message[0] ? A_BOLD : A_NORMAL);
        /* One column short of the corner: writing there would scroll the screen. */
        mvaddnstr(LINES - 1, 0, s, (int)top_fit(s, strlen(s), COLS - 1));
        attroff(A_BOLD);
}

/* Draw the whole screen from the last answers. */
static void top_draw(top_t *t)
{
        lab_ctl_fmt_t fmt = {.utf8 = t->utf8, .width = COLS > 0 ? (unsigned)COLS : 0};
        char clock[16] = "", line[1200];
        time_t now = time(NULL);
        struct tm tm;
        int row = 0, clock_w;

        if (localtime_r(&now, &tm))
                strftime(clock, sizeof clock, "%H:%M:%S", &tm);
        clock_w = (int)strlen(clock);
        erase();
        if (!t->status) {
                top_line(0, "labctl top", 10, A_BOLD, COLS - clock_w - 1);
                snprintf(line, sizeof line, "agent not reachable %s retrying: %s", top_dash(t),
                         t->problem);
                top_line(2, line, strlen(line), A_BOLD, COLS);
        } else {
                _cleanup_free_ char *header = NULL, *counts = NULL, *energy = NULL,
                                    *printers = NULL, *stuck = NULL, *jobs = NULL;
                json_t *s = json_object_get(t->status, "stuck");
                json_t *j = json_object_get(t->jobs, "jobs");
                const char *nl;

                fmt.now = lab_ctl_answer_now(t->status, now);
                header = top_capture(lab_ctl_format_status_header, t->status, &fmt);
                counts = top_capture(lab_ctl_format_counts, t->status, &fmt);
                energy = top_capture(lab_ctl_format_energy_line, t->status, &fmt);
                printers = top_capture(top_format_printers, t->status, &fmt);
                stuck = top_capture(lab_ctl_format_stuck, t->status, &fmt);
                jobs = top_capture(lab_ctl_format_active_jobs, t->jobs, &fmt);

                /* Header: the agent line (bold, the clock at its right), platform, counts. */
                if (header) {
                        nl = strchr(header, '\n');
                        top_line(row++, header, nl ? (size_t)(nl - header) : strlen(header), A_BOLD,
                                 COLS - clock_w - 1);
                        top_text(&row, nl ? nl + 1 : "", 0, -1);
                }
                top_text(&row, counts, 0, -1);
                top_text(&row, energy, 0, -1);
                row++;
                top_text(&row, printers, 1, (int)t->sel + 1);
                row++;
                top_text(&row, stuck, json_array_size(s) ? 2 : 1, -1);
                row++;
                top_text(&row, jobs, json_array_size(j) ? 2 : 1, -1);
        }
        if (clock_w < COLS)
                mvaddstr(0, COLS - clock_w, clock);
        top_bottom(t);
        refresh();
}

/*
 * Ask for a line on the bottom line (Enter sends, Esc cancels, Backspace,
 * Ctrl-U). true with buf filled (maybe empty), false when cancelled.
 */
static bool top_prompt(top_t *t, const char *question, char *buf, size_t size)
{
        size_t len = 0;
        bool done = false, ok = false;

        buf[0] = '\0';
        curs_set(1);
        while (!done && !top_signal) {
                int qlen = (int)strlen(question), room = COLS - 1 - qlen, ch;
                size_t chars = lab_ctl_utf8_length(buf), skip = 0;

                /* Show the end of the text when it is longer than the line. */
                while (room > 0 && chars > (size_t)room) {
                        skip++;
                        while (((unsigned char)buf[skip] & 0xc0) == 0x80)
                                skip++;
                        chars--;
                }
                move(LINES - 1, 0);
                clrtoeol();
                mvaddnstr(LINES - 1, 0, question, (int)top_fit(question, (size_t)qlen, COLS - 1));
                if (room > 0)
                        addstr(buf + skip);
                refresh();

                timeout(TOP_KEY_WAIT_MS);
                ch = getch();
                switch (ch) {
                case ERR:
                        break;
                case 27: /* Esc */
                        done = true;
                        break;
                case '\n':
                case '\r':
                case KEY_ENTER:
                        done = ok = true;
                        break;
                case KEY_BACKSPACE:
                case 127:
                case 8:
                        while (len > 0 && ((unsigned char)buf[len - 1] & 0xc0) == 0x80)
                                len--;
                        if (len > 0)
                                len--;
                        buf[len] = '\0';
                        break;
                case 21: /* Ctrl-U */
                        len = 0;
                        buf[0] = '\0';
                        break;
                case KEY_RESIZE:
                        top_draw(t);
                        break;
                default:
                        /* Text: printable ASCII and the bytes of UTF-8 characters. */
                        if (ch < 0x20 || ch > 0xff || ch == 0x7f || len + 1 >= size)
                                break;
                        if (((unsigned)ch & 0xc0) != 0x80 &&
                            lab_ctl_utf8_length(buf) >= TOP_REASON_MAX)
                                break;
                        buf[len++] = (char)ch;
                        buf[len] = '\0';
                        break;
                }
        }
        curs_set(0);
        return ok && !top_signal;
}

/* Send a pause or resume and put the outcome on the bottom line. */
static void top_act(top_t *t, json_t *req,
                    void (*done)(FILE *, const json_t *, const lab_ctl_fmt_t *))
{
        lab_ctl_fmt_t fmt = {.utf8 = t->utf8, .now = time(NULL)};
        json_t *answer = NULL;

        if (!req) {
                snprintf(t->message, sizeof t->message, "out of memory");
                return;
        }
        if (top_call(t, req, &answer) < 0)
                snprintf(t->message, sizeof t->message, "%s", t->problem);
        else if (json_is_true(json_object_get(answer, "ok"))) {
                _cleanup_free_ char *s = top_capture(done, answer, &fmt);
                char *nl;

                snprintf(t->message, sizeof t->message, "%s", s ? s : "done");
                nl = strchr(t->message, '\n');
                if (nl)
                        *nl = '\0';
        } else
                top_refusal(t, answer, t->message, sizeof t->message);
        json_decref(answer);
        json_decref(req);
}

/* p: ask for a reason, pause the selected printer. */
static void top_pause(top_t *t)
{
        char question[256], reason[TOP_REASON_MAX * 4 + 1];
        json_t *req, *text;

        if (!t->selected) {
                snprintf(t->message, sizeof t->message, "no printer selected");
                return;
        }
        snprintf(question, sizeof question,
                 "Pause %s, reason (Enter to pause, Esc to cancel): ", t->selected);
        if (!top_prompt(t, question, reason, sizeof reason)) {
                snprintf(t->message, sizeof t->message, "%s not paused", t->selected);
                return;
        }
        req = json_pack("{s:s, s:s}", "cmd", "pause", "printer", t->selected);
        if (req && reason[0]) {
                text = json_string(reason);
                if (!text) {
                        snprintf(t->message, sizeof t->message,
                                 "the reason is not valid UTF-8 text; %s not paused", t->selected);
                        json_decref(req);
                        return;
                }
                json_object_set_new(req, "reason", text);
        }
        top_act(t, req, lab_ctl_format_paused);
}

/* r: resume the selected printer. */
static void top_resume(top_t *t)
{
        if (!t->selected) {
                snprintf(t->message, sizeof t->message, "no printer selected");
                return;
        }
        top_act(t, json_pack("{s:s, s:s}", "cmd", "resume", "printer", t->selected),
                lab_ctl_format_resumed);
}

/* Move the selection by delta printers. */
static void top_move(top_t *t, int delta)
{
        json_t *printers = json_object_get(t->status, "printers");
        size_t n = json_is_array(printers) ? json_array_size(printers) : 0;
        const char *name;

        if (n == 0)
                return;
        if (delta < 0 && t->sel > 0)
                t->sel--;
        else if (delta > 0 && t->sel + 1 < n)
                t->sel++;
        free(t->selected);
        name = json_string_value(json_object_get(json_array_get(printers, t->sel), "name"));
        t->selected = name ? strdup(name) : NULL;
}

/* The full-screen loop; returns the exit status. */
static int top_screen(top_t *t)
{
        long long interval_ms = (long long)(t->args->interval * 1000.0);
        long long next = top_now_ms() + interval_ms;
        SCREEN *screen;
        bool quit = false;

        screen = newterm(NULL, stdout, stdin);
        if (!screen) {
                fprintf(stderr,
                        "labctl: bad_terminal: cannot use the terminal (TERM=%s); try "
                        "labctl top --batch N\n",
                        getenv("TERM") ? getenv("TERM") : "");
                return LAB_CTL_EXIT_USAGE;
        }
        cbreak();
        noecho();
        keypad(stdscr, TRUE);
        curs_set(0);
        set_escdelay(25);
        top_draw(t);

        while (!quit && !top_signal && !t->fatal) {
                long long now = top_now_ms();
                int ch;

                if (now >= next) {
                        top_refresh(t);
                        if (t->fatal)
                                break;
                        top_draw(t);
                        next = top_now_ms() + interval_ms;
                        continue;
                }
                timeout((int)(next - now < TOP_KEY_WAIT_MS ? next - now : TOP_KEY_WAIT_MS));
                ch = getch();
                if (ch == ERR)
                        continue;
                t->message[0] = '\0';
                switch (ch) {
                case 'q':
                case 'Q':
                        quit = true;
                        break;
                case KEY_UP:
                case 'k':
                        top_move(t, -1);
                        break;
                case KEY_DOWN:
                case 'j':
                        top_move(t, +1);
                        break;
                case 'p':
                        top_pause(t);
                        top_refresh(t);
                        next = top_now_ms() + interval_ms;
                        break;
                case 'r':
                        top_resume(t);
                        top_refresh(t);
                        next = top_now_ms() + interval_ms;
                        break;
                case 12: /* Ctrl-L */
                        clearok(curscr, TRUE);
                        break;
                case KEY_RESIZE:
                default:
                        break;
                }
                if (!quit && !t->fatal)
                        top_draw(t);
        }
        endwin();
        delscreen(screen);
        if (t->fatal) {
                fprintf(stderr, "labctl: %s\n", t->problem);
                return t->exit_status;
        }
        return LAB_CTL_EXIT_OK;
}

int lab_ctl_top_run(const lab_ctl_top_args_t *args)
{
        top_t t = {.args = args, .utf8 = args->fmt.utf8};
        struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: waits end early */
        int r, sig;

#ifndef LABCTL_NCURSESW
        t.utf8 = false; /* narrow curses shows UTF-8 bytes as junk */
#endif
        if (args->batch) {
                r = top_batch(&t);
                top_done(&t);
                return r;
        }

        /* The first answer before the screen: with no agent at all, say so as the commands do. */
        if (top_refresh(&t) < 0) {
                fprintf(stderr, "labctl: %s\n", t.problem);
                top_done(&t);
                return t.exit_status;
        }
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);

        r = top_screen(&t);
        top_done(&t);
        sig = top_signal;
        if (sig) {
                signal(sig, SIG_DFL);
                raise(sig);
        }
        return r;
}
