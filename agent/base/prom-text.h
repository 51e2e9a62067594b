/*
 * prom-text.h - the Prometheus text exposition format (version 0.0.4), written into memory.
 *
 * Why: the lab's own monitoring reads the agent through node_exporter's
 * textfile collector (metrics.textfile), and one malformed line makes
 * node_exporter drop the whole file (node_textfile_scrape_error 1). The
 * rules that are easy to get wrong live here, once, unit-tested:
 *
 *   - a family is "# HELP" and "# TYPE" then its samples, all together,
 *     never declared twice; a family with no sample is not written at all;
 *   - names are checked ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without ':' and
 *     not "__..."), label values escaped (\\, \", \n) and made valid UTF-8
 *     (an invalid byte becomes U+FFFD: printers report supply names);
 *   - values in the shortest text that reads back as the same double,
 *     "+Inf"/"-Inf", and NaN never: an unknown figure is a sample not
 *     written, never a 0;
 *   - histograms as cumulative _bucket lines up to le="+Inf", _sum, _count.
 *
 * Pure: no I/O, no logging, no clock. The caller writes the text out.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest metric or label name accepted. */
#define LAB_PROM_NAME_MAX 128

/* The most bucket bounds a histogram has (the +Inf bucket not counted). */
#define LAB_PROM_BUCKETS_MAX 16

/* The largest text built (-E2BIG beyond). */
#define LAB_PROM_TEXT_MAX (16U * 1024U * 1024U)

typedef enum lab_prom_type_e {
        LAB_PROM_COUNTER,
        LAB_PROM_GAUGE,
        LAB_PROM_HISTOGRAM,
} lab_prom_type_t;

/* One label of a sample: name="value". */
typedef struct lab_prom_label_s {
        const char *name;
        const char *value;
} lab_prom_label_t;

/* A text being built. Zero it (= {0}) to start; lab_prom_done() frees it. */
typedef struct lab_prom_s {
        char *buf;
        size_t len, cap;
        int error; /* the first failure (-ENOMEM, -EINVAL, -E2BIG): sticky, nothing more written */
        /* the family being written */
        char family[LAB_PROM_NAME_MAX + 1];
        lab_prom_type_t type;
        char *help;          /* its HELP text, until its first sample writes the header */
        bool header_done;    /* its HELP and TYPE lines are written */
        size_t family_start; /* where its first sample line is */
        /* the families declared so far (never twice) */
        char **families;
        size_t n_families;
} lab_prom_t;

/* A histogram's figures: what lab_prom_histogram_observe() gathered. */
typedef struct lab_prom_histogram_s {
        double bounds[LAB_PROM_BUCKETS_MAX]; /* upper bounds, strictly increasing, finite */
        size_t n_bounds;
        uint64_t counts[LAB_PROM_BUCKETS_MAX + 1]; /* per bucket (not cumulative); the last: above
                                                      every bound */
        uint64_t count;                            /* observations */
        double sum;                                /* their sum */
} lab_prom_histogram_t;

/* Whether name is a valid metric name. */
bool lab_prom_name_valid(const char *name);

/* Whether name is a valid label name (no ':', not reserved "__..."). */
bool lab_prom_label_name_valid(const char *name);

/*
 * The text of value as the format writes it into buf: integers as such
 * ("42"), others in the fewest digits that read back as the same double
 * ("0.1", "3.6e-05"), "+Inf", "-Inf". -EDOM for NaN (never written),
 * -ENOBUFS when size is too small (32 always suffices).
 */
int lab_prom_format_value(double value, char *buf, size_t size);

/*
 * Start the family name of type, with its help text (one line; a newline or
 * a backslash in it is escaped). Its HELP and TYPE lines are written with
 * its first sample. -EINVAL (sticky) for an invalid name or a family
 * declared before.
 */
int lab_prom_family(lab_prom_t *p,        /* I/O - text */
                    const char *name,     /* I - family name, e.g. labagent_jobs */
                    lab_prom_type_t type, /* I - counter, gauge or histogram */
                    const char *help);    /* I - what it measures, in one line */

/*
 * A sample of the current counter or gauge family: name{labels} value.
 * NaN: nothing is written and 0 is returned (an unknown figure is left
 * out). -EINVAL (sticky) with no family, in a histogram family, for an
 * invalid or repeated label name or a NULL value.
 */
int lab_prom_sample(lab_prom_t *p, const lab_prom_label_t *labels, size_t n_labels, double value);

/*
 * Set up an empty histogram with n bucket bounds. -EINVAL for more than
 * LAB_PROM_BUCKETS_MAX, none, or bounds not finite and strictly increasing.
 */
int lab_prom_histogram_init(lab_prom_histogram_t *h, const double *bounds, size_t n);

/* Count one observation (NaN is ignored). */
void lab_prom_histogram_observe(lab_prom_histogram_t *h, double value);

/*
 * The current histogram family's samples for h: name_bucket{labels,le="B"}
 * for every bound and "+Inf" (cumulative), name_sum, name_count. -EINVAL
 * (sticky) with no histogram family, or for a label named "le".
 */
int lab_prom_histogram(lab_prom_t *p, const lab_prom_label_t *labels, size_t n_labels,
                       const lab_prom_histogram_t *h);

/*
 * The text built (NUL-terminated, "" when nothing was written; free() it)
 * and its length; p is emptied. NULL with *ret_error set (may be NULL) when
 * something failed.
 */
char *lab_prom_steal(lab_prom_t *p, size_t *ret_len, int *ret_error);

/* Free what p holds (it may be used again from zero). */
void lab_prom_done(lab_prom_t *p);
