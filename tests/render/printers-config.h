/*
 * printers-config.h - a minimal labagent config whose printers use the
 * colour registry in a test's directory, for the printer colour tests
 * (include after cmocka.h: it fails the test on a config it cannot load).
 *
 * Why: test-printer-color.c and test-profile-fit.c judge printers against a
 * registry they write; both need the same config around their printers.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* A config with profiles.directory dir and the given printers: YAML list items, one per line. */
static inline lab_config_t *lab_test_printers_config(const char *dir, const char *printers)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = NULL;
        char *text = NULL;

        assert_true(asprintf(&text,
                             "lab: {id: t}\n"
                             "platform: {url: 'https://x/', ca_file: /a, cert_file: /b, "
                             "key_file: /c}\n"
                             "profiles: {directory: %s}\n"
                             "printers:\n%s",
                             dir, printers) > 0);
        if (lab_config_load_buffer("t.yaml", text, strlen(text), &c, &problems) < 0) {
                lab_config_problems_print(&problems, stderr);
                fail();
        }
        free(text);
        return c;
}
