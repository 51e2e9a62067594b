/*
 * cli.h - labagent's subcommands besides running the daemon.
 */
#pragma once

/* `labagent render ...` (argv[0] is "render"). Returns the exit status. */
int lab_cli_render(int argc, char **argv, const char *default_config);
