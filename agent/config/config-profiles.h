/*
 * config-profiles.h - the lab's colour registry: which ICC profile, rendering
 * intent and black point compensation each printer model uses on each
 * paper, and each model's media table (native pixel sizes with bleed).
 *
 * Why: colour is what a lab sells, and a printer's real pixel geometry is
 * not inches × dpi (a DNP DS620 4x6 is 1240×1920 with bleed; a Mitsubishi
 * CP-D90 4x6 is 1226×1852). Both come from one YAML file that lab IT edits:
 * PROFILES_DIR/registry.yaml (profiles.directory in labagent.yaml), loaded
 * with the same strict rules and file:line:column errors as the main config.
 * Pure data and lookups; the ICC files themselves are checked by render-color.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Rendering intents, numbered as lcms2's INTENT_* constants. */
typedef enum lab_intent_e {
        LAB_INTENT_PERCEPTUAL = 0,
        LAB_INTENT_RELATIVE = 1, /* relative colorimetric */
        LAB_INTENT_SATURATION = 2,
        LAB_INTENT_ABSOLUTE = 3, /* absolute colorimetric */
} lab_intent_t;

/* What a printer model is sent. */
typedef enum lab_encoding_e {
        LAB_ENCODING_JPEG, /* 8-bit RGB JPEG, quality >= 95 */
        LAB_ENCODING_TIFF, /* RGB or CMYK TIFF, 8 or 16 bits (profile depth) */
        LAB_ENCODING_PWG,  /* PWG raster (IPP Everywhere) */
} lab_encoding_t;

/* One media size of a model: native pixels (what the printer prints: a CUPS queue's
   imageable area at dpi), portrait (width <= height). */
typedef struct lab_media_s {
        char *name;      /* PWG 5101.1 name, e.g. na_index-4x6_4x6in */
        unsigned width;  /* pixels */
        unsigned height; /* pixels */
        unsigned dpi;    /* for PWG raster and TIFF resolution tags */
} lab_media_t;

/* ICC profile for a model on a paper (media type). */
typedef struct lab_paper_profile_s {
        char *media_type; /* e.g. photographic-glossy */
        char *icc;        /* absolute path to the .icc/.icm file */
        lab_intent_t intent;
        bool bpc;       /* black point compensation */
        unsigned depth; /* output bits per channel: 8 or 16 */
} lab_paper_profile_t;

typedef struct lab_model_s {
        char *name; /* matches printers[].model in labagent.yaml */
        lab_encoding_t encoding;
        lab_media_t *media;
        size_t n_media;
        lab_paper_profile_t *papers;
        size_t n_papers;
} lab_model_t;

typedef struct lab_registry_s {
        char *path; /* the registry file */
        lab_model_t *models;
        size_t n_models;
} lab_registry_t;

/*
 * Load PATH (a registry.yaml). Relative ICC paths are resolved against the
 * registry file's directory. Problems are reported like the main config's
 * (lab_config_problems_t, "file:line:col: models[0].papers[1].icc: ...").
 * Whether the ICC files parse is NOT checked here (see render-color.h).
 */
int lab_registry_load(const char *path, lab_registry_t **ret, lab_config_problems_t *problems);

/* As lab_registry_load, from memory; name is used in reports and to resolve relative ICC paths. */
int lab_registry_load_buffer(const char *name, const char *buf, size_t len, lab_registry_t **ret,
                             lab_config_problems_t *problems);

/* Free a registry (NULL is fine). */
void lab_registry_free(lab_registry_t *r);

/* Lookups: NULL when absent. */
const lab_model_t *lab_registry_model(const lab_registry_t *r, const char *model);
const lab_media_t *lab_model_media(const lab_model_t *m, const char *media_name);
const lab_paper_profile_t *lab_model_paper(const lab_model_t *m, const char *media_type);

/* "perceptual", "relative", "saturation", "absolute". */
const char *lab_intent_name(lab_intent_t intent);

/* "jpeg", "tiff", "pwg". */
const char *lab_encoding_name(lab_encoding_t encoding);

/* The MIME type printers know the encoding by: image/jpeg, image/tiff, image/pwg-raster. */
const char *lab_encoding_mime(lab_encoding_t encoding);
