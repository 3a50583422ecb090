/*
 * paths.c - locating shipped files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "server/paths.h"

static int
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int
paths_policies_source(char *buf, size_t len)
{
	const char *cands[] = { getenv("FLEETCA_POLICIES_DIR"),
		FLEETCA_POLICIES_INSTALLED, FLEETCA_POLICIES_SRC };

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (cands[i] != NULL && is_dir(cands[i])) {
			snprintf(buf, len, "%s", cands[i]);
			return 0;
		}
	}
	return -1;
}
