/*
 * paths.h - where fleetca finds the files it ships (policies).
 */
#ifndef FLEETCA_SERVER_PATHS_H
#define FLEETCA_SERVER_PATHS_H

#include <stddef.h>

/*
 * The policies folder that `init` copies: $FLEETCA_POLICIES_DIR, else the
 * installed $(pkgdatadir)/policies, else the source tree's policies/ (so
 * the quick start works without `make install`).  0 or -1.
 */
int paths_policies_source(char *buf, size_t len);

#endif
