/*
 * printer-private.h - what a printer driver provides to drivers/printer.c.
 *
 * Why: printer.c dispatches the public calls of printer.h to the driver a
 * printer's config names. A driver embeds lab_printer_t as the FIRST member
 * of its own struct, fills it with lab_printer_init(), and implements the
 * ops. Only drivers include this header.
 */
#pragma once

#include "printer.h"

typedef struct lab_printer_ops_s {
        const char *driver; /* "ipp", "hotfolder" */
        int (*open)(const lab_config_printer_t *cfg, lab_printer_t **ret, lab_error_t *err);
        void (*close)(lab_printer_t *p);
        int (*capabilities)(lab_printer_t *p, lab_printer_caps_t *ret, lab_error_t *err);
        int (*submit)(lab_printer_t *p, const lab_print_request_t *req, char **ret_handle,
                      lab_error_t *err);
        int (*job_status)(lab_printer_t *p, const char *handle, lab_pjob_status_t *ret,
                          lab_error_t *err);
        int (*cancel)(lab_printer_t *p, const char *handle, lab_error_t *err);
        int (*status)(lab_printer_t *p, lab_printer_status_t *ret, lab_error_t *err);
        int (*find_job)(lab_printer_t *p, const char *job_name, char **ret_handle,
                        lab_pjob_status_t *ret_status, lab_printer_memory_t *ret_memory,
                        lab_error_t *err);
        int (*watch_fd)(lab_printer_t *p);     /* NULL: -1 */
        void (*drain_watch)(lab_printer_t *p); /* NULL: nothing */
} lab_printer_ops_t;

struct lab_printer_s {
        const lab_printer_ops_t *ops;
        char *name;
        uint64_t timeout;     /* usec, printers[].timeout */
        uint64_t stall_after; /* usec, printers[].stall_after */
};

/* Fill the common part from cfg (copies the name). 0 or -ENOMEM. */
int lab_printer_init(lab_printer_t *p, const lab_printer_ops_t *ops,
                     const lab_config_printer_t *cfg);

/* Free the common part (not p itself). */
void lab_printer_done(lab_printer_t *p);

extern const lab_printer_ops_t lab_printer_ipp_ops;
extern const lab_printer_ops_t lab_printer_hotfolder_ops;
