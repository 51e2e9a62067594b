/*
 * amount.h - a number of stock units as a person reads it.
 *
 * Why: the console's sentences ("only 400 prints are left") and labctl's
 * tables print the same figures; one function writes them both ways alike.
 * Pure, no libm: labctl compiles this file into its format library.
 */
#pragma once

#include <stddef.h>

/*
 * Whole numbers as such ("400"), others with at most two decimals ("12.5",
 * "0.33"), never "-0"; "-" when not finite. Writes into buf and returns it.
 */
char *lab_format_amount(double v, char *buf, size_t size);
