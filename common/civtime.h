/*
 * civtime.h - checked conversion of calendar fields to time_t (UTC), for
 * the hand-written DER and RFC 3339 time parsers.
 */
#ifndef FLEETCA_COMMON_CIVTIME_H
#define FLEETCA_COMMON_CIVTIME_H

#include <time.h>

/* n ASCII decimal digits at s into *v; 1, or 0 if any is not a digit. */
int civtime_digits(const void *s, int n, int *v);

/*
 * Fields (month 1..12, day checked against the month and leap years,
 * hour < 24, minute < 60, second <= max_sec: 59, or 60 where a format
 * allows a leap second) to seconds since the epoch.  1, or 0 when a
 * field is out of range.
 */
int civtime_to_time(int Y, int M, int D, int h, int m, int s, int max_sec,
    time_t *t);

#endif
