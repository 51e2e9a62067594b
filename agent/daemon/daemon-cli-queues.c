/*
 * daemon-cli-queues.c - the part of `labagent --check-config` that asks the
 * printers: do the queue media names lab IT wrote in printers[].media exist
 * at the queue, and do the queue's defaults leave colour alone?
 *
 * Why: a media name the queue does not know is printed at the queue's
 * default size by Gutenprint, silently; --check-config is where lab IT
 * learns that, before a job is wasted. Only printers with printers[].media
 * are asked (nothing else needs the network), with a short timeout; a queue
 * that does not answer is a warning, never a failure: the config may be
 * checked on another machine.
 */
#include <stdio.h>
#include <string.h>

#include "daemon-cli.h"
#include "macro.h"
#include "printer.h"

/* At most this long per printer: --check-config is run by a person waiting for it. */
#define CHECK_TIMEOUT_USEC (5ULL * 1000000ULL)

/* Check printer i's media names and colour defaults; the number of problems (warnings aside). */
static unsigned check_printer(const char *path, const lab_config_t *c, size_t i)
{
        lab_config_printer_t cfg = c->printers[i];
        _cleanup_(lab_printer_caps_done) lab_printer_caps_t caps = {0};
        lab_printer_status_t st;
        lab_printer_t *p = NULL;
        lab_error_t err = {0};
        unsigned problems = 0;
        char why[1024];

        if (cfg.timeout > CHECK_TIMEOUT_USEC)
                cfg.timeout = CHECK_TIMEOUT_USEC;
        if (lab_printer_open(&cfg, &p, &err) < 0 || lab_printer_capabilities(p, &caps, &err) < 0) {
                fprintf(stderr,
                        "%s: printers[%zu].media: warning: not checked against printer %s: "
                        "%s: %s\n",
                        path, i, cfg.name, err.keyword, err.message);
                lab_printer_close(p);
                return 0;
        }
        for (size_t k = 0; k < cfg.n_media; k++) {
                const lab_printer_size_t *size = NULL;
                const char *sentence;

                if (lab_printer_media_choose(&caps, cfg.name, cfg.media[k].name, cfg.media[k].value,
                                             &size, why, sizeof why) >= 0)
                        continue;
                /* why is "printer_refused: sentence"; the keyword goes at the end, as in every
                 * line. */
                sentence = strstr(why, ": ");
                fprintf(stderr, "%s: printers[%zu].media.%s: %s [printer_refused]\n", path, i,
                        cfg.media[k].name, sentence ? sentence + 2 : why);
                problems++;
        }
        if (lab_printer_status(p, &st, &err) >= 0 &&
            !lab_printer_colour_ok(&st, cfg.name, cfg.options, cfg.n_options, why, sizeof why))
                fprintf(stderr, "%s: printers[%zu]: warning: %s\n", path, i, why);
        lab_printer_close(p);
        return problems;
}

unsigned lab_cli_check_queues(const char *path, const lab_config_t *c)
{
        unsigned problems = 0;

        for (size_t i = 0; i < c->n_printers; i++)
                if (c->printers[i].driver == LAB_PRINTER_DRIVER_IPP && c->printers[i].enabled &&
                    c->printers[i].n_media > 0)
                        problems += check_printer(path, c, i);
        return problems;
}
