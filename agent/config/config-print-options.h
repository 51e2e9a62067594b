/*
 * config-print-options.h - which printer driver options a lab may set
 * (printers[].options), and which of them would alter colour.
 *
 * Why: the agent applies the lab's ICC paper profile itself, so every
 * colour adjustment after it (cups-filters' gamma, brightness, saturation,
 * hue; Gutenprint's colour correction, gamma and balance curves; monochrome)
 * manages colour a second time and silently changes the print. One rule,
 * pure, used by --check-config and the daemon for the config, and by the IPP
 * driver for what a queue's defaults hold at every health check.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether name=value changes the pixels the agent sends (after its ICC
 * transform). true with a sentence in why (may be NULL) naming the neutral
 * setting. Unknown options are not colour options: false.
 */
bool lab_print_option_alters_colour(const char *name, const char *value, char *why, size_t size);

/*
 * The check of one printers[].options entry (a lab_pair_check_t): NULL when
 * fine; else the keyword (bad_value: not a name or value an IPP job
 * attribute can carry; option_reserved: the agent sets it on every job;
 * colour_managed_twice: it alters colour) with the sentence in buf.
 */
const char *lab_print_option_check(const char *name, const char *value, char *buf, size_t size);
