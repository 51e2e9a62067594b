/*
 * testutil.h - the few helpers every labagent test needs: a private temporary
 * directory that is removed afterwards, and whole-file read/write.
 *
 * Why: tests work on real files (a real SQLite file, a real config file), so
 * each needs a scratch directory of its own; one implementation here keeps
 * them from each growing a copy.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Create a fresh directory under $TMPDIR (or /tmp); returns a malloc'd path. Aborts on failure. */
char *lab_test_mkdtemp(const char *tag);

/* Remove a directory tree (best effort, bounded depth). */
void lab_test_rm_rf(const char *path);

/* Join dir and name into a malloc'd path. */
char *lab_test_path(const char *dir, const char *name);

/* A malloc'd string of n copies of c (over-long ids, names, lines). Aborts on failure. */
char *lab_test_repeat(char c, size_t n);

/* Write len bytes to path (0600), replacing it. Aborts on failure. */
void lab_test_write_file(const char *path, const void *data, size_t len);

/* Write a NUL-terminated string to path. */
void lab_test_write_string(const char *path, const char *s);

/* Read a whole file; returns malloc'd bytes (NUL-terminated) or NULL; *len if not NULL. */
char *lab_test_read_file(const char *path, size_t *len);

/* Monotonic clock in milliseconds. */
long long lab_test_now_ms(void);
