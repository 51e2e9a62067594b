/*
 * error.c - fill the keyword-plus-sentence errors of error.h.
 */
#include <stdarg.h>
#include <string.h>

#include "error.h"

int lab_error_set(lab_error_t *e, int err, const char *keyword, const char *fmt, ...)
{
        if (e) {
                va_list ap;

                snprintf(e->keyword, sizeof e->keyword, "%s", keyword);
                va_start(ap, fmt);
                vsnprintf(e->message, sizeof e->message, fmt, ap);
                va_end(ap);
        }
        return err > 0 ? -err : (err < 0 ? err : -EINVAL);
}

void lab_error_clear(lab_error_t *e)
{
        if (e)
                memset(e, 0, sizeof *e);
}
