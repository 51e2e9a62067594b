/*
 * fuzz-hotfolder.c - fuzz target for what the hot-folder driver reads back
 * from a minilab's folder: item names (the folder listing, decoded to job
 * names when a job is looked for after a restart), reason texts (error
 * files, ERROR.TXT, a sidecar's error field) and media short names (DNP
 * sub-folders). A minilab or anyone who can write the share controls them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hotfolder-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char reason[256], name[LAB_PRINTER_JOB_NAME_MAX], item[HF_ITEM_MAX + 1];
        char *text = malloc(size + 1);

        hf_reason_clean((const char *)data, size, reason, sizeof reason);
        if (strlen(reason) >= sizeof reason)
                abort();
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        /* A name that decodes must encode back to itself (the encoding is reversible). */
        if (hf_item_decode(text, name, sizeof name) == 0 &&
            hf_item_encode(name, item, sizeof item) == 0 && strcmp(item, text) != 0 &&
            strlen(text) == size)
                abort();
        (void)hf_media_find_short(text);
        (void)hf_media_find(text);
        free(text);
        return 0;
}
