/*
 * error.h - the stable error a person reads: a keyword plus a sentence.
 *
 * Why: every fault a technician or lab IT sees (bad config, refused store,
 * wrong certificate, ...) carries a documented keyword that never changes
 * (`store_corrupt`) and a sentence that says what to do about it. Modules
 * fill a lab_error_t; callers log or print it without rewording it.
 */
#pragma once

#include "macro.h"

#define LAB_ERROR_KEYWORD_MAX 48
#define LAB_ERROR_MESSAGE_MAX 1024

typedef struct lab_error_s {
        char keyword[LAB_ERROR_KEYWORD_MAX]; /* stable, documented, snake_case */
        char message[LAB_ERROR_MESSAGE_MAX]; /* a sentence a person can act on */
} lab_error_t;

/* Fill *e (if not NULL) with keyword and a formatted message. Returns -err (negative errno). */
int lab_error_set(lab_error_t *e, int err, const char *keyword, const char *fmt, ...)
    _printf_(4, 5);

/* Clear *e. */
void lab_error_clear(lab_error_t *e);

/* True when *e holds an error. */
static inline int lab_error_isset(const lab_error_t *e)
{
        return e && e->keyword[0] != '\0';
}
