/*
 * cli.h - labagent's subcommands besides running the daemon.
 */
#pragma once

/* `labagent render ...` (argv[0] is "render"). Returns the exit status. */
int lab_cli_render(int argc, char **argv, const char *default_config);

/*
 * `labagent --list-hotfolders [FILE]`: print the folder of every hotfolder printer in FILE
 * (enabled or not), one absolute path per line, for the systemd generator. Returns 0, or 1
 * (nothing printed) when the file is invalid or a folder holds a control character.
 */
int lab_cli_list_hotfolders(const char *path);
