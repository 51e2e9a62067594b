/*
 * fuzz-ipp.c - fuzz target for what the IPP driver learns from a printer.
 *
 * A printer's answers come from the network. The bytes are read as an IPP
 * message by libcups (ippReadIO, as the driver's connection does) and every
 * conversion in drivers/ipp-attrs.c is run on the result: printer status,
 * capabilities, job status, find-by-name; the raw bytes also go through the
 * printer-supply and marker-message parsers. Seeds: answers of a real
 * ippeveprinter (tests/fuzz/corpus/ipp).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipp-attrs.h"

typedef struct {
        const uint8_t *data;
        size_t size, pos;
} fuzz_src_t;

/* ippReadIO callback: hand out the next bytes of the input. */
static ssize_t fuzz_read(void *ctx, ipp_uchar_t *buf, size_t len)
{
        fuzz_src_t *src = ctx;
        size_t n = src->size - src->pos < len ? src->size - src->pos : len;

        memcpy(buf, src->data + src->pos, n);
        src->pos += n;
        return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_src_t src = {data, size, 0};
        ipp_t *msg = ippNew();
        lab_printer_status_t status;
        lab_printer_caps_t caps = {0};
        lab_pjob_status_t job;
        lab_supply_t supply = {0};
        int job_id;
        int64_t oldest_end, up;
        bool is_uptime;
        char *text;

        if (ippReadIO(&src, fuzz_read, 1, NULL, msg) == IPP_STATE_DATA) {
                memset(&status, 0, sizeof status);
                lab_ipp_printer_status_from(msg, &status);
                if (lab_ipp_caps_from(msg, &caps) == 0)
                        lab_printer_caps_done(&caps);
                memset(&job, 0, sizeof job);
                lab_ipp_job_status_from(msg, &job);
                memset(&job, 0, sizeof job);
                (void)lab_ipp_find_job(msg, "job-1/1/1", &job_id, &job, &oldest_end);
                (void)lab_ipp_up_time(msg, &up, &is_uptime);
        }
        ippDelete(msg);

        (void)lab_ipp_supply_parse((const char *)data, size, &supply);
        text = malloc(size + 1);
        if (text) {
                memcpy(text, data, size);
                text[size] = '\0';
                (void)lab_ipp_marker_remaining(text);
                free(text);
        }
        return 0;
}
