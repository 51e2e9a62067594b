/*
 * daemon-cli-paths.c - `labagent --list-hotfolders [FILE]`: the hot folders the
 * configuration names, one absolute path per line.
 *
 * Why: the service runs with ProtectSystem=strict, so the only places it may
 * write are its state directory and the paths the unit lists in
 * ReadWritePaths=. Which hot folders exist is the lab's business and lives in
 * the config, not in the unit; the systemd generator
 * (packaging/labagent-generator) asks the daemon for them at every
 * daemon-reload and writes the drop-in. The daemon's own loader decides, so
 * the generator never parses YAML.
 *
 * Must never print a path that cannot be written on one line: a folder with a
 * control character is refused (exit 1) instead of being split or mangled.
 * Prints nothing and exits 1 for an invalid file (problems on stderr), so the
 * generator keeps the unit as packaged rather than opening a wrong path.
 */
#include <stdbool.h>
#include <stdio.h>

#include "daemon-cli.h"
#include "config.h"

/* True when s contains a byte below 0x20 or DEL. Pure. */
static bool lab_has_control_char(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

int lab_cli_list_hotfolders(const char *path)
{
        lab_config_problems_t problems = {0};
        lab_config_t *config = NULL;
        int r, ret = 0;

        r = lab_config_load_file(path, &config, &problems);
        if (r < 0) {
                lab_config_problems_print(&problems, stderr);
                fprintf(stderr,
                        "%s: %zu problem(s); configuration NOT valid, no hot folders listed\n",
                        path, problems.n);
                lab_config_problems_clear(&problems);
                return 1;
        }
        for (size_t i = 0; i < config->n_printers; i++) {
                const lab_config_printer_t *p = &config->printers[i];

                if (p->driver != LAB_PRINTER_DRIVER_HOTFOLDER || !p->folder)
                        continue;
                if (lab_has_control_char(p->folder)) {
                        fprintf(stderr,
                                "%s: printers[%zu].folder: contains a control character; it "
                                "cannot be listed one per line [bad_value]\n",
                                path, i);
                        ret = 1;
                }
        }
        if (ret == 0)
                for (size_t i = 0; i < config->n_printers; i++) {
                        const lab_config_printer_t *p = &config->printers[i];

                        if (p->driver == LAB_PRINTER_DRIVER_HOTFOLDER && p->folder)
                                printf("%s\n", p->folder);
                }
        lab_config_free(config);
        if (fflush(stdout) != 0)
                return 1;
        return ret;
}
