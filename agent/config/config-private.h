/*
 * config-private.h - what the config loader's files share and nobody else uses.
 *
 * Why: the loader is split by aspect (config.c: entry points and the problem
 * list; config-yaml.c: YAML events to a small node tree; config-schema.c: the
 * table of keys and the walker; config-units.c: durations, sizes, log levels).
 * This header is the seam between them. It is not part of the public API.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "macro.h"

#define LAB_CONFIG_MAX_FILE_SIZE ((size_t)1024 * 1024) /* larger files are refused */
#define LAB_CONFIG_MAX_PROBLEMS  100                   /* then one too_many_problems entry */
#define LAB_CONFIG_MAX_DEPTH     32 /* deeper nesting stops the parse; the schema needs 3 */

#define LAB_USEC_PER_MSEC UINT64_C(1000)
#define LAB_USEC_PER_SEC  UINT64_C(1000000)
#define LAB_USEC_PER_MIN  (UINT64_C(60) * LAB_USEC_PER_SEC)
#define LAB_USEC_PER_HOUR (UINT64_C(60) * LAB_USEC_PER_MIN)
#define LAB_USEC_PER_DAY  (UINT64_C(24) * LAB_USEC_PER_HOUR)

#define LAB_KIB UINT64_C(1024)
#define LAB_MIB (LAB_KIB * 1024)
#define LAB_GIB (LAB_MIB * 1024)

/* What a YAML node is; aliases are kept as their own kind so they can be refused. */
typedef enum lab_ynode_type_e {
        LAB_YNODE_SCALAR,
        LAB_YNODE_SEQUENCE,
        LAB_YNODE_MAPPING,
        LAB_YNODE_ALIAS,
} lab_ynode_type_t;

/* One node of the parsed document, with its 1-based position. */
typedef struct lab_ynode_s lab_ynode_t;
struct lab_ynode_s {
        lab_ynode_type_t type;
        unsigned line;       /* 1-based */
        unsigned column;     /* 1-based */
        bool plain;          /* scalar written without quotes or block style */
        bool anchored;       /* carries an &anchor */
        bool tagged;         /* carries an explicit !tag */
        char *value;         /* scalar text, NUL-terminated (may hold NULs inside) */
        size_t length;       /* scalar length in bytes */
        lab_ynode_t **items; /* sequence: items; mapping: key, value, key, value, ... */
        size_t n_items;
        size_t n_allocated;
};

/* The state of one load: where problems go and how many this load added. */
typedef struct lab_config_ctx_s {
        const char *file;                /* name used in problem reports */
        lab_config_problems_t *problems; /* caller's list, appended to */
        size_t first;                    /* index of this load's first problem */
        bool overflowed;                 /* more than LAB_CONFIG_MAX_PROBLEMS were found */
        int error;                       /* fatal error (-ENOMEM), 0 if none */
} lab_config_ctx_t;

/* A word of an enumerated value and the number it stands for. */
typedef struct lab_config_word_s {
        const char *word;
        int value;
} lab_config_word_t;

/* The log level names, terminated by a NULL word. */
extern const lab_config_word_t lab_config_log_levels[];

/* Append a problem for this load (1-based line/column, line 0: the whole file). */
int lab_config_problem_add(lab_config_ctx_t *ctx, unsigned line, unsigned column,
                           const char *key_path, const char *keyword, const char *fmt, ...)
    _printf_(6, 7);

/* True once the load should stop looking for more problems. */
static inline bool lab_config_ctx_stopped(const lab_config_ctx_t *ctx)
{
        return ctx->error < 0 || ctx->overflowed;
}

/* Number of problems this load has added so far. */
static inline size_t lab_config_ctx_count(const lab_config_ctx_t *ctx)
{
        return ctx->problems->n - ctx->first;
}

/* Parse buf into a node tree; YAML errors become problems and leave *ret NULL. */
int lab_yaml_read(lab_config_ctx_t *ctx, const char *buf, size_t len, lab_ynode_t **ret);

/* Free a node tree (NULL is fine). */
void lab_ynode_free(lab_ynode_t *n);
LAB_DEFINE_CLEANUP(lab_ynode_t *, lab_ynode_free)

/* Fill c with defaults and decode root (NULL: empty file) into it, reporting problems. */
int lab_config_schema_decode(lab_config_ctx_t *ctx, const lab_ynode_t *root, lab_config_t *c);

/* Free everything the schema allocated inside c (not c itself). */
void lab_config_schema_free(lab_config_t *c);

/* Value of word in words, or -EINVAL. */
int lab_config_word_lookup(const lab_config_word_t *words, const char *s);

/* Write words as "a, b, c" into buf. */
void lab_config_words_join(const lab_config_word_t *words, char *buf, size_t size);

/* Write usec in its largest exact unit ("5m", "1d", "250ms") into buf. */
void lab_format_duration(uint64_t usec, char *buf, size_t size);

/* Write bytes in its largest exact IEC unit ("1MiB", "20GiB", "17B") into buf. */
void lab_format_size(uint64_t bytes, char *buf, size_t size);

/*
 * ---- the schema walker, shared by every strict YAML document we read ----
 *
 * labagent.yaml (config-schema.c) and the profile registry (config-profiles.c) are
 * both described by tables of these descriptors and decoded by one walker,
 * so both get the same strictness, positions, key paths and keywords.
 */

/* What a key holds, and so how the walker decodes and frees it. */
typedef enum lab_schema_type_e {
        LAB_KEY_STRING,   /* char * */
        LAB_KEY_BOOL,     /* bool, plain true/false */
        LAB_KEY_UINT,     /* unsigned, plain decimal integer */
        LAB_KEY_NUMBER,   /* double, plain decimal number */
        LAB_KEY_DURATION, /* uint64_t usec */
        LAB_KEY_SIZE,     /* uint64_t bytes */
        LAB_KEY_ENUM,     /* int-sized enum, one of words */
        LAB_KEY_SECTION,  /* nested mapping, laid out inside the parent struct */
        LAB_KEY_LIST,     /* list of mappings: pointer + size_t count */
        LAB_KEY_MAP,      /* mapping of names to strings: lab_config_pair_t * + size_t count */
        LAB_KEY_STRINGS,  /* list of strings (each as LAB_KEY_STRING): char ** + size_t count */
} lab_schema_type_t;

typedef struct lab_schema_section_s lab_schema_section_t;

/* What a string validator returns: NULL when fine, else the sentence saying what is wrong. */
typedef const char *(*lab_string_check_t)(const char *s);

/*
 * What a LAB_KEY_MAP entry validator returns: NULL when the pair is fine,
 * else the problem's keyword, with the sentence in buf.
 */
typedef const char *(*lab_pair_check_t)(const char *name, const char *value, char *buf,
                                        size_t size);

/* One key of a section. */
typedef struct lab_schema_key_s {
        const char *name;
        lab_schema_type_t type;
        bool required;     /* missing_key when absent (and it applies to the selected variant) */
        unsigned only_for; /* bit mask of selector values this key belongs to; 0: all */
        size_t offset;     /* where the value lands, from the section's base */

        const char *def_string; /* LAB_KEY_STRING default, NULL: none */
        bool def_bool;
        double def_number;
        uint64_t def_uint; /* LAB_KEY_UINT, LAB_KEY_DURATION, LAB_KEY_SIZE */
        int def_enum;

        uint64_t min, max; /* LAB_KEY_UINT, LAB_KEY_DURATION, LAB_KEY_SIZE; max 0: no upper limit */
        double min_number, max_number;
        bool min_exclusive;

        const lab_config_word_t *words; /* LAB_KEY_ENUM */
        lab_string_check_t check;       /* LAB_KEY_STRING, LAB_KEY_STRINGS (each) */
        lab_pair_check_t pair_check;    /* LAB_KEY_MAP: each entry; NULL: any name and string */

        const lab_schema_section_t *section; /* LAB_KEY_SECTION, LAB_KEY_LIST elements */
        size_t count_offset; /* LAB_KEY_LIST, LAB_KEY_MAP, LAB_KEY_STRINGS: the size_t count */
        size_t element_size; /* LAB_KEY_LIST */
        const char *unique;  /* LAB_KEY_LIST: key whose value must be unique across elements;
                                LAB_KEY_STRINGS: non-NULL, the strings must be unique */
} lab_schema_key_t;

/* A mapping: its keys, and the enum key (if any) whose value selects which keys apply. */
struct lab_schema_section_s {
        const lab_schema_key_t *keys;
        size_t n_keys;
        const char *selector;
};

/*
 * Fill base with sec's defaults, then decode the document root (NULL: empty
 * file) into it by sec, reporting every problem. An empty document is one
 * wrong_type problem at 1:1 saying empty_text; a root that is not a mapping
 * is wrong_type "expected root_text". Returns ctx->error.
 */
int lab_schema_decode(lab_config_ctx_t *ctx, const lab_schema_section_t *sec,
                      const lab_ynode_t *root, void *base, const char *empty_text,
                      const char *root_text);

/* Free every string and list sec describes inside base (not base itself). */
void lab_schema_free(const lab_schema_section_t *sec, void *base);

/* The value node of mapping m under the scalar key name, or NULL (also when m is no mapping). */
const lab_ynode_t *lab_ynode_map_get(const lab_ynode_t *m, const char *name);

/*
 * Shared by every strict YAML file (labagent.yaml, the colour registry):
 * read ctx->file (at most 1 MiB; problems config_unreadable, file_too_large
 * naming what the file should have been), report that a buffer is too large,
 * and put a load's problems in document order with the too_many_problems cap.
 */
int lab_config_read_file(lab_config_ctx_t *ctx, const char *what, char **ret_buf, size_t *ret_len);
int lab_config_too_large(lab_config_ctx_t *ctx, const char *what);
int lab_config_problems_finish(lab_config_ctx_t *ctx);

/*
 * The two ends of loading a buffer as one of those files. Begin: the size
 * guard, then the YAML tree into *root; *decode says whether to decode it
 * (a tree, or an empty file with no problem yet; a syntax error leaves no
 * tree and a problem). End: the problems finished; -EINVAL if there are any.
 */
int lab_config_load_begin(lab_config_ctx_t *ctx, const char *what, const char *buf, size_t len,
                          lab_ynode_t **root, bool *decode);
int lab_config_load_end(lab_config_ctx_t *ctx);
