/*
 * civtime.c - calendar fields to time_t.
 */
#include <string.h>

#include "common/civtime.h"

int
civtime_digits(const void *s, int n, int *v)
{
	const unsigned char *p = s;

	*v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		*v = *v * 10 + (p[i] - '0');
	}
	return 1;
}

int
civtime_to_time(int Y, int M, int D, int h, int m, int s, int max_sec,
    time_t *t)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	struct tm tm;

	if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 ||
	    m > 59 || s > max_sec)
		return 0;
	if (M == 2 && D == 29 && !(Y % 4 == 0 && (Y % 100 != 0 ||
	    Y % 400 == 0)))
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = s;
	*t = timegm(&tm);
	return 1;
}
