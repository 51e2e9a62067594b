/*
 * labctl.c - labctl, the technicians' console: the command line, one
 * request to the daemon's control socket, its answer printed for a person.
 *
 *   labctl [--socket PATH] [--json] COMMAND ...
 *   status | jobs [--state S[,S...]] [--all] [--limit N] | job ID | printers
 *   | pause PRINTER [--reason TEXT] | resume PRINTER
 *   | reprint JOB [--copy N] --defect KEYWORD [--note TEXT] | printed JOB --copy N
 *   | stock [PRINTER] | stock load|set|add|remove PRINTER ITEM AMOUNT [--note TEXT]
 *   | energy [METER]
 *   | top [--interval SECONDS] [--batch N]
 *
 * Why: the contract is docs/control.md. labctl never opens the store or a
 * printer: it asks the daemon, which decides who may do what from the
 * socket's peer credentials. What can be checked here cheaply (a defect
 * keyword, a copy number, a limit, a stock action and amount) is checked
 * before anything is sent, so a typo gets exit 2 and a sentence; the daemon
 * checks again anyway.
 */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "job-state.h"
#include "labctl-client.h"
#include "labctl-format.h"
#include "labctl-top.h"
#include "macro.h"

#define LAB_CTL_SOCKET_DEFAULT "/run/labagent/control.sock"
#define LAB_CTL_REASON_MAX     200 /* characters, docs/control.md `pause` */
#define LAB_CTL_NOTE_MAX       500 /* characters, docs/control.md `reprint` */
#define LAB_CTL_LIMIT_MAX      1000
#define LAB_CTL_COPY_MAX       1000000
#define LAB_CTL_BATCH_MAX      1000000

/* What one run of labctl was asked to do. */
typedef struct lab_ctl_s {
        const char *socket;
        bool json;
        lab_ctl_fmt_t fmt;
        const char *command;
        /* command arguments */
        const char *target; /* printer, job or meter; stock, energy: the one asked for or NULL */
        const char *reason, *note, *defect;
        const char *action, *item; /* stock load|set|add|remove: NULL for a listing */
        double amount;
        json_t *states;        /* array, or NULL: the daemon's default */
        long long limit, copy; /* 0: not given */
        double interval;
        long long batch;
} lab_ctl_t;

/* Print the usage to f. */
static void usage(FILE *f)
{
        fputs(
            "Usage: labctl [--socket PATH] [--json] COMMAND [ARGUMENTS]\n"
            "\n"
            "The technicians' console of labagent, the photo lab's fulfillment agent.\n"
            "\n"
            "Commands:\n"
            "  status                        the agent, its printers, jobs that need attention\n"
            "  jobs [--state S[,S...]] [--all] [--limit N]\n"
            "                                jobs in those states (default: the unfinished)\n"
            "  job ID                        one job and its copies\n"
            "  printers                      the printers, their state and queues\n"
            "  pause PRINTER [--reason TEXT] send the printer nothing new (operators)\n"
            "  resume PRINTER                end a pause (operators)\n"
            "  reprint JOB [--copy N] --defect KEYWORD [--note TEXT]\n"
            "                                report a bad print; it is printed again (operators)\n"
            "  printed JOB --copy N          an uncertain copy was found printed (operators)\n"
            "  stock [PRINTER]               stock items: what printers report, what is counted\n"
            "  stock load|set|add|remove PRINTER ITEM AMOUNT [--note TEXT]\n"
            "                                record stock by hand: load a new roll or box, set\n"
            "                                a count, add or remove some (operators)\n"
            "  energy [METER]                energy meters: state, power, kWh today, Wh per\n"
            "                                print over 24 h, last error\n"
            "  top [--interval SECONDS] [--batch N]\n"
            "                                live view: q quit, p pause, r resume, up/down select\n"
            "\n"
            "Options:\n"
            "  --socket PATH  control socket (default: $LABCTL_SOCKET, else " LAB_CTL_SOCKET_DEFAULT
            ")\n"
            "  --json         print the agent's answer as JSON\n"
            "  -h, --help     show this help\n"
            "  --version      show the version\n"
            "\n"
            "Defects: banding colour_cast scratch crease smear cut paper_jam not_printed other\n"
            "Stock AMOUNT: a number of 0 or more in the item's unit (prints, sheets, metres)\n"
            "Exit status: 0 done, 1 the agent refused, 2 bad command line,\n"
            "69 the agent is not running or not answering, 77 not authorized.\n"
            "See labctl(1).\n",
            f);
}

/* Say what is wrong with the command line; returns exit status 2. */
_printf_(1, 2) static int usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("labctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'labctl --help' for more information.\n", stderr);
        return LAB_CTL_EXIT_USAGE;
}

/* Parse a whole decimal number in [min, max]: 0 or -EINVAL / -ERANGE. */
static int parse_number(const char *s, long long min, long long max, long long *ret)
{
        char *end;
        long long v;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++)
                if (*p < '0' || *p > '9')
                        return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* The stock actions, as the daemon names them (docs/control.md, stock.adjust). */
static const char *const stock_actions[] = {"load", "set", "add", "remove"};

/* Whether s is a stock action. */
static bool stock_action_valid(const char *s)
{
        for (size_t i = 0; s && i < ELEMENTSOF(stock_actions); i++)
                if (strcmp(s, stock_actions[i]) == 0)
                        return true;
        return false;
}

/* Parse a stock amount: decimal digits with at most one '.', 0 or more: 0 or -EINVAL. */
static int parse_amount(const char *s, double *ret)
{
        bool digit = false, dot = false;
        char *end;
        double v;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p >= '0' && *p <= '9')
                        digit = true;
                else if (*p == '.' && !dot)
                        dot = true;
                else
                        return -EINVAL;
        }
        if (!digit)
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno || *end || !isfinite(v) || v < 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* The list of defects for a sentence. */
static const char *defect_list(void)
{
        return "banding, colour_cast, scratch, crease, smear, cut, paper_jam, not_printed, other";
}

/* Add each state of a comma-separated list to ctl->states, checked. */
static int add_states(lab_ctl_t *ctl, const char *list)
{
        _cleanup_free_ char *copy = strdup(list);
        char *save = NULL;

        if (!copy)
                return usage_error("out of memory");
        if (!ctl->states)
                ctl->states = json_array();
        for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
                if (lab_job_state_from_string(s) == LAB_JOB_STATE_INVALID) {
                        fprintf(stderr, "labctl: jobs: unknown state \"%s\"; the states are:", s);
                        for (int i = 0; i < LAB_JOB_STATE_MAX; i++)
                                fprintf(stderr, " %s", lab_job_state_to_string((lab_job_state_t)i));
                        fputc('\n', stderr);
                        return LAB_CTL_EXIT_USAGE;
                }
                json_array_append_new(ctl->states, json_string(s));
        }
        if (json_array_size(ctl->states) == 0)
                return usage_error("jobs: --state needs at least one state");
        return 0;
}

enum {
        OPT_SOCKET = 0x100,
        OPT_JSON,
        OPT_VERSION,
        OPT_STATE,
        OPT_ALL,
        OPT_LIMIT,
        OPT_REASON,
        OPT_COPY,
        OPT_DEFECT,
        OPT_NOTE,
        OPT_INTERVAL,
        OPT_BATCH,
};

/* A command: its name, its options, its one positional argument (if any), its request. */
typedef struct command_s {
        const char *name;
        const char *positional; /* name of its one positional argument, or NULL */
        const int *opts;        /* the OPT_ values it takes, 0-terminated */
        const char *cmd;        /* the request's "cmd" */
        bool optional;          /* the positional argument may be left out */
} command_t;

static const int no_opts[] = {0};
static const int jobs_opts[] = {OPT_STATE, OPT_ALL, OPT_LIMIT, 0};
static const int pause_opts[] = {OPT_REASON, 0};
static const int reprint_opts[] = {OPT_COPY, OPT_DEFECT, OPT_NOTE, 0};
static const int printed_opts[] = {OPT_COPY, 0};
static const int stock_opts[] = {OPT_NOTE, 0};
static const int top_opts[] = {OPT_INTERVAL, OPT_BATCH, 0};

static const command_t commands[] = {
    {"status", NULL, no_opts, "status", false},
    {"jobs", NULL, jobs_opts, "jobs", false},
    {"job", "ID", no_opts, "job", false},
    {"printers", NULL, no_opts, "printers", false},
    {"pause", "PRINTER", pause_opts, "pause", false},
    {"resume", "PRINTER", no_opts, "resume", false},
    {"reprint", "JOB", reprint_opts, "reprint", false},
    {"printed", "JOB", printed_opts, "printed", false},
    {"stock", NULL, stock_opts, "stock", false}, /* its arguments: parse_stock_args() */
    {"energy", "METER", no_opts, "energy", true},
    {"top", NULL, top_opts, NULL, false},
};

static const struct option long_options[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"state", required_argument, NULL, OPT_STATE},
    {"all", no_argument, NULL, OPT_ALL},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"reason", required_argument, NULL, OPT_REASON},
    {"copy", required_argument, NULL, OPT_COPY},
    {"defect", required_argument, NULL, OPT_DEFECT},
    {"note", required_argument, NULL, OPT_NOTE},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"batch", required_argument, NULL, OPT_BATCH},
    {},
};

/* Whether the command takes option opt. */
static bool command_takes(const command_t *c, int opt)
{
        for (const int *o = c->opts; *o; o++)
                if (*o == opt)
                        return true;
        return false;
}

/* The option's name for a sentence ("--limit"). */
static const char *option_name(int opt)
{
        for (const struct option *o = long_options; o->name; o++)
                if (o->val == opt)
                        return o->name;
        return "?";
}

/*
 * `stock`'s arguments (args[0..n)): none (every printer's items), PRINTER, or
 * ACTION PRINTER ITEM AMOUNT. Returns -1 to go on, or exit status 2.
 */
static int parse_stock_args(lab_ctl_t *ctl, char **args, int n)
{
        if (n == 0)
                return -1;
        if (!stock_action_valid(args[0])) {
                if (n > 1)
                        return usage_error("stock: \"%s\" is not an action (load, set, add, "
                                           "remove); to list one printer's stock: labctl stock "
                                           "PRINTER",
                                           args[0]);
                ctl->target = args[0];
                if (!*ctl->target)
                        return usage_error("stock: PRINTER must not be empty");
                return -1;
        }
        ctl->action = args[0];
        if (n != 4)
                return usage_error("stock %s needs PRINTER ITEM AMOUNT (labctl stock PRINTER "
                                   "lists the items)",
                                   ctl->action);
        ctl->target = args[1];
        ctl->item = args[2];
        if (!*ctl->target || !*ctl->item)
                return usage_error("stock %s: PRINTER and ITEM must not be empty", ctl->action);
        if (parse_amount(args[3], &ctl->amount) < 0)
                return usage_error("stock %s: AMOUNT must be a number of 0 or more (400, 12.5), "
                                   "not \"%s\"",
                                   ctl->action, args[3]);
        return -1;
}

/*
 * Parse argv: the global options, the command, its options and argument.
 * Returns -1 to go on, or an exit status (help and version print and give 0).
 */
static int parse_argv(lab_ctl_t *ctl, int argc, char **argv, const command_t **ret)
{
        const command_t *cmd = NULL;
        bool all = false;
        char **args;
        int n_args, c, r;

        opterr = 1;
        /* Global options up to the command ('+': stop at the first non-option). */
        while ((c = getopt_long(argc, argv, "+h", long_options, NULL)) != -1) {
                switch (c) {
                case OPT_SOCKET:
                        ctl->socket = optarg;
                        break;
                case OPT_JSON:
                        ctl->json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return LAB_CTL_EXIT_OK;
                case OPT_VERSION:
                        printf("labctl %s\n", LABAGENT_VERSION);
                        return LAB_CTL_EXIT_OK;
                case '?':
                        fputs("Try 'labctl --help' for more information.\n", stderr);
                        return LAB_CTL_EXIT_USAGE;
                default:
                        return usage_error("--%s belongs after the command it is for",
                                           option_name(c));
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return LAB_CTL_EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[optind], commands[i].name) == 0)
                        cmd = &commands[i];
        if (!cmd)
                return usage_error("unknown command \"%s\"", argv[optind]);
        ctl->command = cmd->name;

        /* The command's own options, anywhere after it (getopt permutes). */
        args = argv + optind;
        n_args = argc - optind;
        args[0] = argv[0]; /* getopt's messages name the program, not the command */
        optind = 0;        /* GNU: start a new scan */
        while ((c = getopt_long(n_args, args, "h", long_options, NULL)) != -1) {
                if (c == '?') {
                        fputs("Try 'labctl --help' for more information.\n", stderr);
                        return LAB_CTL_EXIT_USAGE;
                }
                if (c >= OPT_STATE && !command_takes(cmd, c))
                        return usage_error("%s does not take --%s", cmd->name, option_name(c));
                switch (c) {
                case 'h':
                        usage(stdout);
                        return LAB_CTL_EXIT_OK;
                case OPT_VERSION:
                        printf("labctl %s\n", LABAGENT_VERSION);
                        return LAB_CTL_EXIT_OK;
                case OPT_SOCKET:
                        ctl->socket = optarg;
                        break;
                case OPT_JSON:
                        ctl->json = true;
                        break;
                case OPT_STATE:
                        r = add_states(ctl, optarg);
                        if (r != 0)
                                return r;
                        break;
                case OPT_ALL:
                        all = true;
                        break;
                case OPT_LIMIT:
                        if (parse_number(optarg, 1, LAB_CTL_LIMIT_MAX, &ctl->limit) < 0)
                                return usage_error("jobs: --limit must be a number from 1 to %d, "
                                                   "not \"%s\"",
                                                   LAB_CTL_LIMIT_MAX, optarg);
                        break;
                case OPT_REASON:
                        ctl->reason = optarg;
                        break;
                case OPT_COPY:
                        if (parse_number(optarg, 1, LAB_CTL_COPY_MAX, &ctl->copy) < 0)
                                return usage_error("%s: --copy must be a copy number (1, 2, ...), "
                                                   "not \"%s\"",
                                                   cmd->name, optarg);
                        break;
                case OPT_DEFECT:
                        ctl->defect = optarg;
                        break;
                case OPT_NOTE:
                        ctl->note = optarg;
                        break;
                case OPT_INTERVAL: {
                        char *end;

                        errno = 0;
                        ctl->interval = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !isfinite(ctl->interval) ||
                            ctl->interval < 0.5 || ctl->interval > 60)
                                return usage_error("top: --interval must be a number of seconds "
                                                   "from 0.5 to 60, not \"%s\"",
                                                   optarg);
                        break;
                }
                case OPT_BATCH:
                        if (parse_number(optarg, 1, LAB_CTL_BATCH_MAX, &ctl->batch) < 0)
                                return usage_error("top: --batch must be a number of frames from "
                                                   "1 to %d, not \"%s\"",
                                                   LAB_CTL_BATCH_MAX, optarg);
                        break;
                default:
                        return usage_error("unexpected option");
                }
        }

        /* Positional arguments. */
        if (strcmp(cmd->name, "stock") == 0) {
                r = parse_stock_args(ctl, args + optind, n_args - optind);
                if (r >= 0)
                        return r;
                optind = n_args;
                if (ctl->note && !ctl->action)
                        return usage_error("stock: --note goes with load, set, add or remove");
        }
        if (cmd->positional && (optind < n_args || !cmd->optional)) {
                if (optind >= n_args)
                        return usage_error("%s needs %s", cmd->name, cmd->positional);
                ctl->target = args[optind++];
                if (!*ctl->target)
                        return usage_error("%s: %s must not be empty", cmd->name, cmd->positional);
        }
        if (optind < n_args)
                return usage_error("%s: unexpected argument \"%s\"", cmd->name, args[optind]);

        /* What the command needs, checked here where it is cheap. */
        if (all && ctl->states)
                return usage_error("jobs: --all and --state exclude each other");
        if (all) {
                ctl->states = json_array();
                for (int i = 0; i < LAB_JOB_STATE_MAX; i++)
                        json_array_append_new(
                            ctl->states, json_string(lab_job_state_to_string((lab_job_state_t)i)));
        }
        if (ctl->reason && lab_ctl_utf8_length(ctl->reason) > LAB_CTL_REASON_MAX)
                return usage_error("pause: --reason is %zu characters; at most %d are kept",
                                   lab_ctl_utf8_length(ctl->reason), LAB_CTL_REASON_MAX);
        if (ctl->note && lab_ctl_utf8_length(ctl->note) > LAB_CTL_NOTE_MAX)
                return usage_error("%s: --note is %zu characters; at most %d are kept", cmd->name,
                                   lab_ctl_utf8_length(ctl->note), LAB_CTL_NOTE_MAX);
        if (strcmp(cmd->name, "reprint") == 0) {
                if (!ctl->defect)
                        return usage_error("reprint needs --defect KEYWORD, one of: %s",
                                           defect_list());
                if (!lab_ctl_defect_valid(ctl->defect))
                        return usage_error("reprint: unknown defect \"%s\"; the defects are: %s",
                                           ctl->defect, defect_list());
        }
        if (strcmp(cmd->name, "printed") == 0 && ctl->copy == 0)
                return usage_error("printed needs --copy N: the copy that was found printed "
                                   "(labctl job %s lists them)",
                                   ctl->target);
        if (strcmp(cmd->name, "top") == 0 && ctl->json)
                return usage_error("top does not print JSON; use labctl --json status");
        *ret = cmd;
        return -1;
}

/* Set a string member of req, refusing text that is not UTF-8 (exit 2), else -1. */
static int set_text(json_t *req, const char *key, const char *value, const char *what)
{
        json_t *s = json_string(value);

        if (!s)
                return usage_error("%s is not valid UTF-8 text", what);
        json_object_set_new(req, key, s);
        return -1;
}

/* Build the request for the command into *ret; -1, or an exit status. */
static int build_request(const lab_ctl_t *ctl, const command_t *cmd, json_t **ret)
{
        json_t *req = json_object();
        int r = -1;

        json_object_set_new(req, "cmd", json_string(cmd->cmd));
        if (strcmp(cmd->name, "jobs") == 0) {
                if (ctl->states)
                        json_object_set(req, "states", ctl->states);
                if (ctl->limit)
                        json_object_set_new(req, "limit", json_integer(ctl->limit));
        } else if (strcmp(cmd->name, "job") == 0)
                r = set_text(req, "id", ctl->target, "the job id");
        else if (strcmp(cmd->name, "pause") == 0 || strcmp(cmd->name, "resume") == 0) {
                r = set_text(req, "printer", ctl->target, "the printer name");
                if (r < 0 && ctl->reason)
                        r = set_text(req, "reason", ctl->reason, "--reason");
        } else if (strcmp(cmd->name, "stock") == 0 && !ctl->action) {
                if (ctl->target)
                        r = set_text(req, "printer", ctl->target, "the printer name");
        } else if (strcmp(cmd->name, "energy") == 0) {
                if (ctl->target)
                        r = set_text(req, "meter", ctl->target, "the meter name");
        } else if (strcmp(cmd->name, "stock") == 0) {
                json_object_set_new(req, "cmd", json_string("stock.adjust"));
                json_object_set_new(req, "action", json_string(ctl->action));
                json_object_set_new(req, "amount", json_real(ctl->amount));
                r = set_text(req, "printer", ctl->target, "the printer name");
                if (r < 0)
                        r = set_text(req, "item", ctl->item, "the item name");
                if (r < 0 && ctl->note)
                        r = set_text(req, "note", ctl->note, "--note");
        } else if (strcmp(cmd->name, "reprint") == 0 || strcmp(cmd->name, "printed") == 0) {
                r = set_text(req, "job", ctl->target, "the job id");
                if (ctl->copy)
                        json_object_set_new(req, "copy", json_integer(ctl->copy));
                if (r < 0 && ctl->defect)
                        r = set_text(req, "defect", ctl->defect, "--defect");
                if (r < 0 && ctl->note)
                        r = set_text(req, "note", ctl->note, "--note");
        }
        if (r >= 0) {
                json_decref(req);
                return r;
        }
        *ret = req;
        return -1;
}

/* Print an ok answer the way the command calls for. */
static void print_answer(const lab_ctl_t *ctl, const json_t *answer)
{
        lab_ctl_fmt_t fmt = ctl->fmt;
        const char *name = ctl->command;

        fmt.now = lab_ctl_answer_now(answer, time(NULL));
        if (strcmp(name, "status") == 0)
                lab_ctl_format_status(stdout, answer, &fmt);
        else if (strcmp(name, "jobs") == 0)
                lab_ctl_format_jobs(stdout, answer, &fmt);
        else if (strcmp(name, "job") == 0)
                lab_ctl_format_job(stdout, answer, &fmt);
        else if (strcmp(name, "printers") == 0)
                lab_ctl_format_printers(stdout, answer, &fmt);
        else if (strcmp(name, "pause") == 0)
                lab_ctl_format_paused(stdout, answer, &fmt);
        else if (strcmp(name, "resume") == 0)
                lab_ctl_format_resumed(stdout, answer, &fmt);
        else if (strcmp(name, "reprint") == 0)
                lab_ctl_format_reprinted(stdout, answer, ctl->defect, &fmt);
        else if (strcmp(name, "printed") == 0)
                lab_ctl_format_printed(stdout, answer, ctl->copy, &fmt);
        else if (strcmp(name, "stock") == 0 && ctl->action)
                lab_ctl_format_stock_adjusted(stdout, answer, &fmt);
        else if (strcmp(name, "stock") == 0)
                lab_ctl_format_stock(stdout, answer, ctl->target, &fmt);
        else if (strcmp(name, "energy") == 0)
                lab_ctl_format_energy(stdout, answer, &fmt);
}

/* Send the request, print the answer; returns the exit status. */
static int run_request(const lab_ctl_t *ctl, json_t *req)
{
        _cleanup_(lab_ctl_client_freep) lab_ctl_client_t *client = NULL;
        json_t *answer = NULL, *ok;
        char why[1024];
        int r, status;

        r = lab_ctl_client_connect(ctl->socket, LAB_CTL_TIMEOUT_MS, &client);
        if (r < 0) {
                status = lab_ctl_client_describe(r, true, ctl->socket, why, sizeof why);
                fprintf(stderr, "labctl: %s\n", why);
                return status;
        }
        r = lab_ctl_client_call(client, req, LAB_CTL_TIMEOUT_MS, &answer);
        if (r < 0) {
                status = lab_ctl_client_describe(r, false, ctl->socket, why, sizeof why);
                fprintf(stderr, "labctl: %s\n", why);
                return status;
        }

        ok = json_object_get(answer, "ok");
        if (ctl->json && json_is_boolean(ok)) {
                json_dumpf(answer, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
        }
        if (json_is_true(ok)) {
                if (!ctl->json)
                        print_answer(ctl, answer);
                status = LAB_CTL_EXIT_OK;
        } else if (json_is_false(ok)) {
                const char *error = json_string_value(json_object_get(answer, "error"));

                fputs("labctl: ", stderr);
                lab_ctl_format_refusal(stderr, answer, &ctl->fmt);
                fputc('\n', stderr);
                status = error && strcmp(error, "not_authorized") == 0 ? LAB_CTL_EXIT_NOPERM
                                                                       : LAB_CTL_EXIT_REFUSED;
        } else {
                fprintf(stderr, "labctl: bad_answer: labagent at %s answered without \"ok\"\n",
                        ctl->socket);
                status = LAB_CTL_EXIT_REFUSED;
        }
        json_decref(answer);
        return status;
}

/* The terminal's columns when stdout is one, else 0. */
static unsigned terminal_width(void)
{
        struct winsize ws;

        if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
                return 0;
        return ws.ws_col;
}

int main(int argc, char **argv)
{
        lab_ctl_t ctl = {.interval = 2.0};
        const command_t *cmd = NULL;
        const char *env, *term;
        static char prog[] = "labctl";
        json_t *req = NULL;
        int r;

        argv[0] = prog; /* getopt's messages name the program, not its path */
        setlocale(LC_ALL, "");
        ctl.fmt.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
        term = getenv("TERM");
        ctl.fmt.color =
            isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && strcmp(term, "dumb") == 0);
        ctl.fmt.width = terminal_width();
        env = getenv("LABCTL_SOCKET");
        ctl.socket = env && *env ? env : LAB_CTL_SOCKET_DEFAULT;

        r = parse_argv(&ctl, argc, argv, &cmd);
        if (r >= 0)
                goto out;
        if (!*ctl.socket) {
                r = usage_error("--socket needs a path");
                goto out;
        }

        if (strcmp(cmd->name, "top") == 0) {
                lab_ctl_top_args_t args = {.socket = ctl.socket,
                                           .interval = ctl.interval,
                                           .batch = (unsigned)ctl.batch,
                                           .fmt = ctl.fmt};

                if (!ctl.batch && !isatty(STDOUT_FILENO)) {
                        r = usage_error("top needs a terminal; for plain text frames use: labctl "
                                        "top --batch N");
                        goto out;
                }
                r = lab_ctl_top_run(&args);
                goto out;
        }

        r = build_request(&ctl, cmd, &req);
        if (r >= 0)
                goto out;
        r = run_request(&ctl, req);
out:
        json_decref(req);
        json_decref(ctl.states);
        if (fflush(stdout) != 0 && r == LAB_CTL_EXIT_OK)
                r = LAB_CTL_EXIT_REFUSED;
        return r;
}
