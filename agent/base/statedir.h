/*
 * statedir.h - the state directory and the single-instance lock on it.
 *
 * Why: two daemons writing the same store would both think they own the
 * same jobs and could print an order twice. The first daemon takes an
 * exclusive flock on STATE_DIR/labagent.lock and holds it until it exits
 * (the kernel drops it even after SIGKILL); a second one is refused.
 */
#pragma once

#include "error.h"

#define LAB_STATEDIR_DEFAULT "/var/lib/labagent"
#define LAB_STORE_FILENAME   "labagent.db"
#define LAB_LOCK_FILENAME    "labagent.lock"

/*
 * Create dir if missing (mode 0750), take the lock and write our pid into
 * the lock file. Returns the lock fd (>= 0) to keep open for the process
 * lifetime, or a negative errno with err set: state_dir_unusable,
 * state_locked (another labagent holds it).
 */
int lab_statedir_lock(const char *dir, lab_error_t *err);
