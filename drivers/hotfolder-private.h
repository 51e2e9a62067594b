/*
 * hotfolder-private.h - what a hot-folder format provides to the hot-folder
 * driver (printer-hotfolder.c), and the helpers the driver lends the formats.
 *
 * Why: every minilab speaks "files in a folder", but each lays them out and
 * answers differently (a JSON sidecar and done/error areas; a DPOF order
 * folder renamed by the machine; one folder per print size). The driver owns
 * what is the same for all of them (the handle, inotify, stall detection,
 * atomic publication, the item name); a format owns only its layout on disk
 * and how it reads the minilab's replies. A format never blocks on anything
 * but the file system and never keeps state in memory: everything it knows
 * about a job it reads back from the folder, so it is right after a restart.
 * The driver keeps its own memory of the folder in HF_STATE_DIR (the folder's
 * identity and a record of every item it published, so that an item the
 * minilab took and whose result is gone is never taken for one never sent);
 * a format must never take that directory for an item or a size folder.
 *
 * Adding a format: write hotfolder-<name>.c with a const hf_format_t, list it
 * in hotfolder.cmake, map its config word in hf_format_for() and document its
 * protocol in docs/hotfolders.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "printer-private.h"

/* Longest item name (the encoded job name); leaves room for prefixes and suffixes in NAME_MAX. */
#define HF_ITEM_MAX 180

/* Prefix of the driver's temporary files: minilabs must ignore names starting with '.'. */
#define HF_TMP_PREFIX ".labtmp-"

/*
 * The driver's own directory in the folder (minilabs ignore names starting
 * with '.'): folder-id (the folder's identity: when its memory began),
 * sent/<YYYY-MM-DD>/<item> (an empty file per publication, by the UTC day it
 * was made) and pruned-before (sends before that instant may have lost their
 * record). Layout and rules: docs/hotfolders.md, "What labagent keeps in the
 * folder".
 */
#define HF_STATE_DIR ".labagent"

/* Whole UTC days of sent records kept besides today's; older day directories are deleted. */
#define HF_SENT_KEEP_DAYS 30

typedef struct hf_format_s hf_format_t;

/* The hot-folder handle: embeds lab_printer_t first (printer-private.h). */
typedef struct hf_s {
        lab_printer_t base;
        char *folder;           /* the configured folder, absolute */
        const hf_format_t *fmt; /* its format */
        int inotify_fd;         /* IN_NONBLOCK; -1 if inotify could not be set up */
        uint64_t pruned_usec;   /* CLOCK_MONOTONIC of the last prune of the sent records, 0 never */
} hf_t;

/* One print size a format knows: the PWG name and the short name minilabs use. */
typedef struct hf_media_s {
        const char *pwg;        /* PWG 5101.1 self-describing name */
        const char *alias;      /* a second PWG name for the same size, or NULL */
        const char *short_name; /* "4x6": dnp sub-folder, sidecar media_size */
} hf_media_t;

/* What is waiting in the inbox, not yet taken up by the minilab (for stall detection). */
typedef struct hf_waiting_s {
        size_t n;                          /* items waiting */
        uint64_t oldest_usec;              /* CLOCK_REALTIME the oldest became visible, 0 none */
        char oldest_item[HF_ITEM_MAX + 1]; /* its item name */
} hf_waiting_t;

/* Where submit() finds the print file, and what it learns while copying it. */
typedef struct hf_source_s {
        const char *path; /* the print file to copy, or NULL for data */
        const void *data; /* bytes to write when path is NULL */
        size_t size;      /* of data */
        uint64_t bytes;   /* O: bytes written */
        char sha256[65];  /* O: lowercase hex of what was written */
} hf_source_t;

struct hf_format_s {
        const char *name; /* config word: generic, noritsu, dnp */
        /* Lay out one submission for item atomically; nothing visible on failure. */
        int (*submit)(hf_t *h, const lab_print_request_t *req, const char *item, lab_error_t *err);
        /* Read where item stands from the folder: 0, -ENOENT (not there at all), -errno. */
        int (*item_status)(hf_t *h, const char *item, lab_pjob_status_t *ret);
        /* Withdraw a pending item before the minilab takes it (atomic). -EBUSY if it lost the race.
         */
        int (*cancel)(hf_t *h, const char *item, lab_error_t *err);
        /* Count the items waiting to be taken up and find the oldest. */
        int (*waiting)(hf_t *h, hf_waiting_t *ret);
        /* Fill st->media with the sizes this folder takes now. */
        void (*loaded_media)(hf_t *h, lab_printer_status_t *st);
        /* Call hf_watch() for each directory (relative to the folder) where replies land. */
        void (*watch)(hf_t *h);
};

extern const hf_format_t hf_format_generic;
extern const hf_format_t hf_format_noritsu;
extern const hf_format_t hf_format_dnp;

/* ---- pure helpers (unit-tested) ---- */

/* The format for a config word's enum value, or NULL. */
const hf_format_t *hf_format_for(lab_hotfolder_format_t f);

/*
 * Encode a job name as an item name: [A-Za-z0-9-] stay, '.' and '_' stay
 * except first, everything else is %XX (uppercase hex). Reversible. 0,
 * -EINVAL (empty), -ENAMETOOLONG (more than HF_ITEM_MAX bytes encoded).
 */
int hf_item_encode(const char *job_name, char *buf, size_t size);

/* Decode an item name back to the job name. 0, -EINVAL (not an item name), -ENAMETOOLONG. */
int hf_item_decode(const char *item, char *buf, size_t size);

/* The sizes the formats know, in table order; *n is set to their count. */
const hf_media_t *hf_media_table(size_t *n);

/* Look up a PWG media name (or its alias). NULL when unknown. */
const hf_media_t *hf_media_find(const char *pwg);

/* Look up a short name ("4x6"). NULL when unknown. */
const hf_media_t *hf_media_find_short(const char *short_name);

/*
 * Every size of the media table as loaded: for formats where any size may be
 * sent (generic: the sidecar names the size; Noritsu: the machine's channel
 * decides the paper).
 */
void hf_all_media(hf_t *h, lab_printer_status_t *st);

/* File name extension for a MIME type: "jpg", "tif"; NULL when a format cannot take it. */
const char *hf_mime_ext(const char *mime);

/* Copy a minilab's reason text into buf: one line, control characters as spaces, trimmed. */
void hf_reason_clean(const char *text, size_t len, char *buf, size_t size);

/*
 * Parse the identity file HF_STATE_DIR/folder-id: exactly "<32 lowercase hex
 * digits> <seconds>\n", seconds (CLOCK_REALTIME when it was made) > 0 without
 * leading zeros. 0 with *ret_created, or -EINVAL.
 */
int hf_folder_id_parse(const char *text, size_t len, int64_t *ret_created);

/* The sent-record day directory name of instant t (UTC "YYYY-MM-DD"). 0, or -EINVAL. */
int hf_sent_day_name(int64_t t, char *buf, size_t size);

/* The first second (UTC) of a day directory name, or -1 when name is not one (canonical only). */
int64_t hf_sent_day_parse(const char *name);

/*
 * From when the sent records are complete (lab_printer_memory_t.complete_since):
 * the latest of the folder's identity (boot), the start of the oldest day kept
 * (HF_SENT_KEEP_DAYS before now's day) and the last prune's mark
 * (pruned_before, 0 none). 0 when boot is unknown (0).
 */
int64_t hf_sent_complete_since(int64_t boot, int64_t pruned_before, int64_t now);

/* ---- I/O helpers for the formats ---- */

/* asprintf into a fresh string; NULL on out of memory. */
char *hf_strf(const char *fmt, ...) _printf_(1, 2);

/* mkdir dir (0755) unless it is a directory already: 1 when made now, 0 when it was there, or a
 * negative errno. */
int hf_mkdir(const char *dir);

/* Whether path exists (lstat); *mtime_usec (if not NULL) gets its modification time. */
bool hf_exists(const char *path, uint64_t *mtime_usec);

/*
 * Publish src atomically under dir/names[0..n): write it once to a temporary
 * name (HF_TMP_PREFIX...), fsync it, hard-link it to names[0..n-1) (copying
 * instead where the file system has no hard links), rename it to names[n-1],
 * fsync dir. On failure removes what it made (the temporary and any name
 * already published) and fills err: hotfolder_unwritable (write side, with
 * the errno text) or printer_file_error (the source cannot be read).
 */
int hf_publish(hf_t *h, const char *dir, const char *const *names, size_t n, hf_source_t *src,
               lab_error_t *err);

/* Read a minilab's reason file into buf (cleaned). 0, or the negative errno of open/read. */
int hf_read_reason(const char *path, char *buf, size_t size);

/* Remove a tree of at most a few levels (an order folder). 0 or the first negative errno. */
int hf_rm_rf(const char *path);

/* Watch folder/rel (or the folder itself for "") with inotify, if it exists. */
void hf_watch(hf_t *h, const char *rel);

/* Count item, visible since mtime_usec (CLOCK_REALTIME), as waiting in w; the oldest names it. */
void hf_waiting_add(hf_waiting_t *w, const char *item, uint64_t mtime_usec);

/*
 * The items waiting in the inbox (the folder itself), counted into ret: every
 * entry named "<item><suffix>" ("" for none) with a valid item name, and that
 * is a directory when dirs_only. 0, or the negative errno of opendir.
 */
int hf_inbox_waiting(hf_t *h, const char *suffix, bool dirs_only, hf_waiting_t *ret);

/* Fill err with hotfolder_unwritable for errno r while doing what on path. Returns r. */
int hf_unwritable(hf_t *h, lab_error_t *err, int r, const char *what, const char *path);
