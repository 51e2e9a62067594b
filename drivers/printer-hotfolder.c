/*
 * printer-hotfolder.c - placeholder until the hotfolder driver lands.
 */
#include <errno.h>

#include "printer-private.h"

static int hotfolder_open(const lab_config_printer_t *cfg, lab_printer_t **ret, lab_error_t *err)
{
        return lab_error_set(err, EOPNOTSUPP, "printer_config", "printer %s: the hotfolder driver is not built yet", cfg->name);
}

const lab_printer_ops_t lab_printer_hotfolder_ops = {.driver = "hotfolder", .open = hotfolder_open};
