/*
 * energy-media.h - a print's media area from its PWG 5101.1 size name (pure).
 *
 * Why: an interval's energy is shared among its copies by media area
 * (energy-share.h), and a product names its media by a PWG 5101.1
 * self-describing name ("na_index-4x6_4x6in", "iso_a4_210x297mm"), whose
 * last part is the size itself. Reading it here needs no printer, no
 * libcups and no registry, so the sampler can weigh a copy printed on any
 * printer, today or from a job of last week.
 */
#pragma once

/* Area in mm² of the PWG self-describing name's WxH part ("_4x6in", "_210x297mm",
   "_3.5x5in"): 0 and *ret_mm2, or -EINVAL for a name that has none (no size, a unit
   other than in or mm, a side 0 or over 10 m). */
int lab_energy_media_area(const char *pwg_name, double *ret_mm2);
