/*
 * daemon-cli-render.c - `labagent render`: lab IT tries a profile by hand.
 *
 *   labagent render [--config FILE] --printer NAME --product SKU IN OUT
 *
 * Why: before a vendor's new paper profile goes live, lab IT wants to see
 * what it does to a real photo on the real printer, with exactly the
 * parameters the daemon would use. This resolves printer → model → media and
 * paper profile from the same config and registry the daemon reads, checks
 * the profile, renders IN to OUT with the same pipeline, and prints the
 * audit record (JSON) on stdout. Exit 0 when rendered, 1 with a
 * "keyword: sentence" line on stderr when not, 2 for a bad command line.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-cli.h"
#include "config.h"
#include "config-profiles.h"
#include "render-plan.h"
#include "render.h"

/* Print "keyword: message" and return 1. */
static int fail(const lab_error_t *err)
{
        fprintf(stderr, "%s: %s\n", err->keyword, err->message);
        return 1;
}

int lab_cli_render(int argc, char **argv, const char *default_config)
{
        static const struct option options[] = {
            {"config", required_argument, NULL, 'c'},
            {"printer", required_argument, NULL, 'p'},
            {"product", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *config_path = default_config, *printer = NULL, *sku = NULL;
        lab_config_problems_t problems = {0};
        _cleanup_free_ char *registry_path = NULL, *json = NULL;
        lab_config_t *config = NULL;
        lab_registry_t *registry = NULL;
        lab_render_audit_t audit;
        lab_error_t err = {0};
        bool vips_started = false;
        int c, ret = 1;

        optind = 1;
        while ((c = getopt_long(argc, argv, "c:p:s:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'p':
                        printer = optarg;
                        break;
                case 's':
                        sku = optarg;
                        break;
                case 'h':
                        printf(
                            "Usage: labagent render [--config FILE] --printer NAME --product SKU "
                            "IN OUT\n");
                        return 0;
                default:
                        return 2;
                }
        }
        if (!printer || !sku || argc - optind != 2) {
                fprintf(stderr, "usage: labagent render [--config FILE] --printer NAME --product "
                                "SKU IN OUT\n");
                return 2;
        }

        if (lab_config_load_file(config_path, &config, &problems) < 0) {
                lab_config_problems_print(&problems, stderr);
                lab_config_problems_clear(&problems);
                return 1;
        }
        if (asprintf(&registry_path, "%s/registry.yaml", config->profiles.directory) < 0)
                goto out;
        if (lab_registry_load(registry_path, &registry, &problems) < 0) {
                lab_config_problems_print(&problems, stderr);
                lab_config_problems_clear(&problems);
                goto out;
        }

        lab_render_plan_t plan;
        if (lab_render_plan(config, registry, printer, sku, &plan, &err) < 0 ||
            lab_render_plan_check_profile(&plan, &err) < 0) {
                ret = fail(&err);
                goto out;
        }
        lab_render_params_t params = plan.params;
        params.input = argv[optind];
        params.output = argv[optind + 1];
        vips_started =
            lab_render_init(argv[0], config->render.threads, config->render.cache_max) >= 0;
        if (!vips_started || lab_render(&params, &audit, &err) < 0) {
                if (!lab_error_isset(&err))
                        lab_error_set(&err, EIO, "render_failed", "libvips could not start");
                ret = fail(&err);
                goto out;
        }
        json = lab_render_audit_json(&audit);
        printf("%s\n", json ? json : "{}");
        if (audit.gamut_share > config->render.gamut_warn)
                fprintf(stderr,
                        "gamut_warning: %.1f%% of the pixels are outside the gamut of %s "
                        "(render.gamut_warn is %.1f%%); the print may look duller than the "
                        "screen\n",
                        audit.gamut_share * 100, plan.paper->icc, config->render.gamut_warn * 100);
        ret = 0;
out:
        if (vips_started)
                lab_render_shutdown();
        lab_registry_free(registry);
        lab_config_free(config);
        return ret;
}
