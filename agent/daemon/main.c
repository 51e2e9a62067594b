/*
 * main.c - the labagent command line: run the daemon, or check a config file.
 *
 *   labagent [--config FILE] [--state-dir DIR] [--log-level LEVEL]
 *   labagent --check-config [FILE]     (exit 0: valid, 1: not, like nginx -t)
 *   labagent render [--config FILE] --printer NAME --product SKU IN OUT
 *   labagent --list-hotfolders [FILE]  (for the systemd generator)
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon-cli.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "config-profiles.h"
#include "energy-stage.h"
#include "meter.h"
#include "platform-http-get.h"

#define LAB_CONFIG_DEFAULT "/etc/labagent/labagent.yaml"

/* Print usage to f. */
static void usage(FILE *f)
{
        fprintf(f,
                "Usage: labagent [OPTIONS]\n"
                "       labagent --check-config [FILE]\n"
                "       labagent render [--config FILE] --printer NAME --product SKU IN OUT\n"
                "       labagent --list-hotfolders [FILE]\n"
                "\n"
                "The lab-side fulfillment agent of the photo-printing platform.\n"
                "\n"
                "  -c, --config FILE      configuration file (default %s)\n"
                "  -s, --state-dir DIR    state directory (default: storage.state_dir)\n"
                "  -l, --log-level LEVEL  error, warning, notice, info or debug\n"
                "                         (default: logging.level)\n"
                "  -t, --check-config     validate the configuration and exit 0 or 1\n"
                "      --list-hotfolders  print the hot folders the configuration names\n"
                "  -h, --help             show this help\n"
                "      --version          show the version\n",
                LAB_CONFIG_DEFAULT);
}

/*
 * --check-config: each meter's settings as its driver takes them (an address
 * it cannot use, a file driver's scale), without talking to it. Returns the
 * number of meters refused, each printed as file: meters[i]: keyword: sentence.
 */
static int check_meters(const char *path, const lab_config_t *config)
{
        int bad = 0;

        for (size_t i = 0; i < config->n_meters; i++) {
                lab_meter_settings_t settings;
                lab_meter_t *m = NULL;
                lab_error_t err = {0};

                if (lab_energy_meter_settings(&config->meters[i], lab_platform_http_get, &settings,
                                              &err) < 0 ||
                    lab_meter_open(&settings, &m, &err) < 0) {
                        fprintf(stderr, "%s: meters[%zu]: %s: %s\n", path, i, err.keyword,
                                err.message);
                        bad++;
                }
                lab_meter_close(m);
        }
        return bad;
}

/*
 * --check-config: the config file, then the colour registry it points at
 * (profiles.directory/registry.yaml), then the printers[].media names at the
 * queues that answer (lab_cli_check_queues). Prints every problem; returns 0
 * (valid) or 1. A registry that is not there is a warning: the daemon runs without
 * rendering until one is installed.
 */
static int check_config(const char *path)
{
        lab_config_problems_t problems = {0};
        _cleanup_free_ char *registry_path = NULL;
        lab_registry_t *registry = NULL;
        lab_config_t *config = NULL;
        int r;

        r = lab_config_load_file(path, &config, &problems);
        if (r < 0) {
                lab_config_problems_print(&problems, stderr);
                fprintf(stderr, "%s: %zu problem(s); configuration NOT valid\n", path, problems.n);
                lab_config_problems_clear(&problems);
                return 1;
        }
        if (asprintf(&registry_path, "%s/registry.yaml", config->profiles.directory) < 0)
                registry_path = NULL;
        if (registry_path && access(registry_path, F_OK) < 0) {
                fprintf(stderr,
                        "%s: warning: no colour registry at %s (profiles.directory); jobs cannot "
                        "be rendered until one is installed\n",
                        path, registry_path);
        } else if (registry_path && lab_registry_load(registry_path, &registry, &problems) < 0) {
                lab_config_problems_print(&problems, stderr);
                fprintf(stderr, "%s: %zu problem(s); colour registry NOT valid\n", registry_path,
                        problems.n);
                lab_config_problems_clear(&problems);
                lab_config_free(config);
                return 1;
        }
        if (check_meters(path, config) > 0) {
                fprintf(stderr, "%s: configuration NOT valid for its meters\n", path);
                lab_registry_free(registry);
                lab_config_free(config);
                return 1;
        }
        if (lab_cli_check_queues(path, config) > 0) {
                fprintf(stderr, "%s: configuration NOT valid for its printers\n", path);
                lab_registry_free(registry);
                lab_config_free(config);
                return 1;
        }
        printf("%s: configuration ok\n", path);
        lab_registry_free(registry);
        lab_config_free(config);
        return 0;
}

int main(int argc, char **argv)
{
        enum { OPT_VERSION = 0x100, OPT_LIST_HOTFOLDERS };
        static const struct option options[] = {
            {"config", required_argument, NULL, 'c'},
            {"state-dir", required_argument, NULL, 's'},
            {"log-level", required_argument, NULL, 'l'},
            {"check-config", no_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, OPT_VERSION},
            {"list-hotfolders", no_argument, NULL, OPT_LIST_HOTFOLDERS},
            {},
        };
        lab_daemon_options_t opts = {
            .config_path = LAB_CONFIG_DEFAULT, .log_level = -1, .argv0 = argv[0]};
        bool check = false, list_hotfolders = false;
        int c;

        if (argc > 1 && strcmp(argv[1], "render") == 0)
                return lab_cli_render(argc - 1, argv + 1, LAB_CONFIG_DEFAULT);

        while ((c = getopt_long(argc, argv, "c:s:l:th", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        opts.config_path = optarg;
                        break;
                case 's':
                        opts.state_dir = optarg;
                        break;
                case 'l':
                        opts.log_level = lab_parse_log_level(optarg);
                        if (opts.log_level < 0) {
                                fprintf(stderr,
                                        "labagent: unknown log level '%s' (use error, "
                                        "warning, notice, info or debug)\n",
                                        optarg);
                                return LAB_EXIT_USAGE;
                        }
                        break;
                case 't':
                        check = true;
                        break;
                case 'h':
                        usage(stdout);
                        return LAB_EXIT_OK;
                case OPT_LIST_HOTFOLDERS:
                        list_hotfolders = true;
                        break;
                case OPT_VERSION:
                        printf("labagent %s\n", LABAGENT_VERSION);
                        return LAB_EXIT_OK;
                default:
                        usage(stderr);
                        return LAB_EXIT_USAGE;
                }
        }

        if (list_hotfolders) {
                if (check || argc - optind > 1) {
                        usage(stderr);
                        return LAB_EXIT_USAGE;
                }
                return lab_cli_list_hotfolders(optind < argc ? argv[optind] : opts.config_path);
        }
        if (check) {
                if (argc - optind > 1) {
                        usage(stderr);
                        return LAB_EXIT_USAGE;
                }
                return check_config(optind < argc ? argv[optind] : opts.config_path);
        }
        if (optind < argc) {
                fprintf(stderr, "labagent: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return LAB_EXIT_USAGE;
        }

        lab_log_open(LAB_LOG_TARGET_AUTO);
        return lab_daemon_main(&opts);
}
