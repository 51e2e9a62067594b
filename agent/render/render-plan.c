/*
 * render-plan.c - resolve printer × product into render parameters (see render-plan.h).
 */
#include <errno.h>

#include "render-color.h"
#include "render-plan.h"

int lab_render_plan(const lab_config_t *c, const lab_registry_t *reg, const char *printer,
                    const char *sku, lab_render_plan_t *ret, lab_error_t *err)
{
        lab_render_plan_t p = {0};

        *ret = p;
        p.printer = lab_config_find_printer(c, printer);
        if (!p.printer)
                return lab_error_set(err, ENOENT, "unknown_printer", "no printer %s in %s", printer,
                                     c->path);
        p.product = lab_config_find_product(c, sku);
        if (!p.product)
                return lab_error_set(err, ENOENT, "unknown_sku", "no product %s in %s", sku,
                                     c->path);
        p.model = p.printer->model && reg ? lab_registry_model(reg, p.printer->model) : NULL;
        if (!p.model)
                return lab_error_set(err, ENOENT, "unknown_model",
                                     "printer %s has model %s, which %s does not describe", printer,
                                     p.printer->model ? p.printer->model : "(none)",
                                     reg ? reg->path : "the colour registry (not loaded)");
        p.media = lab_model_media(p.model, p.product->media);
        if (!p.media)
                return lab_error_set(err, ENOENT, "media_unsupported",
                                     "model %s has no media %s (product %s) in %s", p.model->name,
                                     p.product->media, sku, reg->path);
        p.paper = lab_model_paper(p.model, p.product->media_type);
        if (!p.paper)
                return lab_error_set(err, ENOENT, "paper_unsupported",
                                     "model %s has no profile for paper %s (product %s) in %s",
                                     p.model->name, p.product->media_type, sku, reg->path);
        p.params = (lab_render_params_t){
            .width = p.media->width,
            .height = p.media->height,
            .dpi = p.media->dpi,
            .fit = p.product->fit,
            .output_profile = p.paper->icc,
            .intent = p.paper->intent,
            .bpc = p.paper->bpc,
            .depth = p.paper->depth,
            .encoding = p.model->encoding,
            .sharpen_sigma = p.product->sharpen,
            .max_input_bytes = c->storage.max_asset_size,
            .max_input_pixels = c->render.max_pixels,
        };
        *ret = p;
        return 0;
}

int lab_render_plan_check_profile(const lab_render_plan_t *plan, lab_error_t *err)
{
        return lab_color_check_printer_profile(plan->paper->icc, plan->model->encoding,
                                               plan->paper->intent, err);
}
