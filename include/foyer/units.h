/*
 * units.h - how a value is written for people and for files: the one table
 * of fixed precisions per stored unit (daemon/util/util_units.c), used by
 * foyerctl status, events and export, and meant for every room that shows
 * a reading (the HTTP room includes it: util is below every room), so a
 * figure reads the same everywhere; and the small text helpers that tables
 * and sentences need (display width of UTF-8, plurals, thousands grouped
 * with a language file's separator, as the summaries' text does).
 *
 * Why fixed precisions: a meter's index is a float after its scale
 * (0.4580000001 L), a gauge's mean is a quotient (21.43060241 °C); printing
 * "%.10g" shows digits no meter measured.  Each unit is rounded to what its
 * meters resolve (an index to the Wh, water to 0.1 L, a thermometer to
 * 0.01 °C): a reader may trust every digit shown.
 *
 * Keyed by the stored unit (struct channel.unit) rather than by quantity:
 * a quantity's unit is fixed (config.h), and util includes no room above it.
 */
#ifndef FOYER_UNITS_H
#define FOYER_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Decimals a value in `unit` is written with: kWh 3, L 1, °C 2, %RH 1,
 * ppm 0, W 1, V 1, A 3; -1 for a unit not in the table (then written with
 * 6 significant digits). */
int units_decimals(const char *unit);

/* v in `unit` rounded to its precision, with a point, no grouping, the
 * trailing zeros of the decimals dropped ("2979.493", "23", "0.45": a
 * figure carries no digit the unit's precision does not vouch for, and no
 * padding a CSV reader would take for a measurement), "-0" written "0".  Returns buf,
 * NUL-terminated (truncated to len). Locale-independent. */
char *units_format(const char *unit, double v, char *buf, size_t len);

/* The same for a table column: every decimal the precision has, trailing
 * zeros kept ("232.0", "23.000"), so right-aligned values line up on their
 * decimal point. */
char *units_format_column(const char *unit, double v, char *buf, size_t len);

/* v with `decimals` decimals, thousands grouped by `sep` (UTF-8, may be
 * "" for none, e.g. a narrow no-break space for French) and the decimal
 * mark `point` (e.g. "," or ".").  Returns buf (truncated to len). */
char *units_format_grouped(double v, int decimals, const char *sep, const char *point, char *buf,
                           size_t len);

/* Columns a UTF-8 string takes on a terminal: one per character, not per
 * byte ("°C" is 2 columns, 3 bytes; wide CJK characters are not expected
 * in units or IDs).  A stray continuation byte counts none. */
size_t units_text_width(const char *s);

/* Print s to out left-aligned (width > 0) or right-aligned (width < 0) in
 * |width| columns, counted with units_text_width(). */
void units_print_padded(FILE *out, const char *s, int width);

/* "1 reset", "2 resets": the singular when n is 1. */
const char *units_plural(unsigned long long n, const char *one, const char *many);

#endif
