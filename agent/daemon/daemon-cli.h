/*
 * daemon-cli.h - labagent's subcommands besides running the daemon.
 */
#pragma once

#include "config.h"

/* `labagent render ...` (argv[0] is "render"). Returns the exit status. */
int lab_cli_render(int argc, char **argv, const char *default_config);

/*
 * `labagent --list-hotfolders [FILE]`: print the folder of every hotfolder printer in FILE
 * (enabled or not), one absolute path per line, for the systemd generator. Returns 0, or 1
 * (nothing printed) when the file is invalid or a folder holds a control character.
 */
int lab_cli_list_hotfolders(const char *path);

/*
 * --check-config, at the printers: every printers[].media name of an enabled
 * IPP printer against its queue's sizes (a problem each, on stderr), and the
 * queue's colour-altering defaults (a warning). A printer that does not
 * answer within 5 s is a warning. Returns the number of problems.
 */
unsigned lab_cli_check_queues(const char *path, const lab_config_t *c);
