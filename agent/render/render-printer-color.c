/*
 * render-printer-color.c - check each printer's colour setup (see render-printer-color.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "render-color.h"
#include "macro.h"
#include "render-printer-color.h"

/* Mark p unusable with "keyword: message". */
static int set_unusable(lab_printer_color_t *p, const char *keyword, const char *message)
{
        p->usable = false;
        free(p->reason);
        if (asprintf(&p->reason, "%s: %s", keyword, message) < 0) {
                p->reason = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Check every paper profile of model m for printer p. */
static int check_model(lab_printer_color_t *p, const lab_model_t *m)
{
        for (size_t i = 0; i < m->n_papers; i++) {
                const lab_paper_profile_t *paper = &m->papers[i];
                lab_error_t err = {0};
                char message[LAB_ERROR_MESSAGE_MAX + 128];

                if (lab_color_check_printer_profile(paper->icc, m->encoding, paper->intent, &err) >=
                    0)
                        continue;
                snprintf(message, sizeof message, "%s (model %s, paper %s)", err.message, m->name,
                         paper->media_type);
                return set_unusable(p, err.keyword, message);
        }
        return 0;
}

int lab_color_setup_load(const lab_config_t *c, lab_color_setup_t **ret,
                         lab_config_problems_t *problems)
{
        lab_color_setup_t *s = calloc(1, sizeof *s);
        char message[LAB_ERROR_MESSAGE_MAX];
        const char *why = NULL;
        int r = 0;

        if (!s)
                return -ENOMEM;
        if (asprintf(&s->registry_path, "%s/registry.yaml", c->profiles.directory) < 0) {
                free(s);
                return -ENOMEM;
        }
        if (access(s->registry_path, F_OK) < 0)
                why = "does not exist";
        else if (lab_registry_load(s->registry_path, &s->registry, problems) < 0)
                why = "has problems (see the log)";

        s->printers = c->n_printers ? calloc(c->n_printers, sizeof *s->printers) : NULL;
        if (c->n_printers && !s->printers) {
                lab_color_setup_free(s);
                return -ENOMEM;
        }
        s->n_printers = c->n_printers;
        for (size_t i = 0; i < c->n_printers && r >= 0; i++) {
                const lab_config_printer_t *cp = &c->printers[i];
                lab_printer_color_t *p = &s->printers[i];
                const lab_model_t *m;

                p->printer = strdup(cp->name);
                p->usable = true;
                if (!p->printer) {
                        r = -ENOMEM;
                } else if (why) {
                        snprintf(message, sizeof message,
                                 "the colour registry %s %s; printer %s cannot render",
                                 s->registry_path, why, cp->name);
                        r = set_unusable(p, "registry_unavailable", message);
                } else if (!cp->model) {
                        snprintf(message, sizeof message,
                                 "printer %s has no model; set printers[].model to one of the "
                                 "models in %s",
                                 cp->name, s->registry_path);
                        r = set_unusable(p, "printer_no_model", message);
                } else if (!(m = lab_registry_model(s->registry, cp->model))) {
                        snprintf(message, sizeof message,
                                 "printer %s has model %s, which %s does not describe", cp->name,
                                 cp->model, s->registry_path);
                        r = set_unusable(p, "unknown_model", message);
                } else {
                        r = check_model(p, m);
                }
                if (r >= 0 && p->usable)
                        s->n_usable++;
        }
        if (r < 0) {
                lab_color_setup_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void lab_color_setup_free(lab_color_setup_t *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n_printers; i++) {
                free(s->printers[i].printer);
                free(s->printers[i].reason);
        }
        free(s->printers);
        lab_registry_free(s->registry);
        free(s->registry_path);
        free(s);
}

const lab_printer_color_t *lab_color_setup_printer(const lab_color_setup_t *s, const char *name)
{
        for (size_t i = 0; s && i < s->n_printers; i++)
                if (strcmp(s->printers[i].printer, name) == 0)
                        return &s->printers[i];
        return NULL;
}
