/*
 * render-plan.h - what rendering a product for a printer means: the model's
 * media size, the paper's ICC profile, intent and BPC, the product's fit and
 * sharpening, the lab's guards.
 *
 * Why: the daemon and `labagent render` must render with exactly the same
 * parameters, so that what lab IT tries by hand is what the lab prints. One
 * function resolves printer → model → media and paper from the config and
 * the colour registry; both use it.
 */
#pragma once

#include "config.h"
#include "error.h"
#include "config-profiles.h"
#include "render.h"

typedef struct lab_render_plan_s {
        const lab_config_printer_t *printer;
        const lab_config_product_t *product;
        const lab_model_t *model;
        const lab_media_t *media;
        const lab_paper_profile_t *paper;
        lab_render_params_t params; /* all but input, output and crop */
} lab_render_plan_t;

/*
 * Resolve printer × product. Pure: pointers into c and reg, valid while they
 * live. Error keywords: unknown_printer, unknown_sku, unknown_model,
 * media_unsupported, paper_unsupported.
 */
int lab_render_plan(const lab_config_t *c, const lab_registry_t *reg, const char *printer,
                    const char *sku, lab_render_plan_t *ret, lab_error_t *err);

/*
 * Check that the plan's ICC profile can take the output: an RGB output
 * profile (JPEG, PWG raster), or RGB or CMYK for a TIFF model, with the
 * plan's intent. Reads the profile (lcms2); keywords as render-color.h.
 */
int lab_render_plan_check_profile(const lab_render_plan_t *plan, lab_error_t *err);
