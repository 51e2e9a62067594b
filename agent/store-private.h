/*
 * store-private.h - what store.c, store-schema.c and the store's own tests
 * share, and nobody else may include.
 *
 * Why: the migrations are plain data kept apart from the code that runs them
 * (store-schema.c), and the tests need to look at the live connection (the
 * per-connection pragmas cannot be seen from a second connection). Both are
 * internals of the store module, so they live here rather than in store.h,
 * which stays free of sqlite3.h.
 */
#pragma once

#include <sqlite3.h>

#include "store.h"

/* The SQL script that migrates schema version-1 to version (1..latest), or NULL. */
const char *lab_store_migration_sql(int version);

/* The store's own connection, for the store's tests only. */
sqlite3 *lab_store_sqlite(lab_store_t *s);
