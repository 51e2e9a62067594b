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

/*
 * PRAGMA application_id of every labagent store ("LabA"). Migration 1 sets
 * it; a file that has tables but not this id belongs to someone else and is
 * refused (store_foreign) rather than migrated.
 */
#define LAB_STORE_APPLICATION_ID     0x4C616241
#define LAB_STORE_APPLICATION_ID_SQL "1281450561"

/* The SQL script that migrates schema version-1 to version (1..latest), or NULL. */
const char *lab_store_migration_sql(int version);

/* The store's own connection, for the store's tests only. */
sqlite3 *lab_store_sqlite(lab_store_t *s);
